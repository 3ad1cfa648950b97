/**
 * How a Store's errors read: an error raised inside a Store call names the Store call
 * (`Store.put(): key …`), not the MemTable or TableReader that raised it, and the errors the
 * Store raises itself about merge operators say what to do.
 *
 * @module
 */
import { keyLabel } from "../coding/key_label.ts";
import { MemTableError, MergeOperatorError } from "../errors.ts";

/** How the calls the Store makes inside itself name themselves in their errors. */
const internalCall =
  /^(?:MemTable|MemTableList|MemTableIterator|TableReader|TableBuilder|WriteBatch)(?:\.\w+\(\))?(?=: )/;

/**
 * `e` naming the Store call `what` it was raised in, rather than the internal call that raised
 * it (`MemTable.add(): key …` in `Store.put()` becomes `Store.put(): key …`); the library's
 * own errors without a call name get `what` in front. Other errors are left as they are.
 */
export function named(e: unknown, what: string): unknown {
  if (!(e instanceof Error)) return e;
  const internal = internalCall.exec(e.message);
  if (internal !== null) e.message = what + e.message.slice(internal[0].length);
  else if (e instanceof MemTableError && !e.message.startsWith("Store")) {
    e.message = `${what}: ${e.message}`;
  }
  return e;
}

/** The error for a Merge written to a store without a merge operator (RocksDB's NotSupported). */
export function noMergeOperator(what: string, subject: string): MergeOperatorError {
  return new MergeOperatorError(
    `${what}: ${subject} needs a merge operator and this store has none (RocksDB: ` +
      `"NotSupported: Provide a merge_operator when opening DB"); open the store with ` +
      `mergeOperator; nothing was written`,
  );
}

/** The error for a read that meets Merge entries in a store opened without an operator. */
export function mergeWithoutOperator(what: string, key: Uint8Array): MergeOperatorError {
  return new MergeOperatorError(
    `${what}: key ${keyLabel(key)} has Merge entries (written while the store had a merge ` +
      `operator) and this store was opened without one; open it with that mergeOperator`,
  );
}

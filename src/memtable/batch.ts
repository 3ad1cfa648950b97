/**
 * Applying a write batch natively, in one call: the batch's bytes (RocksDB's representation)
 * travel in the scratch buffer, native code decodes, checks and inserts every record or none,
 * and a failure comes back as the error naming the record.
 *
 * @module
 */
import { WriteBatchError } from "../errors.ts";
import { Status } from "../ffi/layout.ts";
import type { Handle } from "../ffi/native.ts";
import { statusError } from "../ffi/status.ts";
import { sequenceHigh, sequenceLow, type SequenceNumber } from "../coding/sequence.ts";
import { batchFailureMessage, decodeBatch, type WriteBatch } from "../write/write_batch.ts";
import { fn, scratchFor } from "./realm.ts";

/** A batch's bytes travel with a u32 length. */
const writeBatchSizeMax = 0xffff_ffff;

/**
 * Applies `batch` at `seq`, `seq + 1`, … to the memtable `h`: all of it or (throwing) none.
 * Returns the number of records applied.
 */
export function applyBatch(
  h: Handle,
  batch: WriteBatch,
  seq: SequenceNumber,
  what: string,
): number {
  const rep = batch.view();
  if (rep.length > writeBatchSizeMax) {
    throw new RangeError(
      `${what}: the batch is ${rep.length} bytes, the maximum is ${writeBatchSizeMax}`,
    );
  }
  const s = scratchFor(rep.length);
  s.bytes.set(rep);
  const rc = fn.memtable_write_batch(
    h,
    s.arg,
    s.capacity,
    rep.length,
    sequenceHigh(seq),
    sequenceLow(seq),
  );
  if (rc >= 0) return rc;
  if (rc === Status.badBatch) {
    const v = s.view;
    throw new WriteBatchError(
      `${what}: ${
        batchFailureMessage(
          v.getUint32(0, true),
          v.getUint32(4, true),
          v.getUint32(8, true),
          batch.count,
        )
      }; nothing was applied`,
    );
  }
  if (rc === Status.duplicate || rc === Status.singleDeleteMisuse || rc === Status.corruption) {
    const index = s.view.getUint32(0, true);
    const record = decodeBatch(rep)[index];
    const err = statusError(rc, `${what}: record ${index}`, record?.key ?? "");
    err.message += "; nothing was applied";
    throw err;
  }
  throw statusError(rc, what);
}

/**
 * Test-only hooks into the native library. Not exported from `mod.ts`: they exist to prove
 * that corruption is detected, and they damage the memtable they touch.
 *
 * @module
 */
import { native, Scratch } from "./ffi/native.ts";
import {
  checkSequence,
  sequenceHigh,
  sequenceLow,
  type SequenceNumber,
} from "./coding/sequence.ts";
import { type Bytes, reserveFor, writeKey } from "./memtable/bytes.ts";
import { type MemTable, nativeHandleOf } from "./memtable/memtable.ts";
import { fileFault, type FileFaultHook } from "./table/file.ts";

export { sharedScratchBytes } from "./memtable/realm.ts";
export type { FileFaultHook } from "./table/file.ts";

/**
 * `options` (of `Store.open`, `flushMemTables`, `flushMemTablesNative`) with a fault hook that
 * fails their file writes at a step, as a full disk would. `fault` is not checked here: the
 * call that receives the options checks it, and a test may hand it something else on purpose.
 */
export function withFileFault<T extends object>(options: T, fault: FileFaultHook | unknown): T {
  return { ...options, [fileFault]: fault };
}

/**
 * Flips one bit of the stored entry of `key` with exactly sequence number `seq`: in its value
 * (`"value"`, the key when the value is empty) or in its key (`"key"`, which may put it out of
 * order). Returns whether such an entry existed.
 */
export function corruptEntry(
  mt: MemTable,
  key: Bytes,
  seq: SequenceNumber,
  where: "value" | "key",
): boolean {
  checkSequence(seq, "corruptEntry()");
  const s = new Scratch(64);
  reserveFor(s, key, undefined, "corruptEntry()");
  const keyLength = writeKey(s, key, "corruptEntry()");
  const rc = native().fn.memtable_testing_corrupt(
    nativeHandleOf(mt),
    s.arg,
    s.capacity,
    keyLength,
    sequenceHigh(seq),
    sequenceLow(seq),
    where === "key" ? 1 : 0,
  );
  if (rc < 0) throw new Error(`corruptEntry(): native status ${rc}`);
  return rc === 1;
}

/**
 * Native statuses → the errors callers see: one table. Every fallible export returns a
 * negative `Status` (layout.ts) on failure; this module turns it into the library's error
 * class with a message that names the call (`what`) and, for the statuses about one entry,
 * its key. The corruption report that native code writes into a buffer is read here too.
 *
 * @module
 */
import {
  ConcurrentWriteError,
  CorruptionError,
  DuplicateEntryError,
  ImmutableMemTableError,
  MemTableError,
  NativeOutOfMemoryError,
  SingleDeleteMisuseError,
} from "../errors.ts";
import { sequenceFromTrailer } from "../coding/sequence.ts";
import { keyLabel } from "../coding/key_label.ts";
import { Status } from "./layout.ts";

type StatusCode = (typeof Status)[keyof typeof Status];

/** For each status: its error, given the call and (when the call was about one) the key. */
const errors: Record<StatusCode, (what: string, key: string | undefined) => Error> = {
  [Status.duplicate]: (what, key) =>
    new DuplicateEntryError(
      `${what}: an entry with ${
        key === undefined ? "this key" : `key ${key}`
      }, this sequence number and type exists`,
    ),
  [Status.outOfMemory]: (what) =>
    new NativeOutOfMemoryError(`${what}: the native allocator is out of memory`),
  [Status.bufferTooSmall]: (what) =>
    new MemTableError(`${what}: the result did not fit the buffer given to native code`),
  [Status.invalidArgument]: (what) =>
    new RangeError(`${what}: the native library rejected an argument`),
  [Status.badHandle]: (what) => new MemTableError(`${what}: the native handle is not valid`),
  [Status.corruption]: (what, key) =>
    new CorruptionError(
      key === undefined
        ? `${what}: stored data failed a check`
        : `${what}: the entries next to key ${key} are out of order (memory corruption); ` +
          `nothing was stored`,
    ),
  [Status.singleDeleteMisuse]: (what, key) =>
    new SingleDeleteMisuseError(
      key === undefined
        ? `${what}: SingleDelete over a key with more than one version, or a version that is ` +
          `not a Value, since its last SingleDelete`
        : `${what}: SingleDelete of key ${key}, which has more than one version or a ` +
          `version that is not a Value since its last SingleDelete (RocksDB leaves this undefined)`,
    ),
  [Status.badBatch]: (what) => new MemTableError(`${what}: the write batch is malformed`),
  [Status.concurrentWrite]: (what) =>
    new ConcurrentWriteError(
      `${what}: another thread is writing to this memtable; a memtable takes one writer at ` +
        `a time unless it was created with allowConcurrentWrites: true. Nothing was written`,
    ),
  [Status.immutable]: (what) =>
    new ImmutableMemTableError(
      `${what}: the memtable is immutable (markImmutable() was called); write to a new one. ` +
        `Nothing was written`,
    ),
  [Status.lockHeld]: (what) => new MemTableError(`${what}: the file is locked by another holder`),
  [Status.ioError]: (what) => new MemTableError(`${what}: a file operation failed`),
};

/**
 * The error for a negative native status from the call `what`; `key` (the entry's user key)
 * is named in the message of the statuses about one entry.
 */
export function statusError(status: number, what: string, key?: Uint8Array | string): Error {
  const make = errors[status as StatusCode];
  if (make === undefined) return new MemTableError(`${what}: unexpected native status ${status}`);
  return make(what, key === undefined ? undefined : keyLabel(key));
}

/** Bytes and a view over them: where native code wrote a corruption report. */
interface Report {
  bytes: Uint8Array;
  view: DataView;
}

/**
 * The error for a `corruption` status whose report (`fixed64 trailer ‖ fixed32 key_len ‖ key`)
 * native code wrote into `s` at `at`.
 */
export function corruptionReport(s: Report, what: string, at = 0): CorruptionError {
  const low = s.view.getUint32(at, true);
  const seq = sequenceFromTrailer(s.view.getUint32(at + 4, true), low);
  const keyLength = s.view.getUint32(at + 8, true);
  const shown = s.bytes.slice(at + 12, at + 12 + Math.min(keyLength, s.bytes.length - at - 12));
  return new CorruptionError(
    `${what}: the entry for key ${keyLabel(shown)} at seq ${seq} (type ${
      low & 0xff
    }) failed its protection check: its stored bytes changed after it was written`,
  );
}

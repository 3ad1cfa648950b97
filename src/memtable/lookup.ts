/**
 * Point lookups: the native lookup of a key at a snapshot, and what its records mean — a
 * value, a deletion, or a run of Merge operands with what ends it — folded with the memtable's
 * merge operator (RocksDB's `MemTable::Get` and `SaveValue`). Values are handed out with
 * `carve` (see bytes.ts: on Deno, where the native call wrote them).
 *
 * @module
 */
import { MergeOperatorError } from "../errors.ts";
import { GetIntoResult, getRecordHeaderSize, multiGetCountSize, Status } from "../ffi/layout.ts";
import type { Handle } from "../ffi/native.ts";
import { corruptionReport, statusError } from "../ffi/status.ts";
import { sequenceFromTrailer, type SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import {
  type Area,
  batchViews,
  type Bytes,
  bytesOf,
  carve,
  encodedSizeBound,
  keepAttached,
  keyLabel,
  sizeFor,
  slabCopyMax,
  slabWith,
  writeBytes,
  writeKey,
} from "./bytes.ts";
import { applyFullMerge, type MergeOperator } from "./merge.ts";
import { fn, scratchFor } from "./realm.ts";
import { maxHigh, maxLow, type ReadOptions, snapshotParts } from "./read_options.ts";
import { describe } from "../coding/value_type.ts";

/**
 * The result of {@linkcode MemTable.get}.
 *
 * - `value`: the newest visible version is a Value, or Merge operands that this memtable could
 *   fold onto a Value or deletion below them (then `seq` is the newest operand's).
 * - `deleted`: the newest visible version is a Deletion or SingleDeletion, or a range
 *   tombstone (type `RangeDeletion`, `seq` the tombstone's) covers the key above every version.
 * - `absent`: this memtable knows nothing of the key.
 * - `merge`: Merge operands (oldest first) reach past the oldest version here: fold them onto
 *   what older memtables or tables hold (RocksDB's `MergeContext`).
 */
export type GetResult =
  | { kind: "value"; value: Uint8Array; seq: SequenceNumber }
  | {
    kind: "deleted";
    seq: SequenceNumber;
    type:
      | typeof ValueType.Deletion
      | typeof ValueType.SingleDeletion
      | typeof ValueType.RangeDeletion;
  }
  | { kind: "absent" }
  | {
    kind: "merge";
    /** The newest operand's sequence number. */
    seq: SequenceNumber;
    /** Merge operands, oldest first. */
    operands: Uint8Array[];
  };

/**
 * What {@linkcode MemTable.getInto} returns when there is no value to copy (a value's length
 * is 0 or more).
 *
 * - `absent`: this memtable knows nothing of the key.
 * - `deleted`: the newest visible version is a deletion (point or range).
 * - `mergeIncomplete`: Merge operands reach past the oldest version here; `get()` lists them.
 */
export const GetStatus: {
  readonly absent: -1;
  readonly deleted: -2;
  readonly mergeIncomplete: -3;
} = Object.freeze({ absent: -1, deleted: -2, mergeIncomplete: -3 } as const);

/** What `get` returns for a key this memtable knows nothing of. */
export const absent: GetResult = Object.freeze({ kind: "absent" });

/** Where a lookup left its records: the area, the offset of the first, and their count. */
export interface Records {
  readonly area: Area;
  readonly at: number;
  readonly count: number;
}

/**
 * Runs the native lookup of `key` at the snapshot: the versions it found, newest first, as
 * records in a buffer (`fixed64 trailer ‖ fixed32 value_len ‖ value` each), or undefined when
 * this memtable knows nothing of the key.
 *
 * A key up to 4 KiB is looked up in the result slab's free part, so that on Deno a value up to
 * 4 KiB is handed out where the native call wrote it (`carve`); larger keys and results go
 * through the shared scratch buffer, grown to fit.
 */
export function lookup(
  h: Handle,
  key: Bytes,
  snapHigh: number,
  snapLow: number,
  flags: number,
  what: string,
): Records | undefined {
  if (encodedSizeBound(key, what, "key") <= slabCopyMax) {
    // At least 4 KiB free: records that do not fit are over 4 KiB, copied out of `shared`.
    const sl = slabWith(slabCopyMax);
    const at = sl.used;
    const klen = writeKey(sl, key, what, at);
    const rc = fn.memtable_get(h, sl.arg, at, sl.capacity, klen, snapHigh, snapLow, flags);
    if (rc !== Status.bufferTooSmall) {
      if (rc === Status.corruption) throw corruptionReport(sl, what, at);
      if (rc < 0) throw statusError(rc, what);
      return rc === 0 ? undefined : { area: sl, at, count: rc };
    }
  }
  let s = scratchFor(sizeFor(key, undefined, what));
  let rc = fn.memtable_get(
    h,
    s.arg,
    0,
    s.capacity,
    writeKey(s, key, what),
    snapHigh,
    snapLow,
    flags,
  );
  if (rc === Status.bufferTooSmall) {
    // The result is larger than the buffer: ask again with one that holds it.
    const need = s.view.getUint32(0, true);
    if (need === 0xffff_ffff) {
      throw new RangeError(`${what}: the versions to return exceed 4 GiB`);
    }
    s = scratchFor(need);
    rc = fn.memtable_get(h, s.arg, 0, s.capacity, writeKey(s, key, what), snapHigh, snapLow, flags);
  }
  if (rc === Status.corruption) throw corruptionReport(s, what);
  if (rc < 0) throw statusError(rc, what);
  return rc === 0 ? undefined : { area: s, at: 0, count: rc };
}

/** A run of Merge records (converted to oldest first) and the version that ends it, if any. */
export interface MergeRun {
  seq: SequenceNumber;
  operands: Uint8Array[];
  /** `value` undefined: a deletion (point or range) ends the run. */
  base?: { value: Uint8Array | undefined };
}

/**
 * Reads lookup records (in `s` from `first` on) that start with a Merge record. On Deno the
 * operands and base are views into one copy of the records (one allocation for the run).
 */
export function readRun(r: Records): MergeRun | undefined {
  const { area: s, at: first, count } = r;
  const view = s.view;
  if ((view.getUint32(first, true) & 0xff) !== ValueType.Merge) return undefined;
  const seq = sequenceFromTrailer(view.getUint32(first + 4, true), view.getUint32(first, true));
  let end = first;
  for (let i = 0; i < count; i++) end += getRecordHeaderSize + view.getUint32(end + 8, true);
  // Deno: one copy for the run (its operands are views into it, so a large one, which has a
  // buffer of its own, is kept attached as the slab is); Bun: a copy per operand.
  const copy = batchViews ? carve(s, first, end) : undefined;
  if (copy !== undefined && copy.byteLength === copy.buffer.byteLength) keepAttached(copy.buffer);
  const operands: Uint8Array[] = new Array(count);
  let operandCount = 0;
  let base: MergeRun["base"];
  let at = first;
  for (let i = 0; i < count; i++) {
    const type = view.getUint32(at, true) & 0xff;
    const v = at + getRecordHeaderSize;
    const next = v + view.getUint32(at + 8, true);
    at = next;
    const value = copy === undefined
      ? s.bytes.slice(v, next)
      : copy.subarray(v - first, next - first);
    if (type === ValueType.Merge) operands[operandCount++] = value;
    else if (type === ValueType.Value) base = { value };
    else base = { value: undefined };
  }
  operands.length = operandCount;
  operands.reverse();
  return base === undefined ? { seq, operands } : { seq, operands, base };
}

/** How many Merge records the lookup records (in `s` from `first` on) start with. */
export function leadingMerges(r: Records): number {
  const { area: s, at: first, count } = r;
  const view = s.view;
  let at = first;
  for (let i = 0; i < count; i++) {
    if ((view.getUint32(at, true) & 0xff) !== ValueType.Merge) return i;
    at += getRecordHeaderSize + view.getUint32(at + 8, true);
  }
  return count;
}

/** The result of a lookup whose `count` records are in `s` from `first` on. */
export function decodeGet(
  r: Records,
  op: MergeOperator | undefined,
  key: Bytes,
  what: string,
): GetResult {
  const { area: s, at: first } = r;
  const view = s.view;
  const low = view.getUint32(first, true);
  const type = low & 0xff;
  const seq = sequenceFromTrailer(view.getUint32(first + 4, true), low);
  if (type === ValueType.Value) {
    const v = first + getRecordHeaderSize;
    return { kind: "value", value: carve(s, v, v + view.getUint32(first + 8, true)), seq };
  }
  if (type !== ValueType.Merge) {
    return { kind: "deleted", seq, type: type as typeof ValueType.Deletion };
  }
  if (op === undefined) {
    throw new MergeOperatorError(
      `${what}: key ${keyLabel(key)} has Merge entries and this memtable has no mergeOperator`,
    );
  }
  const run = readRun(r)!;
  if (run.base === undefined) return { kind: "merge", seq, operands: run.operands };
  return {
    kind: "value",
    value: applyFullMerge(op, bytesOf(key), run.base.value, run.operands),
    seq,
  };
}

/**
 * `MemTable.getInto`: the visible value of `key` copied into `dest` (its length returned, the
 * first `dest.length` bytes written), or a negative `GetStatus`. A Merge run comes back from
 * the same native lookup and is folded as `get` folds it.
 */
export function lookupInto(
  h: Handle,
  key: Bytes,
  dest: Uint8Array,
  snapHigh: number,
  snapLow: number,
  flags: number,
  op: MergeOperator | undefined,
  what: string,
): number {
  const s = scratchFor(sizeFor(key, undefined, what));
  const klen = writeKey(s, key, what);
  const cap = Math.min(dest.length, 0xffff_ffff);
  const rc = fn.memtable_get_into(
    h,
    s.arg,
    s.capacity,
    klen,
    dest,
    cap,
    snapHigh,
    snapLow,
    flags,
  );
  if (rc === GetIntoResult.found) {
    if ((s.view.getUint32(0, true) & 0xff) !== ValueType.Value) return GetStatus.deleted;
    return s.view.getUint32(8, true);
  }
  if (rc === GetIntoResult.absent) return GetStatus.absent;
  if (rc === GetIntoResult.merge || rc === GetIntoResult.mergeTooLarge) {
    // The newest version is a Merge: its run came back (after a u32 count) unless it was too
    // large for the buffer, when get()'s lookup collects it. Folded as get() folds it.
    const found = rc === GetIntoResult.merge
      ? { area: s, at: 4, count: s.view.getUint32(0, true) }
      : lookup(h, key, snapHigh, snapLow, flags, what);
    const r = found === undefined ? absent : decodeGet(found, op, key, what);
    if (r.kind === "merge") return GetStatus.mergeIncomplete;
    if (r.kind !== "value") return r.kind === "deleted" ? GetStatus.deleted : GetStatus.absent;
    dest.set(r.value.length > dest.length ? r.value.subarray(0, dest.length) : r.value);
    return r.value.length;
  }
  if (rc === Status.corruption) throw corruptionReport(s, what);
  throw statusError(rc, what);
}

/** Keys per `memtable_multi_get` call, and the key bytes (bound) one call carries at most. */
const multiGetKeysMax = 64;
const multiGetKeyBytesMax = 16 * 1024;
/** Room for the answers of one call; a key whose records need more is looked up alone. */
const multiGetAnswerBytes = 32 * 1024;

/** `MemTable.multiGet`: its arguments checked (every key before any lookup), then looked up. */
export function multiGetChecked(
  h: Handle,
  keys: readonly Bytes[],
  options: ReadOptions | undefined,
  op: MergeOperator | undefined,
): GetResult[] {
  const what = "MemTable.multiGet()";
  if (!Array.isArray(keys)) {
    throw new TypeError(
      `${what}: keys must be an array of keys (Uint8Array or string), got ${describe(keys)}`,
    );
  }
  const sizes: number[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    sizes[i] = encodedSizeBound(keys[i], what, "key", `keys[${i}]`);
  }
  let snapHigh = maxHigh;
  let snapLow = maxLow;
  let flags = 0;
  if (options !== undefined) [snapHigh, snapLow, flags] = snapshotParts(options, what);
  return lookupMany(h, keys, sizes, snapHigh, snapLow, flags, op, what);
}

/**
 * `MemTable.multiGet`: the result of each of `keys` at one snapshot, in order. `sizes` are
 * the keys' checked size bounds (`encodedSizeBound`). Up to 64 keys go to native code per
 * call, which searches 32 at a time in lockstep; a key whose records do not fit the call's
 * room is looked up alone (`lookup`). Merge runs are folded after the call's answers are read,
 * so a merge operator that reads this memtable cannot overwrite answers not yet read. (Running
 * the calls in the result slab on Deno, values handed out where they were written as `lookup`
 * does, measured no faster: `bench/multi_get.ts`, 1M entries.)
 */
export function lookupMany(
  h: Handle,
  keys: readonly Bytes[],
  sizes: readonly number[],
  snapHigh: number,
  snapLow: number,
  flags: number,
  op: MergeOperator | undefined,
  what: string,
): GetResult[] {
  const results: GetResult[] = new Array(keys.length);
  let next = 0;
  while (next < keys.length) {
    // The next call's keys: up to 64 of them, up to 16 KiB (at least one).
    let end = next;
    let keyBytes = 0;
    while (
      end < keys.length && end - next < multiGetKeysMax &&
      (end === next || keyBytes + 4 + sizes[end]! <= multiGetKeyBytesMax)
    ) keyBytes += 4 + sizes[end++]!;
    const area = scratchFor(((keyBytes + 7) & ~7) + multiGetAnswerBytes);
    const view = area.view;
    // Keys not in the cache miss together rather than one by one: each byte-array key's first
    // byte is copied first, to where its size bound places it (exact for byte arrays; a
    // string's bound only moves later first bytes into room the keys are copied over or never
    // read), with loads independent of each other; then the keys whole.
    const bytes = area.bytes;
    for (let i = next, at = 4; i < end; at += 4 + sizes[i++]!) {
      const k = keys[i]!;
      if (typeof k !== "string" && k.length > 0) bytes[at] = k[0]!;
    }
    let keysLength = 0;
    for (let i = next; i < end; i++) {
      const n = writeBytes(area, keysLength + 4, keys[i]!);
      view.setUint32(keysLength, n, true);
      keysLength += 4 + n;
    }
    const outAt = (keysLength + 7) & ~7;
    const count = end - next;
    const rc = fn.memtable_multi_get(
      h,
      area.arg,
      area.capacity,
      keysLength,
      count,
      snapHigh,
      snapLow,
      flags,
    );
    if (rc === Status.corruption) throw corruptionReport(area, what, outAt);
    if (rc < 0) throw statusError(rc, what);
    let merges: [index: number, run: MergeRun][] | undefined;
    let at = outAt;
    for (let i = next; i < next + rc; i++) {
      const records = view.getUint32(at, true);
      at += multiGetCountSize;
      if (records === 0) {
        results[i] = absent;
        continue;
      }
      const r: Records = { area, at, count: records };
      const stop = recordsEnd(r);
      if ((view.getUint32(at, true) & 0xff) === ValueType.Merge) {
        if (op === undefined) decodeGet(r, op, keys[i]!, what); // throws, as get() does
        (merges ??= []).push([i, readRun(r)!]);
      } else results[i] = decodeGet(r, op, keys[i]!, what);
      at = stop;
    }
    next += rc;
    if (merges !== undefined) {
      for (const [i, run] of merges) {
        results[i] = run.base === undefined
          ? { kind: "merge", seq: run.seq, operands: run.operands }
          : {
            kind: "value",
            value: applyFullMerge(op!, bytesOf(keys[i]!), run.base.value, run.operands),
            seq: run.seq,
          };
      }
    }
    if (rc === 0) {
      // Not even the first key's records fit: it is looked up alone (the buffer grows).
      const key = keys[next]!;
      const found = lookup(h, key, snapHigh, snapLow, flags, what);
      results[next++] = found === undefined ? absent : decodeGet(found, op, key, what);
    }
  }
  return results;
}

/** Where the `count` records of `r` end. */
function recordsEnd(r: Records): number {
  const view = r.area.view;
  let at = r.at;
  for (let i = 0; i < r.count; i++) at += getRecordHeaderSize + view.getUint32(at + 8, true);
  return at;
}

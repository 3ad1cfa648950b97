/**
 * Moving user keys and values into a scratch buffer and entries out of it.
 *
 * @module
 */
import { markAsUntransferable } from "node:worker_threads";
import { keySizeMax, valueSizeMax } from "../ffi/layout.ts";
import { type BufArg, native } from "../ffi/native.ts";
import { sequenceFromTrailer, type SequenceNumber } from "../coding/sequence.ts";
import { describe, type ValueType } from "../coding/value_type.ts";

/** A key or value: bytes, or a string stored as its UTF-8 encoding. */
export type Bytes = Uint8Array | string;

/**
 * Bytes with a view over them, where keys are written for native calls and native calls leave
 * their records: a `Scratch` or the result slab.
 */
export interface Area {
  bytes: Uint8Array;
  view: DataView;
}

const encoder = new TextEncoder();

/**
 * Bytes `data` takes when written (a string as UTF-8, exactly when it could exceed the limit,
 * else an upper bound). Throws a TypeError for anything but bytes or a string, and a
 * RangeError when it is longer than a `role` may be: checked before any buffer grows, so a
 * rejected call leaves every buffer as it was.
 */
export function encodedSizeBound(
  data: unknown,
  what: string,
  role: "key" | "value",
  label: string = role,
): number {
  const max = role === "key" ? keySizeMax : valueSizeMax;
  let size: number;
  let atLeast = false;
  if (data instanceof Uint8Array) size = data.length;
  else if (typeof data === "string") {
    // UTF-8 takes at least a byte per UTF-16 unit and at most three. The exact length is
    // counted where the bound could pass the limit (the message gives it, up to a size whose
    // count takes long: then a lower bound).
    if (data.length > 4 * max) [size, atLeast] = [data.length, true];
    else size = data.length * 3 > max ? utf8Length(data) : data.length * 3;
  } else {
    throw new TypeError(
      `${what}: ${label} must be a Uint8Array or a string, got ${describe(data)}`,
    );
  }
  if (size > max) {
    throw new RangeError(
      `${what}: ${label} is ${atLeast ? "at least " : ""}${size} bytes, the maximum is ${max}`,
    );
  }
  return size;
}

/** The length of `text` in UTF-8 (lone surrogates count as U+FFFD, as TextEncoder writes). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Writes `data` at `offset` (room reserved by the caller) and returns its length. */
export function writeBytes(s: Area, offset: number, data: Bytes): number {
  if (typeof data === "string") {
    if (data.length === 0) return 0;
    return encoder.encodeInto(data, s.bytes.subarray(offset)).written;
  }
  const n = data.length;
  const b = s.bytes;
  if (n <= 32) {
    // Short keys: a loop costs less than the call into TypedArray.prototype.set.
    for (let i = 0; i < n; i++) b[offset + i] = data[i]!;
  } else {
    b.set(data, offset);
  }
  return n;
}

/** The bytes `key` and `value` need in a scratch buffer (types and sizes checked first). */
export function sizeFor(key: unknown, value: unknown, what: string): number {
  return encodedSizeBound(key, what, "key") +
    (value === undefined ? 0 : encodedSizeBound(value, what, "value"));
}

/** Makes room in `s` for `key` and `value` (checking their types and sizes first). */
export function reserveFor(
  s: Area & { reserve(size: number): void },
  key: unknown,
  value: unknown,
  what: string,
): void {
  const need = sizeFor(key, value, what);
  if (need > s.bytes.length) s.reserve(need);
}

/** Writes the key at `at` (room reserved by the caller); returns its length. */
export function writeKey(s: Area, key: Bytes, what: string, at = 0): number {
  const keyLength = writeBytes(s, at, key);
  if (keyLength > keySizeMax) {
    throw new RangeError(`${what}: key is ${keyLength} bytes, the maximum is ${keySizeMax}`);
  }
  return keyLength;
}

/** Writes the value right after a key of `keyLength` bytes; returns its length. */
export function writeValue(
  s: Area,
  keyLength: number,
  value: Bytes | undefined,
  what: string,
): number {
  if (value === undefined) return 0;
  const valueLength = writeBytes(s, keyLength, value);
  if (valueLength > valueSizeMax) {
    throw new RangeError(`${what}: value is ${valueLength} bytes, the maximum is ${valueSizeMax}`);
  }
  return valueLength;
}

/** One version of a key, as stored in a memtable. */
export interface Entry {
  /** The user key (a copy). */
  key: Uint8Array;
  /** The version's sequence number. */
  seq: SequenceNumber;
  /** What the version is: a Value, a Merge operand or a deletion. */
  type: ValueType;
  /** The value or merge operand (a copy; empty for deletions). */
  value: Uint8Array;
}

/**
 * Whether entries read in batches are handed out as views into the batch's buffer (Deno, where
 * every allocation costs about a microsecond: the buffer is marked untransferable and never
 * written again) or as copies of their own (Bun, where a copy costs what a view does).
 */
export const batchViews = "Deno" in globalThis;

/**
 * Reads `fixed64 trailer ‖ fixed32 klen ‖ fixed32 vlen ‖ key ‖ value` at `at`. With
 * `batchViews`, key and value are views into `s.bytes` (the caller passes a buffer it never
 * writes again, made with `resultBuffer`); otherwise copies.
 */
export function readEntry(s: Area, at: number): [entry: Entry, next: number] {
  const low = s.view.getUint32(at, true);
  const high = s.view.getUint32(at + 4, true);
  const keyLength = s.view.getUint32(at + 8, true);
  const valueLength = s.view.getUint32(at + 12, true);
  const k = at + 16;
  const v = k + keyLength;
  const b = s.bytes;
  return [{
    key: batchViews ? b.subarray(k, v) : b.slice(k, v),
    seq: sequenceFromTrailer(high, low),
    type: (low & 0xff) as ValueType,
    value: batchViews ? b.subarray(v, v + valueLength) : b.slice(v, v + valueLength),
  }, v + valueLength];
}

/**
 * Marks a buffer whose parts go to users as untransferable: `postMessage(…, [buffer])`,
 * `structuredClone(…, { transfer })` and `buffer.transfer()` then throw instead of detaching
 * it (which would empty every other value carved from it, and break the library's next use of
 * it). Deno honours the mark everywhere; Bun for messages and clones (not `transfer()`), which
 * is why Bun results are copies of their own.
 */
export function keepAttached(buffer: ArrayBufferLike): void {
  markAsUntransferable(buffer);
}

const slabSize = 64 * 1024;
/** Results up to this size come out of the slab on Deno; lookups with keys up to it run in it. */
export const slabCopyMax = 4 * 1024;
const slabInPlace = "Deno" in globalThis;

/**
 * The result slab: 64 KiB whose bytes below `used` belong to results handed out (never written
 * again) and whose bytes from `used` on are free, for the next results and for native calls to
 * write records into.
 */
export class Slab implements Area {
  readonly buffer: ArrayBuffer = new ArrayBuffer(slabSize);
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(this.buffer);
  readonly view: DataView = new DataView(this.buffer);
  /** The slab as a native call's buffer argument. */
  readonly arg: BufArg = native().bufArg(this.bytes);
  readonly capacity: number = slabSize;
  used = 0;

  constructor() {
    keepAttached(this.buffer); // values handed out live in it
  }
}

let slab: Slab | undefined;

/** The slab, replaced by a fresh one when fewer than `length` bytes are free (length ≤ 64 KiB). */
export function slabWith(length: number): Slab {
  let s = slab;
  if (s === undefined || s.used + length > slabSize) slab = s = new Slab();
  return s;
}

function fromSlab(length: number): Uint8Array {
  const s = slabWith(length);
  const at = s.used;
  s.used = at + length;
  // The constructor, not subarray(): V8 makes it without the species lookup, about 0.1 µs less.
  return new Uint8Array(s.buffer, at, length);
}

function copyFromSlab(src: Uint8Array, start: number, end: number): Uint8Array {
  const length = end - start;
  if (length > slabCopyMax) return src.slice(start, end);
  const out = fromSlab(length);
  out.set(src.subarray(start, end));
  return out;
}

/**
 * Copies `src[start, end)` into memory of its own, for returning to the caller.
 *
 * On Deno every typed-array allocation costs about a microsecond here (V8 external backing
 * stores), so small copies are carved out of a shared 64 KiB slab, as Node's `Buffer` pool
 * does: the result is an independent copy whose `.buffer` may hold other results too (bytes
 * the library never writes again), and that buffer is untransferable (`keepAttached`), so no
 * use of one result can empty another. On Bun `slice()` is cheapest (tens of nanoseconds).
 */
export const copyOut: (src: Uint8Array, start: number, end: number) => Uint8Array = slabInPlace
  ? copyFromSlab
  : (src, start, end) => src.slice(start, end);

/**
 * `a.bytes[start, end)` as memory of its own, as `copyOut`; on Deno, bytes that a native call
 * wrote into the slab's free part are handed out where they lie, with no copy.
 */
export function carve(a: Area, start: number, end: number): Uint8Array {
  const s = slab;
  if (slabInPlace && a === s && start >= s.used && end - start <= slabCopyMax) {
    s.used = end;
    return new Uint8Array(s.buffer, start, end - start);
  }
  return copyOut(a.bytes, start, end);
}

/**
 * `length` zeroed bytes of their own (from the slab on Deno, as `copyOut`): for results that
 * library code builds, such as merge operator outputs.
 */
export const newBytes: (length: number) => Uint8Array = slabInPlace
  ? (length) => length > slabCopyMax ? new Uint8Array(length) : fromSlab(length).fill(0)
  : (length) => new Uint8Array(length);

/** The UTF-8 bytes of a key or value (a string is encoded into memory of its own). */
export function bytesOf(data: Bytes): Uint8Array {
  if (typeof data !== "string") return data;
  if (!slabInPlace || data.length * 3 > slabCopyMax) return encoder.encode(data);
  const s = slabWith(data.length * 3);
  const at = s.used;
  const written = encoder.encodeInto(data, s.bytes.subarray(at, at + data.length * 3)).written;
  s.used = at + written;
  return new Uint8Array(s.buffer, at, written);
}

export { keyLabel } from "../coding/key_label.ts";
export { corruptionReport } from "../ffi/status.ts";

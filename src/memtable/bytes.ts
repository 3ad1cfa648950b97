/**
 * Moving user keys and values into a scratch buffer and entries out of it.
 *
 * @module
 */
import { CorruptionError } from "../errors.ts";
import { keySizeMax, valueSizeMax } from "../ffi/layout.ts";
import type { Scratch } from "../ffi/native.ts";
import { sequenceFromTrailer, type SequenceNumber } from "../coding/sequence.ts";
import { describe, type ValueType } from "../coding/value_type.ts";

/** A key or value: bytes, or a string stored as its UTF-8 encoding. */
export type Bytes = Uint8Array | string;

const encoder = new TextEncoder();

/** Upper bound of the encoded size of `data`; throws a TypeError for anything else. */
export function encodedSizeBound(data: unknown, what: string, role: "key" | "value"): number {
  if (data instanceof Uint8Array) return data.length;
  if (typeof data === "string") return data.length * 3;
  throw new TypeError(`${what}: ${role} must be a Uint8Array or a string, got ${describe(data)}`);
}

/** Writes `data` at `offset` (room reserved by the caller) and returns its length. */
export function writeBytes(s: Scratch, offset: number, data: Bytes): number {
  if (typeof data === "string") {
    if (data.length === 0) return 0;
    return encoder.encodeInto(data, s.bytes.subarray(offset)).written;
  }
  s.bytes.set(data, offset);
  return data.length;
}

/** Makes room in `s` for `key` and `value` (checking their types first). */
export function reserveFor(s: Scratch, key: unknown, value: unknown, what: string): void {
  const need = encodedSizeBound(key, what, "key") +
    (value === undefined ? 0 : encodedSizeBound(value, what, "value"));
  if (need > s.bytes.length) s.reserve(need);
}

/** Writes the key at offset 0 (room reserved by `reserveFor`); returns its length. */
export function writeKey(s: Scratch, key: Bytes, what: string): number {
  const keyLength = writeBytes(s, 0, key);
  if (keyLength > keySizeMax) {
    throw new RangeError(`${what}: key is ${keyLength} bytes, the maximum is ${keySizeMax}`);
  }
  return keyLength;
}

/** Writes the value right after a key of `keyLength` bytes; returns its length. */
export function writeValue(
  s: Scratch,
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
  key: Uint8Array;
  seq: SequenceNumber;
  type: ValueType;
  value: Uint8Array;
}

/**
 * Reads `fixed64 trailer ‖ fixed32 klen ‖ fixed32 vlen ‖ key ‖ value` at `at`. Key and value
 * are views into `s.bytes`: the caller passes a buffer it never writes again.
 */
export function readEntry(s: Scratch, at: number): [entry: Entry, next: number] {
  const low = s.view.getUint32(at, true);
  const high = s.view.getUint32(at + 4, true);
  const keyLength = s.view.getUint32(at + 8, true);
  const valueLength = s.view.getUint32(at + 12, true);
  const k = at + 16;
  const v = k + keyLength;
  return [{
    key: s.bytes.subarray(k, v),
    seq: sequenceFromTrailer(high, low),
    type: (low & 0xff) as ValueType,
    value: s.bytes.subarray(v, v + valueLength),
  }, v + valueLength];
}

/**
 * Copies `src[start, end)` into memory of its own, for returning to the caller.
 *
 * On Deno every typed-array allocation costs about a microsecond here (V8 external backing
 * stores), so small copies are carved out of a shared 64 KiB slab, as Node's `Buffer` pool
 * does: the result is an independent copy whose `.buffer` may hold other results too. On
 * Bun `slice()` is cheapest (tens of nanoseconds).
 */
export const copyOut: (src: Uint8Array, start: number, end: number) => Uint8Array =
  "Deno" in globalThis ? copyFromSlab : (src, start, end) => src.slice(start, end);

const slabSize = 64 * 1024;
const slabCopyMax = 4 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

function fromSlab(length: number): Uint8Array {
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(slabSize);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + length);
  slabUsed += length;
  return out;
}

function copyFromSlab(src: Uint8Array, start: number, end: number): Uint8Array {
  const length = end - start;
  if (length > slabCopyMax) return src.slice(start, end);
  const out = fromSlab(length);
  out.set(src.subarray(start, end));
  return out;
}

/**
 * `length` zeroed bytes of their own (from the slab on Deno, as `copyOut`): for results that
 * library code builds, such as merge operator outputs.
 */
export const newBytes: (length: number) => Uint8Array = "Deno" in globalThis
  ? (length) => length > slabCopyMax ? new Uint8Array(length) : fromSlab(length)
  : (length) => new Uint8Array(length);

/** The UTF-8 bytes of a key or value (a string is encoded into memory of its own). */
export function bytesOf(data: Bytes): Uint8Array {
  if (typeof data !== "string") return data;
  if (!("Deno" in globalThis) || data.length * 3 > slabCopyMax) return encoder.encode(data);
  const room = fromSlab(data.length * 3);
  const written = encoder.encodeInto(data, room).written;
  // Give back the unused tail when nothing was carved out after it.
  slabUsed -= room.length - written;
  return room.subarray(0, written);
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A key as error messages show it: quoted text when it is printable UTF-8, else hex; long keys
 * are cut.
 */
export function keyLabel(key: Bytes): string {
  let text: string | undefined = typeof key === "string" ? key : undefined;
  if (text === undefined) {
    try {
      text = decoder.decode(key as Uint8Array);
    } catch {
      text = undefined;
    }
  }
  // deno-lint-ignore no-control-regex
  if (text !== undefined && !/[\u0000-\u001f\u007f]/.test(text)) {
    return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  }
  const bytes = key as Uint8Array;
  let hex = "";
  for (const b of bytes.subarray(0, 32)) hex += b.toString(16).padStart(2, "0");
  return `0x${hex}${bytes.length > 32 ? "…" : ""} (${bytes.length} bytes)`;
}

/**
 * The error for a `corruption` status whose report (`fixed64 trailer ‖ fixed32 key_len ‖ key`)
 * native code wrote into `s`.
 */
export function corruptionReport(s: Scratch, what: string): CorruptionError {
  const low = s.view.getUint32(0, true);
  const seq = sequenceFromTrailer(s.view.getUint32(4, true), low);
  const keyLength = s.view.getUint32(8, true);
  const shown = s.bytes.slice(12, 12 + Math.min(keyLength, s.bytes.length - 12));
  return new CorruptionError(
    `${what}: the entry for key ${keyLabel(shown)} at seq ${seq} (type ${
      low & 0xff
    }) failed its protection check: its stored bytes changed after it was written`,
  );
}

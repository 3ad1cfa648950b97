/**
 * LevelDB/RocksDB integer encodings: varint32, varint64 (7 bits a byte, low first, high bit =
 * more) and little-endian fixed32/fixed64. Encoders write into `dst` at `offset` and return the
 * offset after what they wrote; decoders return the value and the next offset, and throw a
 * RangeError on truncated or overlong input.
 *
 * @module
 */

/** Bytes needed by the varint encoding of `value` (a u32 or, as bigint, a u64). */
export function varintLength(value: number | bigint): number {
  let v = BigInt(value);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/**
 * Writes a varint32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVarint32, encodeVarint32 } from "../../coding.ts";
 * const buf = new Uint8Array(5);
 * const end = encodeVarint32(buf, 0, 300); // [0xac, 0x02]
 * assert.equal(end, 2);
 * assert.equal(decodeVarint32(buf, 0)[0], 300);
 * ```
 */
export function encodeVarint32(dst: Uint8Array, offset: number, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`varint32 value must be an integer in [0, 2^32 - 1], got ${value}`);
  }
  let v = value;
  while (v >= 0x80) {
    dst[offset++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  dst[offset++] = v;
  return offset;
}

/** Reads a varint32. */
export function decodeVarint32(src: Uint8Array, offset: number): [value: number, next: number] {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (offset + i >= src.length) throw new RangeError("varint32 is truncated");
    const b = src[offset + i]!;
    if (i === 4 && b > 0x0f) throw new RangeError("varint32 is longer than 32 bits");
    result += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return [result, offset + i + 1];
  }
  throw new RangeError("varint32 is longer than 5 bytes");
}

/**
 * Writes a varint64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVarint64, encodeVarint64 } from "../../coding.ts";
 * const buf = new Uint8Array(10);
 * encodeVarint64(buf, 0, 2n ** 63n);
 * assert.equal(decodeVarint64(buf, 0)[0], 2n ** 63n);
 * ```
 */
export function encodeVarint64(dst: Uint8Array, offset: number, value: number | bigint): number {
  let v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`varint64 value must be in [0, 2^64 - 1], got ${value}`);
  }
  while (v >= 0x80n) {
    dst[offset++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  dst[offset++] = Number(v);
  return offset;
}

/** Reads a varint64. */
export function decodeVarint64(src: Uint8Array, offset: number): [value: bigint, next: number] {
  let result = 0n;
  for (let i = 0; i < 10; i++) {
    if (offset + i >= src.length) throw new RangeError("varint64 is truncated");
    const b = src[offset + i]!;
    if (i === 9 && b > 0x01) throw new RangeError("varint64 is longer than 64 bits");
    result |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [result, offset + i + 1];
  }
  throw new RangeError("varint64 is longer than 10 bytes");
}

/** Writes a little-endian u32. */
export function encodeFixed32(dst: Uint8Array, offset: number, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`fixed32 value must be an integer in [0, 2^32 - 1], got ${value}`);
  }
  dst[offset] = value & 0xff;
  dst[offset + 1] = (value >>> 8) & 0xff;
  dst[offset + 2] = (value >>> 16) & 0xff;
  dst[offset + 3] = value >>> 24;
  return offset + 4;
}

/** Reads a little-endian u32. */
export function decodeFixed32(src: Uint8Array, offset: number): number {
  if (offset + 4 > src.length) throw new RangeError("fixed32 is truncated");
  return (src[offset]! | (src[offset + 1]! << 8) | (src[offset + 2]! << 16)) +
    src[offset + 3]! * 0x100_0000;
}

/**
 * Writes a little-endian u64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFixed64, encodeFixed64 } from "../../coding.ts";
 * const buf = new Uint8Array(8);
 * encodeFixed64(buf, 0, 0x0102n); // [0x02, 0x01, 0, 0, 0, 0, 0, 0]
 * assert.equal(buf[0], 2);
 * assert.equal(decodeFixed64(buf, 0), 0x0102n);
 * ```
 */
export function encodeFixed64(dst: Uint8Array, offset: number, value: number | bigint): number {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`fixed64 value must be in [0, 2^64 - 1], got ${value}`);
  }
  encodeFixed32(dst, offset, Number(v & 0xffff_ffffn));
  return encodeFixed32(dst, offset + 4, Number(v >> 32n));
}

/** Reads a little-endian u64. */
export function decodeFixed64(src: Uint8Array, offset: number): bigint {
  if (offset + 8 > src.length) throw new RangeError("fixed64 is truncated");
  return BigInt(decodeFixed32(src, offset)) | (BigInt(decodeFixed32(src, offset + 4)) << 32n);
}

/**
 * Sequence numbers: 56-bit, given as a number (a safe integer) or a bigint. Values read back
 * are numbers when they are at most `Number.MAX_SAFE_INTEGER`, bigints above it.
 *
 * @module
 */
import { describe } from "./value_type.ts";

/** A sequence number: a non-negative integer below 2^56. */
export type SequenceNumber = number | bigint;

/** The largest sequence number, 2^56 − 1 (RocksDB's kMaxSequenceNumber). */
export const maxSequenceNumber: bigint = (1n << 56n) - 1n;

const two24 = 0x100_0000;
const two32 = 0x1_0000_0000;

/**
 * Throws a TypeError/RangeError unless `seq` is a valid sequence number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSequence, maxSequenceNumber } from "../../coding.ts";
 * assert.equal(checkSequence(maxSequenceNumber, "example"), maxSequenceNumber);
 * assert.throws(() => checkSequence(2 ** 60, "example"), RangeError);
 * ```
 */
export function checkSequence(seq: unknown, what: string): SequenceNumber {
  if (typeof seq === "number") {
    if (!Number.isInteger(seq) || seq < 0) {
      throw new RangeError(`${what}: sequence number must be a non-negative integer, got ${seq}`);
    }
    if (!Number.isSafeInteger(seq)) {
      throw new RangeError(
        `${what}: sequence number ${seq} is above Number.MAX_SAFE_INTEGER; pass it as a bigint`,
      );
    }
    return seq;
  }
  if (typeof seq === "bigint") {
    if (seq < 0n || seq > maxSequenceNumber) {
      throw new RangeError(`${what}: sequence number must be in [0, 2^56 - 1], got ${seq}n`);
    }
    return seq;
  }
  throw new TypeError(
    `${what}: sequence number must be a number or a bigint, got ${describe(seq)}`,
  );
}

/** High 32 bits of a valid sequence number. */
export function sequenceHigh(seq: SequenceNumber): number {
  return typeof seq === "number" ? Math.floor(seq / two32) : Number(seq >> 32n);
}

/** Low 32 bits of a valid sequence number. */
export function sequenceLow(seq: SequenceNumber): number {
  return typeof seq === "number" ? seq % two32 : Number(seq & 0xffff_ffffn);
}

/** The sequence number in a trailer `(seq << 8) | type` given as its two 32-bit halves. */
export function sequenceFromTrailer(high: number, low: number): SequenceNumber {
  // seq = high * 2^24 + (low >>> 8); exact as a number while high < 2^29.
  if (high < 0x2000_0000) return high * two24 + (low >>> 8);
  return (BigInt(high) << 24n) | BigInt(low >>> 8);
}

/** The two 32-bit halves of the trailer `(seq << 8) | type`. */
export function trailerParts(seq: SequenceNumber, type: number): [high: number, low: number] {
  if (typeof seq === "number") {
    return [Math.floor(seq / two24), ((seq % two24) * 256 + type) >>> 0];
  }
  return [Number(seq >> 24n), Number(((seq & 0xff_ffffn) << 8n) | BigInt(type))];
}

/** Compares two sequence numbers of either representation. */
export function compareSequence(a: SequenceNumber, b: SequenceNumber): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

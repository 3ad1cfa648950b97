/**
 * Internal keys: `user_key ‖ fixed64le((seq << 8) | type)`, ordered by user key ascending,
 * then by `(seq << 8) | type` descending, so the newest version of a key comes first
 * (RocksDB's InternalKeyComparator over `leveldb.BytewiseComparator`). The native comparator
 * implements the same order; this one serves tests, tools and table code.
 *
 * @module
 */
import {
  checkSequence,
  sequenceFromTrailer,
  type SequenceNumber,
  trailerParts,
} from "./sequence.ts";
import { checkValueType, type ValueType } from "./value_type.ts";
import { decodeFixed32, encodeFixed32 } from "./varint.ts";

/** The name of the user-key comparator whose order internal keys follow. */
export const comparatorName = "leveldb.BytewiseComparator";

/** An internal key, unpacked. */
export interface ParsedInternalKey {
  /** The user key. */
  userKey: Uint8Array;
  /** The sequence number (< 2^56). */
  seq: SequenceNumber;
  /** The value type code. */
  type: ValueType;
}

/**
 * Packs `userKey ‖ fixed64le((seq << 8) | type)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueType } from "../../mod.ts";
 * import { packInternalKey, unpackInternalKey } from "../../coding.ts";
 * const ikey = packInternalKey(new TextEncoder().encode("k"), 5, ValueType.Value);
 * assert.equal(ikey.length, 9);
 * assert.equal(ikey[1], (5 << 8 | 1) % 256);
 * assert.equal(unpackInternalKey(ikey).seq, 5);
 * ```
 */
export function packInternalKey(
  userKey: Uint8Array,
  seq: SequenceNumber,
  type: ValueType,
): Uint8Array {
  checkSequence(seq, "packInternalKey()");
  checkValueType(type, "packInternalKey()");
  const out = new Uint8Array(userKey.length + 8);
  out.set(userKey, 0);
  const [high, low] = trailerParts(seq, type);
  encodeFixed32(out, userKey.length, low);
  encodeFixed32(out, userKey.length + 4, high);
  return out;
}

/** Unpacks an internal key; throws a RangeError when it is too short or its type is unknown. */
export function unpackInternalKey(internalKey: Uint8Array): ParsedInternalKey {
  if (internalKey.length < 8) {
    throw new RangeError(`internal key is ${internalKey.length} bytes, at least 8 are needed`);
  }
  const at = internalKey.length - 8;
  const low = decodeFixed32(internalKey, at);
  const high = decodeFixed32(internalKey, at + 4);
  return {
    userKey: internalKey.slice(0, at),
    seq: sequenceFromTrailer(high, low),
    type: checkValueType(low & 0xff, "unpackInternalKey()"),
  };
}

/** Bytewise comparison of user keys (memcmp, then length). */
export function compareUserKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/**
 * Compares the user key of the internal key `ikey[0, ikeyLength)` (its bytes before the 8-byte
 * trailer) with the user key `user`, bytewise, without copying either: negative, 0 or positive.
 */
export function compareUserKeyOf(ikey: Uint8Array, ikeyLength: number, user: Uint8Array): number {
  const n = ikeyLength - 8;
  const m = Math.min(n, user.length);
  for (let i = 0; i < m; i++) {
    const d = ikey[i]! - user[i]!;
    if (d !== 0) return d;
  }
  return n - user.length;
}

/**
 * Compares two packed internal keys in memtable order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueType } from "../../mod.ts";
 * import { compareInternalKeys, packInternalKey } from "../../coding.ts";
 * const k = new TextEncoder().encode("k");
 * const newer = packInternalKey(k, 9, ValueType.Value);
 * const older = packInternalKey(k, 3, ValueType.Value);
 * assert(compareInternalKeys(newer, older) < 0); // newest first
 * ```
 */
export function compareInternalKeys(a: Uint8Array, b: Uint8Array): number {
  const c = compareUserKeys(a.subarray(0, a.length - 8), b.subarray(0, b.length - 8));
  if (c !== 0) return c;
  const ta = trailerOf(a);
  const tb = trailerOf(b);
  return ta > tb ? -1 : ta < tb ? 1 : 0;
}

function trailerOf(ikey: Uint8Array): bigint {
  const at = ikey.length - 8;
  return (BigInt(decodeFixed32(ikey, at + 4)) << 32n) | BigInt(decodeFixed32(ikey, at));
}

/**
 * RocksDB's encodings in TypeScript: varints and fixed-width integers, internal keys
 * (`user_key ‖ fixed64le(seq << 8 | type)`) and their order, sequence-number checks. The rest
 * of the library builds on these; an application needs them only to read or write RocksDB's
 * bytes itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVarint32, encodeVarint32, packInternalKey, unpackInternalKey } from "./coding.ts";
 * import { ValueType } from "./mod.ts";
 *
 * const buf = new Uint8Array(5);
 * assert.equal(encodeVarint32(buf, 0, 300), 2); // [0xac, 0x02]
 * assert.equal(decodeVarint32(buf, 0)[0], 300);
 *
 * const ikey = packInternalKey(new TextEncoder().encode("k"), 7, ValueType.Value);
 * assert.equal(unpackInternalKey(ikey).seq, 7);
 * ```
 *
 * @module
 */
export {
  checkSequence,
  compareSequence,
  maxSequenceNumber,
  type SequenceNumber,
} from "./src/coding/sequence.ts";
export {
  decodeFixed32,
  decodeFixed64,
  decodeVarint32,
  decodeVarint64,
  encodeFixed32,
  encodeFixed64,
  encodeVarint32,
  encodeVarint64,
  varintLength,
} from "./src/coding/varint.ts";
export {
  comparatorName,
  compareInternalKeys,
  compareUserKeys,
  packInternalKey,
  type ParsedInternalKey,
  unpackInternalKey,
} from "./src/coding/internal_key.ts";

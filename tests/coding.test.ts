import { test } from "node:test";
import assert from "node:assert/strict";
import { isValueType, ValueType, valueTypeName } from "../mod.ts";
import {
  checkSequence,
  compareInternalKeys,
  compareUserKeys,
  decodeFixed32,
  decodeFixed64,
  decodeVarint32,
  decodeVarint64,
  encodeFixed32,
  encodeFixed64,
  encodeVarint32,
  encodeVarint64,
  maxSequenceNumber,
  packInternalKey,
  unpackInternalKey,
  varintLength,
} from "../coding.ts";
import { utf8 } from "./helpers.ts";

test("ValueType keeps RocksDB's codes", () => {
  assert.deepEqual(
    { ...ValueType },
    { Deletion: 0x0, Value: 0x1, Merge: 0x2, SingleDeletion: 0x7, RangeDeletion: 0xf },
  );
  assert.equal(valueTypeName(0x7), "SingleDeletion");
  assert.match(valueTypeName(0x3), /unknown value type 0x3/);
  assert.equal(isValueType(0xf), true);
  assert.equal(isValueType(0x3), false);
  assert.equal(isValueType("1"), false);
});

test("varint32 round-trips at every length boundary", () => {
  const values = [
    0,
    1,
    127,
    128,
    16383,
    16384,
    2 ** 21 - 1,
    2 ** 21,
    2 ** 28 - 1,
    2 ** 28,
    2 ** 32 - 1,
  ];
  const lengths = [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
  values.forEach((v, i) => {
    const buf = new Uint8Array(8);
    const end = encodeVarint32(buf, 1, v);
    assert.equal(end - 1, lengths[i], `length of ${v}`);
    assert.equal(varintLength(v), lengths[i]);
    assert.deepEqual(decodeVarint32(buf, 1), [v, end]);
  });
});

test("varint32 rejects out-of-range values and malformed input", () => {
  const buf = new Uint8Array(8);
  assert.throws(() => encodeVarint32(buf, 0, -1), RangeError);
  assert.throws(() => encodeVarint32(buf, 0, 2 ** 32), RangeError);
  assert.throws(() => encodeVarint32(buf, 0, 1.5), RangeError);
  assert.throws(() => decodeVarint32(new Uint8Array([0x80, 0x80]), 0), /truncated/);
  assert.throws(
    () => decodeVarint32(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x1f]), 0),
    /longer than 32 bits/,
  );
  assert.throws(() => decodeVarint32(new Uint8Array(0), 0), /truncated/);
});

test("varint64 round-trips up to 2^64 - 1 and rejects overlong input", () => {
  for (const v of [0n, 127n, 128n, 2n ** 35n, 2n ** 56n - 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    const buf = new Uint8Array(10);
    const end = encodeVarint64(buf, 0, v);
    assert.equal(end, varintLength(v));
    assert.deepEqual(decodeVarint64(buf, 0), [v, end]);
  }
  assert.equal(varintLength(2n ** 64n - 1n), 10);
  assert.throws(() => encodeVarint64(new Uint8Array(10), 0, 2n ** 64n), RangeError);
  assert.throws(() => encodeVarint64(new Uint8Array(10), 0, -1n), RangeError);
  assert.throws(() => decodeVarint64(new Uint8Array(10).fill(0xff), 0), /longer than 64 bits/);
  assert.throws(() => decodeVarint64(new Uint8Array([0x80]), 0), /truncated/);
});

test("fixed32 and fixed64 are little-endian", () => {
  const buf = new Uint8Array(12);
  assert.equal(encodeFixed32(buf, 0, 0x04030201), 4);
  assert.deepEqual([...buf.subarray(0, 4)], [1, 2, 3, 4]);
  assert.equal(decodeFixed32(buf, 0), 0x04030201);
  encodeFixed32(buf, 0, 0xffff_ffff);
  assert.equal(decodeFixed32(buf, 0), 0xffff_ffff);
  assert.equal(encodeFixed64(buf, 4, 0x0807060504030201n), 12);
  assert.deepEqual([...buf.subarray(4, 12)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(decodeFixed64(buf, 4), 0x0807060504030201n);
  encodeFixed64(buf, 4, 2n ** 64n - 1n);
  assert.equal(decodeFixed64(buf, 4), 2n ** 64n - 1n);
  assert.throws(() => decodeFixed32(buf, 10), /truncated/);
  assert.throws(() => decodeFixed64(buf, 5), /truncated/);
  assert.throws(() => encodeFixed64(buf, 0, 2n ** 64n), RangeError);
});

test("internal keys pack as user_key ‖ fixed64le(seq << 8 | type)", () => {
  const ikey = packInternalKey(utf8("k"), 0x010203, ValueType.Merge);
  assert.deepEqual([...ikey], [0x6b, 0x02, 0x03, 0x02, 0x01, 0, 0, 0, 0]);
  assert.deepEqual(unpackInternalKey(ikey), {
    userKey: utf8("k"),
    seq: 0x010203,
    type: ValueType.Merge,
  });
  const top = packInternalKey(new Uint8Array([0, 0xff]), maxSequenceNumber, ValueType.Value);
  assert.deepEqual([...top.subarray(2)], [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(unpackInternalKey(top), {
    userKey: new Uint8Array([0, 0xff]),
    seq: maxSequenceNumber,
    type: ValueType.Value,
  });
  const empty = packInternalKey(new Uint8Array(0), 0, ValueType.Deletion);
  assert.deepEqual([...empty], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(unpackInternalKey(empty).seq, 0);
  // 2^53 - 1 is the largest number; above it sequence numbers come back as bigints.
  assert.equal(unpackInternalKey(packInternalKey(utf8("x"), 2 ** 53 - 1, 1)).seq, 2 ** 53 - 1);
  assert.equal(unpackInternalKey(packInternalKey(utf8("x"), 2n ** 53n, 1)).seq, 2n ** 53n);
});

test("unpackInternalKey() rejects short keys and unknown types", () => {
  assert.throws(() => unpackInternalKey(new Uint8Array(7)), /at least 8/);
  const bad = packInternalKey(utf8("k"), 5, ValueType.Value);
  bad[1] = 0x03;
  assert.throws(() => unpackInternalKey(bad), /unknown value type 0x3/);
});

test("internal keys order by user key, then newest first", () => {
  const keys = [
    packInternalKey(utf8("b"), 1, ValueType.Value),
    packInternalKey(utf8("a"), 1, ValueType.Value),
    packInternalKey(utf8("a"), 9, ValueType.Value),
    packInternalKey(utf8("a"), 9, ValueType.Merge),
    packInternalKey(utf8("ab"), 0, ValueType.Deletion),
    packInternalKey(new Uint8Array(0), 3, ValueType.Value),
  ];
  const sorted = [...keys].sort(compareInternalKeys).map((k) => unpackInternalKey(k));
  assert.deepEqual(
    sorted.map((k) => [new TextDecoder().decode(k.userKey), k.seq, k.type]),
    [["", 3, 1], ["a", 9, 2], ["a", 9, 1], ["a", 1, 1], ["ab", 0, 0], ["b", 1, 1]],
  );
  assert.ok(compareUserKeys(new Uint8Array([0x00]), new Uint8Array([0xff])) < 0);
  assert.ok(compareUserKeys(new Uint8Array([1]), new Uint8Array([1, 0])) < 0);
  assert.equal(compareUserKeys(utf8("same"), utf8("same")), 0);
});

test("checkSequence() accepts 0 … 2^56 - 1 and names what is wrong otherwise", () => {
  assert.equal(checkSequence(0, "t"), 0);
  assert.equal(checkSequence(2 ** 53 - 1, "t"), 2 ** 53 - 1);
  assert.equal(checkSequence(2n ** 56n - 1n, "t"), 2n ** 56n - 1n);
  assert.throws(() => checkSequence(-1, "t"), {
    name: "RangeError",
    message: /non-negative integer/,
  });
  assert.throws(() => checkSequence(1.5, "t"), RangeError);
  assert.throws(() => checkSequence(NaN, "t"), RangeError);
  assert.throws(() => checkSequence(2 ** 53, "t"), /pass it as a bigint/);
  assert.throws(() => checkSequence(2n ** 56n, "t"), /\[0, 2\^56 - 1\]/);
  assert.throws(() => checkSequence(-1n, "t"), RangeError);
  assert.throws(() => checkSequence("1", "t"), {
    name: "TypeError",
    message: /number or a bigint, got string/,
  });
  assert.throws(() => checkSequence(undefined, "t"), TypeError);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DuplicateEntryError,
  MemTable,
  nativeMemoryBytes,
  uint64Add,
  ValueType,
  WriteBatch,
  WriteBatchError,
} from "../mod.ts";
import { Rng, seedFor, text } from "./helpers.ts";

const header = (seq: number, count: number) => [
  seq & 0xff,
  (seq >>> 8) & 0xff,
  0,
  0,
  0,
  0,
  0,
  0,
  count,
  0,
  0,
  0,
];

test("WriteBatch writes RocksDB's representation byte for byte", () => {
  const b = new WriteBatch()
    .put("a", "b")
    .delete("c")
    .singleDelete("d")
    .merge("e", "f")
    .deleteRange("g", "h")
    .putLogData("blob");
  assert.equal(b.count, 5); // LogData is not counted
  b.sequence = 0x0102;
  assert.deepEqual([...b.data()], [
    ...header(0x0102, 5),
    0x01,
    1,
    0x61,
    1,
    0x62, // Put a b
    0x00,
    1,
    0x63, // Delete c
    0x07,
    1,
    0x64, // SingleDelete d
    0x02,
    1,
    0x65,
    1,
    0x66, // Merge e f
    0x0f,
    1,
    0x67,
    1,
    0x68, // DeleteRange g h
    0x03,
    4,
    0x62,
    0x6c,
    0x6f,
    0x62, // LogData "blob"
  ]);
  assert.equal(b.byteSize, 12 + 5 + 3 + 3 + 5 + 5 + 6);
  assert.equal(b.sequence, 0x0102);
  assert.deepEqual(
    b.records().map((r) => `${r.type}:${text(r.key)}:${text(r.value)}`),
    ["1:a:b", "0:c:", "7:d:", "2:e:f", "15:g:h"],
  );
  // A 200-byte key takes a two-byte varint length.
  const long = new WriteBatch().put(new Uint8Array(200), "");
  assert.deepEqual([...long.data().subarray(12, 15)], [0x01, 0xc8, 0x01]);
  b.clear();
  assert.equal(b.count, 0);
  assert.deepEqual([...b.data()], header(0, 0));
  assert.throws(() => b.deleteRange("b", "a"), /end comes before start/);
  assert.throws(() => b.put(1 as never, "v"), TypeError);
  assert.throws(() => (b.sequence = -1), RangeError);
});

test("MemTable.write() applies every record with consecutive sequence numbers", () => {
  using mt = new MemTable({ mergeOperator: uint64Add });
  mt.add(1, ValueType.Value, "counter", uint64Add.operand(10));
  const b = new WriteBatch()
    .put("x", "1")
    .putLogData("ignored")
    .merge("counter", uint64Add.operand(5))
    .delete("x")
    .deleteRange("r", "s")
    .put("r1", "after tombstone");
  assert.equal(mt.write(b, 100), 5);
  const entries = [...mt.entries({ ignoreRangeDeletions: true })].map((e) =>
    `${text(e.key)}@${e.seq}:${e.type}`
  );
  assert.deepEqual(entries, [
    "counter@101:2",
    "counter@1:1",
    "r1@104:1",
    "x@102:0",
    "x@100:1",
  ]);
  assert.deepEqual(mt.rangeTombstones().map((t) => t.seq), [103]);
  const c = mt.get("counter");
  assert.ok(c.kind === "value" && uint64Add.decode(c.value) === 15n);
  assert.equal(mt.get("r1").kind, "value"); // r1@104 is newer than the tombstone @103
  assert.equal(mt.numEntries, 6);
  assert.equal(mt.write(new WriteBatch(), 200), 0);
  assert.equal(mt.write(new WriteBatch().put("big", "seq"), 2n ** 55n), 1);
  assert.equal(mt.get("big").kind, "value");
});

test("a malformed batch throws WriteBatchError and applies nothing", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "keep", "v");
  const good = new WriteBatch().put("a", "1").put("b", "2").data();
  const cases: [number[], RegExp][] = [
    [[...good.subarray(0, good.length - 1)], /record at byte 17 \(tag 0x01\) is truncated/],
    [[...header(0, 3), ...good.subarray(12)], /wrong count: the header says 3 records, .* holds 2/],
    [[...header(0, 1), 0x7f, 1, 0x61], /unknown record tag 0x7f at byte 12/],
    [[...header(0, 1), 0x09, 1, 0x61], /tag 0x09 .* which a memtable does not apply/],
    [[...header(0, 1), 0x05, 3, 1, 0x61, 1, 0x62], /column family 3/],
    [[...header(0, 1), 0x0f, 1, 0x7a, 1, 0x61], /range deletion at byte 12 ends before it starts/],
  ];
  const usage = mt.approximateMemoryUsage();
  for (const [bytes, message] of cases) {
    const batch = WriteBatch.from(new Uint8Array(bytes));
    assert.throws(() => mt.write(batch, 10), (e: unknown) => {
      assert.ok(e instanceof WriteBatchError, String(e));
      assert.match((e as Error).message, message);
      assert.match((e as Error).message, /nothing was applied/);
      return true;
    });
    assert.throws(() => batch.records(), WriteBatchError); // the TS decoder agrees
  }
  // Column family 0 in the CF form is the default column family: accepted.
  const cf0 = WriteBatch.from(new Uint8Array([...header(0, 1), 0x05, 0, 1, 0x63, 1, 0x64]));
  assert.equal(mt.write(cf0, 20), 1);
  assert.equal(mt.numEntries, 2);
  assert.ok(mt.approximateMemoryUsage() > usage);
  assert.throws(() => WriteBatch.from(new Uint8Array(5)), /shorter than the 12-byte header/);
  assert.throws(
    () => mt.write(new WriteBatch().put("a", "1").put("b", "2"), 2n ** 56n - 1n),
    /record 1 would take a sequence number above 2\^56 - 1/,
  );
  assert.throws(() => mt.write({} as never, 1), /expected a WriteBatch/);
  assert.throws(() => mt.write(new WriteBatch(), -1), RangeError);
});

test("a batch that would duplicate an entry throws and applies none of its records", () => {
  using mt = new MemTable();
  mt.add(12, ValueType.Value, "dup", "original");
  const before = nativeMemoryBytes();
  const batch = new WriteBatch().put("aa", "1").put("zz", "2").put("dup", "again");
  assert.throws(() => mt.write(batch, 10), (e: unknown) => {
    assert.ok(e instanceof DuplicateEntryError);
    assert.match((e as Error).message, /record 2: an entry with key "dup"/);
    return true;
  });
  assert.equal(mt.numEntries, 1);
  assert.deepEqual(mt.get("aa"), { kind: "absent" });
  assert.deepEqual(mt.get("zz"), { kind: "absent" });
  assert.ok(nativeMemoryBytes() - before < 1 << 20);
});

test("the order of records inside a batch does not change the result (seeded)", () => {
  const seed = seedFor("MEMTABLE_BATCH_SEED", "batch order test");
  const rng = new Rng(seed);
  using batched = new MemTable();
  using single = new MemTable();
  let seq = 1;
  for (let round = 0; round < 20; round++) {
    const batch = new WriteBatch();
    const records: [number, string, string][] = [];
    const n = 1 + rng.below(300);
    for (let i = 0; i < n; i++) {
      const key = `k${rng.below(500)}`;
      const type = [ValueType.Value, ValueType.Value, ValueType.Deletion][rng.below(3)]!;
      const value = type === ValueType.Value ? `v${seq + i}` : "";
      records.push([type, key, value]);
      if (type === ValueType.Value) batch.put(key, value);
      else batch.delete(key);
    }
    assert.equal(batched.write(batch, seq), n);
    for (const [type, key, value] of records) {
      single.add(seq++, type as ValueType, key, type === ValueType.Value ? value : undefined);
    }
  }
  const dump = (mt: MemTable) =>
    [...mt.entries()].map((e) => `${text(e.key)}@${e.seq}:${e.type}:${text(e.value)}`);
  assert.deepEqual(dump(batched), dump(single), `seed ${seed}`);
});

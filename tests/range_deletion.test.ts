import { test } from "node:test";
import assert from "node:assert/strict";
import { GetStatus, MemTable, SnapshotList, ValueType } from "../mod.ts";
import { text, tracingOperator, utf8 } from "./helpers.ts";

test("a range tombstone hides older versions of keys in [start, end) and nothing else", () => {
  using mt = new MemTable();
  for (const k of ["a", "b", "c", "d"]) mt.add(1, ValueType.Value, k, `${k}1`);
  mt.addRangeDeletion(5, "b", "d");
  assert.deepEqual(mt.get("b"), { kind: "deleted", seq: 5, type: ValueType.RangeDeletion });
  assert.deepEqual(mt.get("c"), { kind: "deleted", seq: 5, type: ValueType.RangeDeletion });
  assert.equal(mt.get("a").kind, "value"); // before start
  assert.equal(mt.get("d").kind, "value"); // end is exclusive
  // A key this memtable never held is still reported deleted: older data is hidden too.
  assert.deepEqual(mt.get("bzz"), { kind: "deleted", seq: 5, type: ValueType.RangeDeletion });
  assert.deepEqual(mt.get("e"), { kind: "absent" });
  // Snapshots below the tombstone see the old versions.
  const old = mt.get("b", { snapshot: 4 });
  assert.ok(old.kind === "value" && text(old.value) === "b1");
  assert.equal(mt.numRangeDeletes, 1);
  assert.equal(mt.numEntries, 5); // RocksDB counts range tombstones as entries
});

test("RocksDB's corner cases: equal seq, newer put, merge across a tombstone, overlapping tombstones", () => {
  using mt = new MemTable({ mergeOperator: tracingOperator });
  // A tombstone hides versions with a *smaller* seq: a put at the same seq stays.
  mt.add(7, ValueType.Value, "eq", "same seq");
  mt.addRangeDeletion(7, "eq", "eq\0");
  const eq = mt.get("eq");
  assert.ok(eq.kind === "value" && text(eq.value) === "same seq");
  // A put newer than the tombstone is not hidden.
  mt.addRangeDeletion(10, "n", "o");
  mt.add(12, ValueType.Value, "n1", "newer");
  mt.add(9, ValueType.Value, "n2", "older");
  const n1 = mt.get("n1");
  assert.ok(n1.kind === "value" && text(n1.value) === "newer");
  assert.equal(mt.get("n2").kind, "deleted");
  // Merge operands above a tombstone fold with no base; the hidden value is not used.
  mt.add(20, ValueType.Value, "m", "base");
  mt.addRangeDeletion(21, "m", "m\0");
  mt.add(22, ValueType.Merge, "m", "op");
  const m = mt.get("m");
  assert.ok(m.kind === "value" && text(m.value) === "∅+op" && m.seq === 22);
  const mOld = mt.get("m", { snapshot: 20 });
  assert.ok(mOld.kind === "value" && text(mOld.value) === "base");
  // Operands with no version below them in this memtable, under a tombstone: folded as over
  // a deletion (older memtables' versions are older than the tombstone).
  mt.add(31, ValueType.Merge, "q", "x");
  mt.addRangeDeletion(30, "p", "r");
  const q = mt.get("q");
  assert.ok(q.kind === "value" && text(q.value) === "∅+x");
  // The newest of overlapping tombstones at or below the snapshot counts.
  mt.add(40, ValueType.Value, "z", "z40");
  mt.addRangeDeletion(45, "y", "zz");
  mt.addRangeDeletion(50, "z", "z\0");
  assert.deepEqual(mt.get("z"), { kind: "deleted", seq: 50, type: ValueType.RangeDeletion });
  assert.deepEqual(mt.get("z", { snapshot: 47 }), {
    kind: "deleted",
    seq: 45,
    type: ValueType.RangeDeletion,
  });
  assert.equal(mt.get("z", { snapshot: 44 }).kind, "value");
});

test("iterators and entries() hide covered versions unless ignoreRangeDeletions is set", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "a", "a1");
  mt.add(1, ValueType.Value, "b", "b1");
  mt.add(6, ValueType.Value, "b", "b6");
  mt.add(1, ValueType.Value, "c", "c1");
  mt.add(1, ValueType.Value, "d", "d1");
  mt.addRangeDeletion(5, "b", "d");
  const show = (opts?: Parameters<MemTable["entries"]>[0]) =>
    [...mt.entries(opts)].map((e) => `${text(e.key)}@${e.seq}`).join(" ");
  assert.equal(show(), "a@1 b@6 d@1");
  assert.equal(show({ ignoreRangeDeletions: true }), "a@1 b@6 b@1 c@1 d@1");
  assert.equal(show({ snapshot: 4 }), "a@1 b@1 c@1 d@1");
  using it = mt.iterator();
  const back: string[] = [];
  for (it.seekToLast(); it.valid(); it.prev()) back.push(`${text(it.key())}@${it.seq()}`);
  assert.deepEqual(back, ["d@1", "b@6", "a@1"]);
  it.seek("c");
  assert.equal(text(it.key()), "d");
  it.seekForPrev("c");
  assert.equal(`${text(it.key())}@${it.seq()}`, "b@6");
  // An iterator sees the tombstones that existed when it was created (RocksDB's behaviour).
  using before = mt.iterator();
  mt.addRangeDeletion(9, "a", "b");
  before.seekToFirst();
  assert.equal(text(before.key()), "a");
  using after = mt.iterator();
  after.seekToFirst();
  assert.equal(`${text(after.key())}@${after.seq()}`, "b@6");
  assert.throws(() => mt.iterator({ ignoreRangeDeletions: 1 as never }), TypeError);
});

test("rangeTombstones() lists tombstones by start key, newest first, at a snapshot", () => {
  using mt = new MemTable();
  mt.addRangeDeletion(3, "m", "p");
  mt.addRangeDeletion(8, "a", "c");
  mt.addRangeDeletion(5, "m", "z");
  mt.addRangeDeletion(9, "k", "k"); // empty range: stored and listed, hides nothing
  const list = (s?: number) =>
    mt.rangeTombstones(s === undefined ? undefined : { snapshot: s }).map((t) =>
      `${text(t.start)}-${text(t.end)}@${t.seq}`
    );
  assert.deepEqual(list(), ["a-c@8", "k-k@9", "m-z@5", "m-p@3"]);
  assert.deepEqual(list(4), ["m-p@3"]);
  assert.equal(mt.numRangeDeletes, 4);
  mt.add(1, ValueType.Value, "k", "v");
  assert.equal(mt.get("k").kind, "value");
  assert.throws(() => mt.addRangeDeletion(8, "a", "c"), /an entry with key "a"/);
});

test("addRangeDeletion() rejects bad arguments with clear errors and stores nothing", () => {
  using mt = new MemTable();
  assert.throws(() => mt.addRangeDeletion(1, "b", "a"), /end comes before start/);
  assert.throws(() => mt.addRangeDeletion(-1, "a", "b"), RangeError);
  assert.throws(() => mt.addRangeDeletion(1, 5 as never, "b"), TypeError);
  assert.throws(() => mt.addRangeDeletion(1, "a", null as never), TypeError);
  assert.throws(
    () => mt.addRangeDeletion(1, "a", new Uint8Array(8 * 1024 * 1024 + 1)),
    /end key is 8388609 bytes/,
  );
  assert.equal(mt.numRangeDeletes, 0);
  assert.equal(mt.numEntries, 0);
  mt.close();
  assert.throws(() => mt.addRangeDeletion(1, "a", "b"), /closed/);
  assert.throws(() => mt.rangeTombstones(), /closed/);
});

test("snapshots from a SnapshotList and tombstones agree", () => {
  const snapshots = new SnapshotList();
  using mt = new MemTable();
  mt.add(1, ValueType.Value, utf8("k"), "v");
  using before = snapshots.acquire(1);
  mt.addRangeDeletion(2, "a", "z");
  assert.equal(mt.get("k", { snapshot: before }).kind, "value");
  assert.equal(mt.get("k").kind, "deleted");
});

test("get() and getInto() with ignoreRangeDeletions see the versions a tombstone covers", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "r", "old");
  mt.add(2, ValueType.Deletion, "d");
  mt.addRangeDeletion(5, "a", "z");
  const ignore = { ignoreRangeDeletions: true };
  assert.deepEqual(mt.get("r"), { kind: "deleted", seq: 5, type: ValueType.RangeDeletion });
  const r = mt.get("r", ignore);
  assert.ok(r.kind === "value" && r.seq === 1 && new TextDecoder().decode(r.value) === "old");
  assert.deepEqual(mt.get("d", ignore), { kind: "deleted", seq: 2, type: ValueType.Deletion });
  assert.deepEqual(mt.get("q", ignore), { kind: "absent" });
  const dest = new Uint8Array(8);
  assert.equal(mt.getInto("r", dest), GetStatus.deleted);
  assert.equal(mt.getInto("r", dest, ignore), 3);
  assert.equal(mt.getInto("q", dest, ignore), GetStatus.absent);
  assert.equal(mt.getInto("q", dest), GetStatus.deleted);
});

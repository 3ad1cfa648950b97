import { test } from "node:test";
import assert from "node:assert/strict";
import { MemTable, Snapshot, SnapshotList, SnapshotReleasedError, ValueType } from "../mod.ts";
import { text } from "./helpers.ts";

test("SnapshotList keeps live snapshots ordered and reports oldest, newest and sequences", () => {
  const list = new SnapshotList();
  assert.equal(list.empty, true);
  assert.equal(list.oldest, undefined);
  assert.deepEqual(list.sequences(), []);
  const a = list.acquire(10);
  const b = list.acquire(20);
  const c = list.acquire(15); // out of order: kept sorted
  const d = list.acquire(20); // equal sequence numbers count twice, list once
  const big = list.acquire(2n ** 55n);
  assert.equal(list.count, 5);
  assert.equal(list.oldest, 10);
  assert.equal(list.newest, 2n ** 55n);
  assert.deepEqual(list.sequences(), [10, 15, 20, 2n ** 55n]);
  assert.deepEqual(list.sequences(19), [10, 15]);
  b.release();
  assert.deepEqual(list.sequences(), [10, 15, 20, 2n ** 55n]); // d still holds 20
  d.release();
  d.release(); // idempotent
  assert.deepEqual(list.sequences(), [10, 15, 2n ** 55n]);
  a.release();
  assert.equal(list.oldest, 15);
  {
    using scoped = list.acquire(16);
    assert.equal(scoped.released, false);
    assert.equal(list.count, 3);
  }
  assert.equal(list.count, 2);
  c.release();
  big.release();
  assert.equal(list.empty, true);
  assert.throws(() => list.acquire(-1), RangeError);
  assert.throws(() => list.acquire(2n ** 56n), RangeError);
  assert.throws(() => list.acquire("1" as unknown as number), TypeError);
  assert.throws(() => list.sequences(1.5), RangeError);
  assert.throws(
    () => new Snapshot(Symbol("x") as never, list, 1),
    /acquire snapshots with SnapshotList.acquire/,
  );
});

test("reads at a snapshot see exactly the writes at or below it; released snapshots throw", () => {
  const list = new SnapshotList();
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "one");
  const s1 = list.acquire(1);
  mt.add(2, ValueType.Value, "k", "two");
  mt.add(3, ValueType.Deletion, "k");
  const s3 = list.acquire(3);
  const r1 = mt.get("k", { snapshot: s1 });
  assert.ok(r1.kind === "value" && text(r1.value) === "one");
  assert.equal(mt.get("k", { snapshot: s3 }).kind, "deleted");
  assert.deepEqual([...mt.entries({ snapshot: s1 })].map((e) => e.seq), [1]);
  using it = mt.iterator({ snapshot: s1 });
  it.seekToFirst();
  assert.equal(it.seq(), 1);
  s1.release();
  assert.equal(s1.released, true);
  assert.throws(() => mt.get("k", { snapshot: s1 }), (e: unknown) => {
    assert.ok(e instanceof SnapshotReleasedError);
    assert.match((e as Error).message, /MemTable.get\(\): snapshot at 1 has been released/);
    return true;
  });
  assert.throws(() => mt.iterator({ snapshot: s1 }), SnapshotReleasedError);
  assert.equal(mt.get("k", { snapshot: s3 }).kind, "deleted");
});

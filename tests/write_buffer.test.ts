/**
 * WriteBufferManager (RocksDB's flush rule, stalls that end when memory is freed) and
 * MemTableList (picking the oldest memtables, rollback, installing results in order, versions
 * that keep memtables alive, history within maxWriteBufferSizeToMaintain).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ImmutableMemTableError,
  MemTable,
  MemTableClosedError,
  nativeMemoryBytes,
  ValueType,
  WriteBufferManager,
} from "../mod.ts";
import { MemTableList } from "../flush.ts";

test("WriteBufferManager: RocksDB's flush rule", () => {
  const m = new WriteBufferManager({ bufferSize: 800 });
  assert.equal(m.enabled, true);
  m.reserve(700);
  assert.equal(m.shouldFlush(), false); // 700 ≤ 7/8 × 800
  m.reserve(1);
  assert.equal(m.shouldFlush(), true); // mutable over 7/8
  m.scheduleFree(701);
  assert.equal(m.mutableMemtableMemoryUsage, 0);
  assert.equal(m.memoryUsage, 701);
  assert.equal(m.shouldFlush(), false);
  m.reserve(400); // total 1101 ≥ 800, mutable 400 ≥ 400
  assert.equal(m.shouldFlush(), true);
  m.free(701);
  assert.equal(m.memoryUsage, 400);
  assert.equal(m.shouldFlush(), false);
  const off = new WriteBufferManager({ bufferSize: 0 });
  off.reserve(1 << 30);
  assert.equal(off.enabled, false);
  assert.equal(off.shouldFlush(), false);
  assert.equal(off.memoryUsage, 1 << 30);
  assert.throws(() => new WriteBufferManager({ bufferSize: -1 }), RangeError);
  assert.throws(() => new WriteBufferManager({ bufferSize: 1, allowStall: 1 as never }), TypeError);
  assert.throws(() => m.reserve(1.5), RangeError);
});

test("WriteBufferManager: writers stall over the budget and resume when flushes free memory", async () => {
  const m = new WriteBufferManager({ bufferSize: 100, allowStall: true });
  await m.whenWritable(); // under budget: at once
  m.reserve(100);
  assert.equal(m.shouldStall(), true);
  let resumed = 0;
  const waits = [m.whenWritable().then(() => resumed++), m.whenWritable().then(() => resumed++)];
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(resumed, 0);
  assert.equal(m.stats().waiting, 2);
  m.scheduleFree(100); // immutable: still counted, still stalled
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(resumed, 0);
  m.free(100); // flushed
  await Promise.all(waits);
  assert.equal(resumed, 2);
  const s = m.stats();
  assert.equal(s.stalls, 2);
  assert.ok(s.stallTimeMs >= 15, `stall time ${s.stallTimeMs}`);
  assert.equal(s.waiting, 0);
  // A bigger budget also ends a stall.
  m.reserve(150);
  const w = m.whenWritable();
  m.setBufferSize(200);
  await w;
  // Without allowStall nothing waits.
  const n = new WriteBufferManager({ bufferSize: 1 });
  n.reserve(10);
  assert.equal(n.shouldStall(), false);
  await n.whenWritable();
});

function filled(seq: number, n = 10): MemTable {
  const mt = new MemTable({ writeBufferSize: 1 << 20 });
  for (let i = 0; i < n; i++) mt.add(seq + i, ValueType.Value, `k${seq + i}`, "v");
  return mt;
}

test("MemTableList: picks the oldest, rolls back, installs results in order", () => {
  const wbm = new WriteBufferManager({ bufferSize: 1 << 30 });
  const list = new MemTableList<string>({ maxWriteBufferNumber: 3, writeBufferManager: wbm });
  const [a, b, c] = [filled(1), filled(100), filled(200)];
  for (const m of [a, b, c]) wbm.reserve(m.approximateMemoryUsage());
  list.add(a);
  assert.throws(() => a.add(50, ValueType.Value, "x", "y"), ImmutableMemTableError);
  assert.throws(() => list.add(a), /already in the list/);
  assert.equal(list.isFlushPending(), true);
  assert.equal(list.shouldStallWrites(), false);
  const first = list.pickMemtablesToFlush();
  assert.deepEqual(first, [a]);
  assert.equal(list.isFlushPending(), false);
  list.add(b);
  assert.equal(list.shouldStallWrites(), false);
  list.add(c);
  assert.equal(list.shouldStallWrites(), true); // 3 immutable memtables wait
  const second = list.pickMemtablesToFlush();
  assert.deepEqual(second, [b, c]);
  assert.deepEqual(list.pickMemtablesToFlush(), []);
  // The newer flush completes first: it waits for the older one.
  assert.deepEqual(list.installFlushResult(second, "file-2"), []);
  assert.equal(list.numNotFlushed, 3);
  // The older flush fails: rolled back, picked again, then done — both land, in order.
  list.rollbackFlush(first);
  assert.equal(list.isFlushPending(), true);
  const again = list.pickMemtablesToFlush();
  assert.deepEqual(again, [a]);
  assert.throws(() => list.rollbackFlush([c]), /not being flushed/);
  assert.deepEqual(list.installFlushResult(again, "file-1"), ["file-1", "file-2"]);
  assert.equal(list.numNotFlushed, 0);
  assert.equal(wbm.memoryUsage, 0); // every released memtable was freed from the budget
  for (const m of [a, b, c]) m.close();
  list.close();
});

test("MemTableList: a version keeps its memtables alive; history within its budget", () => {
  const before = nativeMemoryBytes();
  const list = new MemTableList<number>({ maxWriteBufferSizeToMaintain: 1 });
  const a = filled(1);
  const b = filled(100);
  list.add(a);
  list.add(b);
  a.close(); // the creator's reference: the list still holds one
  b.close();
  const version = list.current();
  assert.equal(version.memtables.length, 2);
  assert.equal(version.memtables[0]!.get("k100").kind, "value"); // newest first
  assert.deepEqual(list.unflushed(), version.memtables);
  const picked = list.pickMemtablesToFlush();
  assert.deepEqual(list.installFlushResult(picked, 7), [7]);
  // No flushed memtable fits a history budget of 1 byte: both are released by the list.
  assert.equal(list.numHistory, 0);
  // The version still reads both.
  assert.equal(version.memtables[1]!.get("k1").kind, "value");
  version.release();
  assert.equal(nativeMemoryBytes(), before, "released with the last version");
  assert.throws(() => a.get("k1"), MemTableClosedError);

  const keep = new MemTableList<number>({ maxWriteBufferSizeToMaintain: 1 << 30 });
  const c = filled(300);
  keep.add(c);
  c.close();
  keep.installFlushResult(keep.pickMemtablesToFlush(), 1);
  assert.equal(keep.numHistory, 1);
  using v = keep.current();
  assert.equal(v.memtables.length, 0);
  assert.equal(v.history[0]!.get("k300").kind, "value");
  keep.close();
  const late = filled(1);
  assert.throws(() => keep.add(late), /closed/);
  late.close();
  assert.throws(() => new MemTableList({ maxWriteBufferNumber: 1 }), RangeError);
});

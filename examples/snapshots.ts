// Multi-version reads: every write keeps its sequence number, and a snapshot reads the newest
// version at or below its own.
import assert from "node:assert/strict";
import { MemTable, SnapshotList, ValueType } from "../mod.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const valueAt = (mt: MemTable, key: string, snapshot?: number | Parameters<MemTable["get"]>[1]) => {
  const r = mt.get(key, typeof snapshot === "number" ? { snapshot } : snapshot);
  return r.kind === "value" ? decode(r.value) : r.kind;
};

using mt = new MemTable();
const snapshots = new SnapshotList();
mt.add(1, ValueType.Value, "color", "red");
using first = snapshots.acquire(1);
mt.add(2, ValueType.Value, "color", "green");
mt.add(3, ValueType.Value, "shape", "circle");
using second = snapshots.acquire(3);
mt.add(4, ValueType.Deletion, "color");

assert.equal(valueAt(mt, "color"), "deleted"); // the newest version
assert.equal(valueAt(mt, "color", { snapshot: first }), "red");
assert.equal(valueAt(mt, "color", { snapshot: second }), "green");
assert.equal(valueAt(mt, "shape", { snapshot: first }), "absent"); // written after it
assert.equal(valueAt(mt, "color", 2), "green"); // a plain sequence number works too

// A flush keeps, per key, the newest version visible at each live snapshot.
assert.deepEqual(snapshots.sequences(), [1, 3]);
first.release();
assert.deepEqual(snapshots.sequences(), [3]);

// An iterator walks every version: user key ascending, newest first.
using it = mt.iterator();
const versions: string[] = [];
for (it.seekToFirst(); it.valid(); it.next()) versions.push(`${decode(it.key())}@${it.seq()}`);
assert.deepEqual(versions, ["color@4", "color@2", "color@1", "shape@3"]);

// entries() at a snapshot: the versions that snapshot can see.
const atSecond = [...mt.entries({ snapshot: second })].map((e) => `${decode(e.key)}@${e.seq}`);
assert.deepEqual(atSecond, ["color@2", "color@1", "shape@3"]);
console.log("snapshots: ok");

// Range deletions: one tombstone deletes every key in [start, end) older than itself.
import assert from "node:assert/strict";
import { MemTable, ValueType } from "../mod.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const keys = (mt: MemTable, options = {}) => [...mt.entries(options)].map((e) => decode(e.key));

using mt = new MemTable();
for (let i = 0; i < 5; i++) mt.add(i + 1, ValueType.Value, `session:${i}`, "…");
mt.add(6, ValueType.Value, "user:1", "ada");
mt.addRangeDeletion(7, "session:1", "session:4"); // deletes session:1, :2, :3
mt.add(8, ValueType.Value, "session:2", "back"); // newer than the tombstone: visible

assert.deepEqual(keys(mt), ["session:0", "session:2", "session:4", "user:1"]);
assert.deepEqual(mt.get("session:1"), { kind: "deleted", seq: 7, type: ValueType.RangeDeletion });
assert.equal(mt.get("session:2").kind, "value");

// Reads below the tombstone's sequence number still see what it deletes.
assert.deepEqual(
  keys(mt, { snapshot: 6 }),
  [0, 1, 2, 3, 4].map((i) => `session:${i}`).concat("user:1"),
);
// ignoreRangeDeletions shows every version, as stored.
assert.equal(keys(mt, { ignoreRangeDeletions: true }).length, 7);
assert.deepEqual(mt.rangeTombstones(), [{
  start: new TextEncoder().encode("session:1"),
  end: new TextEncoder().encode("session:4"),
  seq: 7,
}]);
assert.equal(mt.numRangeDeletes, 1);
console.log("range_deletion: ok");

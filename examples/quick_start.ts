import assert from "node:assert/strict";
import { fixedPrefix, MemTable, SnapshotList, uint64Add, ValueType, WriteBatch } from "../mod.ts";

const text = (s: string) => new TextEncoder().encode(s);

using mt = new MemTable({ writeBufferSize: 64 << 20, mergeOperator: uint64Add });
mt.add(1, ValueType.Value, "user:1", "ada");
mt.add(2, ValueType.Value, "user:2", "grace");
mt.add(3, ValueType.Deletion, "user:1");

assert.deepEqual(mt.get("user:1"), { kind: "deleted", seq: 3, type: ValueType.Deletion });
assert.deepEqual(mt.get("user:1", { snapshot: 2 }), { kind: "value", value: text("ada"), seq: 1 });
assert.deepEqual(mt.get("user:9"), { kind: "absent" });

// Merge operands are folded on read: counters without a read on the write path.
mt.add(4, ValueType.Value, "hits", uint64Add.operand(10));
mt.add(5, ValueType.Merge, "hits", uint64Add.operand(1));
assert.deepEqual(mt.get("hits"), { kind: "value", value: uint64Add.operand(11), seq: 5 });

// A batch applies atomically with consecutive sequence numbers (RocksDB's WriteBatch format).
mt.write(new WriteBatch().put("order:7", "paid").deleteRange("cart:", "cart;"), 6);

const snapshots = new SnapshotList();
using snap = snapshots.acquire(7); // reads at snap see exactly the writes with seq ≤ 7
mt.addRangeDeletion(8, "user:", "user;"); // deletes every user:… key older than seq 8
assert.deepEqual(mt.get("user:2"), { kind: "deleted", seq: 8, type: ValueType.RangeDeletion });
assert.equal(mt.get("user:2", { snapshot: snap }).kind, "value");

using it = mt.iterator(); // every version: user key ascending, newest first
const versions: string[] = [];
for (it.seek("order:"); it.valid(); it.next()) {
  versions.push(`${new TextDecoder().decode(it.key())}@${it.seq()}`);
}
assert.deepEqual(versions, ["order:7@6"]); // the user:… versions lie under the tombstone
const keys = [...mt.entries({ snapshot: 2 })].map((e) => new TextDecoder().decode(e.key));
assert.deepEqual(keys, ["user:1", "user:2"]); // { key, seq, type, value } at snapshot 2

assert.ok(mt.approximateMemoryUsage() > 0); // arena bytes in use
assert.equal(mt.shouldFlush(), false); // usage reached writeBufferSize?
mt.markImmutable(); // read-only from now on (before a flush)
assert.throws(() => mt.add(9, ValueType.Value, "late", "x"), /immutable/i);

// Other representations, same results: a bulk-load vector, or a hash of per-prefix skiplists.
using bulk = new MemTable({ rep: "vector" });
using byUser = new MemTable({ rep: "hashSkipList", prefixExtractor: fixedPrefix(5) });
for (const m of [bulk, byUser]) {
  m.add(1, ValueType.Value, "user:1", "ada");
  assert.deepEqual(m.get("user:1"), { kind: "value", value: text("ada"), seq: 1 });
}
console.log("quick_start: ok");

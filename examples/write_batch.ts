// WriteBatch: RocksDB's batch format, applied atomically with consecutive sequence numbers.
import assert from "node:assert/strict";
import { DuplicateEntryError, MemTable, uint64Add, ValueType, WriteBatch } from "../mod.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

using mt = new MemTable({ mergeOperator: uint64Add });
const batch = new WriteBatch()
  .put("order:1", "paid")
  .put("stock:apple", uint64Add.operand(10))
  .merge("stock:apple", uint64Add.operand(-3))
  .delete("cart:1")
  .deleteRange("tmp:", "tmp;");
assert.equal(batch.count, 5);

assert.equal(mt.write(batch, 100), 5); // records at seq 100, 101, … 104
assert.deepEqual(mt.get("order:1"), {
  kind: "value",
  value: new TextEncoder().encode("paid"),
  seq: 100,
});
assert.deepEqual(mt.get("stock:apple"), { kind: "value", value: uint64Add.operand(7), seq: 102 });
assert.deepEqual(mt.get("cart:1"), { kind: "deleted", seq: 103, type: ValueType.Deletion });

// The bytes are RocksDB's WriteBatch representation: they round-trip, e.g. through a WAL.
const copy = WriteBatch.from(batch.data());
assert.deepEqual(copy.records().map((r) => decode(r.key)), [
  "order:1",
  "stock:apple",
  "stock:apple",
  "cart:1",
  "tmp:",
]);

// A batch that cannot apply applies nothing: here its second record repeats (key, seq, type).
const clash = new WriteBatch().put("new:1", "x").put("order:1", "again");
mt.add(201, ValueType.Value, "order:1", "later");
assert.throws(() => mt.write(clash, 200), DuplicateEntryError);
assert.deepEqual(mt.get("new:1"), { kind: "absent" }); // the first record is not there either
console.log("write_batch: ok");

// Merge operators: write operands without reading, fold them on read.
import assert from "node:assert/strict";
import { MemTable, type MergeOperator, stringAppend, uint64Add, ValueType } from "../mod.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

// Counters (RocksDB's UInt64AddOperator): 8-byte little-endian integers.
{
  using mt = new MemTable({ mergeOperator: uint64Add });
  mt.add(1, ValueType.Value, "visits", uint64Add.operand(0)); // the base the operands fold onto
  mt.add(2, ValueType.Merge, "visits", uint64Add.operand(2));
  mt.add(3, ValueType.Merge, "visits", uint64Add.operand(40));
  const r = mt.get("visits");
  assert.equal(r.kind, "value");
  assert.equal(
    r.kind === "value" && new DataView(r.value.buffer, r.value.byteOffset).getBigUint64(0, true),
    42n,
  );
  assert.deepEqual(mt.get("visits", { snapshot: 2 }), {
    kind: "value",
    value: uint64Add.operand(2),
    seq: 2,
  });
}

// Appending (RocksDB's StringAppendOperator) onto a value, and onto a deletion.
{
  using mt = new MemTable({ mergeOperator: stringAppend(",") });
  mt.add(1, ValueType.Value, "tags", "a");
  mt.add(2, ValueType.Merge, "tags", "b");
  mt.add(3, ValueType.Merge, "tags", "c");
  mt.add(4, ValueType.Deletion, "old");
  mt.add(5, ValueType.Merge, "old", "fresh");
  const tags = mt.get("tags");
  assert.equal(tags.kind === "value" && decode(tags.value), "a,b,c");
  const old = mt.get("old");
  assert.equal(old.kind === "value" && decode(old.value), "fresh");
}

// An operator of your own: keep the largest number seen.
const maxNumber: MergeOperator = {
  name: "example.MaxNumber",
  fullMerge: (_key, existing, operands) => {
    let best = existing === undefined ? -Infinity : Number(decode(existing));
    for (const op of operands) best = Math.max(best, Number(decode(op)));
    return new TextEncoder().encode(String(best));
  },
};
{
  using mt = new MemTable({ mergeOperator: maxNumber });
  mt.add(1, ValueType.Value, "high", "7");
  mt.add(2, ValueType.Merge, "high", "19");
  mt.add(3, ValueType.Merge, "high", "3");
  const r = mt.get("high");
  assert.equal(r.kind === "value" && decode(r.value), "19");
}

// Operands with no base in this memtable are handed back (oldest first) when they reach past
// its oldest version: older data (an SST file) must finish the merge.
{
  using mt = new MemTable({ mergeOperator: stringAppend(",") });
  mt.add(10, ValueType.Merge, "log", "x");
  mt.add(11, ValueType.Merge, "log", "y");
  const r = mt.get("log");
  assert.equal(r.kind, "merge");
  assert.deepEqual(r.kind === "merge" && r.operands.map(decode), ["x", "y"]);
}
console.log("merge: ok");

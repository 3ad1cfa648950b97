import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MemTable,
  type MergeOperator,
  MergeOperatorError,
  mergeOperators,
  stringAppend,
  uint64Add,
  ValueType,
} from "../mod.ts";
import { text, tracingOperator } from "./helpers.ts";

test("a read that meets Merge entries without a mergeOperator throws MergeOperatorError", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "v");
  mt.add(2, ValueType.Merge, "k", "m");
  assert.throws(() => mt.get("k"), (e: unknown) => {
    assert.ok(e instanceof MergeOperatorError);
    assert.match((e as Error).message, /key "k" has Merge entries.*no mergeOperator/);
    return true;
  });
  // Reads below the operand and raw iteration still work.
  const below = mt.get("k", { snapshot: 1 });
  assert.ok(below.kind === "value" && text(below.value) === "v");
  assert.deepEqual([...mt.entries()].map((e) => e.type), [ValueType.Merge, ValueType.Value]);
});

test("uint64Add adds 8-byte little-endian counters, wraps at 2^64 and treats bad sizes as 0", () => {
  using mt = new MemTable({ mergeOperator: uint64Add });
  mt.add(1, ValueType.Value, "n", uint64Add.operand(40n));
  mt.add(2, ValueType.Merge, "n", uint64Add.operand(1));
  mt.add(3, ValueType.Merge, "n", uint64Add.operand(1n));
  const r = mt.get("n");
  assert.ok(r.kind === "value");
  assert.deepEqual(r.value, uint64Add.operand(42n));
  assert.equal(uint64Add.decode(r.value), 42n);
  mt.add(4, ValueType.Merge, "n", uint64Add.operand(-2)); // wraps: subtracts
  const after = mt.get("n");
  assert.ok(after.kind === "value" && uint64Add.decode(after.value) === 40n);
  mt.add(5, ValueType.Value, "max", uint64Add.operand((1n << 64n) - 1n));
  mt.add(6, ValueType.Merge, "max", uint64Add.operand(2));
  const wrapped = mt.get("max");
  assert.ok(wrapped.kind === "value" && uint64Add.decode(wrapped.value) === 1n);
  mt.add(7, ValueType.Value, "odd", "abc"); // not 8 bytes: counts as 0
  mt.add(8, ValueType.Merge, "odd", uint64Add.operand(5));
  mt.add(9, ValueType.Merge, "odd", "xyz");
  const odd = mt.get("odd");
  assert.ok(odd.kind === "value" && uint64Add.decode(odd.value) === 5n);
  assert.equal(uint64Add.name, "UInt64AddOperator");
});

test("stringAppend, max and put fold as RocksDB's operators do", () => {
  const cases: [MergeOperator, string | undefined, string[], string][] = [
    [stringAppend(","), "a", ["b", "c"], "a,b,c"],
    [stringAppend(","), undefined, ["b", "c"], "b,c"],
    [stringAppend("--"), "", ["x"], "--x"],
    [mergeOperators.max, "b", ["a", "c", "bb"], "c"],
    [mergeOperators.max, undefined, ["ab", "a"], "ab"],
    [mergeOperators.put, "old", ["n1", "n2"], "n2"],
    [mergeOperators.put, undefined, ["only"], "only"],
  ];
  for (const [op, base, operands, want] of cases) {
    using mt = new MemTable({ mergeOperator: op });
    if (base === undefined) mt.add(1, ValueType.Deletion, "k");
    else mt.add(1, ValueType.Value, "k", base);
    operands.forEach((o, i) => mt.add(2 + i, ValueType.Merge, "k", o));
    const r = mt.get("k");
    assert.ok(r.kind === "value", `${op.name} ${base} ${operands}`);
    assert.equal(text(r.value), want, `${op.name} ${base} ${operands}`);
  }
  assert.deepEqual(
    [stringAppend().name, mergeOperators.max.name, mergeOperators.put.name],
    ["StringAppendOperator", "MaxOperator", "PutOperator"],
  );
  assert.throws(() => stringAppend(5 as unknown as string), TypeError);
});

test("merge over a deletion folds with no base; merge with no base here stays unresolved", () => {
  using mt = new MemTable({ mergeOperator: tracingOperator });
  mt.add(1, ValueType.Value, "k", "gone");
  mt.add(2, ValueType.Deletion, "k");
  mt.add(3, ValueType.Merge, "k", "a");
  const r = mt.get("k");
  assert.ok(r.kind === "value" && text(r.value) === "∅+a" && r.seq === 3);
  mt.add(4, ValueType.SingleDeletion, "s");
  mt.add(5, ValueType.Merge, "s", "b");
  const s = mt.get("s");
  assert.ok(s.kind === "value" && text(s.value) === "∅+b");
  mt.add(6, ValueType.Merge, "u", "x");
  mt.add(7, ValueType.Merge, "u", "y");
  assert.deepEqual(
    (({ kind, seq, operands }) => ({ kind, seq, operands: operands.map(text) }))(
      mt.get("u") as { kind: "merge"; seq: number; operands: Uint8Array[] },
    ),
    { kind: "merge", seq: 7, operands: ["x", "y"] },
  );
});

test("a failing or misbehaving merge operator gives MergeOperatorError and changes nothing", () => {
  const throwing: MergeOperator = {
    name: "test.Throws",
    fullMerge() {
      throw new Error("boom");
    },
  };
  using mt = new MemTable({ mergeOperator: throwing });
  mt.add(1, ValueType.Value, "k", "v");
  mt.add(2, ValueType.Merge, "k", "m");
  assert.throws(() => mt.get("k"), (e: unknown) => {
    assert.ok(e instanceof MergeOperatorError);
    assert.match((e as Error).message, /"test.Throws" failed in fullMerge/);
    assert.equal(((e as Error).cause as Error).message, "boom");
    return true;
  });
  const bad = { name: "test.Bad", fullMerge: () => 42 } as unknown as MergeOperator;
  using mt2 = new MemTable({ mergeOperator: bad });
  mt2.add(1, ValueType.Merge, "k", "m");
  mt2.add(0, ValueType.Deletion, "k");
  assert.throws(() => mt2.get("k"), /fullMerge returned number 42, not a Uint8Array/);
  assert.equal(mt.numEntries, 2);
  assert.throws(() => new MemTable({ mergeOperator: {} as MergeOperator }), TypeError);
  assert.throws(() => new MemTable({ maxSuccessiveMerges: 3 }), /needs a mergeOperator/);
  assert.throws(
    () => new MemTable({ mergeOperator: uint64Add, maxSuccessiveMerges: -1 }),
    RangeError,
  );
});

test("maxSuccessiveMerges stores the merged value once a key has that many operands", () => {
  using mt = new MemTable({ mergeOperator: uint64Add, maxSuccessiveMerges: 3 });
  mt.add(1, ValueType.Value, "n", uint64Add.operand(100n));
  for (let i = 0; i < 3; i++) mt.add(2 + i, ValueType.Merge, "n", uint64Add.operand(1));
  // Three operands on top: the fourth is stored as the merged Value.
  mt.add(5, ValueType.Merge, "n", uint64Add.operand(1));
  const types = [...mt.entries()].map((e) => e.type);
  assert.deepEqual(types, [
    ValueType.Value,
    ValueType.Merge,
    ValueType.Merge,
    ValueType.Merge,
    ValueType.Value,
  ]);
  const r = mt.get("n");
  assert.ok(r.kind === "value" && uint64Add.decode(r.value) === 104n && r.seq === 5);
  // Older snapshots still see the operands.
  const at3 = mt.get("n", { snapshot: 3 });
  assert.ok(at3.kind === "value" && uint64Add.decode(at3.value) === 102n);
  // With no base in this memtable, the operands combine into one operand (partialMerge).
  for (let i = 0; i < 4; i++) mt.add(10 + i, ValueType.Merge, "nobase", uint64Add.operand(10));
  const nobase = [...mt.entries()].filter((e) => text(e.key) === "nobase");
  assert.deepEqual(nobase.map((e) => e.type), Array(4).fill(ValueType.Merge));
  assert.equal(uint64Add.decode(nobase[0]!.value), 40n);
  const unresolved = mt.get("nobase");
  assert.ok(unresolved.kind === "merge");
  assert.equal(uint64Add.decode(unresolved.operands.at(-1)), 40n);
});

test("maxSuccessiveMerges without partialMerge and no base stores the operand as given", () => {
  using mt = new MemTable({
    mergeOperator: { name: "test.FullOnly", fullMerge: tracingOperator.fullMerge },
    maxSuccessiveMerges: 1,
  });
  mt.add(1, ValueType.Merge, "k", "a");
  mt.add(2, ValueType.Merge, "k", "b");
  assert.deepEqual([...mt.entries()].map((e) => text(e.value)), ["b", "a"]);
  mt.add(3, ValueType.Deletion, "k");
  mt.add(4, ValueType.Merge, "k", "c");
  mt.add(5, ValueType.Merge, "k", "d"); // one operand over a deletion: merged with no base
  const r = mt.get("k");
  assert.ok(r.kind === "value" && text(r.value) === "∅+c,d");
  assert.equal([...mt.entries()][0]!.type, ValueType.Value);
});

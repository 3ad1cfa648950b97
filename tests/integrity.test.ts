import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CorruptionError,
  MemTable,
  nativeMemoryBytes,
  nativeSafetyChecked,
  SingleDeleteMisuseError,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import { corruptEntry } from "../src/testing.ts";
import { text } from "./helpers.ts";

test("protection bytes turn a changed entry into a CorruptionError naming the key", () => {
  for (const protectionBytesPerKey of [1, 2, 4, 8] as const) {
    using mt = new MemTable({ protectionBytesPerKey });
    assert.equal(mt.protectionBytesPerKey, protectionBytesPerKey);
    mt.add(1, ValueType.Value, "apple", "red");
    mt.add(2, ValueType.Value, "banana", "yellow");
    mt.add(3, ValueType.Value, "cherry", "dark red");
    assert.equal(corruptEntry(mt, "banana", 2, "value"), true);
    assert.equal(corruptEntry(mt, "banana", 9, "value"), false); // no such version
    const named = (e: unknown) => {
      assert.ok(e instanceof CorruptionError, String(e));
      assert.match((e as Error).message, /key "banana" at seq 2 .*failed its protection check/);
      return true;
    };
    assert.throws(() => mt.get("banana"), named);
    assert.throws(() => [...mt.entries()], named);
    using it = mt.iterator();
    it.seekToFirst();
    assert.equal(text(it.key()), "apple");
    assert.throws(() => it.next(), named);
    // Every other entry still reads.
    const a = mt.get("apple");
    assert.ok(a.kind === "value" && text(a.value) === "red");
    const c = mt.get("cherry");
    assert.ok(c.kind === "value" && text(c.value) === "dark red");
  }
});

test("a scan that meets a corrupt entry lets go of the memtable: entries(), scan(), for…of", () => {
  const before = nativeMemoryBytes();
  {
    using mt = new MemTable({ protectionBytesPerKey: 8 });
    for (let i = 0; i < 3000; i++) mt.add(i + 1, ValueType.Value, `k${1000 + i}`, "v".repeat(50));
    assert.equal(corruptEntry(mt, "k3500", 2501, "value"), true);
    // Spreading and for…of never call return() when next() throws: the failed read itself
    // must release the native iterator (which pins the memtable's memory).
    assert.throws(() => [...mt.entries()], CorruptionError);
    const it = mt.entries();
    let seen = 0;
    assert.throws(() => {
      for (const _ of it) seen++;
    }, CorruptionError);
    assert.equal(seen, 2500, "every entry before the damaged one (k1000 … k3499)");
    assert.deepEqual(it.next(), { value: undefined, done: true }, "ended by the error");
    const scan = mt.scan();
    assert.throws(() => {
      for (const _ of scan) { /* batches up to the damaged one */ }
    }, CorruptionError);
    assert.equal(scan.next().done, true, "ended by the error");
    assert.throws(() => [...mt.scan({ lowerBound: "k3400", limit: 500 })], CorruptionError);
  }
  assert.equal(nativeMemoryBytes(), before, "closing the memtable frees it: no scan holds it");
});

test("without protection bytes the same damage is returned as data", () => {
  using mt = new MemTable();
  mt.add(2, ValueType.Value, "banana", "yellow");
  corruptEntry(mt, "banana", 2, "value");
  const r = mt.get("banana");
  assert.ok(r.kind === "value");
  assert.equal(text(r.value), "yellov"); // "w" ^ 1
});

test("protection covers entries written by batches and merges folded on read", () => {
  using mt = new MemTable({ protectionBytesPerKey: 8 });
  mt.write(new WriteBatch().put("k1", "a").put("k2", "b").merge("k2", "c"), 10);
  corruptEntry(mt, "k2", 11, "value");
  assert.throws(() => mt.get("k2"), /key "k2" at seq 11/);
  assert.equal(mt.get("k1").kind, "value");
  assert.throws(() => new MemTable({ protectionBytesPerKey: 3 as never }), RangeError);
});

test("paranoidChecks: an insert next to out-of-order entries is refused as corruption", () => {
  using mt = new MemTable({ paranoidChecks: true });
  for (const k of ["a", "b", "c"]) mt.add(1, ValueType.Value, k, k);
  // "b" becomes "c" ("b" ^ 1): the list now holds a, c, c@… out of order around it.
  assert.equal(corruptEntry(mt, "b", 1, "key"), true);
  const before = mt.numEntries;
  assert.throws(() => mt.add(2, ValueType.Value, "ab", "x"), (e: unknown) => {
    assert.ok(e instanceof CorruptionError);
    assert.match((e as Error).message, /next to key "ab" are out of order/);
    return true;
  });
  assert.equal(mt.numEntries, before);
  assert.throws(
    () => mt.write(new WriteBatch().put("0", "fine").put("ab", "x"), 5),
    /record 1: the entries next to key "ab" are out of order/,
  );
  assert.equal(mt.numEntries, before);
  // Without paranoid checks the same insert goes through.
  using loose = new MemTable();
  for (const k of ["a", "b", "c"]) loose.add(1, ValueType.Value, k, k);
  corruptEntry(loose, "b", 1, "key");
  loose.add(2, ValueType.Value, "ab", "x");
  assert.equal(loose.numEntries, 4);
  assert.throws(() => new MemTable({ paranoidChecks: "yes" as never }), TypeError);
});

test("SingleDelete: one Put then one SingleDelete is the contract; misuse is detected", () => {
  using mt = new MemTable({ paranoidChecks: true });
  mt.add(1, ValueType.Value, "k", "v1");
  mt.add(2, ValueType.SingleDeletion, "k");
  assert.deepEqual(mt.get("k"), { kind: "deleted", seq: 2, type: ValueType.SingleDeletion });
  // Single delete then put: the new put is visible, and may be single-deleted again.
  mt.add(3, ValueType.Value, "k", "v3");
  const r = mt.get("k");
  assert.ok(r.kind === "value" && text(r.value) === "v3");
  mt.add(4, ValueType.SingleDeletion, "k");
  assert.equal(mt.get("k").kind, "deleted");
  assert.equal(mt.get("k", { snapshot: 3 }).kind, "value");
  // Misuse: two puts, a delete or a merge below the SingleDelete.
  mt.add(1, ValueType.Value, "twice", "a");
  mt.add(2, ValueType.Value, "twice", "b");
  mt.add(1, ValueType.Deletion, "del");
  mt.add(1, ValueType.Merge, "merged", "m");
  for (const key of ["twice", "del", "merged"]) {
    assert.throws(() => mt.add(9, ValueType.SingleDeletion, key), (e: unknown) => {
      assert.ok(e instanceof SingleDeleteMisuseError, `${key}: ${e}`);
      assert.match((e as Error).message, new RegExp(`SingleDelete of key "${key}"`));
      return true;
    });
  }
  assert.throws(
    () => mt.write(new WriteBatch().put("fine", "x").singleDelete("twice"), 20),
    /record 1: SingleDelete of key "twice"/,
  );
  assert.deepEqual(mt.get("fine"), { kind: "absent" });
});

test("SingleDelete misuse is refused by safety-checked builds and stored by release builds", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "twice", "a");
  mt.add(2, ValueType.Value, "twice", "b");
  if (nativeSafetyChecked()) {
    assert.throws(() => mt.add(3, ValueType.SingleDeletion, "twice"), SingleDeleteMisuseError);
    assert.equal(mt.numEntries, 2);
  } else {
    mt.add(3, ValueType.SingleDeletion, "twice"); // undefined in RocksDB: stored unchecked
    assert.equal(mt.numEntries, 3);
    assert.equal(mt.get("twice").kind, "deleted");
  }
});

/**
 * MemTable.multiGet (RocksDB's MultiGet): every key answered as get() answers it, whatever the
 * batch's size, its keys' and values' sizes, the representation and the read options; bad
 * arguments refused before anything is looked up. The model and representation-differential
 * tests (model.test.ts, reps.test.ts) also compare multiGet on their random histories.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CorruptionError,
  fixedPrefix,
  type GetResult,
  keySizeMax,
  MemTable,
  MemTableClosedError,
  type MemTableOptions,
  MergeOperatorError,
  SingleDeleteMisuseError,
  stringAppend,
  ValueType,
} from "../mod.ts";
import { corruptEntry } from "../src/testing.ts";
import { compareBytes, Rng, seedFor, text, utf8 } from "./helpers.ts";

const show = (r: GetResult): string =>
  r.kind === "value"
    ? `value ${r.value.join(".")}@${r.seq}`
    : r.kind === "deleted"
    ? `deleted ${r.type}@${r.seq}`
    : r.kind === "merge"
    ? `merge ${r.operands.map((o) => o.join(".")).join("|")}@${r.seq}`
    : "absent";

const layouts: [string, MemTableOptions][] = [
  ["skiplist (point index, the default)", {}],
  ["skiplist, no point index", { pointIndex: false }],
  ["skiplist, bloom filter", {
    prefixExtractor: fixedPrefix(2),
    memtablePrefixBloomSizeRatio: 0.05,
    memtableWholeKeyFiltering: true,
  }],
  ["hashSkipList", { rep: "hashSkipList", prefixExtractor: fixedPrefix(2) }],
  ["hashLinkList", {
    rep: { type: "hashLinkList", bucketCount: 64 },
    prefixExtractor: fixedPrefix(2),
  }],
  ["vector", { rep: "vector" }],
];

test("MemTable.multiGet() answers every key as get() does, for every representation and snapshot", {
  timeout: 300_000,
}, () => {
  const seed = seedFor("MEMTABLE_MULTIGET_SEED", "multiGet");
  for (const [name, options] of layouts) {
    const rng = new Rng(seed);
    using mt = new MemTable({
      ...options,
      mergeOperator: stringAppend(","),
      writeBufferSize: 64 << 20,
    });
    // Keys that tie on their first 8 bytes, short keys, the empty key, keys with zero bytes.
    const pool: Uint8Array[] = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(9)];
    while (pool.length < 300) {
      const k = Uint8Array.from({ length: 1 + rng.below(12) }, () => rng.below(3));
      pool.push(rng.below(2) === 0 ? Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7, ...k) : k);
    }
    let seq = 0;
    for (let i = 0; i < 2000; i++) {
      const key = pool[rng.below(pool.length)]!;
      const roll = rng.below(20);
      seq++;
      try {
        if (roll < 10) {
          // Mostly short values, now and then one larger than a call's room for answers.
          const size = rng.below(50) === 0 ? 40_000 + rng.below(30_000) : rng.below(120);
          mt.add(seq, ValueType.Value, key, rng.bytes(size));
        } else if (roll < 14) mt.add(seq, ValueType.Merge, key, rng.bytes(1 + rng.below(8)));
        else if (roll < 17) mt.add(seq, ValueType.Deletion, key);
        else if (roll < 18) mt.add(seq, ValueType.SingleDeletion, key);
        else if (name !== "vector" || rng.below(4) === 0) {
          const other = pool[rng.below(pool.length)]!;
          const [lo, hi] = compareBytes(key, other) < 0 ? [key, other] : [other, key];
          mt.addRangeDeletion(seq, lo, hi);
        }
      } catch (e) {
        // The safety-checked build refuses a SingleDelete that breaks its contract.
        if (!(e instanceof SingleDeleteMisuseError)) {
          assert.fail(`${name}: write ${i} failed: ${e}`);
        }
      }
    }
    for (let round = 0; round < 30; round++) {
      const keys = Array.from({ length: rng.below(200) }, () => pool[rng.below(pool.length)]!);
      const snapshot = rng.below(seq + 2);
      for (const ignoreRangeDeletions of [false, true]) {
        const read = { snapshot, ignoreRangeDeletions };
        const want = keys.map((k) => show(mt.get(k, read)));
        assert.deepEqual(mt.multiGet(keys, read).map(show), want, `${name}, round ${round}`);
      }
    }
    assert.deepEqual(mt.multiGet(pool).map(show), pool.map((k) => show(mt.get(k))), name);
  }
});

test("MemTable.multiGet() takes strings and bytes, repeats, the empty batch and keys of the maximum size", () => {
  using mt = new MemTable();
  const long = new Uint8Array(keySizeMax).fill(0x61);
  mt.add(1, ValueType.Value, "k", "v");
  mt.add(2, ValueType.Value, long, "long");
  mt.add(3, ValueType.Value, "ключ", "юникод");
  assert.deepEqual(mt.multiGet([]), []);
  const keys = ["k", utf8("k"), long, "ключ", "missing", long, "k"];
  const got = mt.multiGet(keys);
  assert.equal(got.length, keys.length);
  assert.deepEqual(got.map(show), keys.map((k) => show(mt.get(k))));
  const v = got[3]!;
  assert.ok(v.kind === "value" && text(v.value) === "юникод" && v.seq === 3);
  // Values handed out are copies: a second read changes nothing of the first.
  const first = got[0]!;
  mt.multiGet(["k", "k"]);
  assert.ok(first.kind === "value" && text(first.value) === "v");
  // A batch far larger than one call (64 keys) and than one call's key bytes (16 KiB).
  const many = Array.from({ length: 5000 }, (_, i) => `key-${i % 700}`);
  for (let i = 0; i < 700; i += 3) mt.add(10 + i, ValueType.Value, `key-${i}`, `value-${i}`);
  assert.deepEqual(mt.multiGet(many).map(show), many.map((k) => show(mt.get(k))));
  const longs = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? long : "k"));
  assert.deepEqual(mt.multiGet(longs).map(show), longs.map((k) => show(mt.get(k))));
});

test("MemTable.multiGet() folds merges as get() does, and a merge operator may read the memtable", () => {
  const reads: string[] = [];
  const operator = {
    name: "test.Reading",
    fullMerge(key: Uint8Array, existing: Uint8Array | undefined, operands: readonly Uint8Array[]) {
      // Reading the memtable inside the operator must not disturb the batch's other answers.
      const other = mt.multiGet(["plain", "absent", "plain"]).map(show).join(";");
      reads.push(other);
      return utf8(
        `${text(key)}:${existing === undefined ? "-" : text(existing)}+${
          operands.map(text).join(",")
        }`,
      );
    },
  };
  // The operator reads `mt`, made below (it runs only once `mt` exists).
  const mt: MemTable = new MemTable({ mergeOperator: operator });
  try {
    mt.add(1, ValueType.Value, "x1", "base");
    mt.add(2, ValueType.Merge, "x1", "a");
    mt.add(3, ValueType.Merge, "x1", "b");
    mt.add(4, ValueType.Merge, "x2", "c");
    mt.add(5, ValueType.Value, "plain", "p");
    mt.add(6, ValueType.Deletion, "x3");
    mt.add(7, ValueType.Merge, "x3", "d");
    const got = mt.multiGet(["x1", "plain", "x2", "x3", "x1"]).map(show);
    assert.deepEqual(got, ["x1", "plain", "x2", "x3", "x1"].map((k) => show(mt.get(k))));
    assert.equal(got[0], `value ${utf8("x1:base+a,b").join(".")}@3`);
    assert.equal(got[2], `merge ${utf8("c").join(".")}@4`); // no base here: operands only
    assert.equal(got[3], `value ${utf8("x3:-+d").join(".")}@7`); // a deletion ends the run
    assert.ok(reads.length > 0);
  } finally {
    mt.close();
  }
  using plain = new MemTable();
  plain.add(1, ValueType.Merge, "m", "1");
  assert.throws(() => plain.multiGet(["a", "m"]), (e: unknown) => {
    assert.ok(e instanceof MergeOperatorError);
    assert.match((e as Error).message, /^MemTable\.multiGet\(\): key "m" has Merge entries/);
    return true;
  });
});

test("MemTable.multiGet() rejects bad arguments with errors that name the call and the key", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "v");
  assert.throws(() => mt.multiGet("k" as never), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match((e as Error).message, /^MemTable\.multiGet\(\): keys must be an array/);
    return true;
  });
  assert.throws(() => mt.multiGet(undefined as never), TypeError);
  assert.throws(() => mt.multiGet(["k", 5 as never]), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(
      (e as Error).message,
      /^MemTable\.multiGet\(\): keys\[1\] must be a Uint8Array or a string, got/,
    );
    return true;
  });
  assert.throws(() => mt.multiGet(["k", new Uint8Array(keySizeMax + 1)]), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(
      (e as Error).message,
      new RegExp(
        `^MemTable\\.multiGet\\(\\): keys\\[1\\] is ${
          keySizeMax + 1
        } bytes, the maximum is ${keySizeMax}`,
      ),
    );
    return true;
  });
  assert.throws(() => mt.multiGet(["k"], { snapshot: -1 }), RangeError);
  assert.throws(() => mt.multiGet(["k"], 5 as never), TypeError);
  // Nothing was disturbed by the refusals.
  assert.equal(show(mt.multiGet(["k"])[0]!), show(mt.get("k")));
  mt.close();
  assert.throws(() => mt.multiGet(["k"]), MemTableClosedError);
});

test("MemTable.multiGet() reports a corrupt entry as get() does", () => {
  using mt = new MemTable({ protectionBytesPerKey: 2 });
  for (let i = 0; i < 40; i++) mt.add(i + 1, ValueType.Value, `key-${i}`, `value-${i}`);
  assert.equal(corruptEntry(mt, "key-17", 18, "value"), true);
  assert.throws(() => mt.multiGet(["key-1", "key-17", "key-2"]), (e: unknown) => {
    assert.ok(e instanceof CorruptionError, String(e));
    assert.match((e as Error).message, /key "key-17" at seq 18 .*failed its protection check/);
    return true;
  });
  const rest = mt.multiGet(["key-1", "key-2", "nothing"]);
  assert.deepEqual(rest.map(show), ["key-1", "key-2", "nothing"].map((k) => show(mt.get(k))));
});

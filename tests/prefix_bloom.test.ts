import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cappedPrefix,
  fixedPrefix,
  MemTable,
  noopPrefix,
  type ReadOptions,
  stringAppend,
  ValueType,
} from "../mod.ts";
import { Rng, seedFor, text } from "./helpers.ts";

test("prefix extractors: RocksDB's names, checked arguments", () => {
  assert.equal(fixedPrefix(8).name, "rocksdb.FixedPrefix.8");
  assert.equal(cappedPrefix(3).name, "rocksdb.CappedPrefix.3");
  assert.equal(noopPrefix.name, "rocksdb.Noop");
  assert.throws(() => fixedPrefix(0), RangeError);
  assert.throws(() => cappedPrefix(1.5), RangeError);
  assert.throws(() => new MemTable({ prefixExtractor: { kind: "odd" } as never }), TypeError);
  assert.throws(() => new MemTable({ memtablePrefixBloomSizeRatio: -1 }), RangeError);
  assert.throws(() => new MemTable({ memtableWholeKeyFiltering: "y" as never }), TypeError);
  using big = new MemTable({ prefixExtractor: fixedPrefix(2), memtablePrefixBloomSizeRatio: 9 });
  assert.equal(big.memtablePrefixBloomSizeRatio, 0.25); // sanitized as RocksDB does
});

test("the prefix bloom filter turns away absent prefixes; short keys are still found", () => {
  using mt = new MemTable({
    writeBufferSize: 1 << 20,
    prefixExtractor: fixedPrefix(5),
    memtablePrefixBloomSizeRatio: 0.1,
  });
  for (let i = 0; i < 100; i++) mt.add(i + 1, ValueType.Value, `user:${i}`, `u${i}`);
  mt.add(200, ValueType.Value, "ab", "short key, outside the domain");
  for (let i = 0; i < 100; i++) assert.equal(mt.get(`user:${i}`).kind, "value");
  const afterHits = mt.stats();
  assert.equal(afterHits.bloomHits, 100);
  assert.equal(afterHits.bloomMisses, 0);
  let turnedAway = 0;
  for (let i = 0; i < 100; i++) {
    assert.equal(mt.get(`item:${i}`).kind, "absent");
  }
  turnedAway = mt.stats().bloomMisses;
  assert.ok(turnedAway >= 95, `the filter rejected ${turnedAway} of 100`); // same prefix "item:"
  // Out of the domain: not in the filter, not checked against it, found.
  const short = mt.get("ab");
  assert.ok(short.kind === "value" && text(short.value).startsWith("short key"));
  assert.equal(mt.get("zz").kind, "absent");
  // A range tombstone covers keys whatever the filter says.
  mt.addRangeDeletion(300, "item:", "item;");
  assert.deepEqual(mt.get("item:5"), { kind: "deleted", seq: 300, type: ValueType.RangeDeletion });
});

test("whole-key filtering: point lookups check whole keys", () => {
  using mt = new MemTable({
    writeBufferSize: 1 << 20,
    memtableWholeKeyFiltering: true,
    memtablePrefixBloomSizeRatio: 0.1,
  });
  for (let i = 0; i < 200; i++) mt.add(i + 1, ValueType.Value, `k${i}`, "v");
  for (let i = 0; i < 200; i++) assert.equal(mt.get(`k${i}`).kind, "value");
  for (let i = 200; i < 400; i++) assert.equal(mt.get(`k${i}`).kind, "absent");
  const s = mt.stats();
  assert.equal(s.bloomHits + s.bloomMisses, 400);
  assert.ok(s.bloomMisses >= 190, `${s.bloomMisses} of 200 absent keys turned away`);
  // Without a filter, nothing is counted.
  using plain = new MemTable();
  plain.get("x");
  assert.equal(plain.stats().bloomHits + plain.stats().bloomMisses, 0);
});

test("prefixSameAsStart bounds iteration to the sought prefix; totalOrderSeek ignores the filter", () => {
  using mt = new MemTable({
    writeBufferSize: 1 << 20,
    prefixExtractor: fixedPrefix(2),
    memtablePrefixBloomSizeRatio: 0.1,
  });
  for (const k of ["aa1", "aa2", "ab1", "ab2", "b", "ca1"]) mt.add(1, ValueType.Value, k, k);
  const scan = (opts: ReadOptions, from: string, back = false) => {
    using it = mt.iterator(opts);
    const seen: string[] = [];
    if (back) { for (it.seekForPrev(from); it.valid(); it.prev()) seen.push(text(it.key())); }
    else for (it.seek(from); it.valid(); it.next()) seen.push(text(it.key()));
    return seen;
  };
  assert.deepEqual(scan({ prefixSameAsStart: true }, "aa"), ["aa1", "aa2"]);
  assert.deepEqual(scan({ prefixSameAsStart: true }, "ab~", true), ["ab2", "ab1"]);
  assert.deepEqual(scan({}, "ab"), ["ab1", "ab2", "b", "ca1"]); // total order by default
  // A prefix the filter rules out ("bz"): the seek finds nothing, as RocksDB's prefix seek.
  assert.deepEqual(scan({}, "bz"), []);
  assert.deepEqual(scan({ totalOrderSeek: true }, "bz"), ["ca1"]);
  // A key outside the domain ("b" is shorter than 2): no prefix, no bound.
  assert.deepEqual(scan({ prefixSameAsStart: true }, "b"), ["b", "ca1"]);
  // seekToFirst clears the prefix bound.
  using it = mt.iterator({ prefixSameAsStart: true });
  let n = 0;
  for (it.seekToFirst(); it.valid(); it.next()) n++;
  assert.equal(n, 6);
  assert.throws(() => mt.iterator({ totalOrderSeek: 1 as never }), TypeError);
});

test("the bloom filter never hides a present key (random keys, every extractor; seeded)", () => {
  const seed = seedFor("MEMTABLE_BLOOM_SEED", "bloom test");
  const rng = new Rng(seed);
  for (
    const opts of [
      { prefixExtractor: fixedPrefix(3) },
      { prefixExtractor: cappedPrefix(2), memtableWholeKeyFiltering: true },
      { prefixExtractor: noopPrefix },
      { memtableWholeKeyFiltering: true },
    ]
  ) {
    using mt = new MemTable({
      writeBufferSize: 1 << 20,
      memtablePrefixBloomSizeRatio: 0.02,
      ...opts,
    });
    const keys = Array.from({ length: 3000 }, () => rng.bytes(rng.below(8)));
    keys.forEach((k, i) => mt.add(i + 1, ValueType.Value, k, "v"));
    for (const k of keys) assert.notEqual(mt.get(k).kind, "absent", `seed ${seed} ${[...k]}`);
  }
});

test("the point index answers like the skiplist at every snapshot, and its memory is accounted", () => {
  using indexed = new MemTable({ writeBufferSize: 1 << 20, pointIndex: true });
  using plain = new MemTable({ writeBufferSize: 1 << 20, pointIndex: false });
  assert.equal(indexed.pointIndex, true);
  assert.equal(plain.pointIndex, false);
  assert.equal(new MemTable().pointIndex, true); // the default with the skiplist
  assert.equal(new MemTable({ rep: "vector" }).pointIndex, false); // and without it
  const rng = new Rng(7);
  for (let i = 1; i <= 5000; i++) {
    const key = `k${rng.below(700)}`;
    const type = [ValueType.Value, ValueType.Value, ValueType.Deletion][rng.below(3)]!;
    // Sequence numbers out of order now and then: the index must keep the newest version.
    const seq = rng.below(10) === 0 ? rng.below(i) + 1 : i + 10_000;
    for (const mt of [indexed, plain]) {
      try {
        mt.add(seq, type, key, type === ValueType.Value ? `v${i}` : undefined);
      } catch { /* the same duplicate in both */ }
    }
  }
  // Same entries; the index holds a slot per distinct key (700: 1024 slots, 8 KiB), the plain
  // memtable's key filter 10 bits per entry (5000: two stages, 15 KiB).
  assert.ok(indexed.approximateMemoryUsage() < plain.approximateMemoryUsage());
  for (let k = 0; k < 720; k++) {
    for (const snapshot of [undefined, 50, 2000, 10_500, 14_000]) {
      const opts = snapshot === undefined ? undefined : { snapshot };
      assert.deepEqual(indexed.get(`k${k}`, opts), plain.get(`k${k}`, opts), `k${k} @${snapshot}`);
    }
  }
  assert.throws(() => new MemTable({ pointIndex: 1 as never }), TypeError);
});

test("the prefix read option keeps iterators and entries() within the keys that start with it", () => {
  using mt = new MemTable();
  const keys = ["a", "ab", "abc", "abd", "ab\xff", "ac", "b", "\xff", "\xff\xff1"];
  keys.forEach((k, i) => mt.add(i + 1, ValueType.Value, k, k));
  const list = (prefix: string | Uint8Array) => [...mt.entries({ prefix })].map((e) => text(e.key));
  assert.deepEqual(list("ab"), ["ab", "abc", "abd", "ab\xff"]);
  assert.deepEqual(list("abc"), ["abc"]);
  assert.deepEqual(list("zz"), []);
  assert.deepEqual(list(""), keys);
  assert.deepEqual(list(new Uint8Array([0xc3, 0xbf])), ["\xff", "\xff\xff1"]); // "\xff" in UTF-8
  using it = mt.iterator({ prefix: "ab" });
  it.seekToLast();
  assert.equal(text(it.key()), "ab\xff");
  const back: string[] = [];
  for (; it.valid(); it.prev()) back.push(text(it.key()));
  assert.deepEqual(back, ["ab\xff", "abd", "abc", "ab"]);
  it.seek("a"); // before the range: clamps to its first key
  assert.equal(text(it.key()), "ab");
  it.seek("abcz");
  assert.equal(text(it.key()), "abd");
  it.seekForPrev("zzz"); // after the range: its last key
  assert.equal(text(it.key()), "ab\xff");
  it.seekForPrev("aa");
  assert.equal(it.valid(), false);
  // A prefix longer than the native successor buffer (256 bytes) and one of only 0xFF bytes.
  const long = "p".repeat(300);
  mt.add(100, ValueType.Value, `${long}1`, "x");
  mt.add(101, ValueType.Value, `${long}2`, "y");
  mt.add(102, ValueType.Value, new Uint8Array([0xff, 0xff, 7]), "z");
  using lit = mt.iterator({ prefix: long });
  lit.seekToLast();
  assert.equal(text(lit.key()), `${long}2`);
  using fit = mt.iterator({ prefix: new Uint8Array([0xff, 0xff]) });
  fit.seekToLast();
  assert.deepEqual([...fit.key()], [0xff, 0xff, 7]);
  assert.throws(() => mt.iterator({ prefix: 5 as never }), TypeError);
});

test("MemTable.getInto() of a Merge run asks the bloom filter once and folds the run it got back", () => {
  using mt = new MemTable({
    mergeOperator: stringAppend(","),
    memtablePrefixBloomSizeRatio: 0.1,
    memtableWholeKeyFiltering: true,
  });
  mt.add(1, ValueType.Value, "k", "a");
  mt.add(2, ValueType.Merge, "k", "b");
  mt.add(3, ValueType.Merge, "k", "c");
  const before = mt.stats();
  const dest = new Uint8Array(16);
  const n = mt.getInto("k", dest);
  assert.equal(new TextDecoder().decode(dest.subarray(0, n)), "a,b,c");
  const after = mt.stats();
  assert.equal(after.bloomHits + after.bloomMisses - before.bloomHits - before.bloomMisses, 1);
  // A run too large for the call's buffer is collected by a second lookup, and still folds.
  for (let i = 4; i < 40; i++) mt.add(i, ValueType.Merge, "k", "x".repeat(4000));
  const big = new Uint8Array(200_000);
  assert.equal(mt.getInto("k", big), 5 + 36 * 4001);
});

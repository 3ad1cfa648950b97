/**
 * The memtable representations (skiplist, hashSkipList, hashLinkList, vector) against one
 * another: the same random operation sequence applied to each, under every prefix extractor,
 * must give the same outcome for every write and the same `get` results, `entries()` and
 * iterator walks (forward, backward, seeks with every prefix read option) at several
 * snapshots — while mutable and again once immutable. Seeds are printed; replay with
 * MEMTABLE_REPS_SEED=<seed> (MEMTABLE_REPS_OPS sets the operations per run).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cappedPrefix,
  fixedPrefix,
  ImmutableMemTableError,
  MemTable,
  type MemTableOptions,
  type MemTableRep,
  noopPrefix,
  type PrefixExtractor,
  type ReadOptions,
  stringAppend,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import {
  assertGetIntoAgrees,
  assertScanAgrees,
  compareBytes,
  env,
  Rng,
  scanLines,
  seedFor,
  utf8,
} from "./helpers.ts";

const reps: [string, MemTableRep][] = [
  ["hashSkipList", { type: "hashSkipList", bucketCount: 97, height: 3, branching: 2 }],
  ["hashSkipList, one bucket", { type: "hashSkipList", bucketCount: 1 }],
  ["hashLinkList", { type: "hashLinkList", bucketCount: 53, thresholdUseSkiplist: 8 }],
  ["hashLinkList, one bucket", { type: "hashLinkList", bucketCount: 1 }],
  ["vector", { type: "vector" }],
  ["vector, reserved", { type: "vector", reserve: 5000 }],
];

const extractors: [string, PrefixExtractor][] = [
  ["fixedPrefix(2)", fixedPrefix(2)],
  ["cappedPrefix(3)", cappedPrefix(3)],
  ["noopPrefix", noopPrefix],
];

const show = (v: unknown) =>
  JSON.stringify(v, (_k, x) => x instanceof Uint8Array ? [...x].join(".") : x);

/** Every move of an iterator, as text: the entries it lands on. */
function walk(mt: MemTable, options: ReadOptions, seeks: Uint8Array[]): string[] {
  const out: string[] = [];
  using it = mt.iterator(options);
  const here = () => it.valid() ? `${it.key().join(".")}@${it.seq()}/${it.type()}` : "-";
  it.seekToFirst();
  for (let i = 0; i < 2000 && it.valid(); i++, it.next()) out.push(here());
  out.push("|");
  it.seekToLast();
  for (let i = 0; i < 2000 && it.valid(); i++, it.prev()) out.push(here());
  for (const k of seeks) {
    it.seek(k);
    out.push(`seek ${k.join(".")}`, here());
    for (let i = 0; i < 4 && it.valid(); i++) {
      it.next();
      out.push(here());
    }
    it.seekForPrev(k);
    out.push(`seekForPrev ${k.join(".")}`, here());
    for (let i = 0; i < 4 && it.valid(); i++) {
      it.prev();
      out.push(here());
    }
  }
  return out;
}

/** Everything a reader can observe of `mt`, as comparable text. */
function observe(mt: MemTable, keys: Uint8Array[], snapshots: number[], rng: Rng): string[] {
  const out: string[] = [];
  const seeks = Array.from({ length: 12 }, () => keys[rng.below(keys.length)]!);
  for (const snapshot of snapshots) {
    const gets: string[] = [];
    const rawGets: string[] = [];
    for (const k of keys) {
      const r = mt.get(k, { snapshot });
      const size = (r.kind === "value" ? r.value.length : 1) + (k.length % 3) - 1;
      assertGetIntoAgrees(mt, k, { snapshot }, r, Math.max(0, size), `getInto at ${snapshot}`);
      const raw = mt.get(k, { snapshot, ignoreRangeDeletions: true });
      out.push(show(r), show(raw));
      gets.push(show(r));
      rawGets.push(show(raw));
    }
    // multiGet answers every key as get() does (in groups of 32, calls of 64 keys).
    assert.deepEqual(mt.multiGet(keys, { snapshot }).map(show), gets, `multiGet at ${snapshot}`);
    assert.deepEqual(
      mt.multiGet(keys, { snapshot, ignoreRangeDeletions: true }).map(show),
      rawGets,
      `multiGet ignoring range deletions at ${snapshot}`,
    );
    out.push(show([...mt.entries({ snapshot })]));
    out.push(show([...mt.entries({ snapshot, ignoreRangeDeletions: true })]));
    out.push(show(mt.rangeTombstones({ snapshot })));
    // scan() agrees with entries() on every representation, bounded or not, both ways.
    out.push(...scanLines(mt, { snapshot }), ...scanLines(mt, { snapshot, reverse: true }));
    for (let i = 0; i < 4; i++) {
      const [a, b] = [0, 1].map(() => keys[rng.below(keys.length)]!).sort(compareBytes);
      const prefix = i === 3 ? a!.subarray(0, 1) : undefined;
      for (const reverse of [false, true]) {
        const o = { snapshot, lowerBound: a, upperBound: b, reverse, prefix };
        assertScanAgrees(mt, o, `scan ${JSON.stringify(show(o))}`);
        assertScanAgrees(mt, { snapshot, lowerBound: a, reverse, limit: 1 + i * 40 }, "limit");
      }
    }
    for (
      const o of [
        {},
        { prefixSameAsStart: true },
        { prefixSameAsStart: true, totalOrderSeek: true },
        { prefix: keys[rng.below(keys.length)]!.subarray(0, 1) },
      ] as ReadOptions[]
    ) {
      out.push(...walk(mt, { ...o, snapshot }, seeks));
    }
  }
  return out;
}

const ops = Number(env("MEMTABLE_REPS_OPS") ?? 3000);

extractors.forEach(([label, extractor], run) => {
  test(
    `every representation gives the same results, ${label} (seeded)`,
    { timeout: 300_000 },
    () => {
      const base = seedFor("MEMTABLE_REPS_SEED", `reps test ${label}`);
      for (let round = 0; round < 2; round++) {
        const seed = (base + run * 2 + round) >>> 0;
        const rng = new Rng(seed);
        // Short keys over a small alphabet: many versions per key, keys shorter than the
        // prefix, the empty key, and prefixes shared by many keys.
        const pool: Uint8Array[] = [new Uint8Array(0)];
        const seen = new Set([""]);
        while (pool.length < 400) {
          const k = Uint8Array.from({ length: 1 + rng.below(4) }, () => 0x61 + rng.below(5));
          if (seen.has(k.join())) continue;
          seen.add(k.join());
          pool.push(k);
        }
        const common: MemTableOptions = {
          writeBufferSize: 64 << 20,
          prefixExtractor: extractor,
          mergeOperator: stringAppend(","),
          protectionBytesPerKey: 1,
          ...(round === 1 ? { memtablePrefixBloomSizeRatio: 0.01 } : {}),
        };
        const tables: [string, MemTable][] = [
          ["skiplist", new MemTable(common)], // with its point index (the default)
          ["skiplist, no point index", new MemTable({ ...common, pointIndex: false })],
          ...reps.map((
            [name, rep],
          ): [string, MemTable] => [name, new MemTable({ ...common, rep })]),
        ];
        try {
          let seq = 0;
          const where = (op: number) => `op ${op} (MEMTABLE_REPS_SEED=${base}, round ${round})`;
          for (let op = 0; op < ops; op++) {
            const roll = rng.below(100);
            const s = rng.below(8) === 0 ? rng.below(seq + 1) : ++seq;
            const key = pool[rng.below(pool.length)]!;
            let call: (mt: MemTable) => unknown;
            if (roll < 2) {
              const end = pool[rng.below(pool.length)]!;
              const [lo, hi] = compareBytes(key, end) <= 0 ? [key, end] : [end, key];
              call = (mt) => mt.addRangeDeletion(s, lo, hi);
            } else if (roll < 6) {
              const batch = new WriteBatch();
              const n = 1 + rng.below(10);
              for (let i = 0; i < n; i++) {
                const k = pool[rng.below(pool.length)]!;
                const r = rng.below(10);
                if (r < 5) batch.put(k, utf8(`b${op}.${i}`));
                else if (r < 8) batch.merge(k, utf8(`m${op}.${i}`));
                else if (r < 9) batch.delete(k);
                else {
                  const e = pool[rng.below(pool.length)]!;
                  if (compareBytes(k, e) <= 0) batch.deleteRange(k, e);
                  else batch.deleteRange(e, k);
                }
              }
              seq = Math.max(seq, s + n);
              call = (mt) => mt.write(batch, s);
            } else {
              const type = [
                ValueType.Value,
                ValueType.Value,
                ValueType.Merge,
                ValueType.Deletion,
                ValueType.SingleDeletion,
              ][rng.below(5)]!;
              const value = utf8(
                type === ValueType.Deletion || type === ValueType.SingleDeletion ? "" : `v${op}`,
              );
              call = (mt) => mt.add(s, type, key, value);
            }
            const outcomes = tables.map(([, mt]) => {
              try {
                return `ok ${show(call(mt))}`;
              } catch (e) {
                return (e as Error).constructor.name;
              }
            });
            for (let i = 1; i < tables.length; i++) {
              assert.equal(outcomes[i], outcomes[0], `${tables[i]![0]}: ${where(op)}`);
            }
          }
          const probe = [...pool, utf8("zzz"), utf8("a\u0000"), utf8("eeeee")];
          const snapshots = [seq, Math.floor(seq / 2), Math.floor(seq / 5), 0];
          const observeAll = () => {
            const obs = tables.map(([, mt]) => observe(mt, probe, snapshots, new Rng(seed)));
            for (let i = 1; i < tables.length; i++) {
              const a = obs[0]!;
              const b = obs[i]!;
              const at = a.findIndex((x, j) => x !== b[j]);
              assert.ok(
                at === -1 && a.length === b.length,
                `${tables[i]![0]} differs from the skiplist at observation ${at}: ` +
                  `${b[at]?.slice(0, 300)} vs ${
                    a[at]?.slice(0, 300)
                  } (MEMTABLE_REPS_SEED=${base}, round ${round})`,
              );
            }
          };
          observeAll();
          for (const [, mt] of tables) mt.markImmutable();
          observeAll(); // immutable: the sorted view is made once and shared
          observeAll();
          for (const [, mt] of tables) {
            assert.ok(mt.immutable);
            assert.throws(() => mt.add(seq + 1, ValueType.Value, "k", "v"), ImmutableMemTableError);
          }
        } finally {
          for (const [, mt] of tables) mt.close();
        }
      }
    },
  );
});

test("rep option: shapes, defaults and clear errors", () => {
  const p = fixedPrefix(2);
  assert.deepEqual(new MemTable().rep, { type: "skiplist" });
  using v = new MemTable({ rep: "vector" });
  assert.deepEqual(v.rep, { type: "vector", reserve: 0 });
  using h = new MemTable({ rep: "hashSkipList", prefixExtractor: p, writeBufferSize: 1 << 20 });
  assert.deepEqual(h.rep, {
    type: "hashSkipList",
    bucketCount: 1_000_000,
    height: 4,
    branching: 4,
  });
  using l = new MemTable({
    rep: { type: "hashLinkList", bucketCount: 10 },
    prefixExtractor: p,
  });
  assert.deepEqual(l.rep, { type: "hashLinkList", bucketCount: 10, thresholdUseSkiplist: 256 });
  assert.throws(() => new MemTable({ rep: "hashSkipList" }), /needs a prefixExtractor/);
  assert.throws(() => new MemTable({ rep: { type: "hashLinkList" } }), /needs a prefixExtractor/);
  assert.throws(
    () => new MemTable({ rep: "hashSkipList", prefixExtractor: p, allowConcurrentWrites: true }),
    /one writer at a time/,
  );
  assert.throws(() => new MemTable({ rep: "vector", pointIndex: true }), /pointIndex/);
  assert.throws(
    () => new MemTable({ rep: "vector", insertWithHintPrefixExtractor: p }),
    /insertWithHintPrefixExtractor/,
  );
  assert.throws(() => new MemTable({ rep: "btree" as never }), TypeError);
  assert.throws(() => new MemTable({ rep: 3 as never }), TypeError);
  assert.throws(
    () => new MemTable({ rep: { type: "vector", bucketCount: 3 } as never }),
    /rep vector has no option "bucketCount"/,
  );
  assert.throws(
    () => new MemTable({ rep: { type: "hashSkipList", height: 13 }, prefixExtractor: p }),
    /rep.height must be an integer from 1 to 12/,
  );
  assert.throws(
    () => new MemTable({ rep: { type: "hashSkipList", branching: 1 }, prefixExtractor: p }),
    RangeError,
  );
  assert.throws(
    () => new MemTable({ rep: { type: "hashSkipList", bucketCount: 0 }, prefixExtractor: p }),
    RangeError,
  );
  assert.throws(
    () =>
      new MemTable({
        rep: { type: "hashLinkList", thresholdUseSkiplist: 0.5 },
        prefixExtractor: p,
      }),
    RangeError,
  );
  assert.throws(() => new MemTable({ rep: { type: "vector", reserve: -1 } }), RangeError);
  // A vector memtable takes concurrent writers.
  using c = new MemTable({ rep: "vector", allowConcurrentWrites: true });
  c.add(1, ValueType.Value, "k", "v");
  assert.equal(c.get("k").kind, "value");
  // A share token carries the representation; the attached handle reads the same entries.
  l.add(1, ValueType.Value, "abc", "v");
  using same = MemTable.attach(l.share());
  assert.deepEqual(same.rep, l.rep);
  assert.equal(same.get("abc").kind, "value");
});

test("markImmutable: every write is refused and nothing changes", () => {
  for (const rep of ["skiplist", "vector"] as const) {
    using mt = new MemTable({ rep });
    mt.add(1, ValueType.Value, "a", "1");
    assert.equal(mt.immutable, false);
    mt.markImmutable();
    assert.equal(mt.immutable, true);
    const batch = new WriteBatch().put("b", "2");
    assert.throws(() => mt.add(2, ValueType.Value, "b", "2"), ImmutableMemTableError);
    assert.throws(() => mt.addRangeDeletion(3, "a", "z"), ImmutableMemTableError);
    assert.throws(() => mt.write(batch, 4), ImmutableMemTableError);
    assert.equal(mt.numEntries, 1);
    assert.equal(mt.get("a").kind, "value");
    assert.equal(mt.get("b").kind, "absent");
  }
});

test("hash representations: edge cases of keys and buckets", () => {
  for (
    const rep of [
      { type: "hashSkipList", bucketCount: 1, height: 1, branching: 2 },
      { type: "hashLinkList", bucketCount: 1, thresholdUseSkiplist: 1 },
      { type: "hashLinkList", bucketCount: 2, thresholdUseSkiplist: 100_000 },
    ] as MemTableRep[]
  ) {
    using mt = new MemTable({ rep, prefixExtractor: fixedPrefix(3), writeBufferSize: 1 << 20 });
    // Empty keys and keys shorter than the prefix are stored and found.
    mt.add(1, ValueType.Value, "", "empty");
    mt.add(2, ValueType.Value, "ab", "short");
    // One prefix with many keys: a single huge bucket.
    for (let i = 0; i < 2000; i++) mt.add(10 + i, ValueType.Value, `abc${i}`, `${i}`);
    assert.equal(mt.get("").kind, "value");
    assert.equal(mt.get("ab").kind, "value");
    assert.equal(mt.get("abc1999").kind, "value");
    assert.equal(mt.get("abc2000").kind, "absent");
    const keys = [...mt.entries()].map((e) => new TextDecoder().decode(e.key));
    assert.equal(keys.length, 2002);
    assert.deepEqual(keys, [...keys].sort());
    using it = mt.iterator({ prefixSameAsStart: true });
    it.seek("abc5");
    let n = 0;
    for (; it.valid(); it.next()) n++;
    // abc5 … abc999 in byte order: the keys whose number starts with 5 to 9.
    assert.equal(
      n,
      Array.from({ length: 2000 }, (_, i) => `abc${i}`).filter((k) => k >= "abc5").length,
    );
  }
});

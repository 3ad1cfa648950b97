/**
 * Point reads of SST files: `TableReader.versions()`/`get()` (a search of the restart points
 * inside a block) agree with a full scan for every key, present or not, across restart
 * intervals and blocks; the block cache (an LRU of verified blocks) keeps a Store's reads
 * right, counts its hits and misses, stays within its budget, and refuses bad sizes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Store, ValueType } from "../mod.ts";
import { TableBuilder, TableReader } from "../table.ts";
import { BlockCache } from "../src/table/block_cache.ts";
import { TableCursor } from "../src/table/table_cursor.ts";
import { Rng, seedFor, text, utf8 } from "./helpers.ts";

test("TableReader.versions() and get() agree with a full scan for every key (seeded)", () => {
  const seed = seedFor("MEMTABLE_TABLE_READS_SEED", "table point reads");
  const rng = new Rng(seed);
  for (const [blockSize, restartInterval] of [[64, 1], [256, 4], [4096, 16], [1 << 16, 3]]) {
    // Keys with 1–40 versions each, some long enough to span restart intervals and blocks.
    const keys = new Set<string>();
    while (keys.size < 300) keys.add(`k${rng.below(100_000).toString().padStart(6, "0")}`);
    const sorted = [...keys].sort();
    const b = new TableBuilder({ blockSize, restartInterval });
    let seq = 100_000;
    for (const k of sorted) {
      const versions = rng.below(8) === 0 ? 1 + rng.below(40) : 1 + rng.below(3);
      for (let v = 0; v < versions; v++) {
        const type = rng.below(5) === 0 ? ValueType.Deletion : ValueType.Value;
        b.add(k, seq--, type, type === ValueType.Value ? `${k}@${seq}` : undefined);
      }
    }
    using t = TableReader.fromBytes(b.finish(), "reads.sst");
    const all = [...t.entries()];
    const where = `blockSize ${blockSize}, restartInterval ${restartInterval}, seed ${seed}`;
    const probe = [...sorted, "", "a", "k", "k0", "l", ...sorted.map((k) => `${k}x`)];
    for (const k of probe) {
      const want = all.filter((e) => text(e.key) === k);
      const got = t.versions(k);
      assert.deepEqual(got, want, `${k}: ${where}`);
      if (want.length > 0) {
        const mid = want[Math.floor(want.length / 2)]!;
        assert.deepEqual(t.get(k, mid.seq), mid, `${k} at ${mid.seq}: ${where}`);
        assert.equal(
          t.get(k, Number(want.at(-1)!.seq) - 1),
          undefined,
          `${k} below its oldest: ${where}`,
        );
      } else assert.equal(t.get(k), undefined, `${k}: ${where}`);
    }
    // What a read returns is the caller's: changing it changes nothing in the table.
    const first = t.versions(sorted[0]!)[0]!;
    first.value.fill(0);
    first.key.fill(0);
    assert.deepEqual(t.versions(sorted[0]!)[0], all[0]);
  }
});

test("BlockCache keeps the most recently used blocks within its budget", () => {
  const c = new BlockCache(100);
  const a = c.newOwner();
  const b = c.newOwner();
  c.insert(a, 0, new Uint8Array(40));
  c.insert(a, 40, new Uint8Array(40));
  assert.ok(c.get(a, 0)); // now the most recent
  c.insert(b, 0, new Uint8Array(40)); // 120 bytes: the oldest (a@40) goes
  assert.equal(c.get(a, 40), undefined);
  assert.ok(c.get(a, 0));
  assert.ok(c.get(b, 0));
  assert.deepEqual(c.figures(), { capacity: 100, usage: 80, blocks: 2, hits: 3, misses: 1 });
  c.insert(a, 0, new Uint8Array(10)); // replaces a@0
  assert.equal(c.figures().usage, 50);
  c.insert(b, 8, new Uint8Array(101)); // larger than the budget: not kept
  assert.equal(c.figures().blocks, 2);
  c.drop(a);
  assert.equal(c.get(a, 0), undefined);
  assert.deepEqual(c.figures().usage, 40);
  // Blocks cut from one buffer are charged the buffer, once, while any of them is held.
  const shared = new Uint8Array(60);
  c.insert(a, 100, shared.subarray(0, 10));
  c.insert(a, 110, shared.subarray(10, 20));
  assert.deepEqual([c.figures().usage, c.figures().blocks], [100, 3]);
  c.insert(a, 120, new Uint8Array(30)); // 130 bytes: the oldest, b@0, goes
  assert.equal(c.get(b, 0), undefined);
  assert.deepEqual([c.figures().usage, c.figures().blocks], [90, 3]);
  c.drop(a);
  assert.deepEqual(c.figures(), { capacity: 100, usage: 0, blocks: 0, hits: 3, misses: 3 });
});

function newDir(): string {
  return join(mkdtempSync(join(tmpdir(), "memtable-table-reads-")), "db");
}

test("a Store's block cache answers repeated reads, stays within blockCacheSize, and reads the same", async () => {
  for (const blockCacheSize of [0, 16 << 10, 8 << 20]) {
    const dir = newDir();
    const store = Store.open({
      dir,
      blockCacheSize,
      blockSize: 1024,
      disableAutoCompactions: true,
    });
    try {
      const want = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2000; i++) {
          const k = `key${String((i * 7919) % 2000).padStart(5, "0")}`;
          if (i % 7 === round) continue;
          store.put(k, `${k}-${round}`);
          want.set(k, `${k}-${round}`);
        }
        await store.flush();
      }
      const keys = [...want.keys()].sort();
      for (let pass = 0; pass < 2; pass++) {
        for (const k of keys) assert.equal(text(store.get(k)!), want.get(k), `${k} pass ${pass}`);
        assert.equal(store.get("absent"), undefined);
      }
      const f = store.stats().blockCache;
      assert.equal(f.capacity, blockCacheSize);
      assert.ok(f.usage <= blockCacheSize, `${f.usage} bytes held, budget ${blockCacheSize}`);
      if (blockCacheSize === 0) {
        assert.deepEqual(f, { capacity: 0, usage: 0, blocks: 0, hits: 0, misses: 0 });
      } else {
        assert.ok(f.misses > 0 && f.hits > 0, JSON.stringify(f));
        if (blockCacheSize === 8 << 20) assert.ok(f.hits > f.misses, JSON.stringify(f));
      }
      // The cached blocks are not the caller's: changing a returned value changes nothing.
      const v = store.get(keys[0]!)!;
      v.fill(0);
      assert.equal(text(store.get(keys[0]!)!), want.get(keys[0]!));
    } finally {
      await store.close();
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  }
});

test("Store.open() refuses a bad blockCacheSize, naming it", () => {
  const dir = newDir();
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => Store.open({ dir, blockCacheSize: bad }),
      (e: unknown) => e instanceof RangeError && /Store\.open\(\): blockCacheSize/.test(e.message),
    );
  }
  assert.throws(
    () => Store.open({ dir, blockCacheSize: "8MB" as unknown as number }),
    (e: unknown) => e instanceof TypeError && /blockCacheSize must be an integer/.test(e.message),
  );
  rmSync(join(dir, ".."), { recursive: true, force: true });
});

test("a TableCursor's seeks decode from a restart point and move back across it (seeded)", () => {
  const seed = seedFor("MEMTABLE_TABLE_CURSOR_SEED", "table cursor walks");
  const rng = new Rng(seed);
  for (const [blockSize, restartInterval] of [[4096, 2], [1024, 3], [256, 1], [1 << 16, 16]]) {
    const keys = new Set<string>();
    while (keys.size < 400) keys.add(`k${rng.below(10_000).toString().padStart(5, "0")}`);
    const b = new TableBuilder({ blockSize, restartInterval });
    let seq = 50_000;
    for (const k of [...keys].sort()) {
      for (let v = 1 + rng.below(3); v > 0; v--) b.add(k, seq--, ValueType.Value, `${k}@${seq}`);
    }
    using t = TableReader.fromBytes(b.finish(), "cursor.sst");
    const all = [...t.entries()].map((e) => `${text(e.key)}@${e.seq}`);
    const c = new TableCursor(t);
    const where = `blockSize ${blockSize}, restartInterval ${restartInterval}, seed ${seed}`;
    for (let walk = 0; walk < 200; walk++) {
      const target = `k${rng.below(10_001).toString().padStart(5, "0")}`;
      c.seek(utf8(target));
      let at = all.findIndex((e) => e.slice(0, e.indexOf("@")) >= target);
      if (at < 0) at = all.length;
      for (let step = 0; step < 40; step++) {
        const here = at >= 0 && at < all.length ? all[at] : undefined;
        const got = c.valid() ? `${text(c.entry().key)}@${c.entry().seq}` : undefined;
        assert.equal(got, here, `walk ${walk} from ${target}, step ${step}: ${where}`);
        if (!c.valid()) break;
        if (rng.below(2) === 0) {
          c.prev();
          at--;
        } else {
          c.next();
          at++;
        }
      }
    }
    c.close();
  }
});

/**
 * Point reads through a Store of several level-0 files, with SST bloom filters (the default,
 * 10 bits per key) and without (`bloomBitsPerKey: 0`), side by side in one run:
 *
 *     bun bench/filters.ts [files] [keysPerFile] [reads]
 *     deno run -A bench/filters.ts [files] [keysPerFile] [reads]
 *
 * Each store gets the same `files` flushed files (no compaction) of `keysPerFile` random
 * 16-byte keys with 100-byte values, the files' key ranges overlapping. Then `reads` gets of
 * absent keys (random keys of the same shape) and of present keys, the two stores taking turns
 * in rounds so that both see the same machine. Reported per store: ns per get, and
 * `stats().filter` (checks, files filtered out, false positives).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Store } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { randomizeKey } from "./data.ts";

const files = Number(process.argv[2] ?? 8);
const keysPerFile = Number(process.argv[3] ?? 20_000);
const reads = Number(process.argv[4] ?? 5_000);
const runtime = "Bun" in globalThis ? "bun" : "deno";
const rounds = 4;

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-filters-"));
const value = new Uint8Array(100).map((_, i) => i);

/** The same keys for every store: `files` × `keysPerFile` random keys, and as many absent. */
const rng = new Rng(7);
const present: Uint8Array[] = Array.from({ length: files * keysPerFile }, () => {
  const k = new Uint8Array(16);
  randomizeKey(rng, k);
  return k;
});
const absent: Uint8Array[] = Array.from({ length: reads }, () => {
  const k = new Uint8Array(16);
  randomizeKey(rng, k);
  return k;
});

async function filled(bloomBitsPerKey: number): Promise<Store> {
  const store = Store.open({
    dir: join(dir, `bits-${bloomBitsPerKey}`),
    bloomBitsPerKey,
    disableAutoCompactions: true,
    writeBufferSize: 64 << 20,
  });
  for (let f = 0; f < files; f++) {
    for (let i = 0; i < keysPerFile; i++) store.put(present[f * keysPerFile + i]!, value);
    await store.flush();
  }
  return store;
}

const stores = {
  "with filters (10 bits/key)": await filled(10),
  "without filters": await filled(0),
};
const timings: Record<string, { absent: number[]; present: number[] }> = {};
for (const name of Object.keys(stores)) timings[name] = { absent: [], present: [] };

let sink = 0;
function time(store: Store, keys: readonly Uint8Array[]): number {
  const t0 = performance.now();
  for (const k of keys) sink += store.get(k)?.length ?? 0;
  return ((performance.now() - t0) * 1e6) / keys.length;
}

const presentSample = Array.from(
  { length: reads },
  (_, i) => present[(i * 7919) % present.length]!,
);
for (let r = 0; r < rounds; r++) {
  for (const [name, store] of Object.entries(stores)) {
    timings[name]!.absent.push(time(store, absent));
    timings[name]!.present.push(time(store, presentSample));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rows = [];
for (const [name, store] of Object.entries(stores)) {
  const t = timings[name]!;
  const s = store.stats();
  rows.push({
    store: name,
    files: s.files,
    "absent get ns": Math.round(median(t.absent.slice(1))),
    "present get ns": Math.round(median(t.present.slice(1))),
    "filter checks": s.filter.checks,
    "filtered out": s.filter.filteredOut,
    "false positives": s.filter.falsePositives,
  });
  await store.close();
}
rmSync(dir, { recursive: true, force: true });
console.log(
  `${runtime}: ${files} files × ${keysPerFile} keys, ${reads} gets per round, ${rounds} rounds ` +
    `(the first a warm-up; medians of the rest)`,
);
console.table(rows);
if (sink < 0) console.log(sink);

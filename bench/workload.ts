/**
 * The README workload, one implementation per process (so RSS growth is its own):
 *
 *     bun bench/workload.ts <impl> [entries] [seed]
 *     deno run -A --v8-flags=--expose-gc bench/workload.ts <impl> [entries] [seed]
 *
 * impl: memtable (default options: the point index on, blocks carved from huge-page regions) |
 * memtable-malloc (`transparentHugePages: false`) | memtable-huge (hugePageSize 2 MiB) |
 * memtable-search (`pointIndex: false`: the skiplist searched, behind the key filter) |
 * memtable-bloom (no point index, a whole-key bloom filter of about 10 bits per key) |
 * sorted-btree | js-sdsl
 *
 * Random 16-byte keys with 100-byte values (the same as `native/src/bench.zig`): put all
 * (random order), get all (another random order), get as many absent keys, one full ordered
 * scan, 1000 range scans of
 * 1000 entries from random seeks (the memtable: by its iterator, then again by its bulk `scan()`
 * API, batches of views, full and from a `lowerBound` with a `limit`); then memory: native bytes per entry, process RSS growth and
 * JS-heap growth per entry. Prints one JSON line. The JS peers store one version per key (no
 * sequence numbers or snapshots) with the key as a binary string, what a user would pick.
 */
import process from "node:process";
import { OrderedMap } from "js-sdsl";
import { MemTable, nativeMemoryBytes, ValueType } from "../mod.ts";
import { BTree, gc, makeKeys, valueSize } from "./data.ts";

const rangeLength = 1000;
const rangeScans = 1000;

const impl = process.argv[2] ?? "memtable";
const n = Number(process.argv[3] ?? 1_000_000);
const seed = Number(process.argv[4] ?? 42);

// Keys n..2n-1 are never stored: the lookups that miss.
const { rng, key, binary } = makeKeys(2 * n, seed);
const value = new Uint8Array(valueSize).map((_, i) => i);
const order = Uint32Array.from({ length: n }, (_, i) => i);
for (let i = n - 1; i > 0; i--) {
  const j = rng.below(i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}

/** What every implementation offers the workload. */
interface Subject {
  put(i: number): void;
  get(i: number): number;
  scan(): number;
  range(from: number): number;
  /** The memtable's bulk API (`scan()` batches of views) for the full scan and the ranges. */
  scanBatches?(): number;
  rangeBatches?(from: number): number;
  nativeBytes(): number;
}

function memtable(hugePageSize: number, pointIndex = true, bloom = false, thp = true): Subject {
  const mt = new MemTable({
    transparentHugePages: thp,
    writeBufferSize: bloom ? 256 << 20 : 2 ** 31, // the bloom filter is sized from it
    hugePageSize,
    pointIndex,
    // 256 MiB × 0.005 × 8 ≈ 10.7 Mbit: about 10 bits per key at 1M keys.
    ...(bloom ? { memtableWholeKeyFiltering: true, memtablePrefixBloomSizeRatio: 0.005 } : {}),
  });
  const base = nativeMemoryBytes();
  return {
    put: (i) => mt.add(i + 1, ValueType.Value, key(i), value),
    get: (i) => {
      const r = mt.get(key(i));
      return r.kind === "value" ? r.value.length : 0;
    },
    scan: () => {
      let c = 0;
      for (const e of mt.entries()) c += e.value.length > 0 ? 1 : 0;
      return c;
    },
    range: (i) => {
      using it = mt.iterator();
      let c = 0;
      for (it.seek(key(i)); it.valid() && c < rangeLength; it.next()) {
        c += it.value().length > 0 ? 1 : 0;
      }
      return c;
    },
    scanBatches: () => {
      let c = 0;
      for (const b of mt.scan()) {
        for (let j = 0; j < b.length; j++) c += b.value(j).length > 0 ? 1 : 0;
      }
      return c;
    },
    rangeBatches: (i) => {
      let c = 0;
      for (const b of mt.scan({ lowerBound: key(i), limit: rangeLength })) {
        for (let j = 0; j < b.length; j++) c += b.value(j).length > 0 ? 1 : 0;
      }
      return c;
    },
    nativeBytes: () => nativeMemoryBytes() - base,
  };
}

function sortedBtree(): Subject {
  const t = new BTree();
  return {
    put: (i) => void t.set(binary(i), value.slice()),
    get: (i) => t.get(binary(i))?.length ?? 0,
    scan: () => {
      let c = 0;
      t.forEachPair((_k, v) => void (c += v.length > 0 ? 1 : 0));
      return c;
    },
    range: (i) => {
      let c = 0;
      for (const [, v] of t.entries(binary(i))) {
        if (c >= rangeLength) break;
        c += v.length > 0 ? 1 : 0;
      }
      return c;
    },
    nativeBytes: () => 0,
  };
}

function jsSdsl(): Subject {
  const m = new OrderedMap<string, Uint8Array>();
  return {
    put: (i) => void m.setElement(binary(i), value.slice()),
    get: (i) => m.getElementByKey(binary(i))?.length ?? 0,
    scan: () => {
      let c = 0;
      m.forEach(([, v]) => void (c += v.length > 0 ? 1 : 0));
      return c;
    },
    range: (i) => {
      let c = 0;
      for (const it = m.lowerBound(binary(i)); !it.equals(m.end()) && c < rangeLength; it.next()) {
        c += it.pointer[1].length > 0 ? 1 : 0;
      }
      return c;
    },
    nativeBytes: () => 0,
  };
}

const subjects: Record<string, () => Subject> = {
  memtable: () => memtable(0),
  "memtable-huge": () => memtable(2 << 20),
  "memtable-malloc": () => memtable(0, true, false, false),
  "memtable-search": () => memtable(0, false),
  "memtable-bloom": () => memtable(0, false, true),
  "sorted-btree": sortedBtree,
  "js-sdsl": jsSdsl,
};
if (!subjects[impl]) {
  console.error(`unknown implementation ${impl}; known: ${Object.keys(subjects).join(", ")}`);
  process.exit(2);
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) * 1e6; // ns
}

gc();
const rss0 = process.memoryUsage().rss;
const heap0 = process.memoryUsage().heapUsed;
const s = subjects[impl]!();
const putNs = time(() => {
  for (let i = 0; i < n; i++) s.put(i);
});
let found = 0;
const getNs = time(() => {
  for (let j = 0; j < n; j++) found += s.get(order[j]!);
});
if (found !== n * valueSize) {
  throw new Error(`${impl}: get found ${found} bytes, expected ${n * valueSize}`);
}
let missFound = 0;
const getMissNs = time(() => {
  for (let j = 0; j < n; j++) missFound += s.get(n + order[j]!);
});
if (missFound !== 0) throw new Error(`${impl}: absent keys found (${missFound} bytes)`);
let scanned = 0;
const scanNs = time(() => void (scanned = s.scan()));
const uniqueKeys = new Set(Array.from({ length: n }, (_, i) => binary(i))).size; // peers keep one version per key
if (scanned !== (impl.startsWith("memtable") ? n : uniqueKeys)) {
  throw new Error(`${impl}: scan saw ${scanned}`);
}
const scans = Math.min(rangeScans, n);
let ranged = 0;
const rangeNs = time(() => {
  for (let j = 0; j < scans; j++) ranged += s.range(order[j]!);
});
let bulkScanned = 0;
const scanBatchNs = s.scanBatches ? time(() => void (bulkScanned = s.scanBatches!())) : undefined;
let bulkRanged = 0;
const rangeBatchNs = s.rangeBatches
  ? time(() => {
    for (let j = 0; j < scans; j++) bulkRanged += s.rangeBatches!(order[j]!);
  })
  : undefined;
if (s.scanBatches && (bulkScanned !== n || bulkRanged !== ranged)) {
  throw new Error(`${impl}: scan() saw ${bulkScanned} and ${bulkRanged} in ranges`);
}
gc();
const rss1 = process.memoryUsage().rss;
const heap1 = process.memoryUsage().heapUsed;
console.log(JSON.stringify({
  runtime: "Bun" in globalThis ? "bun" : "deno",
  impl,
  n,
  putNsPerOp: putNs / n,
  getNsPerOp: getNs / n,
  getMissNsPerOp: getMissNs / n,
  scanNsPerEntry: scanNs / n,
  rangeUsPerScan: rangeNs / scans / 1000,
  rangeEntries: ranged,
  ...(scanBatchNs === undefined ? {} : {
    scanBatchNsPerEntry: scanBatchNs / n,
    rangeBatchUsPerScan: rangeBatchNs! / scans / 1000,
  }),
  nativeBytesPerEntry: s.nativeBytes() / n,
  rssBytesPerEntry: (rss1 - rss0) / n,
  heapBytesPerEntry: (heap1 - heap0) / n,
}));

/**
 * Sustained random writes through a Store, flushes running, with RocksDB's db_bench fillrandom
 * (WAL off, same sizes) in the same run when it is installed:
 *
 *     bun bench/store.ts [entries] [writeBufferSize]
 *     deno run -A bench/store.ts [entries] [writeBufferSize]
 *
 * Random 16-byte keys, 100-byte values, a 64 MiB write buffer and RocksDB's default of two
 * write buffers (so the memtable budget is 128 MiB). The writer awaits `whenWritable()` every
 * 1000 writes — the time it waits there is the stall time. Reported: write throughput, stall
 * time, flush throughput (MB of SST written per second of flushing, in the flush Worker), the
 * largest native memory seen against the budget, and the process's peak RSS growth.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { nativeMemoryBytes, Store } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { randomizeKey } from "./data.ts";
import { fillRandom } from "./db_bench.ts";

const n = Number(process.argv[2] ?? 4_000_000);
const writeBufferSize = Number(process.argv[3] ?? 64 << 20);
const keySize = 16;
const valueSize = 100;
const runtime = "Bun" in globalThis ? "bun" : "deno";

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-store-"));
const rng = new Rng(42);
const key = new Uint8Array(keySize);
const value = new Uint8Array(valueSize).map((_, i) => i);
const base = nativeMemoryBytes();
const rss0 = process.memoryUsage().rss;
let peakNative = 0;
let peakRss = 0;
let stallMs = 0;

const store = Store.open({ dir: join(dir, "db"), writeBufferSize, maxWriteBufferNumber: 2 });
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  randomizeKey(rng, key);
  store.put(key, value);
  if (i % 1000 === 999) {
    peakNative = Math.max(peakNative, nativeMemoryBytes() - base);
    const s = performance.now();
    await store.whenWritable();
    stallMs += performance.now() - s;
    peakNative = Math.max(peakNative, nativeMemoryBytes() - base);
    if (i % 100_000 === 99_999) peakRss = Math.max(peakRss, process.memoryUsage().rss - rss0);
  }
}
const writeMs = performance.now() - t0;
await store.flush();
const totalMs = performance.now() - t0;
const st = store.stats();
await store.close();
rmSync(dir, { recursive: true, force: true });

const mb = (bytes: number) => bytes / (1 << 20);
const result = {
  runtime,
  entries: n,
  writeBufferSize,
  writesPerSec: Math.round(n / (writeMs / 1000)),
  writeMBPerSec: +(mb(n * (keySize + valueSize)) / (writeMs / 1000)).toFixed(1),
  stallMs: Math.round(stallMs),
  flushes: st.flushes,
  flushesInWorker: st.flushesInWorker,
  flushMBPerSec: +(mb(st.flushedBytes) / (st.flushMs / 1000)).toFixed(1),
  sstMB: +mb(st.flushedBytes).toFixed(1),
  totalSec: +(totalMs / 1000).toFixed(2),
  peakNativeMB: +mb(peakNative).toFixed(1),
  budgetMB: mb(2 * writeBufferSize),
  peakRssGrowthMB: +mb(peakRss).toFixed(1),
};
console.log(JSON.stringify(result));

const rocks = runtime === "bun"
  ? fillRandom({ entries: n, keySize, valueSize, writeBufferSize, wal: ["--disable_wal=1"] })
  : undefined;
if (rocks !== undefined) {
  console.log(JSON.stringify({ runtime: "rocksdb", entries: n, writeBufferSize, ...rocks }));
} else if (runtime === "bun") {
  console.log("db_bench is not installed (apt-get install rocksdb-tools): no RocksDB row");
}

/**
 * Random writes through a Store with leveled compaction running, then random point reads and
 * range scans of what it wrote, beside RocksDB's db_bench (fillrandom, readrandom, seekrandom)
 * with the same options and the same key space in the same run (when it is installed):
 *
 *     bun bench/compaction.ts [entries] [writeBufferSize] [reads] [scans]
 *     deno run -A bench/compaction.ts [entries] [writeBufferSize] [reads] [scans]
 *
 * Keys are db_bench's: a random integer in [0, entries) as 8 big-endian bytes, padded to 16
 * bytes with '0'; 100-byte values; WAL on without sync. So the reads, like readrandom's, find
 * about 63% of their keys (a key space written with repeats). The levels are scaled to the
 * write buffer as RocksDB's defaults are (64 MiB buffers, 64 MiB files, 256 MiB level 1):
 * `targetFileSizeBase` = the buffer, `maxBytesForLevelBase` = 4 buffers, the rest RocksDB's
 * defaults (trigger 4, slowdown 20, stop 36, multiplier 10). The writer awaits `whenWritable()`
 * every 1000 writes: the time it waits there is the stall time. Reported: writes/s, stall time,
 * the most level-0 files and open table-file descriptors seen (every 10,000 writes),
 * write amplification (table bytes written by flushes and compactions per user byte), files and
 * MB per level, compaction figures; then reads/s with p50/p99 latency, and scans (a seek and
 * 100 entries each) per second. RocksDB's rows are its result lines, percentiles and compaction
 * statistics (its W-Amp column).
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Store } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { fillThenRead } from "./db_bench.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const writeBufferSize = Number(process.argv[3] ?? 4 << 20);
const reads = Number(process.argv[4] ?? 100_000);
const scans = Number(process.argv[5] ?? 1000);
const seekNexts = 100;
const keySize = 16;
const valueSize = 100;
const runtime = "Bun" in globalThis ? "bun" : "deno";
const levels = { targetFileSizeBase: writeBufferSize, maxBytesForLevelBase: 4 * writeBufferSize };

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-compaction-"));
const rng = new Rng(42);
const key = new Uint8Array(keySize).fill(0x30);
const view = new DataView(key.buffer);
/** db_bench's key for a random integer in [0, n) (GenerateKeyFromInt). */
function nextKey(): Uint8Array {
  view.setBigUint64(0, BigInt(rng.below(n)));
  return key;
}
const value = new Uint8Array(valueSize).map((_, i) => i);
let stallMs = 0;
/** The most level-0 files seen (every 10,000 writes, after whenWritable()). */
let maxL0 = 0;
/** The most descriptors of the store's table files open at once (sampled with maxL0). */
let maxSstFds = 0;
/** This process's open descriptors naming a table file of the bench's directory (Linux). */
function sstDescriptors(): number {
  if (process.platform !== "linux") return 0;
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && target.endsWith(".sst")) n++;
    } catch {
      // closed while listed
    }
  }
  return n;
}

const store = Store.open({ dir: join(dir, "db"), writeBufferSize, ...levels });
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  store.put(nextKey(), value);
  if (i % 1000 === 999) {
    const s = performance.now();
    await store.whenWritable();
    stallMs += performance.now() - s;
    if (i % 10_000 === 9_999) {
      maxL0 = Math.max(maxL0, store.stats().levels[0]!.files);
      maxSstFds = Math.max(maxSstFds, sstDescriptors());
    }
  }
}
const writeMs = performance.now() - t0;
await store.flush();
const st = store.stats();

/** Percentile `p` of sorted latencies, in µs. */
const pct = (sorted: Float64Array, p: number) =>
  +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! * 1000).toFixed(2);
const latencies = new Float64Array(reads);
let found = 0;
const r0 = performance.now();
for (let i = 0; i < reads; i++) {
  const s = performance.now();
  if (store.get(nextKey()) !== undefined) found++;
  latencies[i] = performance.now() - s;
}
const readMs = performance.now() - r0;
latencies.sort();
const s0 = performance.now();
let scanned = 0;
for (let i = 0; i < scans; i++) {
  let left = seekNexts;
  for (const _ of store.iterator({ lower: nextKey().slice() })) if (--left === 0) break;
  scanned += seekNexts - left;
}
const scanMs = performance.now() - s0;
await store.close();
rmSync(dir, { recursive: true, force: true });

const mb = (bytes: number) => +(bytes / (1 << 20)).toFixed(1);
console.log(JSON.stringify({
  runtime,
  entries: n,
  writeBufferSize,
  writesPerSec: Math.round(n / (writeMs / 1000)),
  stallMs: Math.round(stallMs),
  writeAmplification: +st.writeAmplification.toFixed(2),
  readAmplification: st.readAmplification,
  maxL0Files: maxL0,
  maxSstDescriptors: maxSstFds,
  maxOpenFiles: st.maxOpenFiles,
  filesPerLevel: st.levels.map((l) => l.files).join(","),
  mbPerLevel: st.levels.map((l) => mb(l.bytes)).join(","),
  flushes: st.flushes,
  compactions: st.compactions,
  trivialMoves: st.trivialMoves,
  compactionMBWritten: mb(st.compactionBytesWritten),
  compactionSec: +(st.compactionMs / 1000).toFixed(1),
  readsPerSec: Math.round(reads / (readMs / 1000)),
  readP50Us: pct(latencies, 0.5),
  readP99Us: pct(latencies, 0.99),
  found: +(found / reads).toFixed(3),
  scansPerSec: Math.round(scans / (scanMs / 1000)),
  scannedPerScan: +(scanned / scans).toFixed(1),
}));

const rocks = runtime === "bun"
  ? fillThenRead({
    entries: n,
    keySize,
    valueSize,
    writeBufferSize,
    wal: ["--disable_wal=0", "--sync=0"],
    flags: [
      `--target_file_size_base=${levels.targetFileSizeBase}`,
      `--max_bytes_for_level_base=${levels.maxBytesForLevelBase}`,
      "--level0_file_num_compaction_trigger=4",
      "--level0_slowdown_writes_trigger=20",
      "--level0_stop_writes_trigger=36",
      "--max_bytes_for_level_multiplier=10",
      "--num_levels=7",
      "--max_background_jobs=2",
    ],
    reads,
    scans,
    seekNexts,
  })
  : undefined;
if (rocks !== undefined) {
  const { fill, read, seek } = rocks;
  console.log(JSON.stringify({
    runtime: "rocksdb",
    entries: n,
    writeBufferSize,
    writesPerSec: fill.opsPerSec,
    readsPerSec: read.opsPerSec,
    readP50Us: read.p50,
    readP99Us: read.p99,
    scansPerSec: seek.opsPerSec,
  }));
  for (const p of [fill, read, seek]) console.log(p.line);
  console.log(rocks.stats);
} else if (runtime === "bun") {
  console.log("db_bench is not installed (apt-get install rocksdb-tools): no RocksDB row");
}

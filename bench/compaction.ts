/**
 * Random writes through a Store with leveled compaction running, beside RocksDB's db_bench
 * fillrandom with the same options in the same run (when it is installed):
 *
 *     bun bench/compaction.ts [entries] [writeBufferSize]
 *     deno run -A bench/compaction.ts [entries] [writeBufferSize]
 *
 * Random 16-byte keys, 100-byte values, WAL on without sync. The levels are scaled to the
 * write buffer as RocksDB's defaults are (64 MiB buffers, 64 MiB files, 256 MiB level 1):
 * `targetFileSizeBase` = the buffer, `maxBytesForLevelBase` = 4 buffers, the rest RocksDB's
 * defaults (trigger 4, slowdown 20, stop 36, multiplier 10). The writer awaits `whenWritable()`
 * every 1000 writes: the time it waits there is the stall time. Reported: writes/s, stall time,
 * write amplification (table bytes written by flushes and compactions per user byte), files and
 * MB per level, compaction figures; RocksDB's row is its fillrandom line and its compaction
 * statistics (its W-Amp column).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Store } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { randomizeKey } from "./data.ts";
import { fillRandom } from "./db_bench.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const writeBufferSize = Number(process.argv[3] ?? 4 << 20);
const keySize = 16;
const valueSize = 100;
const runtime = "Bun" in globalThis ? "bun" : "deno";
const levels = { targetFileSizeBase: writeBufferSize, maxBytesForLevelBase: 4 * writeBufferSize };

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-compaction-"));
const rng = new Rng(42);
const key = new Uint8Array(keySize);
const value = new Uint8Array(valueSize).map((_, i) => i);
let stallMs = 0;

const store = Store.open({ dir: join(dir, "db"), writeBufferSize, ...levels });
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  randomizeKey(rng, key);
  store.put(key, value);
  if (i % 1000 === 999) {
    const s = performance.now();
    await store.whenWritable();
    stallMs += performance.now() - s;
  }
}
const writeMs = performance.now() - t0;
await store.flush();
const st = store.stats();
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
  filesPerLevel: st.levels.map((l) => l.files).join(","),
  mbPerLevel: st.levels.map((l) => mb(l.bytes)).join(","),
  flushes: st.flushes,
  compactions: st.compactions,
  trivialMoves: st.trivialMoves,
  compactionMBWritten: mb(st.compactionBytesWritten),
  compactionSec: +(st.compactionMs / 1000).toFixed(1),
}));

const rocks = runtime === "bun"
  ? fillRandom({
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
    stats: true,
  })
  : undefined;
if (rocks !== undefined) {
  console.log(
    JSON.stringify({ runtime: "rocksdb", entries: n, writeBufferSize, line: rocks.line }),
  );
  console.log(rocks.stats);
} else if (runtime === "bun") {
  console.log("db_bench is not installed (apt-get install rocksdb-tools): no RocksDB row");
}

/**
 * RocksDB's `db_bench --benchmarks=fillrandom` with a bench's sizes, for the rows measured
 * beside ours in the same run (bench/store.ts, bench/wal.ts). Undefined when db_bench is not
 * installed (Debian's rocksdb-tools).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FillRandom {
  entries: number;
  keySize: number;
  valueSize: number;
  writeBufferSize: number;
  /** db_bench's WAL flags, e.g. `["--disable_wal=1"]` or `["--disable_wal=0", "--sync=0"]`. */
  wal: string[];
  /** More db_bench flags (e.g. compaction options); `stats: true` also runs its `stats`. */
  flags?: string[];
  stats?: boolean;
}

/**
 * Runs fillrandom in a fresh directory: writes per second and db_bench's result line (and with
 * `stats`, the compaction statistics it prints after it).
 */
export function fillRandom(
  o: FillRandom,
): { writesPerSec: number; line: string; stats: string } | undefined {
  if (spawnSync("db_bench", ["--help"], { encoding: "utf8" }).error !== undefined) return undefined;
  const db = mkdtempSync(join(tmpdir(), "memtable-bench-rocksdb-"));
  try {
    const r = spawnSync("db_bench", [
      o.stats ? "--benchmarks=fillrandom,stats" : "--benchmarks=fillrandom",
      ...o.wal,
      ...(o.flags ?? []),
      `--write_buffer_size=${o.writeBufferSize}`,
      "--max_write_buffer_number=2",
      "--compression_type=none",
      `--num=${o.entries}`,
      `--key_size=${o.keySize}`,
      `--value_size=${o.valueSize}`,
      `--db=${db}`,
      "--threads=1",
    ], { encoding: "utf8" });
    const line = r.stdout.split("\n").find((l) => l.startsWith("fillrandom"))?.trim() ?? "";
    const at = r.stdout.indexOf("** Compaction Stats");
    const stats = at < 0 ? "" : r.stdout.slice(at, r.stdout.indexOf("\n\n", at));
    return { writesPerSec: Math.round(1e6 / Number(line.split(/\s+/)[2])), line, stats };
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
}

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

/** db_bench's flags for `o`'s sizes, WAL and options, one thread, on the database `db`. */
function commonFlags(o: FillRandom, db: string): string[] {
  return [
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
  ];
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
      ...commonFlags(o, db),
    ], { encoding: "utf8" });
    const line = r.stdout.split("\n").find((l) => l.startsWith("fillrandom"))?.trim() ?? "";
    const at = r.stdout.indexOf("** Compaction Stats");
    const stats = at < 0 ? "" : r.stdout.slice(at, r.stdout.indexOf("\n\n", at));
    return { writesPerSec: Math.round(1e6 / Number(line.split(/\s+/)[2])), line, stats };
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
}

/** A db_bench benchmark's result line and latency percentiles (µs, from `--histogram=1`). */
export interface DbBenchPhase {
  line: string;
  opsPerSec: number;
  p50?: number;
  p99?: number;
}

/**
 * fillrandom (with its compaction statistics), then readrandom (`reads` point reads of random
 * keys of the same key space) and seekrandom (`scans` seeks, `seekNexts` nexts each) on the
 * database it filled, in a fresh directory. Undefined when db_bench is not installed.
 */
export function fillThenRead(
  o: FillRandom & { reads: number; scans: number; seekNexts: number },
): { fill: DbBenchPhase; read: DbBenchPhase; seek: DbBenchPhase; stats: string } | undefined {
  if (spawnSync("db_bench", ["--help"], { encoding: "utf8" }).error !== undefined) return undefined;
  const db = mkdtempSync(join(tmpdir(), "memtable-bench-rocksdb-"));
  const common = [...commonFlags(o, db), "--histogram=1"];
  const run = (args: string[]) => {
    const r = spawnSync("db_bench", [...common, ...args], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`db_bench ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  try {
    const filled = run(["--benchmarks=fillrandom,stats,readrandom", `--reads=${o.reads}`]);
    const seeked = run([
      "--benchmarks=seekrandom",
      "--use_existing_db=1",
      `--reads=${o.scans}`,
      `--seek_nexts=${o.seekNexts}`,
    ]);
    const at = filled.indexOf("** Compaction Stats");
    return {
      fill: phaseOf(filled, "fillrandom"),
      read: phaseOf(filled, "readrandom"),
      seek: phaseOf(seeked, "seekrandom"),
      stats: at < 0 ? "" : filled.slice(at, filled.indexOf("\n\n", at)),
    };
  } finally {
    rmSync(db, { recursive: true, force: true });
  }
}

/** Benchmark `name`'s line in db_bench's output and the percentiles of the histogram after it. */
function phaseOf(out: string, name: string): DbBenchPhase {
  const at = out.search(new RegExp(`^${name}\\s+:`, "m"));
  if (at < 0) throw new Error(`db_bench printed no ${name} line`);
  const line = out.slice(at, out.indexOf("\n", at)).trim();
  const rest = out.slice(at);
  const pct = rest.match(/P50: ([\d.]+) P75: [\d.]+ P99: ([\d.]+)/);
  return {
    line,
    opsPerSec: Math.round(1e6 / Number(line.split(/\s+/)[2])),
    ...(pct ? { p50: Number(pct[1]), p99: Number(pct[2]) } : {}),
  };
}

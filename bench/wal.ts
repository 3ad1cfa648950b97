/**
 * The write-ahead log's cost and group commit, in one run:
 *
 *     bun bench/wal.ts [entries] [seconds]
 *     deno run -A bench/wal.ts [entries] [seconds]
 *
 * 1. `entries` random writes (16-byte keys, 100-byte values, a 64 MiB write buffer, two of
 *    them) through a Store with its WAL on (the default, `sync: false`) and with
 *    `disableWAL: true`, alternating, two rounds each, flushes running; RocksDB's
 *    `db_bench --benchmarks=fillrandom` with its WAL on (`--disable_wal=0 --sync=0`) and the
 *    same write buffers in the same run (Bun's run only: it is the same binary either way).
 * 2. Sync writes for `seconds` each: one writer awaiting `writeAsync(batch, { sync: true })`
 *    after another, then 16 such writers at once (their fdatasyncs shared: group commit).
 *
 * Prints one JSON line per measurement and a summary of the ratios.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Store, WriteBatch } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { randomizeKey } from "./data.ts";
import { fillRandom } from "./db_bench.ts";

const n = Number(process.argv[2] ?? 4_000_000);
const seconds = Number(process.argv[3] ?? 3);
const keySize = 16;
const valueSize = 100;
const writeBufferSize = 64 << 20;
const runtime = "Bun" in globalThis ? "bun" : "deno";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "memtable-bench-wal-"));
}

/** `n` random writes into a fresh store; writes per second (flushes included, as they run). */
async function fill(disableWAL: boolean): Promise<number> {
  const dir = tempDir();
  const rng = new Rng(42);
  const key = new Uint8Array(keySize);
  const value = new Uint8Array(valueSize).map((_, i) => i);
  const store = Store.open({ dir: join(dir, "db"), writeBufferSize, maxWriteBufferNumber: 2 });
  const options = disableWAL ? { disableWAL: true } : undefined;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    randomizeKey(rng, key);
    store.put(key, value, options);
    if (i % 1000 === 999) await store.whenWritable();
  }
  const ms = performance.now() - t0;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return n / (ms / 1000);
}

/** `writers` concurrent sync writers for `seconds`: writes per second in all, fdatasyncs. */
async function syncWriters(writers: number): Promise<{ perSec: number; syncs: number }> {
  const dir = tempDir();
  const store = Store.open({ dir: join(dir, "db") });
  const value = new Uint8Array(valueSize);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; performance.now() < end; i++) {
      await store.writeAsync(new WriteBatch().put(`w${w}.${i}`, value), { sync: true });
      done++;
    }
  }));
  const ms = performance.now() - t0;
  const syncs = store.stats().wal.syncs;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { perSec: done / (ms / 1000), syncs };
}

const rows: Record<string, number[]> = { walOn: [], walOff: [] };
for (let round = 0; round < 2; round++) {
  for (const mode of round === 0 ? ["walOn", "walOff"] : ["walOff", "walOn"]) {
    const perSec = await fill(mode === "walOff");
    rows[mode]!.push(perSec);
    console.log(
      JSON.stringify({
        runtime,
        bench: "fill",
        mode,
        round,
        entries: n,
        writesPerSec: Math.round(perSec),
      }),
    );
  }
}
const best = (xs: number[]) => Math.max(...xs);

let rocksdb: number | undefined;
const rocks = runtime === "bun"
  ? fillRandom({
    entries: n,
    keySize,
    valueSize,
    writeBufferSize,
    wal: ["--disable_wal=0", "--sync=0"],
  })
  : undefined;
if (rocks !== undefined) {
  rocksdb = rocks.writesPerSec;
  console.log(
    JSON.stringify({ runtime: "rocksdb", bench: "fill", mode: "walOn", entries: n, ...rocks }),
  );
}

const one = await syncWriters(1);
console.log(
  JSON.stringify({
    runtime,
    bench: "sync",
    writers: 1,
    writesPerSec: Math.round(one.perSec),
    fdatasyncs: one.syncs,
  }),
);
const sixteen = await syncWriters(16);
console.log(
  JSON.stringify({
    runtime,
    bench: "sync",
    writers: 16,
    writesPerSec: Math.round(sixteen.perSec),
    fdatasyncs: sixteen.syncs,
  }),
);

const r2 = (x: number) => x.toFixed(2);
console.log(
  `${runtime}: WAL on / off ${r2(best(rows.walOn!) / best(rows.walOff!))}×` +
    (rocksdb === undefined
      ? ""
      : `, WAL on / RocksDB (WAL on) ${r2(best(rows.walOn!) / rocksdb)}×`) +
    `, 16 sync writers / 1 ${r2(sixteen.perSec / one.perSec)}×`,
);

/**
 * Helpers shared by the test files: UTF-8 conversion, a seeded PRNG whose seed is printed and
 * can be replayed through an environment variable, a portable environment read, a database
 * RocksDB's db_bench writes, and checks that a memtable's reads agree with a model's.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import {
  type Bytes,
  type GetResult,
  GetStatus,
  type MemTable,
  type ReadOptions,
  type ScanOptions,
} from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

export function env(name: string): string | undefined {
  try {
    return process.env[name] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fills `db` with RocksDB's `db_bench fillrandom`: `n` random 16-byte keys with 100-byte values,
 * 256 KiB write buffers and table files under a 1 MiB level base, so the database has tables in
 * several levels and an unflushed log; blocks compressed with `compression` (RocksDB's names:
 * none, snappy, lz4, ...).
 */
export function dbBenchFill(db: string, compression: string, n = 20_000): void {
  const r = spawnSync("db_bench", [
    "--benchmarks=fillrandom",
    `--num=${n}`,
    `--db=${db}`,
    "--write_buffer_size=262144",
    "--target_file_size_base=262144",
    "--max_bytes_for_level_base=1048576",
    "--key_size=16",
    "--value_size=100",
    `--compression_type=${compression}`,
  ], { encoding: "utf8" });
  assert.equal(r.error, undefined, "db_bench not runnable (apt-get install rocksdb-tools)");
  assert.equal(r.status, 0, r.stderr);
}

/** A small, fast, seeded PRNG (mulberry32: full 2^32 period). */
export class Rng {
  #state: number;
  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }
  u32(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The seed for a randomised test: `$name` when set (to replay), else a fresh one. Printed. */
export function seedFor(name: string, label: string): number {
  const given = env(name);
  const seed = given !== undefined
    ? Number(given)
    : (Date.now() ^ (Math.random() * 0x7fff_ffff)) >>> 0;
  console.log(`${label}: seed ${seed} (replay with ${name}=${seed})`);
  return seed;
}

/** Bytewise comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * A merge operator whose result shows exactly what it was given: `base+op1,op2` (`∅` when there
 * was no value below the operands). Partial merges join with `,` so results stay comparable.
 */
export const tracingOperator = {
  name: "test.Tracing",
  fullMerge(_key: Uint8Array, existing: Uint8Array | undefined, operands: readonly Uint8Array[]) {
    return utf8(`${existing === undefined ? "∅" : text(existing)}+${operands.map(text).join(",")}`);
  },
  partialMerge(_key: Uint8Array, left: Uint8Array, right: Uint8Array) {
    return utf8(`${text(left)},${text(right)}`);
  },
};

/**
 * Checks `mt.getInto(key, …)` against the `get()` result `r` of the same read, with a
 * destination `size` bytes long (shorter than the value, exact or longer): the returned length
 * or status, the bytes written and that nothing past them changed. Throws on a mismatch.
 */
export function assertGetIntoAgrees(
  mt: MemTable,
  key: Uint8Array | string,
  options: ReadOptions,
  r: GetResult,
  size: number,
  where: string,
): void {
  const dest = new Uint8Array(size).fill(0xa5);
  const n = mt.getInto(key, dest, options);
  const want = r.kind === "value"
    ? r.value.length
    : r.kind === "absent"
    ? GetStatus.absent
    : r.kind === "deleted"
    ? GetStatus.deleted
    : GetStatus.mergeIncomplete;
  if (n !== want) {
    throw new Error(`${where}: getInto returned ${n}, get() says ${r.kind} (${want})`);
  }
  const written = r.kind === "value" ? Math.min(size, r.value.length) : 0;
  for (let i = 0; i < size; i++) {
    const expected = i < written ? (r as { value: Uint8Array }).value[i] : 0xa5;
    if (dest[i] !== expected) {
      throw new Error(`${where}: getInto byte ${i} of ${size} is ${dest[i]}, expected ${expected}`);
    }
  }
}

/** One version as text: key bytes, seq, type, value bytes. */
export const entryLine = (
  e: { key: Uint8Array; seq: unknown; type: number; value: Uint8Array },
): string => `${e.key.join(".")}/${e.seq}/${e.type}/${e.value.join(".")}`;

/** What `mt.scan(options)` yields, as `entryLine`s (every accessor read, views checked). */
export function scanLines(mt: MemTable, options?: ScanOptions): string[] {
  const out: string[] = [];
  for (const b of mt.scan(options)) {
    assert.ok(b.length > 0, "a batch is never empty");
    for (let i = 0; i < b.length; i++) {
      const key = b.key(i);
      const value = b.value(i);
      assert.equal(key.length, b.keyLength(i));
      assert.equal(value.length, b.valueLength(i));
      out.push(entryLine({ key, seq: b.seq(i), type: b.type(i), value }));
    }
  }
  return out;
}

/**
 * Asserts that `mt.scan(options)` yields exactly `entries()` with the same read options,
 * restricted to [lowerBound, upperBound), reversed with `reverse`, cut at `limit`.
 */
export function assertScanAgrees(mt: MemTable, options: ScanOptions, what: string): void {
  const { lowerBound, upperBound, reverse, limit, ...read } = options;
  const bytes = (b: Bytes | undefined) => typeof b === "string" ? utf8(b) : b;
  const lo = bytes(lowerBound);
  const hi = bytes(upperBound);
  let want = [...mt.entries(read)]
    .filter((e) =>
      (lo === undefined || compareBytes(e.key, lo) >= 0) &&
      (hi === undefined || compareBytes(e.key, hi) < 0)
    )
    .map(entryLine);
  if (reverse) want.reverse();
  if (limit !== undefined) want = want.slice(0, limit);
  const got = scanLines(mt, options);
  assert.equal(got.length, want.length, `${what}: scan count`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      assert.fail(`${what}: scan entry ${i}: ${got[i]}, entries(): ${want[i]}`);
    }
  }
}

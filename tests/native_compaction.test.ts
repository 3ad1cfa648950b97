/**
 * The native compaction job (native/src/compaction.zig through src/flush/native_compaction.ts)
 * writes byte for byte the outputs of the TypeScript job (src/flush/compaction_job.ts) over
 * random inputs: level-0 runs and a deeper level's files, with deletions, single deletions,
 * range tombstones cut at file boundaries, merge operands under every built-in operator and
 * none, live snapshots, bottommost on and off, bloom filters in and out, and small targets so
 * outputs split. A Store compacts RocksDB-written (Snappy) files with the TypeScript job and its
 * own with the native one, and RocksDB reads the result.
 */
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import {
  CorruptionError,
  type MergeOperator,
  mergeOperators,
  Store,
  stringAppend,
  uint64Add,
  ValueType,
} from "../mod.ts";
import { TableBuilder, TableReader } from "../table.ts";
import { builtinSpecOf } from "../src/memtable/merge.ts";
import {
  CompactionAborted,
  type JobResult,
  runCompactionJob,
} from "../src/flush/compaction_job.ts";
import { nativeCompactionReads, runNativeCompactionJob } from "../src/flush/native_compaction.ts";
import { compareBytes, dbBenchFill, env, Rng, seedFor, utf8 } from "./helpers.ts";

interface Write {
  key: Uint8Array;
  seq: number;
  type: ValueType;
  value: Uint8Array;
}
interface Tomb {
  start: Uint8Array;
  end: Uint8Array;
  seq: number;
}

const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
const keyOf = (i: number) => utf8(`k${String(i).padStart(4, "0")}`);

/** A random history: writes and tombstones, one sequence number each, oldest first. */
function history(rng: Rng, count: number, keys: number): { writes: Write[]; tombs: Tomb[] } {
  const writes: Write[] = [];
  const tombs: Tomb[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const r = rng.below(100);
    const key = keyOf(rng.below(keys));
    if (r < 4) {
      const a = rng.below(keys);
      tombs.push({ start: keyOf(a), end: keyOf(a + 1 + rng.below(keys / 8)), seq });
    } else if (r < 14) writes.push({ key, seq, type: ValueType.Deletion, value: new Uint8Array() });
    else if (r < 19) {
      writes.push({ key, seq, type: ValueType.SingleDeletion, value: new Uint8Array() });
    } else if (r < 50) writes.push({ key, seq, type: ValueType.Merge, value: operand(rng) });
    else writes.push({ key, seq, type: ValueType.Value, value: operand(rng) });
  }
  return { writes, tombs };
}

/** A value or operand: an 8-byte counter (what uint64Add reads) or a short string. */
function operand(rng: Rng): Uint8Array {
  if (rng.below(2) === 0) return uint64Add.operand(BigInt(rng.below(1000)));
  return utf8(`v${rng.below(100000)}`);
}

const byInternalKey = (a: Write, b: Write) => compareBytes(a.key, b.key) || b.seq - a.seq;

/** Writes a table of `writes` and `tombs` (cut to [lo, hi)) at `path`. */
function writeTable(
  path: string,
  writes: Write[],
  tombs: Tomb[],
  lo: Uint8Array | undefined,
  hi: Uint8Array | undefined,
): void {
  // Every other input has a bloom filter (what a store writes by default), to read past.
  const b = new TableBuilder({ blockSize: 256, bloomBitsPerKey: writes.length % 2 === 0 ? 10 : 0 });
  for (const w of [...writes].sort(byInternalKey)) b.add(w.key, w.seq, w.type, w.value);
  for (const t of tombs) {
    const start = lo !== undefined && compareBytes(t.start, lo) < 0 ? lo : t.start;
    const end = hi !== undefined && compareBytes(hi, t.end) < 0 ? hi : t.end;
    if (compareBytes(start, end) < 0) b.addRangeTombstone(start, end, t.seq);
  }
  writeFileSync(path, b.finish());
}

/**
 * Input files: the oldest part of the history as a deeper level (files split by key, the
 * tombstones cut to them), the rest as level-0 files (newest first). Returns the runs' paths.
 */
function inputs(dir: string, rng: Rng, writes: Write[], tombs: Tomb[]): string[][] {
  const total = writes.length + tombs.length;
  const deepUpTo = Math.floor(total * (0.3 + rng.below(40) / 100));
  const l0Files = 1 + rng.below(4);
  const runs: string[][] = [];
  const bounds = [undefined, keyOf(100 + rng.below(100)), keyOf(250 + rng.below(100)), undefined];
  const deep: string[] = [];
  for (let f = 0; f + 1 < bounds.length; f++) {
    const lo = bounds[f];
    const hi = bounds[f + 1];
    const inRange = (k: Uint8Array) =>
      (lo === undefined || compareBytes(lo, k) <= 0) &&
      (hi === undefined || compareBytes(k, hi) < 0);
    const path = join(dir, `deep${f}.sst`);
    writeTable(
      path,
      writes.filter((w) => w.seq <= deepUpTo && inRange(w.key)),
      tombs.filter((t) => t.seq <= deepUpTo),
      lo,
      hi,
    );
    deep.push(path);
  }
  const slice = Math.ceil((total - deepUpTo) / l0Files);
  for (let f = 0; f < l0Files; f++) {
    const from = deepUpTo + f * slice;
    const to = from + slice;
    const path = join(dir, `l0_${f}.sst`);
    const inSlice = (seq: number) => seq > from && seq <= to;
    writeTable(
      path,
      writes.filter((w) => inSlice(w.seq)),
      tombs.filter((t) => inSlice(t.seq)),
      undefined,
      undefined,
    );
    runs.unshift([path]); // newest first
  }
  runs.push(deep);
  return runs;
}

const operators: [string, MergeOperator | undefined][] = [
  ["none", undefined],
  ["uint64Add", uint64Add],
  ["stringAppend", stringAppend(",")],
  ["max", mergeOperators.max],
  ["put", mergeOperators.put],
];

function compare(ts: JobResult, nat: JobResult, where: string): void {
  assert.equal(nat.outputs.length, ts.outputs.length, `${where}: outputs`);
  assert.equal(nat.inputEntries, ts.inputEntries, `${where}: input entries`);
  assert.equal(nat.outputEntries, ts.outputEntries, `${where}: output entries`);
  assert.equal(nat.bytesRead, ts.bytesRead, `${where}: bytes read`);
  assert.equal(nat.bytesWritten, ts.bytesWritten, `${where}: bytes written`);
  ts.outputs.forEach((o, i) => {
    const n = nat.outputs[i]!;
    assert.deepEqual(readFileSync(n.path), readFileSync(o.path), `${where}: output ${i} bytes`);
    assert.deepEqual(
      [n.size, n.smallest, n.largest, n.smallestSeq, n.largestSeq],
      [o.size, o.smallest, o.largest, o.smallestSeq, o.largestSeq],
      `${where}: output ${i} figures`,
    );
  });
}

test("the native compaction job writes the TypeScript job's outputs byte for byte (seeded)", async () => {
  const seed = seedFor("MEMTABLE_NATIVE_COMPACTION_SEED", "native compaction");
  const rounds = Number(env("MEMTABLE_NATIVE_COMPACTION_ROUNDS") ?? 12);
  const rng = new Rng(seed);
  let split = 0;
  for (let round = 0; round < rounds; round++) {
    const root = mkdtempSync(join(tmpdir(), "memtable-ncompact-"));
    try {
      const count = 300 + rng.below(2500);
      const { writes, tombs } = history(rng, count, 50 + rng.below(400));
      const runs = inputs(root, rng, writes, tombs);
      const snapshots: number[] = [];
      for (let n = rng.below(4); n > 0; n--) snapshots.push(1 + rng.below(count));
      const [name, op] = operators[rng.below(operators.length)]!;
      const bottommost = rng.below(2) === 0;
      const targetFileSize = 512 + rng.below(8192);
      const blockSize = 128 + rng.below(1024);
      const bloomBitsPerKey = [0, 10, 1 + rng.below(20)][rng.below(3)]!;
      const where = `seed ${seed} round ${round} (${name}, bottommost ${bottommost}, ` +
        `snapshots ${snapshots}, target ${targetFileSize}, bloom ${bloomBitsPerKey})`;
      const common = {
        jobNumber: 12,
        snapshots,
        bottommost,
        targetFileSize,
        blockSize,
        bloomBitsPerKey,
      };
      const readers = runs.map((run) => run.map((p) => TableReader.open(p)));
      let ts: JobResult;
      try {
        assert.ok(readers.flat().every(nativeCompactionReads), where);
        ts = await runCompactionJob({
          ...common,
          dir: mkdtempSync(join(root, "ts-")),
          runs: readers,
          ...(op ? { mergeOperator: op } : {}),
        });
      } finally {
        for (const r of readers.flat()) r.close();
      }
      const natDir = mkdtempSync(join(root, "native-"));
      const spec = op === undefined ? undefined : builtinSpecOf(op);
      const nat = await runNativeCompactionJob({
        ...common,
        dir: natDir,
        runs,
        ...(spec ? { merge: spec } : {}),
      });
      compare(ts, nat, where);
      if (ts.outputs.length > 1) split++;
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  assert.ok(split > 0, `seed ${seed}: no round split its outputs`);
});

test("the native compaction job stopped by its signal removes what it wrote", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-ncompact-"));
  try {
    const rng = new Rng(7);
    const { writes, tombs } = history(rng, 3000, 300);
    const runs = inputs(root, rng, writes, tombs);
    const out = mkdtempSync(join(root, "out-"));
    const signal = { aborted: false };
    const job = runNativeCompactionJob({
      dir: out,
      jobNumber: 3,
      runs,
      snapshots: [],
      bottommost: false,
      targetFileSize: 1024,
      blockSize: 256,
      signal,
    });
    signal.aborted = true; // seen after the first output is written
    await assert.rejects(job, CompactionAborted);
    assert.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the native compaction job refuses files it does not read, which the TypeScript job reads", async () => {
  // A RocksDB-written table: a user-key index with delta-encoded handles.
  const path = join(import.meta.dirname!, "fixtures", "sst", "g2_mixed_crc32c_fv5.sst");
  using r = TableReader.open(path);
  assert.equal(nativeCompactionReads(r), false);
  const out = mkdtempSync(join(tmpdir(), "memtable-ncompact-"));
  try {
    const common = {
      dir: out,
      jobNumber: 5,
      snapshots: [],
      bottommost: false,
      targetFileSize: 1 << 20,
    };
    await assert.rejects(
      runNativeCompactionJob({ ...common, runs: [[path]] }),
      (e: Error) => e instanceof TypeError && /not a file the native job reads/.test(e.message),
    );
    const ts = await runCompactionJob({ ...common, runs: [[r]] });
    assert.ok(ts.outputEntries > 0);
    assert.equal(readdirSync(out).length, ts.outputs.length);
    const damaged = join(out, "damaged.sst");
    const bytes = readFileSync(ts.outputs[0]!.path);
    bytes[3] = bytes[3]! ^ 0xff; // in the first data block
    writeFileSync(damaged, bytes);
    await assert.rejects(
      runNativeCompactionJob({ ...common, dir: mkdtempSync(join(out, "n-")), runs: [[damaged]] }),
      (e: Error) => e instanceof CorruptionError && /damaged\.sst/.test(e.message),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

function ldb(db: string, ...args: string[]): string {
  const r = spawnSync("ldb", [`--db=${db}`, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("Store.compactRange() compacts RocksDB's Snappy files with the TypeScript job, then its own natively, and RocksDB reads the result", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-ncompact-"));
  try {
    const db = join(root, "db");
    dbBenchFill(db, "snappy");
    const scan = () => ldb(db, "scan", "--hex").split("\n").filter((l) => l.startsWith("0x"));
    const foreign = readdirSync(db).filter((f) => f.endsWith(".sst")).filter((f) => {
      using t = TableReader.open(join(db, f));
      return !nativeCompactionReads(t);
    });
    assert.ok(foreign.length > 0, "RocksDB's files are not the native job's");
    const store = Store.open({ dir: db, targetFileSizeBase: 64 << 10 });
    const rows = () => [...store.iterator()].map((e) => `0x${hex(e.key)} : 0x${hex(e.value)}`);
    await store.compactRange(); // RocksDB's files among the inputs: the TypeScript job
    const afterFirst = rows();
    // Overwrite every tenth key: the new level-0 file overlaps the compacted ones.
    const keys = [...store.iterator()].map((e) => e.key).filter((_, i) => i % 10 === 0);
    for (const k of keys) store.put(k, "by the store");
    await store.flush();
    const before = store.stats().compactionsInWorker;
    await store.compactRange(); // only the store's own files now: the native job
    assert.ok(store.stats().compactionsInWorker > before, "a compaction ran in the Worker");
    const final = rows();
    assert.equal(final.length, afterFirst.length);
    assert.equal(
      final.filter((r) => r.endsWith(`0x${hex(utf8("by the store"))}`)).length,
      keys.length,
    );
    await store.close();
    assert.deepEqual(scan(), final);
    ldb(db, "checkconsistency");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The flush job: random writes spread over several memtables (and every representation), random
 * live snapshots, one flush — then every read at every live snapshot (and the latest) of every
 * key gives the same result from the SST file as from the memtables, while versions no snapshot
 * can see are gone. RocksDB's sst_dump verifies each file. Seeds are printed; replay with
 * MEMTABLE_FLUSH_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CorruptionError,
  fixedPrefix,
  MemTable,
  type MemTableRep,
  type MergeOperator,
  mergeOperators,
  stringAppend,
  uint64Add,
  ValueType,
} from "../mod.ts";
import { flushMemTables, flushMemTablesNative } from "../flush.ts";
import { TableReader } from "../table.ts";
import { corruptEntry, withFileFault } from "../src/testing.ts";
import { compareBytes, Rng, seedFor, tracingOperator, utf8 } from "./helpers.ts";

type Read = string;

/** A read through the memtables, newest first, operands carried into older ones. */
function readMemTables(
  mts: MemTable[],
  key: Uint8Array,
  snapshot: number,
  op: MergeOperator,
): Read {
  const operands: Uint8Array[] = [];
  for (const mt of mts) {
    const r = mt.get(key, { snapshot });
    if (r.kind === "absent") continue;
    if (r.kind === "merge") {
      operands.unshift(...r.operands);
      continue;
    }
    if (r.kind === "deleted") {
      return operands.length > 0
        ? `value ${op.fullMerge(key, undefined, operands).join(".")}`
        : "deleted";
    }
    const v = operands.length > 0 ? op.fullMerge(key, r.value, operands) : r.value;
    return `value ${v.join(".")}`;
  }
  return operands.length > 0
    ? `value ${op.fullMerge(key, undefined, operands).join(".")}`
    : "absent";
}

/** The same read from an SST file. */
function readTable(t: TableReader, key: Uint8Array, snapshot: number, op: MergeOperator): Read {
  let tomb = 0;
  for (const r of t.rangeTombstones()) {
    const s = Number(r.seq);
    if (
      s <= snapshot && s > tomb && compareBytes(r.start, key) <= 0 && compareBytes(key, r.end) < 0
    ) tomb = s;
  }
  const operands: Uint8Array[] = [];
  for (const v of t.versions(key)) {
    const s = Number(v.seq);
    if (s > snapshot) continue;
    if (s < tomb) break;
    if (v.type === ValueType.Merge) {
      operands.unshift(v.value);
      continue;
    }
    if (v.type === ValueType.Value) {
      return `value ${
        (operands.length > 0 ? op.fullMerge(key, v.value, operands) : v.value).join(".")
      }`;
    }
    return operands.length > 0
      ? `value ${op.fullMerge(key, undefined, operands).join(".")}`
      : "deleted";
  }
  if (operands.length > 0) return `value ${op.fullMerge(key, undefined, operands).join(".")}`;
  return tomb > 0 ? "deleted" : "absent";
}

const runs: [string, MergeOperator, MemTableRep][] = [
  ["uint64Add", uint64Add, "skiplist"],
  ["stringAppend", stringAppend(","), { type: "hashSkipList", bucketCount: 101 }],
  ["max", mergeOperators.max, "vector"],
  ["put", mergeOperators.put, { type: "hashLinkList", bucketCount: 7, thresholdUseSkiplist: 4 }],
];

runs.forEach(([label, op, rep], run) => {
  test(
    `a flush keeps every read at every live snapshot, ${label} (seeded)`,
    { timeout: 120_000 },
    () => {
      const base = seedFor("MEMTABLE_FLUSH_SEED", `flush test ${label}`);
      const rng = new Rng((base + run) >>> 0);
      const keys = Array.from({ length: 300 }, (_, i) => utf8(`k${(i * 7919) % 1000}`));
      const memtables: MemTable[] = []; // newest first
      const snapshots: number[] = [];
      let seq = 0;
      const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
      try {
        for (let m = 0; m < 3; m++) {
          const mt = new MemTable({ mergeOperator: op, rep, prefixExtractor: fixedPrefix(2) });
          memtables.unshift(mt);
          for (let i = 0; i < 1500; i++) {
            seq++;
            const key = keys[rng.below(rng.below(3) === 0 ? 20 : keys.length)]!;
            const r = rng.below(100);
            if (r < 2) {
              const other = keys[rng.below(keys.length)]!;
              const [a, b] = compareBytes(key, other) <= 0 ? [key, other] : [other, key];
              mt.addRangeDeletion(seq, a, b);
            } else if (r < 40) {
              mt.add(
                seq,
                ValueType.Merge,
                key,
                label === "uint64Add" ? uint64Add.operand(1 + rng.below(9)) : utf8(`m${seq}`),
              );
            } else if (r < 50) {
              mt.add(seq, ValueType.Deletion, key);
            } else {
              mt.add(
                seq,
                ValueType.Value,
                key,
                label === "uint64Add" ? uint64Add.operand(rng.below(1000)) : utf8(`v${seq}`),
              );
            }
            if (rng.below(200) === 0) snapshots.push(seq);
          }
          mt.markImmutable();
        }
        // The flush in TypeScript and the native one fold merges; the native one without an
        // operator keeps operands.
        for (const kind of ["TypeScript", "native", "native without an operator"]) {
          const path = join(dir, `${kind.replaceAll(" ", "_")}.sst`);
          const stats = kind === "TypeScript"
            ? flushMemTables(path, { memtables, snapshots, mergeOperator: op }, {
              blockSize: 1024,
              bloomBitsPerKey: 10,
            })
            : flushMemTablesNative(path, {
              memtables,
              snapshots,
              ...(kind === "native" ? { mergeOperator: op } : {}),
            }, { blockSize: 1024, bloomBitsPerKey: 10 });
          using t = TableReader.open(path);
          assert.equal(t.verify(), stats.outputEntries);
          assert.equal(
            stats.inputEntries,
            memtables.reduce((n, m) => n + m.numEntries - m.numRangeDeletes, 0),
          );
          assert.ok(stats.droppedEntries > 0, "no snapshot sees most old versions: some must go");
          const seqs = [...t.entries()].map((e) => Number(e.seq))
            .concat(t.rangeTombstones().map((r) => Number(r.seq)));
          assert.equal(Number(stats.largestSeq), Math.max(...seqs));
          assert.equal(Number(stats.smallestSeq), Math.min(...seqs));
          const where = `MEMTABLE_FLUSH_SEED=${base}, ${kind} flush`;
          for (const snapshot of [...snapshots, seq]) {
            for (const key of keys) {
              assert.equal(
                readTable(t, key, snapshot, op),
                readMemTables(memtables, key, snapshot, op),
                `key ${new TextDecoder().decode(key)} at ${snapshot} (${where})`,
              );
            }
          }
          const dump = spawnSync("sst_dump", [
            `--file=${path}`,
            "--command=verify",
            "--verify_checksum",
          ], {
            encoding: "utf8",
          });
          assert.equal(
            dump.error,
            undefined,
            `sst_dump not runnable (apt-get install rocksdb-tools)`,
          );
          assert.doesNotMatch(dump.stdout + dump.stderr, /corrupt|error|fail/i);
          // RocksDB lists exactly the entries the flush kept.
          const scan = spawnSync("sst_dump", [`--file=${path}`, "--command=scan", "--output_hex"], {
            encoding: "utf8",
          });
          const hex = (b: Uint8Array) =>
            [...b].map((x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
          assert.deepEqual(
            scan.stdout.split("\n").filter((l) => l.includes(" seq:")).map((l) => l.trim()),
            [...t.entries()].map((e) =>
              `'${hex(e.key)}' seq:${e.seq}, type:${e.type} => ${hex(e.value)}`.trim()
            ),
          );
        }
      } finally {
        for (const m of memtables) m.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** The operators the byte-identity test runs; undefined: none (operands kept). */
const identityOperators: [string, MergeOperator | undefined][] = [
  ["no operator", undefined],
  ["uint64Add", uint64Add],
  ['stringAppend(",")', stringAppend(",")],
  ['stringAppend("<->")', stringAppend("<->")],
  ['stringAppend("")', stringAppend("")],
  ["max", mergeOperators.max],
  ["put", mergeOperators.put],
];

/**
 * Random memtables (newest first) for the byte-identity test: 1–4 of them, merge runs (some
 * long, some across memtables), Values and deletions, SingleDeletes of keys with one Value,
 * range tombstones, writes repeated in an older memtable, counter operands of 8 bytes and of
 * other sizes; sequence numbers start at `base` (a bigint above 2^53 in some rounds).
 */
function identityMemTables(rng: Rng, op: MergeOperator | undefined, base: bigint): MemTable[] {
  const keys = Array.from({ length: 60 + rng.below(200) }, (_, i) => utf8(`k${(i * 7919) % 997}`));
  const count = 1 + rng.below(4);
  const memtables: MemTable[] = [];
  let seq = base;
  let single = 0;
  for (let m = 0; m < count; m++) {
    const mt = new MemTable(op === undefined ? {} : { mergeOperator: op });
    memtables.unshift(mt);
    const older = memtables[1];
    for (let i = 0, n = 200 + rng.below(800); i < n; i++) {
      seq++;
      const key = keys[rng.below(rng.below(3) === 0 ? 8 : keys.length)]!;
      const r = rng.below(100);
      const counter = rng.below(6) === 0 ? rng.bytes(rng.below(12)) : uint64Add.operand(rng.u32());
      const value = op === uint64Add ? counter : rng.bytes(rng.below(40));
      if (r < 3) {
        const other = keys[rng.below(keys.length)]!;
        const [a, b] = compareBytes(key, other) <= 0 ? [key, other] : [other, key];
        mt.addRangeDeletion(seq, a, b);
      } else if (r < 45) {
        mt.add(seq, ValueType.Merge, key, value);
      } else if (r < 55) {
        mt.add(seq, ValueType.Deletion, key);
      } else if (r < 58) {
        const k = `single${single++}`;
        mt.add(seq, ValueType.Value, k, value);
        mt.add(++seq, ValueType.SingleDeletion, k);
      } else {
        mt.add(seq, ValueType.Value, key, value);
      }
      // The same write in the older memtable too (a flush writes it once).
      if (older !== undefined && rng.below(40) === 0 && r >= 58) {
        older.add(seq, ValueType.Value, key, value);
      }
    }
  }
  for (const mt of memtables) mt.markImmutable();
  return memtables;
}

test(
  "flushMemTablesNative() writes the bytes flushMemTables() writes, with every built-in operator and none (seeded)",
  {
    timeout: 120_000,
  },
  () => {
    const seed = seedFor("MEMTABLE_FLUSH_IDENTITY_SEED", "flush identity test");
    const rng = new Rng(seed);
    const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
    try {
      for (let round = 0; round < 28; round++) {
        const [label, op] = identityOperators[round % identityOperators.length]!;
        const base = round % 5 === 4 ? (1n << 53n) + BigInt(rng.below(1000)) : 0n;
        const memtables = identityMemTables(rng, op, base);
        const last = memtables.reduce((n, m) => n + m.numEntries, 0);
        const snapshots = Array.from(
          { length: rng.below(6) },
          () => base + 1n + BigInt(rng.below(last)),
        ).map((q) => (q <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(q) : q));
        const options = {
          blockSize: [64, 512, 4096][rng.below(3)]!,
          restartInterval: 1 + rng.below(16),
          bloomBitsPerKey: [10, 0, 7.5, 1][round % 4]!, // the filter blocks are compared too
        };
        const where = `MEMTABLE_FLUSH_IDENTITY_SEED=${seed}, round ${round} (${label})`;
        try {
          const input = {
            memtables,
            snapshots,
            ...(op === undefined ? {} : { mergeOperator: op }),
          };
          const tsPath = join(dir, `${round}.ts.sst`);
          const nativePath = join(dir, `${round}.native.sst`);
          const ts = flushMemTables(tsPath, input, options);
          const nat = flushMemTablesNative(nativePath, input, options);
          const a = readFileSync(tsPath);
          const b = readFileSync(nativePath);
          assert.equal(b.length, a.length, `file sizes, ${where}`);
          assert.ok(a.equals(b), `the files differ, ${where}`);
          const filtered = options.bloomBitsPerKey > 0 && ts.outputEntries > 0;
          assert.equal(a.includes("fullfilter.rocksdb.BuiltinBloomFilter"), filtered, where);
          const figures = (s: typeof ts) => ({
            ...s,
            smallestSeq: Number(s.smallestSeq),
            largestSeq: Number(s.largestSeq),
          });
          assert.deepEqual(figures(nat), figures(ts), `figures, ${where}`);
          assert.ok(ts.outputEntries > 0 && ts.rangeTombstones >= 0, where);
        } finally {
          for (const m of memtables) m.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("a flush without snapshots keeps one version per key; without an operator merges stay as they are", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
  try {
    using older = new MemTable();
    older.add(1, ValueType.Value, "a", "a1");
    older.add(2, ValueType.Merge, "b", "b2");
    older.add(3, ValueType.Value, "b", "b3");
    using newer = new MemTable();
    newer.add(4, ValueType.Value, "a", "a4");
    newer.add(5, ValueType.Merge, "b", "b5");
    newer.add(6, ValueType.Merge, "b", "b6");
    newer.add(7, ValueType.Deletion, "c");
    const path = join(dir, "1.sst");
    const stats = flushMemTables(path, { memtables: [newer, older] });
    using t1 = TableReader.open(path);
    const got = [...t1.entries()].map((e) =>
      `${new TextDecoder().decode(e.key)}@${e.seq}:${e.type}`
    );
    // a: the newest only; b: both operands and the Value below them; c: the deletion.
    assert.deepEqual(got, ["a@4:1", "b@6:2", "b@5:2", "b@3:1", "c@7:0"]);
    assert.equal(stats.droppedEntries, 2);
    assert.equal(stats.smallestSeq, 3);
    assert.equal(stats.largestSeq, 7);
    // With an operator the run folds into one Value.
    using m1 = new MemTable({ mergeOperator: stringAppend("+") });
    m1.add(1, ValueType.Value, "k", "x");
    m1.add(2, ValueType.Merge, "k", "y");
    m1.add(3, ValueType.Merge, "k", "z");
    const p2 = join(dir, "2.sst");
    flushMemTables(p2, { memtables: [m1], mergeOperator: stringAppend("+") });
    using t2 = TableReader.open(p2);
    const e = [...t2.entries()];
    assert.deepEqual(e.map((x) => [x.seq, x.type, new TextDecoder().decode(x.value)]), [[
      3,
      ValueType.Value,
      "x+y+z",
    ]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a flush that fails midway leaves no file and the memtables as they were", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
  try {
    using mt = new MemTable();
    for (let i = 0; i < 1000; i++) mt.add(i + 1, ValueType.Value, `key${i}`, "v".repeat(100));
    mt.markImmutable();
    const path = join(dir, "000009.sst");
    for (const step of ["write", "sync", "rename"] as const) {
      assert.throws(
        () =>
          flushMemTables(
            path,
            { memtables: [mt] },
            withFileFault({}, (s: string) => {
              if (s === step) throw new Error(`disk full (injected at ${s})`);
            }),
          ),
        /disk full/,
      );
      assert.deepEqual(readdirSync(dir), [], `no stray file after a ${step} failure`);
    }
    assert.equal(mt.numEntries, 1000);
    assert.equal(mt.get("key999").kind, "value");
    const stats = flushMemTables(path, { memtables: [mt] });
    assert.ok(existsSync(path));
    assert.equal(stats.outputEntries, 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("flushMemTablesNative refuses a mutable memtable, bad options and an operator of your own, and writes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
  try {
    using mt = new MemTable();
    mt.add(1, ValueType.Value, "k", "v");
    const path = join(dir, "x.sst");
    assert.throws(() => flushMemTablesNative(path, { memtables: [mt] }), /not immutable/);
    mt.markImmutable();
    assert.throws(
      () => flushMemTablesNative(path, { memtables: [mt] }, { blockSize: 0 }),
      RangeError,
    );
    assert.throws(
      () => flushMemTablesNative(path, { memtables: [mt] }, { bloomBitsPerKey: 0.5 }),
      /^RangeError: flushMemTablesNative\(\): bloomBitsPerKey must be 0 \(no filter\) or in \[1, 100\]/,
    );
    assert.throws(
      () => flushMemTablesNative(path, { memtables: [mt], snapshots: [-1] }),
      /flushMemTablesNative\(\): snapshot/,
    );
    assert.throws(
      () => flushMemTablesNative(path, { memtables: [mt], mergeOperator: tracingOperator }),
      /^TypeError: flushMemTablesNative\(\): mergeOperator "test.Tracing" is not a built-in operator/,
    );
    assert.deepEqual(readdirSync(dir), []);
    const stats = flushMemTablesNative(path, { memtables: [mt], snapshots: [1] });
    assert.equal(stats.outputEntries, 1);
    assert.equal(new TextDecoder().decode(stats.smallestKey), "k");
    using t = TableReader.open(path);
    assert.equal(new TextDecoder().decode(t.get(utf8("k"))!.value), "v");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a flush refuses a corrupt entry (protection bytes) and writes nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-flush-"));
  try {
    using mt = new MemTable({ protectionBytesPerKey: 8 });
    for (let i = 0; i < 100; i++) mt.add(i + 1, ValueType.Value, `key${i}`, `value${i}`);
    assert.ok(corruptEntry(mt, "key42", 43, "value"));
    mt.markImmutable();
    assert.throws(
      () => flushMemTablesNative(join(dir, "a.sst"), { memtables: [mt] }),
      CorruptionError,
    );
    assert.throws(() => flushMemTables(join(dir, "b.sst"), { memtables: [mt] }), CorruptionError);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("importing mod.ts in a Worker installs no message handler: only the Store's flush Worker serves flushes", async () => {
  // Named as the Store names its flush Worker: the name alone must not make it one.
  const source = `import ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};\n` +
    `postMessage({ handler: typeof globalThis.onmessage === "function" });\n`;
  const w = new Worker(`data:text/javascript,${encodeURIComponent(source)}`, {
    type: "module",
    name: "memtable-flush",
  });
  try {
    const first = await new Promise((resolve, reject) => {
      w.onmessage = (e: MessageEvent) => resolve(e.data);
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    assert.deepEqual(first, { handler: false }); // not { listening: true }, and no handler
  } finally {
    w.terminate();
  }
});

/**
 * Store end to end: several write buffers' worth of random operations (puts, deletions, merges,
 * range deletions, batches) with snapshots held across flushes, every read compared with a
 * model — one never-flushed MemTable given the same writes — before and after each flush and
 * after reopening; flush failures that lose nothing; RocksDB reading what the store flushed.
 * Seeds are printed; replay with MEMTABLE_STORE_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  CorruptionError,
  type GetResult,
  MemTable,
  type MergeOperator,
  MergeOperatorError,
  nativeMemoryBytes,
  type Snapshot,
  SnapshotReleasedError,
  Store,
  StoreError,
  stringAppend,
  ValueType,
  WriteBatch,
  WriteBatchError,
  WriteBufferManager,
} from "../mod.ts";
import { TableBuilder, TableReader } from "../table.ts";
import { withFileFault } from "../src/testing.ts";
import { compareBytes, Rng, seedFor, text, utf8 } from "./helpers.ts";

const tableName = (n: number) => `${String(n).padStart(6, "0")}.sst`;

const hex = (b: Uint8Array | undefined) =>
  b === undefined ? "none" : [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const op: MergeOperator = stringAppend(",");

/** What the store should read: the model holds every version, so open operands have no base. */
function modelValue(key: Uint8Array, r: GetResult): Uint8Array | undefined {
  if (r.kind === "value") return r.value;
  if (r.kind === "merge") return op.fullMerge(key, undefined, r.operands);
  return undefined;
}

function checkReads(
  store: Store,
  model: MemTable,
  keys: Uint8Array[],
  snapshot: number,
  where: string,
): void {
  for (const k of keys) {
    assert.equal(
      hex(store.get(k, { snapshot })),
      hex(modelValue(k, model.get(k, { snapshot }))),
      `${new TextDecoder().decode(k)} at ${snapshot}: ${where}`,
    );
  }
  const sorted = [...keys].sort(compareBytes);
  const lower = sorted[Math.floor(sorted.length / 4)]!;
  const upper = sorted[Math.floor((sorted.length * 3) / 4)]!;
  const want = sorted.filter((k) => compareBytes(k, lower) >= 0 && compareBytes(k, upper) < 0)
    .map((k) => [hex(k), hex(modelValue(k, model.get(k, { snapshot })))])
    .filter(([, v]) => v !== "none");
  const got = [...store.iterator({ lower, upper, snapshot })].map((
    e,
  ) => [hex(e.key), hex(e.value)]);
  assert.deepEqual(got, want, `iterator at ${snapshot}: ${where}`);
}

test("Store matches a model across flushes, snapshots and a reopen (seeded)", {
  timeout: 300_000,
}, async () => {
  const seed = seedFor("MEMTABLE_STORE_SEED", "store test");
  const rng = new Rng(seed);
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const keys = Array.from({ length: 400 }, (_, i) => utf8(`key${(i * 7919) % 4000}`));
  const wbm = new WriteBufferManager({ bufferSize: 1 << 20 });
  let store = Store.open({
    dir,
    writeBufferSize: 64 << 10,
    maxWriteBufferNumber: 3,
    mergeOperator: op,
    writeBufferManager: wbm,
    blockSize: 1024,
  });
  const model = new MemTable({ writeBufferSize: 1 << 30, mergeOperator: op });
  const snapshots: Snapshot[] = [];
  const where = `MEMTABLE_STORE_SEED=${seed}`;
  try {
    for (let i = 0; i < 12_000; i++) {
      const key = keys[rng.below(rng.below(4) === 0 ? 30 : keys.length)]!;
      const r = rng.below(100);
      const s = store.lastSequence + 1;
      if (r < 2) {
        const other = keys[rng.below(keys.length)]!;
        const [a, b] = compareBytes(key, other) <= 0 ? [key, other] : [other, key];
        store.deleteRange(a, b);
        model.addRangeDeletion(s, a, b);
      } else if (r < 6) {
        const batch = new WriteBatch();
        for (let j = 0; j < 5; j++) {
          const k = keys[rng.below(keys.length)]!;
          if (j % 2 === 0) batch.put(k, rng.bytes(1 + rng.below(40)));
          else batch.merge(k, utf8(`b${i}.${j}`));
        }
        assert.equal(store.write(batch), s);
        model.write(batch, s);
      } else if (r < 30) {
        const v = utf8(`m${i}`);
        store.merge(key, v);
        model.add(s, ValueType.Merge, key, v);
      } else if (r < 40) {
        store.delete(key);
        model.add(s, ValueType.Deletion, key);
      } else {
        const v = rng.bytes(rng.below(100));
        store.put(key, v);
        model.add(s, ValueType.Value, key, v);
      }
      if (rng.below(500) === 0) snapshots.push(store.snapshot());
      if (rng.below(1500) === 0 && snapshots.length > 0) {
        snapshots.splice(rng.below(snapshots.length), 1)[0]!.release();
      }
      if (i % 2000 === 1999) {
        // Reads while flushes may be pending, then after all of them.
        for (const snap of [store.lastSequence, ...snapshots.map((x) => Number(x.seq))]) {
          checkReads(store, model, keys, snap, `${where}, op ${i}, before flush`);
        }
        await store.whenWritable();
        await store.flush();
        for (const snap of [store.lastSequence, ...snapshots.map((x) => Number(x.seq))]) {
          checkReads(store, model, keys, snap, `${where}, op ${i}, after flush`);
        }
      }
    }
    assert.equal(store.numImmutableMemTables, 0);
    const st = store.stats();
    assert.ok(st.flushes >= 6 && st.flushedBytes > 0, `${st.flushes} flushes`);
    assert.equal(st.flushesInWorker, st.flushes, "a built-in operator: flushes run in the Worker");
    for (const s of snapshots) s.release();
    const last = store.lastSequence;
    await store.close();
    assert.throws(() => store.get("x"), StoreError);
    assert.equal(wbm.memoryUsage, 0, "every memtable returned its memory to the manager");
    store = Store.open({ dir, mergeOperator: op });
    assert.equal(store.lastSequence, last);
    checkReads(store, model, keys, last, `${where}, reopened`);
  } finally {
    await store.close();
    model.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store: a failing flush loses nothing and leaves no file; the next one succeeds", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  let failAt: string | undefined = "write";
  const store = Store.open(withFileFault({ dir, writeBufferSize: 1 << 20 }, (step: string) => {
    if (step === failAt) throw new Error(`disk full (injected at ${step})`);
  }));
  try {
    for (let i = 0; i < 1000; i++) store.put(`k${i}`, `v${i}`);
    for (const step of ["write", "sync", "rename"]) {
      failAt = step;
      await assert.rejects(store.flush(), /disk full/);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith(".sst") || f.endsWith(".tmp")),
        [],
      );
      assert.equal(store.numImmutableMemTables, 1, "the memtable stays, immutable, readable");
      assert.equal(new TextDecoder().decode(store.get("k999")), "v999");
    }
    failAt = undefined;
    store.put("after", "1"); // writes go on meanwhile
    await store.flush();
    assert.equal(store.files.length, 1, "both memtables in one file");
    assert.equal(store.stats().flushesInWorker, 0, "a fault hook keeps flushes on this thread");
    assert.equal(store.numImmutableMemTables, 0);
    assert.equal(new TextDecoder().decode(store.get("k5")), "v5");
    assert.equal(new TextDecoder().decode(store.get("after")), "1");
  } finally {
    await store.close();
  }
  // A file the manifest does not list (a flush that died before it was recorded) is removed.
  writeFileSync(join(dir, "000099.sst"), "partial");
  const again = Store.open({ dir });
  assert.ok(!readdirSync(dir).includes("000099.sst"));
  assert.equal(new TextDecoder().decode(again.get("k999")), "v999");
  await again.close();
  rmSync(join(dir, ".."), { recursive: true, force: true });
});

test("RocksDB reads what the store flushed (ldb repair of its files, ldb scan)", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  // ldb folds merges with StringAppend(":"): the same operator here gives the same values.
  const store = Store.open({ dir, writeBufferSize: 32 << 10, mergeOperator: stringAppend(":") });
  const rng = new Rng(11);
  for (let i = 0; i < 3000; i++) {
    const k = `key${String(rng.below(500)).padStart(4, "0")}`;
    const r = rng.below(10);
    if (r === 0) store.delete(k);
    else if (r < 3) store.merge(k, `m${i}`);
    else if (r === 3 && i % 50 === 0) store.deleteRange(k, `${k}5`);
    else store.put(k, `v${i}`);
  }
  await store.flush();
  const want = [...store.iterator()].map((e) =>
    `0x${hex(e.key).toUpperCase()} : 0x${hex(e.value).toUpperCase()}`
  );
  await store.close();
  const db = join(dir, "..", "rocksdb");
  rmSync(db, { recursive: true, force: true });
  spawnSync("mkdir", ["-p", db]);
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".sst"))) {
    copyFileSync(join(dir, f), join(db, f));
  }
  const repair = spawnSync("ldb", ["repair", `--db=${db}`], { encoding: "utf8" });
  assert.equal(repair.error, undefined, "ldb not runnable (apt-get install rocksdb-tools)");
  assert.equal(repair.status, 0, repair.stderr);
  const scan = spawnSync("ldb", ["scan", `--db=${db}`, "--hex"], { encoding: "utf8" });
  assert.equal(scan.status, 0, scan.stderr);
  assert.deepEqual(scan.stdout.split("\n").filter((l) => l.startsWith("0x")), want);
  rmSync(join(dir, ".."), { recursive: true, force: true });
});

test("Store: a merge operator of your own — the flush Worker keeps operands, reads fold them", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const sum: MergeOperator = {
    name: "test.Sum",
    fullMerge(_key, existing, operands) {
      let n = existing === undefined ? 0 : Number(new TextDecoder().decode(existing));
      for (const o of operands) n += Number(new TextDecoder().decode(o));
      return utf8(String(n));
    },
  };
  const store = Store.open({ dir, writeBufferSize: 1 << 20, mergeOperator: sum });
  try {
    store.put("n", "10");
    for (let i = 1; i <= 100; i++) store.merge("n", String(i));
    await store.flush();
    {
      using t = TableReader.open(join(dir, tableName(store.files[0]!.number)));
      assert.equal(t.versions(utf8("n")).length, 101, "the Worker kept every operand");
    }
    for (let i = 1; i <= 10; i++) store.merge("n", "1000");
    await store.flush();
    assert.equal(new TextDecoder().decode(store.get("n")), String(10 + 5050 + 10_000));
    const st = store.stats();
    assert.equal(st.flushes, 2);
    assert.equal(st.flushesInWorker, 2, "off the writer's thread even with a custom operator");
    assert.deepEqual(
      [...store.iterator()].map((e) => new TextDecoder().decode(e.value)),
      [String(10 + 5050 + 10_000)],
    );
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store: two stores share one WriteBufferManager budget", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-store-"));
  const wbm = new WriteBufferManager({ bufferSize: 512 << 10 });
  // Write buffers far above the budget: only the manager's rule switches memtables.
  const a = Store.open({
    dir: join(root, "a"),
    writeBufferSize: 64 << 20,
    writeBufferManager: wbm,
  });
  const b = Store.open({
    dir: join(root, "b"),
    writeBufferSize: 64 << 20,
    writeBufferManager: wbm,
  });
  try {
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      (i % 3 === 0 ? b : a).put(`key${i}`, "x".repeat(100));
      peak = Math.max(peak, wbm.mutableMemtableMemoryUsage);
      if (i % 500 === 499) {
        await a.whenWritable();
        await b.whenWritable();
      }
    }
    await a.flush();
    await b.flush();
    assert.ok(a.files.length >= 2 && b.files.length >= 1, `${a.files.length} / ${b.files.length}`);
    // Mutable memory never passes 7/8 of the budget by more than the last write.
    assert.ok(peak <= (512 << 10) * 7 / 8 + (64 << 10), `peak mutable ${peak}`);
    assert.equal(new TextDecoder().decode(a.get("key1")), "x".repeat(100));
    assert.equal(new TextDecoder().decode(b.get("key0")), "x".repeat(100));
  } finally {
    await a.close();
    await b.close();
    rmSync(root, { recursive: true, force: true });
  }
  assert.equal(wbm.memoryUsage, 0);
});

/** Runs each call and checks it throws `kind` with a message matching the pattern. */
function refuses(cases: [() => unknown, RegExp, new (...args: never[]) => Error][]): void {
  for (const [call, message, kind] of cases) {
    assert.throws(call, (e: Error) => e instanceof kind && message.test(e.message), `${message}`);
  }
}

test("Store.open() refuses unknown options and wrong types or ranges, naming the option, and creates nothing", () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-store-"));
  const dir = join(root, "db");
  const open = (o: object) => () => Store.open({ dir, ...o } as never);
  try {
    refuses([
      [
        open({ writeBuferSize: 1 << 20 }),
        /^Store\.open\(\): unknown option "writeBuferSize"; known: dir, writeBufferSize, maxWriteBufferNumber, /,
        TypeError,
      ],
      [() => Store.open(null as never), /^Store\.open\(\): options must be an object/, TypeError],
      [
        open({ dir: "" }),
        /^Store\.open\(\): dir must be a directory path, got string ""$/,
        TypeError,
      ],
      [
        open({ dir: 5 }),
        /^Store\.open\(\): dir must be a directory path, got number 5$/,
        TypeError,
      ],
      [
        open({ writeBufferSize: "64" }),
        /^Store\.open\(\): writeBufferSize must be an integer, got string "64"$/,
        TypeError,
      ],
      [
        open({ writeBufferSize: 0 }),
        /^Store\.open\(\): writeBufferSize must be an integer ≥ 1, got 0$/,
        RangeError,
      ],
      [
        open({ maxWriteBufferNumber: 1 }),
        /^Store\.open\(\): maxWriteBufferNumber must be an integer ≥ 2, got 1$/,
        RangeError,
      ],
      [
        open({ minWriteBufferNumberToMerge: 0.5 }),
        /^Store\.open\(\): minWriteBufferNumberToMerge must be an integer ≥ 1, got 0.5$/,
        RangeError,
      ],
      [open({ blockSize: -1 }), /^Store\.open\(\): blockSize must be an integer ≥ 1/, RangeError],
      [
        open({ flushInWorker: "yes" }),
        /^Store\.open\(\): flushInWorker must be a boolean, got string "yes"$/,
        TypeError,
      ],
      [
        open({ writeBufferManager: {} }),
        /^Store\.open\(\): writeBufferManager must be a WriteBufferManager, got Object$/,
        TypeError,
      ],
      [
        open({ mergeOperator: { name: "x" } }),
        /^Store\.open\(\): mergeOperator must be an object with a string name, a fullMerge/,
        TypeError,
      ],
      [open({ rep: "bogus" }), /^Store\.open\(\): rep type must be "skiplist"/, TypeError],
      [
        open({ rep: "hashSkipList" }),
        /^Store\.open\(\): rep hashSkipList .* needs a prefixExtractor/,
        TypeError,
      ],
      [open({ prefixExtractor: 5 }), /^Store\.open\(\): prefixExtractor must come/, TypeError],
      [
        () => Store.open(withFileFault({ dir }, "x")),
        /^Store\.open\(\): the file fault hook must be a function, got string$/,
        TypeError,
      ],
    ]);
    assert.deepEqual(readdirSync(root), [], "a refused open creates no directory");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("Store.get() and Store.iterator() refuse unknown read options and bad keys, naming the call", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const store = Store.open({ dir });
  try {
    store.put("k", "v");
    const released = store.snapshot();
    released.release();
    refuses([
      [
        () => store.get("k", { snapshto: 1 } as never),
        /^Store\.get\(\): unknown option "snapshto"; known: snapshot$/,
        TypeError,
      ],
      [
        () => store.get(5 as never),
        /^Store\.get\(\): key must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [
        () => store.get("k", 5 as never),
        /^Store\.get\(\): options must be an object, got number 5$/,
        TypeError,
      ],
      [
        () => store.get("k", { snapshot: -1 }),
        /^Store\.get\(\): sequence number must be a non-negative integer, got -1$/,
        RangeError,
      ],
      [
        () => store.get("k", { snapshot: "1" as never }),
        /^Store\.get\(\): snapshot must be a Snapshot or a sequence number, got string "1"$/,
        TypeError,
      ],
      [() => store.get("k", { snapshot: released }), /^Store\.get\(\)/, SnapshotReleasedError],
      [
        () => [...store.iterator({ lowr: "a" } as never)],
        /^Store\.iterator\(\): unknown option "lowr"; known: snapshot, gt, gte, lower, lt, lte, upper, prefix, reverse, limit$/,
        TypeError,
      ],
      [
        () => [...store.iterator({ lower: 5 as never })],
        /^Store\.iterator\(\): lower must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [
        () => [...store.iterator({ snapshot: 1.5 })],
        /^Store\.iterator\(\): sequence number must be a non-negative integer, got 1.5$/,
        RangeError,
      ],
    ]);
    assert.equal(new TextDecoder().decode(store.get("k", { snapshot: store.lastSequence })), "v");
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.merge() and Store.write() of a Merge record are refused without a merge operator; nothing is written", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  let store = Store.open({ dir });
  try {
    store.put("k", "base");
    const seq = store.lastSequence;
    refuses([
      [
        () => store.merge("k", "x"),
        /^Store\.merge\(\): a Merge needs a merge operator and this store has none \(RocksDB: "NotSupported: Provide a merge_operator when opening DB"\); open the store with mergeOperator; nothing was written$/,
        MergeOperatorError,
      ],
      [
        () => store.write(new WriteBatch().put("a", "1").merge("k", "y")),
        /^Store\.write\(\): record 1, a Merge, needs a merge operator .*nothing was written$/,
        MergeOperatorError,
      ],
    ]);
    assert.equal(store.lastSequence, seq, "no sequence number was used");
    assert.equal(store.get("a"), undefined, "the batch's Put was not applied either");
    assert.equal(new TextDecoder().decode(store.get("k")), "base", "reads still work");
    assert.equal(store.write(new WriteBatch().put("a", "1")), seq + 1, "a batch without one is");
    await store.flush();
    await store.close();
    store = Store.open({ dir });
    assert.deepEqual(
      [...store.iterator()].map((e) => new TextDecoder().decode(e.value)),
      ["1", "base"],
    );
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store writes name the Store call in their errors, not the MemTable inside, and change nothing", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const store = Store.open({ dir, mergeOperator: op });
  try {
    const malformed = new Uint8Array(12);
    malformed[8] = 1; // the header counts a record the batch does not hold
    refuses([
      [
        () => store.put(5 as never, "v"),
        /^Store\.put\(\): key must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [() => store.put("k", {} as never), /^Store\.put\(\): value must be/, TypeError],
      [() => store.delete(null as never), /^Store\.delete\(\): key must be/, TypeError],
      [() => store.singleDelete([] as never), /^Store\.singleDelete\(\): key .*Array$/, TypeError],
      [() => store.merge(5 as never, "x"), /^Store\.merge\(\): key must be/, TypeError],
      [
        () => store.deleteRange("b", "a"),
        /^Store\.deleteRange\(\): end comes before start$/,
        RangeError,
      ],
      [
        () => store.put("x".repeat((8 << 20) + 1), "v"),
        /^Store\.put\(\): key is 8388609 bytes, the maximum is 8388608$/,
        RangeError,
      ],
      [
        () => store.write(WriteBatch.from(malformed)),
        /^Store\.write\(\): wrong count: the header says 1 records/,
        WriteBatchError,
      ],
      [() => store.write("batch" as never), /^Store\.write\(\): expected a WriteBatch/, TypeError],
    ]);
    assert.equal(store.lastSequence, 0);
    assert.deepEqual([...store.iterator()], []);
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

const writer = fileURLToPath(new URL("./fixtures/store_writer.ts", import.meta.url));

/** Runs the store_writer fixture with `args` in a child process; its output. */
function runWriter(...args: string[]): string {
  const runtime = "Deno" in globalThis
    ? ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", writer]
    : [writer];
  const r = spawnSync(process.execPath, [...runtime, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Runs RocksDB's ldb on the database `dir`; its output. */
function ldb(dir: string, ...args: string[]): string {
  const r = spawnSync("ldb", [`--db=${dir}`, ...args], { encoding: "utf8" });
  assert.equal(r.error, undefined, "ldb not runnable (apt-get install rocksdb-tools)");
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** What RocksDB reads in the database `dir`: `key : value` lines. */
function ldbScan(dir: string): string[] {
  return ldb(dir, "scan").split("\n").filter((l) => l !== "");
}

/** Writes a store of the earlier format: table file i + 1 holds `files[i]`'s (key, seq)s. */
function writeLegacyStore(dir: string, files: [string, number][][]): void {
  mkdirSync(dir, { recursive: true });
  const listed = files.map((entries, i) => {
    const b = new TableBuilder();
    for (const [k, seq] of entries) b.add(k, seq, ValueType.Value, String(seq));
    const bytes = b.finish();
    writeFileSync(join(dir, tableName(i + 1)), bytes);
    const seqs = entries.map((e) => e[1]);
    return {
      number: i + 1,
      smallestSeq: Math.min(...seqs),
      largestSeq: Math.max(...seqs),
      size: bytes.length,
    };
  });
  const lastSequence = Math.max(...listed.map((f) => f.largestSeq));
  const manifest = { version: 1, files: listed, lastSequence, nextFileNumber: files.length + 1 };
  writeFileSync(join(dir, "MANIFEST.json"), JSON.stringify(manifest));
}

/** Every file of `dir` with its bytes (hex), for checking that a call changed nothing. */
function contentsOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = hex(readFileSync(join(dir, f)));
  return out;
}

/**
 * Descriptors this process holds open on files in `dir`, counted in /proc (Linux) by a child
 * process: Deno lets a program read its own /proc entries only with --allow-all.
 */
function descriptorsInto(dir: string, names = "*"): number {
  const r = spawnSync("find", [`/proc/${process.pid}/fd`, "-lname", `${dir}/${names}`], {
    encoding: "utf8",
  });
  assert.equal(r.error, undefined, "find not runnable");
  // find may also report descriptors that closed while it ran (the spawn's own pipes).
  return r.stdout.split("\n").filter((l) => l !== "").length;
}

/** Descriptors this process holds open on SST files in `dir` (the LOCK's is not one). */
const tablesOpen = (dir: string) => descriptorsInto(dir, "*.sst");

test("Store.open() of a store of the earlier format (MANIFEST.json) checks every field, names the file and the field, opens nothing on failure, and converts it", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  writeLegacyStore(dir, [[["a", 1]], [["b", 2], ["c", 3]]]);
  let store: Store | undefined;
  const manifestPath = join(dir, "MANIFEST.json");
  const good = readFileSync(manifestPath, "utf8");
  const base = JSON.parse(good);
  assert.deepEqual(base.files.map((f: { number: number }) => f.number), [1, 2]);
  const where = `^Store\\.open\\(\\): ${manifestPath.replace(/[.]/g, "\\.")}`;
  const edited = (edit: (m: any) => void) => {
    const m = structuredClone(base);
    edit(m);
    return JSON.stringify(m);
  };
  const cases: [string, string, RegExp, new (...args: never[]) => Error][] = [
    [
      "a path as a file number",
      edited((m) => (m.files[0].number = "../../etc/x")),
      new RegExp(
        `${where}: files\\[0\\]\\.number must be a positive integer, got "\\.\\./\\.\\./etc/x"$`,
      ),
      CorruptionError,
    ],
    [
      "a string as lastSequence",
      edited((m) => (m.lastSequence = "abc")),
      new RegExp(`${where}: lastSequence must be a non-negative integer, got "abc"$`),
      CorruptionError,
    ],
    [
      "lastSequence below a file's",
      edited((m) => (m.lastSequence = 1)),
      new RegExp(`${where}: lastSequence 1 is below files\\[1\\]\\.largestSeq 3: later writes`),
      CorruptionError,
    ],
    [
      "nextFileNumber not above the files'",
      edited((m) => (m.nextFileNumber = 2)),
      new RegExp(`${where}: nextFileNumber 2 must be above files\\[1\\]\\.number 2$`),
      CorruptionError,
    ],
    [
      "a file listed twice",
      edited((m) => (m.files[1].number = 1)),
      new RegExp(`${where}: files\\[1\\]\\.number 1 must be above files\\[0\\]\\.number 1`),
      CorruptionError,
    ],
    [
      "a negative sequence number",
      edited((m) => (m.files[0].smallestSeq = -1)),
      new RegExp(`${where}: files\\[0\\]\\.smallestSeq must be a non-negative integer, got -1$`),
      CorruptionError,
    ],
    [
      "a missing field",
      edited((m) => delete m.files[1].size),
      new RegExp(`${where}: files\\[1\\]\\.size must be a non-negative integer, got undefined$`),
      CorruptionError,
    ],
    [
      "files not an array",
      edited((m) => (m.files = {})),
      new RegExp(`${where}: files must be an array, got \\{\\}$`),
      CorruptionError,
    ],
    [
      "another version",
      edited((m) => (m.version = 2)),
      new RegExp(`${where} is not a manifest of this library: version must be 1, got 2$`),
      StoreError,
    ],
    ["not JSON", "{ files: [", new RegExp(`${where} is not JSON: `), CorruptionError],
    [
      "a wrong size",
      edited((m) => (m.files[0].size = 5)),
      new RegExp(
        `^Store\\.open\\(\\): .*/000001\\.sst is \\d+ bytes; .*files\\[0\\]\\.size says 5$`,
      ),
      CorruptionError,
    ],
    [
      "a listed file that is missing",
      edited((m) => {
        m.files.push({ number: 7, smallestSeq: 9, largestSeq: 9, size: 100 });
        m.lastSequence = 9;
        m.nextFileNumber = 8;
      }),
      new RegExp(`${where} lists 000007\\.sst \\(files\\[2\\]\\), which is missing from `),
      CorruptionError,
    ],
  ];
  const before = nativeMemoryBytes();
  try {
    for (const [name, text, message, kind] of cases) {
      writeFileSync(manifestPath, text);
      const files = contentsOf(dir);
      assert.throws(
        () => Store.open({ dir }),
        (e: Error) => e instanceof kind && message.test(e.message) && !("code" in e),
        `${name}: ${message}`,
      );
      assert.deepEqual(contentsOf(dir), files, `${name}: the directory is as it was`);
      assert.equal(descriptorsInto(dir), 0, `${name}: no descriptor left open`);
    }
    // A damaged second file: the first, opened before it, is closed again.
    writeFileSync(manifestPath, good);
    const second = join(dir, "000002.sst");
    const intact = readFileSync(second);
    writeFileSync(second, new Uint8Array(intact.length).fill(7));
    assert.throws(
      () => Store.open({ dir }),
      (e: Error) =>
        e instanceof CorruptionError && /^Store\.open\(\): .*000002\.sst/.test(e.message),
    );
    assert.equal(descriptorsInto(dir), 0, "the first file's descriptor was closed");
    assert.equal(nativeMemoryBytes(), before, "the first memtable was released");
    writeFileSync(second, intact);
    store = Store.open({ dir });
    assert.deepEqual(
      [...store.iterator()].map((e) => new TextDecoder().decode(e.key)),
      ["a", "b", "c"],
    );
    assert.deepEqual(store.files.map((f) => [f.number, f.level, f.smallestSeq, f.largestSeq]), [
      [1, 0, 1, 1],
      [2, 0, 2, 3],
    ]);
    await store.close();
    store = undefined;
    const names = readdirSync(dir);
    assert.ok(!names.includes("MANIFEST.json") && names.includes("CURRENT"), `${names}`);
    // Converted: a RocksDB database, its files in RocksDB's MANIFEST with their key ranges.
    assert.deepEqual(ldbScan(dir), ["a : 1", "b : 2", "c : 3"]);
  } finally {
    await store?.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.open() opens a database RocksDB wrote (its table files and its log) and RocksDB opens what the store wrote", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "rocksdb");
  try {
    ldb(dir, "--create_if_missing", "put", "k", "v");
    ldb(dir, "compact"); // flushes k to an SST file
    ldb(dir, "put", "k2", "v2"); // in RocksDB's log only: RocksDB does not flush when it closes
    ldb(dir, "delete", "k");
    const names = readdirSync(dir);
    assert.ok(names.some((f) => f.endsWith(".sst")) && names.some((f) => f.endsWith(".log")));
    let store = Store.open({ dir });
    assert.equal(store.get("k"), undefined, "the deletion replayed from RocksDB's log");
    assert.equal(text(store.get("k2")!), "v2");
    // (RocksDB flushed k2 when ldb opened the database again to delete k: one batch left.)
    assert.equal(store.stats().recovery.batches, 1);
    assert.equal(store.stats().recovery.flushed, true);
    store.put("k3", "v3");
    await store.close();
    assert.deepEqual(ldbScan(dir), ["k2 : v2", "k3 : v3"]);
    // What a store left in its log only (its process ended without a flush or a close),
    // RocksDB replays too; and so does the store.
    assert.match(runWriter("ops", dir, "put:k4=v4", "del:k2", "range:k3..k31"), /^done 7$/m);
    const logs = readdirSync(dir).filter((f) => f.endsWith(".log"));
    assert.ok(logs.some((f) => statSync(join(dir, f)).size > 0), `${logs}`);
    assert.deepEqual(ldbScan(dir), ["k4 : v4"]);
    store = Store.open({ dir });
    assert.deepEqual([...store.iterator()].map((e) => `${text(e.key)}=${text(e.value)}`), [
      "k4=v4",
    ]);
    await store.close();
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.open() removes only what a store's own writes left; a directory it cannot prove a database's is refused and kept", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-store-"));
  const dir = join(root, "db");
  try {
    let store = Store.open({ dir, flushInWorker: false });
    assert.deepEqual(
      readdirSync(dir).sort(),
      ["000003.log", "CURRENT", "IDENTITY", "LOCK", "MANIFEST-000001", "OPTIONS-000002"],
      "a new database: its MANIFEST, OPTIONS, IDENTITY and log at once (and its LOCK)",
    );
    store.put("a", "1");
    await store.flush(); // a new log 000004, the table file 000005
    assert.deepEqual(store.files.map((f) => f.number), [5]);
    await store.close();
    // Files of other names in a database directory are left alone (as RocksDB leaves them);
    // leftovers of a store's own writes go: a flush that died after its rename (numbered at
    // or above the MANIFEST's next file number), temporaries.
    const others = { "notes.txt": "mine", "backup.tmp": "mine", "0000002.sst": "?" };
    const leftovers = ["000099.sst", "OPTIONS-000007.123.0.tmp", "000008.sst.9.1.tmp"];
    for (const [f, body] of Object.entries(others)) writeFileSync(join(dir, f), body);
    for (const f of leftovers) writeFileSync(join(dir, f), "partial");
    writeFileSync(join(dir, "000009.dbtmp"), "MANIFEST-000009\n");
    store = Store.open({ dir });
    const names = readdirSync(dir);
    for (const f of Object.keys(others)) assert.ok(names.includes(f), `${f} is kept`);
    for (const f of [...leftovers, "000009.dbtmp"]) assert.ok(!names.includes(f), `${f} goes`);
    assert.ok(names.includes("000005.sst"));
    assert.equal(text(store.get("a")!), "1");
    await store.close();
    // A directory with files and no CURRENT (or MANIFEST.json) is not provably a database.
    const other = join(root, "other");
    mkdirSync(other);
    copyFileSync(join(dir, "000005.sst"), join(other, "000005.sst"));
    writeFileSync(join(other, "MANIFEST.json.1.1.tmp"), "");
    writeFileSync(join(other, "notes.txt"), "mine");
    const before = contentsOf(other);
    assert.throws(
      () => Store.open({ dir: join(other) }),
      (e: Error) =>
        e instanceof StoreError &&
        /did not write: 000005\.sst, notes\.txt\. A store opens a RocksDB database/.test(e.message),
    );
    assert.deepEqual(contentsOf(other), before);
    // ... unless all it holds is the empty beginning of one (a creation cut short).
    const cut = join(root, "cut");
    mkdirSync(cut);
    writeFileSync(join(cut, "IDENTITY"), "x");
    writeFileSync(join(cut, "000003.log"), "");
    writeFileSync(join(cut, "OPTIONS-000002"), "x");
    store = Store.open({ dir: cut });
    assert.equal(store.lastSequence, 0);
    await store.close();
    // A path that is a file is refused too.
    assert.throws(
      () => Store.open({ dir: join(dir, "CURRENT") }),
      (e: Error) => e instanceof StoreError && /CURRENT is not a directory$/.test(e.message),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Writes a store directory of `n` SST files (file i + 1 holds key<i> = v<i>) and its manifest. */
function writeStoreFiles(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (let i = 0; i < n; i++) {
    const b = new TableBuilder();
    b.add(`key${i}`, i + 1, ValueType.Value, `v${i}`);
    const bytes = b.finish();
    writeFileSync(join(dir, `${String(i + 1).padStart(6, "0")}.sst`), bytes);
    files.push({ number: i + 1, smallestSeq: i + 1, largestSeq: i + 1, size: bytes.length });
  }
  const manifest = { version: 1, files, lastSequence: n, nextFileNumber: n + 1 };
  writeFileSync(join(dir, "MANIFEST.json"), JSON.stringify(manifest));
}

test("Store keeps at most maxOpenFiles SST descriptors open and reopens files on demand", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  writeStoreFiles(dir, 20);
  // Every flush stays a level-0 file: no compaction merges them.
  let store = Store.open({ dir, maxOpenFiles: 4, disableAutoCompactions: true });
  try {
    assert.ok(tablesOpen(dir) <= 4, `${tablesOpen(dir)} open after Store.open()`);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20; i++) {
        assert.equal(new TextDecoder().decode(store.get(`key${i}`)), `v${i}`);
        assert.ok(tablesOpen(dir) <= 4, `${tablesOpen(dir)} open after key${i}`);
      }
    }
    assert.equal([...store.iterator()].length, 20);
    assert.ok(tablesOpen(dir) <= 4, `${tablesOpen(dir)} open after a scan`);
    const st = store.stats();
    assert.equal(st.maxOpenFiles, 4);
    assert.ok(st.openTableFiles >= 1 && st.openTableFiles <= 4, `${st.openTableFiles}`);
    store.put("key20", "v20");
    await store.flush(); // a 21st file
    assert.equal(store.files.length, 21);
    assert.ok(tablesOpen(dir) <= 4, `${tablesOpen(dir)} open after a flush`);
    await store.close();
    assert.equal(descriptorsInto(dir), 0, "close() closes every descriptor");
    store = Store.open({ dir, maxOpenFiles: 1 });
    for (let i = 20; i >= 0; i--) {
      assert.equal(new TextDecoder().decode(store.get(`key${i}`)), `v${i}`);
    }
    assert.ok(tablesOpen(dir) <= 1);
    refuses([
      [
        () => Store.open({ dir, maxOpenFiles: 0 }),
        /^Store\.open\(\): maxOpenFiles must be -1 \(a bound from the process's limit\) or an integer ≥ 1, got 0$/,
        RangeError,
      ],
      [
        () => Store.open({ dir, maxOpenFiles: "8" as never }),
        /^Store\.open\(\): maxOpenFiles must be an integer, got string "8"$/,
        TypeError,
      ],
    ]);
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

/** Runs tests/fixtures/store_descriptors.ts in a child of this runtime under `ulimit -n`. */
function runUnderLimit(limit: number, mode: string, dir: string, n: number) {
  const child = fileURLToPath(new URL("./fixtures/store_descriptors.ts", import.meta.url));
  const runtime = "Deno" in globalThis
    ? [process.execPath, "run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env"]
    : [process.execPath];
  const quoted = [...runtime, child, mode, dir, String(n)].map((a) => `'${a}'`).join(" ");
  const r = spawnSync("bash", ["-c", `ulimit -n ${limit} && exec ${quoted}`], {
    encoding: "utf8",
    timeout: 60_000,
  });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `the child printed no result (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line) as Record<string, any>;
}

test(
  "Store with 300 SST files opens, reads and flushes under ulimit -n 64 and 1024 with the default bound",
  {
    timeout: 120_000,
  },
  () => {
    const root = mkdtempSync(join(tmpdir(), "memtable-store-"));
    try {
      for (const limit of [64, 1024]) {
        const dir = join(root, `db${limit}`);
        writeStoreFiles(dir, 300);
        const r = runUnderLimit(limit, "read", dir, 300);
        assert.equal(r.ok, true, `ulimit -n ${limit}: ${r.name}: ${r.message}`);
        assert.equal(r.scanned, 301, "every key, the flushed one too");
        for (const st of [r.stats, r.reopened]) {
          assert.ok(st.maxOpenFiles < limit / 2, `ulimit -n ${limit}: bound ${st.maxOpenFiles}`);
          assert.ok(st.openTableFiles <= st.maxOpenFiles, JSON.stringify(st));
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test(
  "Store out of descriptors gives up its own to read and flush; with none to give, a StoreError says what to do",
  {
    timeout: 120_000,
  },
  () => {
    const root = mkdtempSync(join(tmpdir(), "memtable-store-"));
    try {
      const dir = join(root, "db");
      writeStoreFiles(dir, 40);
      writeStoreFiles(join(root, "other"), 3);
      const r = runUnderLimit(64, "exhaust", dir, 40);
      assert.equal(r.ok, true, `${r.name}: ${r.message}`);
      assert.ok(r.taken > 0 && r.takenAgain > 0, "the child took every free descriptor");
      assert.equal(r.stats.files, 42, "both flushes made their file");
      assert.equal(r.stats.flushes, 2);
      assert.equal(r.stats.flushesInWorker, 2, "the retried flush counts once");
      assert.ok(r.stats.maxOpenFiles < 16, `the bound was lowered: ${r.stats.maxOpenFiles}`);
      assert.equal(r.other.name, "StoreError");
      assert.match(
        r.other.message,
        /^Store\.open\(\): .*EMFILE.*raise the process's open-file limit \(ulimit -n\), give Store\.open\(\) a lower maxOpenFiles/,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("Store.iterator() fixes its view when it is created: later writes, deletions and flushes are not seen", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const store = Store.open({ dir });
  const keys = (it: Iterable<{ key: Uint8Array; value: Uint8Array }>) =>
    [...it].map((e) => `${text(e.key)}=${text(e.value)}`);
  try {
    store.put("a", "1");
    const first = store.iterator();
    store.put("b", "2");
    store.delete("a");
    assert.deepEqual(keys(first), ["a=1"], "put a; iterator(); put b; delete a: a, not b");
    // The mutable memtable is switched out and flushed under the iterator: it keeps it.
    const second = store.iterator();
    await store.flush();
    store.put("c", "3");
    store.delete("b");
    await store.flush();
    assert.equal(store.files.length, 2);
    assert.deepEqual(keys(second), ["b=2"]);
    const third = store.iterator({ lower: "a" });
    store.deleteRange("a", "z");
    assert.deepEqual(keys(third), ["c=3"]);
    assert.deepEqual(keys(store.iterator()), []);
    // Iterator helpers work on it, and bad options are refused when it is created.
    store.put("d", "4");
    assert.deepEqual(store.iterator().map((e) => text(e.key)).toArray(), ["d"]);
    assert.throws(() => store.iterator({ lowr: "a" } as never), TypeError);
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.iterator() releases its memtables when it ends, is stopped or disposed, or the store closes", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "memtable-store-")), "db");
  const store = Store.open({ dir });
  const value = "x".repeat(200);
  /** Fills the mutable memtable, opens an iterator on it and flushes it away under it. */
  const pinned = async () => {
    for (let i = 0; i < 2000; i++) store.put(`k${String(i).padStart(5, "0")}`, value);
    const before = nativeMemoryBytes();
    const it = store.iterator();
    await store.flush(); // the list releases the memtable; only the iterator holds it now
    const held = nativeMemoryBytes();
    assert.ok(held > before, `the iterator keeps the flushed memtable (${held} > ${before})`);
    return { it, held };
  };
  // A memtable's arena is at least one block of 1 MiB (64 MiB write buffer).
  const released = (held: number, how: string) =>
    assert.ok(nativeMemoryBytes() <= held - (1 << 20), `${how}: the memtable's memory is released`);
  try {
    let p = await pinned();
    assert.equal([...p.it].length, 2000);
    released(p.held, "iterated to the end");
    p = await pinned();
    for (const _ of p.it) break;
    released(p.held, "break");
    p = await pinned();
    p.it.return();
    released(p.held, "return()");
    p = await pinned();
    {
      using it = p.it;
      it.next();
    }
    released(p.held, "using");
    p = await pinned();
    p.it.next(); // started, then the store closes under it
    const never = store.iterator(); // never started
    await store.close();
    released(p.held, "store closed");
    for (const it of [p.it, never]) {
      assert.throws(
        () => it.next(),
        (e: Error) =>
          e instanceof StoreError &&
          e.message === "Store.iterator(): the store was closed while this iterator was open",
      );
      assert.deepEqual(it.next(), { done: true, value: undefined }, "then it is done");
    }
    assert.throws(
      () => store.iterator(),
      (e: Error) =>
        e instanceof StoreError && /^Store\.iterator\(\): the store is closed$/.test(e.message),
      "a closed store's iterator() throws at once",
    );
    assert.equal(store.stats().memtableBytes, 0, "stats() still answers, naming no MemTable");
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

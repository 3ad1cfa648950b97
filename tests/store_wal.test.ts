/**
 * The Store's write-ahead log: every acknowledged write survives its process (an exit without
 * close, a SIGKILL at a random moment, mid-flush), RocksDB's tools read the logs and the
 * directory as the store does, recovery follows RocksDB's four `walRecoveryMode`s, and the
 * write options (`sync`, `disableWAL`, group-committed `writeAsync`) do what they say.
 * Randomised rounds print their seed (replay with MEMTABLE_WAL_SEED=<seed>).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { CorruptionError, Store, StoreError, stringAppend, WriteBatch } from "../mod.ts";
import { ManifestWriter } from "../src/db/manifest.ts";
import { LogWriter } from "../src/db/log_format.ts";
import { setImmediate } from "node:timers";
import { appliedBatches, killMidWrite, modelAfter } from "./fixtures/crash_check.ts";
import { Rng, seedFor, text } from "./helpers.ts";

const writer = fileURLToPath(new URL("./fixtures/store_writer.ts", import.meta.url));
const runtimeArgs = "Deno" in globalThis
  ? ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", writer]
  : [writer];
const logName = (n: number) => `${String(n).padStart(6, "0")}.log`;

function newDir(): string {
  return join(mkdtempSync(join(tmpdir(), "memtable-wal-")), "db");
}

/** Runs the writer fixture to its end; its output. */
function runWriter(...args: string[]): string {
  const r = spawnSync(process.execPath, [...runtimeArgs, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  return r.stdout;
}

function ldb(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("ldb", args, { encoding: "utf8", maxBuffer: 1 << 30 });
  assert.equal(r.error, undefined, "ldb not runnable (apt-get install rocksdb-tools)");
  return r;
}

function ldbScan(dir: string): string[] {
  const r = ldb(`--db=${dir}`, "scan");
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "");
}

const pairs = (store: Store) =>
  [...store.iterator()].map((e) => `${text(e.key)} : ${text(e.value)}`);

test("Store: a put, then the process exits without close(): the reopened store has it (replayed from the log)", async () => {
  const dir = newDir();
  try {
    const out = runWriter(
      "ops",
      dir,
      "put:a=1",
      "put:b=2",
      "merge:b=3",
      "del:a",
      "put:c=4",
      "range:c..d",
      "put:e=5",
    );
    assert.match(out, /^done 7$/m);
    const store = Store.open({ dir, mergeOperator: stringAppend(",") });
    assert.deepEqual(pairs(store), ["b : 2,3", "e : 5"]);
    assert.equal(store.lastSequence, 7);
    const r = store.stats().recovery;
    assert.equal(r.batches, 7);
    assert.equal(r.flushed, true, "replayed, then flushed to a table file (RocksDB's default)");
    assert.equal(r.tornTail, false);
    assert.equal(store.files.length, 1);
    // The replayed log is obsolete once the table file is recorded: only the new log is left.
    const logs = readdirSync(dir).filter((f) => f.endsWith(".log"));
    assert.deepEqual(logs, [logName(store.stats().wal.number)]);
    store.put("f", "6");
    assert.equal(store.lastSequence, 8, "sequence numbers continue after the replayed ones");
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("ldb dump_wal lists every record of the store's log with its sequence number and count", async () => {
  const dir = newDir();
  try {
    const store = Store.open({ dir, mergeOperator: stringAppend(",") });
    store.put("k1", "v1");
    store.write(new WriteBatch().put("k2", "v2").delete("k1").merge("k3", "x"));
    store.deleteRange("a", "b");
    store.singleDelete("k2");
    const path = join(dir, logName(store.stats().wal.number));
    const r = ldb("dump_wal", `--walfile=${path}`, "--header");
    assert.equal(r.status, 0, r.stderr);
    // Lines: sequence,count,byte size,physical offset,records
    const rows = r.stdout.split("\n").filter((l) => /^\d+,\d+,/.test(l)).map((l) =>
      l.split(",").slice(0, 2).map(Number)
    );
    assert.deepEqual(rows, [[1, 1], [2, 3], [5, 1], [6, 1]], r.stdout);
    assert.match(r.stdout, /PUT\(0\) : 0x6B31/);
    assert.match(r.stdout, /MERGE\(0\) : 0x6B33/);
    assert.match(r.stdout, /DELETE_RANGE\(0\) : 0x61 0x62/);
    assert.match(r.stdout, /SINGLE_DELETE\(0\) : 0x6B32/);
    store.flushWAL(true);
    assert.equal(store.stats().wal.syncedBytes, store.stats().wal.bytes);
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test(
  "Store: SIGKILL at a random moment (mid-write, mid-flush) loses no acknowledged write and applies no batch in part; RocksDB reads the same (seeded)",
  {
    timeout: 300_000,
  },
  async () => {
    const rng = new Rng(seedFor("MEMTABLE_WAL_SEED", "kill rounds"));
    for (let round = 0; round < 4; round++) {
      const dir = newDir();
      try {
        const sync = ["none", "mixed", "async", "mixed"][round]!;
        const afterMs = 150 + rng.below(1200);
        const acked = await killMidWrite(dir, afterMs, sync);
        // RocksDB recovers the killed directory itself too (its logs, torn tail and all).
        const copy = `${dir}-rocksdb`;
        cpSync(dir, copy, { recursive: true });
        const store = Store.open({ dir });
        const { applied, whole } = appliedBatches(store.lastSequence);
        const about = `round ${round} (${sync}, killed ${afterMs} ms in): ${acked} acknowledged, ` +
          `last sequence ${store.lastSequence}`;
        assert.ok(whole, `${about}: a batch was applied in part`);
        assert.ok(
          applied >= acked,
          `${about}: an acknowledged batch was lost (${applied} applied)`,
        );
        const want = modelAfter(applied);
        assert.deepEqual(pairs(store), want, about);
        await store.close();
        assert.deepEqual(ldbScan(dir), want, `${about}: RocksDB reads the same`);
        assert.deepEqual(ldbScan(copy), want, `${about}: RocksDB replays the killed store's logs`);
        const check = ldb(`--db=${dir}`, "checkconsistency");
        assert.equal(check.status, 0, check.stderr);
        const manifest = ldb(
          "manifest_dump",
          `--path=${join(dir, readFileSync(join(dir, "CURRENT"), "utf8").trim())}`,
        );
        assert.equal(manifest.status, 0, manifest.stderr);
        assert.match(manifest.stdout, /last_sequence \d+/);
        for (const f of readdirSync(dir).filter((f) => f.endsWith(".sst"))) {
          const v = spawnSync("sst_dump", [`--file=${join(dir, f)}`, "--command=verify"], {
            encoding: "utf8",
          });
          assert.equal(v.status, 0, `${f}: ${v.stdout}${v.stderr}`);
          assert.match(v.stdout, /is ok|verified/i, `${f}: ${v.stdout}`);
        }
        for (const line of [want[0], want[Math.floor(want.length / 2)], want.at(-1)]) {
          if (line === undefined) continue;
          const [k, v] = line.split(" : ") as [string, string];
          const got = ldb(`--db=${dir}`, "get", k);
          assert.equal(got.status, 0, got.stderr);
          assert.equal(got.stdout.trim(), v, `ldb get ${k}`);
        }
      } finally {
        rmSync(dirname(dir), { recursive: true, force: true });
      }
    }
  },
);

/** A store whose log holds 10 one-put batches (k0..k9), left by a process that exited. */
function tenBatchLog(): { dir: string; log: string } {
  const dir = newDir();
  const ops = Array.from({ length: 10 }, (_, i) => `put:k${i}=v${i}`);
  runWriter("ops", dir, ...ops);
  const logs = readdirSync(dir).filter((f) =>
    f.endsWith(".log") && statSync(join(dir, f)).size > 0
  );
  assert.equal(logs.length, 1);
  const log = join(dir, logs[0]!);
  // A log written natively ends in preallocated zeros (the process died before close()
  // truncated it): cut to its records, as a log written with one system call per record is.
  const bytes = new Uint8Array(readFileSync(log));
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  truncateSync(log, end);
  return { dir, log };
}

/** Every file of `dir` with its bytes. */
function contentsOf(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString("hex")]),
  );
}

test("Store.open() with a torn last record: dropped (pointInTime, tolerateCorruptedTailRecords, skipAnyCorruptedRecords); absoluteConsistency refuses and changes nothing", async () => {
  const { dir, log } = tenBatchLog();
  try {
    truncateSync(log, statSync(log).size - 3); // the process died inside the last write
    const before = contentsOf(dir);
    assert.throws(
      () => Store.open({ dir, walRecoveryMode: "absoluteConsistency" }),
      (e: Error) =>
        e instanceof CorruptionError &&
        /^Store\.open\(\): .*\.log: the last record is torn at byte \d+ \(absoluteConsistency\)$/
          .test(e.message),
    );
    assert.deepEqual(contentsOf(dir), before, "a refused open changes nothing");
    const store = Store.open({ dir }); // pointInTime
    assert.equal(store.lastSequence, 9);
    assert.deepEqual(pairs(store), Array.from({ length: 9 }, (_, i) => `k${i} : v${i}`));
    assert.equal(store.stats().recovery.tornTail, true);
    assert.equal(store.stats().recovery.stoppedAt, undefined);
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store.open() with a record torn inside preallocated space (zeros after it) drops it as a torn tail", async () => {
  const { dir, log } = tenBatchLog();
  try {
    const bytes = new Uint8Array(readFileSync(log));
    const torn = new Uint8Array(1 << 20); // the rest of the window, as the mapping leaves it
    torn.set(bytes.subarray(0, bytes.length - 5)); // the last record's final bytes never made it
    writeFileSync(log, torn);
    const store = Store.open({ dir });
    assert.equal(store.lastSequence, 9);
    assert.equal(store.stats().recovery.tornTail, true);
    assert.equal(store.stats().recovery.stoppedAt, undefined);
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store.open() with a damaged record before the end: pointInTime stops there (nothing after it applied), skipAnyCorruptedRecords skips it, the other two refuse", async () => {
  for (
    const mode of [
      "pointInTime",
      "skipAnyCorruptedRecords",
      "absoluteConsistency",
      "tolerateCorruptedTailRecords",
    ] as const
  ) {
    const { dir, log } = tenBatchLog();
    try {
      const bytes = new Uint8Array(readFileSync(log));
      // Records are 7 header bytes + a batch of 12 + 1 + 1 + 2 + 1 + 2 = 19 bytes: 26 each.
      assert.equal(bytes.length, 260);
      bytes[26 * 4 + 7 + 14] = bytes[26 * 4 + 7 + 14]! ^ 0xff; // in the fifth record's key
      writeFileSync(log, bytes);
      const before = contentsOf(dir);
      if (mode === "absoluteConsistency" || mode === "tolerateCorruptedTailRecords") {
        assert.throws(
          () => Store.open({ dir, walRecoveryMode: mode }),
          (e: Error) =>
            e instanceof CorruptionError &&
            new RegExp(`^Store\\.open\\(\\): .*\\.log: record at byte 104: .*\\(${mode}\\)$`)
              .test(e.message),
          mode,
        );
        assert.deepEqual(contentsOf(dir), before, `${mode}: a refused open changes nothing`);
        continue;
      }
      const store = Store.open({ dir, walRecoveryMode: mode });
      const r = store.stats().recovery;
      if (mode === "pointInTime") {
        assert.deepEqual(pairs(store), ["k0 : v0", "k1 : v1", "k2 : v2", "k3 : v3"]);
        assert.equal(r.stoppedAt?.offset, 104);
        assert.match(r.stoppedAt!.reason, /checksum/);
        assert.equal(r.batches, 4);
        // What was replayed is flushed; later writes do not sit behind the damaged log.
        assert.equal(r.flushed, true);
        assert.ok(!existsSync(log), "the damaged log is obsolete once the replay is recorded");
        store.put("after", "x");
        await store.close();
        const again = Store.open({ dir });
        assert.deepEqual(pairs(again), ["after : x", "k0 : v0", "k1 : v1", "k2 : v2", "k3 : v3"]);
        await again.close();
      } else {
        // As RocksDB's reader does, a bad checksum drops the rest of its 32 KiB block (the
        // lengths that follow are not to be trusted): here, every later record.
        assert.equal(r.skippedRecords, 1);
        assert.deepEqual(pairs(store), ["k0 : v0", "k1 : v1", "k2 : v2", "k3 : v3"]);
        await store.close();
      }
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  }
});

test("Store.open() under skipAnyCorruptedRecords goes on after a damaged block; pointInTime stops at it", async () => {
  for (const mode of ["skipAnyCorruptedRecords", "pointInTime"] as const) {
    const dir = newDir();
    try {
      const big = "v".repeat(6000);
      runWriter("ops", dir, ...Array.from({ length: 20 }, (_, i) => `put:k${i}=${big}`));
      const log = readdirSync(dir).filter((f) =>
        f.endsWith(".log") && statSync(join(dir, f)).size > 0
      )[0]!;
      const bytes = new Uint8Array(readFileSync(join(dir, log)));
      assert.ok(bytes.length > 3 * 32768, `${bytes.length} bytes: records in several blocks`);
      bytes[6100] = bytes[6100]! ^ 0xff; // inside the second record (k1), in the first block
      writeFileSync(join(dir, log), bytes);
      const store = Store.open({ dir, walRecoveryMode: mode });
      const keys = [...store.iterator()].map((e) => text(e.key));
      for (const e of store.iterator()) assert.equal(text(e.value), big);
      if (mode === "pointInTime") assert.deepEqual(keys, ["k0"]);
      else {
        assert.ok(keys.includes("k0") && !keys.includes("k1") && keys.includes("k19"), `${keys}`);
        assert.ok(store.stats().recovery.skippedRecords >= 1);
      }
      await store.close();
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  }
});

test("Store: avoidFlushDuringRecovery keeps what the logs replayed in memtables, and their log until they are flushed", async () => {
  const { dir, log } = tenBatchLog();
  try {
    const store = Store.open({ dir, avoidFlushDuringRecovery: true, flushInWorker: false });
    assert.equal(store.files.length, 0);
    assert.equal(store.numImmutableMemTables + (store.stats().recovery.flushed ? 1 : 0), 1);
    assert.equal(text(store.get("k9")!), "v9");
    assert.ok(existsSync(log), "the replayed log stays while its memtable is unflushed");
    await store.flush();
    assert.equal(store.files.length, 1);
    assert.ok(!existsSync(log), "flushed and recorded: the log is obsolete");
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store write options: sync syncs the logs, disableWAL skips them, bad options are refused and write nothing", async () => {
  const dir = newDir();
  try {
    const store = Store.open({ dir });
    store.put("a", "1");
    const st = () => store.stats().wal;
    assert.ok(
      st().bytes > 0 && st().syncedBytes === 0,
      "by default: in the OS's hands, not synced",
    );
    store.put("b", "2", { sync: true });
    assert.equal(st().syncedBytes, st().bytes);
    const logged = st().bytes;
    store.put("c", "3", { disableWAL: true });
    store.delete("a", { disableWAL: true });
    assert.equal(st().bytes, logged, "disableWAL writes are not logged");
    assert.equal(text(store.get("c")!), "3");
    for (
      const [options, message] of [
        [{ sync: 1 }, /^TypeError: Store\.put\(\): sync must be a boolean/],
        [{ sink: true }, /^TypeError: Store\.put\(\): .*sink/],
        [
          { sync: true, disableWAL: true },
          /^TypeError: Store\.put\(\): sync and disableWAL cannot both/,
        ],
      ] as const
    ) {
      assert.throws(() => store.put("z", "9", options as never), TypeError);
      assert.throws(() => store.put("z", "9", options as never), message);
    }
    assert.equal(store.get("z"), undefined, "a refused write writes nothing");
    assert.equal(st().bytes, logged, "and logs nothing");
    assert.equal(store.lastSequence, 4);
    store.syncWAL();
    assert.throws(
      () => store.flushWAL(1 as never),
      /^TypeError: Store\.flushWAL\(\): sync must be a boolean/,
    );
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store.writeAsync({ sync: true }): concurrent writers share fdatasyncs (RocksDB's write group)", async () => {
  const dir = newDir();
  try {
    const store = Store.open({ dir });
    const writers = Array.from(
      { length: 16 },
      (_, i) => store.writeAsync(new WriteBatch().put(`k${i}`, `v${i}`), { sync: true }),
    );
    const firsts = await Promise.all(writers);
    assert.deepEqual(firsts, Array.from({ length: 16 }, (_, i) => i + 1));
    const wal = store.stats().wal;
    assert.equal(wal.syncedBytes, wal.bytes);
    assert.ok(wal.syncs <= 2, `${wal.syncs} fdatasyncs for 16 writers`);
    // A writer alone still gets its own.
    await store.writeAsync(new WriteBatch().put("last", "x"), { sync: true });
    assert.equal(store.stats().wal.syncs, wal.syncs + 1);
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store: a log is deleted once every memtable it fed is flushed and recorded", async () => {
  const dir = newDir();
  try {
    const store = Store.open({ dir, writeBufferSize: 64 << 10, flushInWorker: false });
    const value = "x".repeat(100);
    let mostLive = 0;
    for (let i = 0; i < 5000; i++) {
      store.put(`k${String(i).padStart(6, "0")}`, value);
      mostLive = Math.max(mostLive, store.stats().wal.liveLogs.length);
      if (i % 250 === 0) await store.whenWritable(); // lets flushes run and install
    }
    assert.ok(mostLive >= 2, "a memtable switch starts a new log; the old one lives on");
    await store.flush();
    const wal = store.stats().wal;
    assert.deepEqual(wal.liveLogs, [wal.number], "only the current log is live");
    const logs = readdirSync(dir).filter((f) => f.endsWith(".log"));
    assert.deepEqual(logs, [logName(wal.number)]);
    assert.ok(store.files.length >= 3, `${store.files.length} files`);
    await store.close();
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".log")), [], "close leaves none");
    assert.equal(ldbScan(dir).length, 5000);
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store: a store that cannot log refuses later writes with a StoreError and still reads and closes", async () => {
  const dir = newDir();
  try {
    const store = Store.open({ dir, flushInWorker: false });
    store.put("a", "1");
    // The log's directory entry is replaced by a directory: the next log cannot be created.
    const wal = store.stats().wal.number;
    const next = logName(wal + 1);
    mkdirSync(join(dir, next));
    await assert.rejects(store.flush(), (e: Error) => e instanceof StoreError);
    assert.throws(
      () => store.put("b", "2"),
      (e: Error) =>
        e instanceof StoreError && /takes no more writes since its log failed/.test(e.message),
    );
    assert.equal(text(store.get("a")!), "1");
    rmSync(join(dir, next), { recursive: true });
    await store.close();
    const again = Store.open({ dir });
    assert.equal(text(again.get("a")!), "1");
    await again.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store: a MANIFEST edit that fails stops the store's writes and deletes no log; every write is there after a reopen (crashed or closed)", async () => {
  const dir = newDir();
  const append = ManifestWriter.prototype.append;
  let failures = 1;
  ManifestWriter.prototype.append = function (edit) {
    if (failures-- > 0) {
      throw Object.assign(new Error("EIO: i/o error, fsync (simulated)"), { code: "EIO" });
    }
    return append.call(this, edit);
  };
  try {
    const store = Store.open({ dir, flushInWorker: false });
    store.put("first", "1");
    await assert.rejects(store.flush(), /EIO/);
    assert.equal(text(store.get("first")!), "1", "still readable");
    assert.throws(
      () => store.put("second", "2"),
      (e: Error) => e instanceof StoreError && /takes no more writes/.test(e.message),
    );
    assert.ok(readdirSync(dir).some((f) => f.endsWith(".log") && statSync(join(dir, f)).size > 0));
    const crashed = `${dir}-crashed`;
    cpSync(dir, crashed, { recursive: true });
    await store.close(); // flushes nothing (the MANIFEST takes no more edits): the logs stay
    ManifestWriter.prototype.append = append;
    for (const d of [dir, crashed]) {
      const again = Store.open({ dir: d });
      assert.deepEqual(pairs(again), ["first : 1"], d);
      await again.close();
      assert.deepEqual(ldbScan(d), ["first : 1"], `${d}: RocksDB reads it too`);
    }
  } finally {
    ManifestWriter.prototype.append = append;
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store.open() after an open died between writing its new MANIFEST and naming it in CURRENT", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-wal-"));
  try {
    // A new database: only its MANIFEST-000001 was written.
    const a = join(root, "a");
    const first = Store.open({ dir: a });
    await first.close();
    const b = join(root, "b");
    mkdirSync(b);
    cpSync(join(a, "MANIFEST-000001"), join(b, "MANIFEST-000001"));
    const fresh = Store.open({ dir: b });
    fresh.put("k", "v");
    await fresh.close();
    assert.deepEqual(ldbScan(b), ["k : v"]);
    // An existing database: the next open's MANIFEST is there, CURRENT still names the old one.
    const c = join(root, "c");
    runWriter("ops", c, "put:x=1", "put:y=2");
    const c2 = `${c}-copy`;
    cpSync(c, c2, { recursive: true });
    const opened = Store.open({ dir: c2 });
    const current = readFileSync(join(c2, "CURRENT"), "utf8").trim();
    await opened.close();
    assert.ok(!readdirSync(c).includes(current));
    cpSync(join(c2, current), join(c, current)); // as if that open died right after writing it
    const store = Store.open({ dir: c });
    assert.deepEqual(pairs(store), ["x : 1", "y : 2"]);
    await store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("Store: sync writers waiting when their log is closed by a flush or close() resolve (their writes are in a recorded table file)", async () => {
  for (let i = 0; i < 30; i++) {
    const dir = newDir();
    try {
      const store = Store.open({ dir, flushInWorker: false });
      const first = store.writeAsync(new WriteBatch().put(`a${i}`, "v"), { sync: true });
      await new Promise((r) => setImmediate(r));
      const second = store.writeAsync(new WriteBatch().put(`b${i}`, "v"), { sync: true });
      const ending = i % 2 === 0 ? store.close() : store.flush().then(() => store.close());
      await Promise.all([first, second, ending]);
      const again = Store.open({ dir });
      assert.deepEqual(pairs(again).length, 2);
      await again.close();
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  }
});

test("Store.open() of a log with a zero-filled hole before more records stops at the hole (pointInTime)", async () => {
  const { dir, log } = tenBatchLog();
  try {
    const bytes = new Uint8Array(readFileSync(log));
    bytes.fill(0, 26 * 3, 26 * 5); // records 3 and 4 never reached the disk; 5–9 did
    writeFileSync(log, bytes);
    const store = Store.open({ dir });
    assert.deepEqual(pairs(store), ["k0 : v0", "k1 : v1", "k2 : v2"]);
    assert.match(store.stats().recovery.stoppedAt!.reason, /a hole in the log/);
    await store.close();
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test("Store.open() with a record whose checksum holds but that is no batch it can apply: as damage under each mode", async () => {
  for (const mode of ["pointInTime", "skipAnyCorruptedRecords", "absoluteConsistency"] as const) {
    const dir = newDir();
    try {
      await Store.open({ dir }).close(); // a database whose logs are all obsolete
      const log = new LogWriter(0);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 10; i++) {
        const b = new WriteBatch().put(`k${i}`, `v${i}`);
        b.sequence = i + 1;
        // Record 5 frames fine but holds no batch (a count of 1 and an unknown tag).
        const bad = new Uint8Array([6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x7e]);
        parts.push(log.frame(i === 5 ? bad : b.data()));
      }
      writeFileSync(join(dir, "000099.log"), Buffer.concat(parts));
      if (mode === "absoluteConsistency") {
        assert.throws(
          () => Store.open({ dir, walRecoveryMode: mode }),
          (e: Error) =>
            e instanceof CorruptionError &&
            /record at byte 130: the batch at sequence 6 cannot be applied: .*unknown record tag 0x7e.*\(absoluteConsistency\)$/
              .test(e.message),
        );
        continue;
      }
      const store = Store.open({ dir, walRecoveryMode: mode });
      const want = mode === "pointInTime" ? [0, 1, 2, 3, 4] : [0, 1, 2, 3, 4, 6, 7, 8, 9];
      assert.deepEqual(pairs(store), want.map((i) => `k${i} : v${i}`), mode);
      await store.close();
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  }
});

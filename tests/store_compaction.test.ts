/**
 * Leveled compaction in a Store: reads at every live snapshot stay the model's across flushes
 * and compactions (automatic and `compactRange`), iterators keep reading the files a compaction
 * replaced until they end, a reopened store and RocksDB's `ldb` read the compacted directory to
 * the same keys, and a writer killed while compactions run loses nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { MemTable, type Snapshot, Store, stringAppend, ValueType } from "../mod.ts";
import { appliedBatches, killMidWrite, modelAfter } from "./fixtures/crash_check.ts";
import { compareBytes, Rng, seedFor, text, utf8 } from "./helpers.ts";

function newDir(): string {
  return join(mkdtempSync(join(tmpdir(), "memtable-compaction-")), "db");
}

function ldb(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("ldb", args, { encoding: "utf8", maxBuffer: 1 << 30 });
  assert.equal(r.error, undefined, "ldb not runnable (apt-get install rocksdb-tools)");
  return r;
}

/** Small levels and files, so a few thousand writes make several levels. */
const small = {
  writeBufferSize: 16 << 10,
  level0FileNumCompactionTrigger: 2,
  maxBytesForLevelBase: 32 << 10,
  maxBytesForLevelMultiplier: 4,
  targetFileSizeBase: 8 << 10,
  blockSize: 512,
};

const hex = (b: Uint8Array | undefined) => b === undefined ? "none" : text(b);

/** What the model (one big memtable) gives for `key` at `snapshot`, as the store reports it. */
function modelGet(model: MemTable, key: Uint8Array, snapshot: number): string {
  const r = model.get(key, { snapshot });
  if (r.kind === "value") return text(r.value);
  if (r.kind === "merge") return r.operands.map(text).join(",");
  return "none";
}

function checkAll(store: Store, model: MemTable, keys: Uint8Array[], at: number, where: string) {
  for (const k of keys) {
    assert.equal(
      hex(store.get(k, { snapshot: at })),
      modelGet(model, k, at),
      `${text(k)} ${where}`,
    );
  }
  const want = [...keys].sort(compareBytes).map((k) => [text(k), modelGet(model, k, at)])
    .filter(([, v]) => v !== "none");
  const got = [...store.iterator({ snapshot: at })].map((e) => [text(e.key), text(e.value)]);
  assert.deepEqual(got, want, `iterator ${where}`);
}

test("Store compactions keep every read at every live snapshot equal to the model's (seeded)", {
  timeout: 120_000,
}, async () => {
  const seed = seedFor("MEMTABLE_COMPACTION_SEED", "store compaction model");
  const rng = new Rng(seed);
  const where = `MEMTABLE_COMPACTION_SEED=${seed}`;
  const dir = newDir();
  const op = stringAppend(",");
  let store = Store.open({ dir, ...small, mergeOperator: op });
  const model = new MemTable({ writeBufferSize: 1 << 30, mergeOperator: op });
  const keys = Array.from({ length: 300 }, (_, i) => utf8(`key${String(i).padStart(4, "0")}`));
  const snapshots: Snapshot[] = [];
  try {
    for (let i = 0; i < 8000; i++) {
      const key = keys[rng.below(keys.length)]!;
      const s = store.lastSequence + 1;
      const r = rng.below(100);
      if (r < 2) {
        const other = keys[rng.below(keys.length)]!;
        const [a, b] = compareBytes(key, other) <= 0 ? [key, other] : [other, key];
        store.deleteRange(a, b);
        model.addRangeDeletion(s, a, b);
      } else if (r < 20) {
        store.merge(key, utf8(`m${i}`));
        model.add(s, ValueType.Merge, key, utf8(`m${i}`));
      } else if (r < 30) {
        store.delete(key);
        model.add(s, ValueType.Deletion, key);
      } else {
        const v = utf8(`v${i}.${"x".repeat(rng.below(60))}`);
        store.put(key, v);
        model.add(s, ValueType.Value, key, v);
      }
      if (rng.below(400) === 0) snapshots.push(store.snapshot());
      if (rng.below(900) === 0 && snapshots.length > 0) {
        snapshots.splice(rng.below(snapshots.length), 1)[0]!.release();
      }
      if (i % 100 === 99) await store.whenWritable(); // compaction slices run here
      if (i % 1000 === 999) {
        if (rng.below(3) === 0) {
          const a = keys[rng.below(keys.length)]!;
          await store.compactRange(a, undefined);
        }
        for (const at of [store.lastSequence, ...snapshots.map((x) => Number(x.seq))]) {
          checkAll(store, model, keys, at, `at ${at}, op ${i}: ${where}`);
        }
      }
    }
    const st = store.stats();
    assert.ok(st.compactions > 0, `${st.compactions} compactions: ${where}`);
    assert.equal(st.compactionsInWorker, st.compactions - st.trivialMoves, "jobs in the Worker");
    assert.equal(st.nativeCompactions, st.compactionsInWorker, "merged natively in the Worker");
    assert.ok(st.levels.slice(1).some((l) => l.files > 0), "data below level 0");
    assert.ok(st.writeAmplification > 1, `write amplification ${st.writeAmplification}`);
    assert.equal(
      st.readAmplification,
      st.levels[0]!.files + st.levels.slice(1).filter((l) => l.files > 0).length,
    );
    for (const s of snapshots) s.release();
    await store.compactRange();
    const last = store.lastSequence;
    checkAll(store, model, keys, last, `after compactRange(): ${where}`);
    assert.equal(store.stats().levels[0]!.files, 0, "compactRange() empties level 0");
    await store.close();
    store = Store.open({ dir, ...small, mergeOperator: op });
    checkAll(store, model, keys, last, `after a reopen: ${where}`);
    const listed = new Set(store.files.map((f) => f.number));
    const onDisk = readdirSync(dir).filter((f) => f.endsWith(".sst")).map((f) => parseInt(f, 10));
    assert.deepEqual(onDisk.sort(), [...listed].sort(), "only live table files are on disk");
  } finally {
    await store.close();
    model.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.compactRange() leaves open iterators their files until they end; then they are deleted", async () => {
  const dir = newDir();
  const store = Store.open({ dir, ...small, disableAutoCompactions: true });
  try {
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 200; i++) store.put(`k${String(i).padStart(3, "0")}`, `r${round}`);
      await store.flush();
    }
    assert.equal(store.stats().levels[0]!.files, 4);
    const snap = store.snapshot();
    store.put("k000", "after");
    const before = store.files.map((f) => f.number);
    const it = store.iterator({ snapshot: snap });
    await store.compactRange();
    assert.equal(store.stats().levels[0]!.files, 0);
    for (const n of before) {
      assert.ok(existsSync(join(dir, `${String(n).padStart(6, "0")}.sst`)), `${n} kept for it`);
    }
    const seen = [...it].map((e) => text(e.value));
    assert.equal(seen.length, 200);
    assert.ok(seen.every((v) => v === "r3"), "the iterator reads its own view");
    for (const n of before) {
      assert.ok(!existsSync(join(dir, `${String(n).padStart(6, "0")}.sst`)), `${n} deleted`);
    }
    assert.equal(text(store.get("k000", { snapshot: snap })!), "r3", "the snapshot still reads");
    assert.equal(text(store.get("k000")!), "after");
    snap.release();
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("RocksDB's ldb reads a compacted store to the same keys; checkconsistency and manifest_dump pass", async () => {
  const dir = newDir();
  // Jobs on this thread, in slices (the Worker's are the model test's).
  const store = Store.open({ dir, ...small, flushInWorker: false });
  const want = new Map<string, string>();
  try {
    for (let i = 0; i < 3000; i++) {
      const k = `key${String((i * 37) % 1000).padStart(4, "0")}`;
      if (i % 11 === 0) {
        store.delete(k);
        want.delete(k);
      } else {
        store.put(k, `v${i}`);
        want.set(k, `v${i}`);
      }
      if (i % 100 === 99) await store.whenWritable();
    }
    store.deleteRange("key0100", "key0200");
    for (const k of [...want.keys()]) if (k >= "key0100" && k < "key0200") want.delete(k);
    await store.compactRange("key0000", "key0500");
    assert.ok(store.stats().compactions > 0);
    assert.equal(store.stats().compactionsInWorker, 0);
    const st = store.stats();
    assert.equal(st.nativeCompactions, st.compactions - st.trivialMoves, "merged natively here");
  } finally {
    await store.close();
  }
  try {
    const lines = [...want.keys()].sort().map((k) => `${k} : ${want.get(k)}`);
    const scan = ldb(`--db=${dir}`, "scan");
    assert.equal(scan.status, 0, scan.stderr);
    assert.deepEqual(scan.stdout.trim().split("\n"), lines);
    const check = ldb(`--db=${dir}`, "checkconsistency");
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /OK/);
    const current = readFileSync(join(dir, "CURRENT"), "utf8").trim();
    const dump = ldb("manifest_dump", `--path=${join(dir, current)}`);
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /--- level 1 ---|--- level 2 ---/);
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test(
  "Store killed (SIGKILL) while compactions run loses nothing and leaves no half-installed version",
  {
    timeout: 120_000,
  },
  async () => {
    const seed = seedFor("MEMTABLE_COMPACTION_CRASH_SEED", "store compaction crash");
    const rng = new Rng(seed);
    for (let round = 0; round < 3; round++) {
      const dir = newDir();
      try {
        const afterMs = 300 + rng.below(1200);
        const acked = await killMidWrite(dir, afterMs, "none", 8 << 10, true);
        const store = Store.open({ dir });
        const about =
          `MEMTABLE_COMPACTION_CRASH_SEED=${seed} round ${round} (killed ${afterMs} ms in)`;
        try {
          const { applied, whole } = appliedBatches(store.lastSequence);
          assert.ok(whole && applied >= acked, `${about}: ${applied} applied, ${acked} acked`);
          const got = [...store.iterator()].map((e) => `${text(e.key)} : ${text(e.value)}`);
          assert.deepEqual(got, modelAfter(applied), about);
          const listed = store.files.map((f) => f.number).sort();
          const onDisk = readdirSync(dir).filter((f) => /^\d+\.sst$/.test(f))
            .map((f) => parseInt(f, 10)).sort();
          assert.deepEqual(onDisk, listed, `${about}: only the MANIFEST's table files remain`);
          assert.ok(readdirSync(dir).every((f) => !f.endsWith(".tmp")), `${about}: no temporaries`);
          const deeper = store.stats().levels.slice(1).reduce((n, l) => n + l.files, 0);
          assert.ok(deeper > 0, `${about}: the writer compacted before it was killed`);
        } finally {
          await store.close();
        }
        const check = ldb(`--db=${dir}`, "checkconsistency");
        assert.equal(check.status, 0, `${about}: ${check.stderr}`);
      } finally {
        rmSync(join(dir, ".."), { recursive: true, force: true });
      }
    }
  },
);

test("Store.open() refuses bad compaction options, naming the option, and creates nothing", () => {
  const dir = newDir();
  assert.throws(() => Store.open({ dir, numLevels: 1 }), /numLevels/);
  assert.throws(() => Store.open({ dir, targetFileSizeBase: 0 }), /targetFileSizeBase/);
  assert.throws(
    () => Store.open({ dir, level0SlowdownWritesTrigger: 10, level0StopWritesTrigger: 5 }),
    /level0StopWritesTrigger/,
  );
  assert.throws(
    () => Store.open({ dir, disableAutoCompactions: 1 as never }),
    /disableAutoCompactions/,
  );
  assert.equal(existsSync(dir), false);
});

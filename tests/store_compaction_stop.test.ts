/**
 * Compactions within a Store's limits and its life: a compaction Worker and the store together
 * keep no more SST descriptors open than `maxOpenFiles`, and `close()` during a running
 * compaction stops it, leaving no temporary and no half-installed version behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Store } from "../mod.ts";
import { text } from "./helpers.ts";

function newDir(): string {
  return join(mkdtempSync(join(tmpdir(), "memtable-compaction-stop-")), "db");
}

/**
 * Open descriptors of this process that name a `.sst` file of `dir` (Linux's /proc, listed by
 * `ls`: Deno lets a test read /proc/self only with every permission).
 */
function sstDescriptors(dir: string): number {
  // A descriptor closed while `ls` lists them makes it complain: those are not counted.
  const r = spawnSync("sh", ["-c", `ls -l /proc/${process.pid}/fd 2>/dev/null`], {
    encoding: "utf8",
  });
  assert.ok(r.stdout.length > 0, "ls lists this process's descriptors");
  return r.stdout.split("\n").filter((l) => l.includes(` -> ${dir}/`) && l.endsWith(".sst"))
    .length;
}

const key = (i: number) => `key${String(i).padStart(6, "0")}`;
const value = (i: number, round: number) => `r${round}-${i}-${"v".repeat(60)}`;

/** Writes `rounds` rounds over `keys` keys, flushing after each: one level-0 file per round. */
async function fill(store: Store, keys: number, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < keys; i++) store.put(key((i * 7919) % keys), value(i, round));
    await store.flush();
  }
}

test("a compaction Worker and the store hold no more SST descriptors than maxOpenFiles", async () => {
  const dir = newDir();
  const maxOpenFiles = 4;
  const store = Store.open({
    dir,
    maxOpenFiles,
    disableAutoCompactions: true,
    writeBufferSize: 4 << 20,
    blockSize: 512,
  });
  try {
    await fill(store, 4000, 8);
    assert.equal(store.stats().levels[0]!.files, 8, "eight level-0 files to compact");
    let most = 0;
    let samples = 0;
    let done = false;
    const job = store.compactRange().finally(() => done = true);
    while (!done) {
      // Reads through the store's own cache while the Worker reads the inputs through its own.
      for (let i = 0; i < 50; i++) store.get(key((i * 104729) % 4000));
      most = Math.max(most, sstDescriptors(dir));
      samples++;
      await new Promise((r) => setTimeout(r, 1));
    }
    await job;
    const st = store.stats();
    assert.ok(st.compactionsInWorker > 0, "the job ran in the Worker");
    assert.ok(samples > 0);
    assert.ok(most <= maxOpenFiles, `${most} SST descriptors open at once, bound ${maxOpenFiles}`);
    assert.equal(st.levels[0]!.files, 0);
    for (let i = 0; i < 4000; i += 97) {
      const v = store.get(key((i * 7919) % 4000));
      assert.equal(v === undefined ? "none" : text(v), value(i, 7));
    }
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

for (const flushInWorker of [true, false]) {
  test(`close() during a running compaction stops it and loses nothing (flushInWorker: ${flushInWorker})`, async () => {
    const dir = newDir();
    const keys = 6000;
    const store = Store.open({
      dir,
      flushInWorker,
      disableAutoCompactions: true,
      writeBufferSize: 4 << 20,
      blockSize: 512,
    });
    let closed = false;
    try {
      await fill(store, keys, 6);
      const job = store.compactRange();
      const outcome = job.then(() => "finished", (e: unknown) => String(e));
      await new Promise((r) => setTimeout(r, 2)); // the job is under way
      await store.close();
      closed = true;
      const how = await outcome;
      assert.match(how, /StoreError: .*(closed during a compaction|compaction was stopped)/, how);
      const left = readdirSync(dir).filter((f) => f.endsWith(".tmp"));
      assert.deepEqual(left, [], "no temporary left behind");
    } finally {
      if (!closed) await store.close();
    }
    const again = Store.open({ dir });
    try {
      for (let i = 0; i < keys; i++) {
        const k = key((i * 7919) % keys);
        const v = again.get(k);
        assert.equal(v === undefined ? "none" : text(v), value(i, 5), k);
      }
    } finally {
      await again.close();
    }
    const check = spawnSync("ldb", [`--db=${dir}`, "checkconsistency"], { encoding: "utf8" });
    assert.equal(check.error, undefined, "ldb not runnable (apt-get install rocksdb-tools)");
    assert.equal(check.status, 0, check.stderr);
    rmSync(join(dir, ".."), { recursive: true, force: true });
  });
}

/**
 * One native memtable shared by many Workers: share/attach, lock-free reads while writers
 * insert, concurrent writers with a shared SequenceAllocator, and attach/release races. Bounded
 * in time and size; the key layout is deterministic, the interleaving is whatever the threads do.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  loadLibrary,
  MemTable,
  nativeMemoryBytes,
  SequenceAllocator,
  ShareTokenError,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileLock } from "../src/ffi/file_lock.ts";
import type { Task } from "./fixtures/worker.ts";
import { text } from "./helpers.ts";

const workerUrl = new URL("./fixtures/worker.ts", import.meta.url);

interface Reply {
  ok?: boolean;
  ready?: boolean;
  result?: unknown;
  error?: string;
}

/** Spawns a Worker and waits until it has loaded the library (one at a time: see worker.ts). */
async function spawn(): Promise<Worker> {
  const w = new Worker(workerUrl.href, { type: "module" });
  await new Promise<void>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<Reply & { listening?: boolean }>) => {
      if (e.data.listening) w.postMessage({ library: loadLibrary().path });
      else if (e.data.ready) resolve();
      else reject(new Error(e.data.error));
    };
    w.onerror = (e) => reject(e);
  });
  return w;
}

function run<T>(w: Worker, task: Task): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<Reply>) =>
      e.data.ok ? resolve(e.data.result as T) : reject(new Error(e.data.error));
    w.onerror = (e) => reject(e);
    w.postMessage(task);
  });
}

async function withWorkers<T>(n: number, body: (ws: Worker[]) => Promise<T>): Promise<T> {
  const ws: Worker[] = [];
  try {
    for (let i = 0; i < n; i++) ws.push(await spawn());
    return await body(ws);
  } finally {
    for (const w of ws) w.terminate();
  }
}

test("a token opens the same native memtable once; the memory goes with the last holder", () => {
  const before = nativeMemoryBytes();
  const mt = new MemTable({ writeBufferSize: 1 << 20 });
  mt.add(1, ValueType.Value, "k", "v");
  const token = mt.share();
  assert.equal(token.kind, "memtable");
  const same = MemTable.attach(token);
  assert.throws(() => MemTable.attach(token), ShareTokenError);
  same.add(2, ValueType.Value, "k2", "from the other holder");
  mt.close();
  assert.equal(same.numEntries, 2);
  const r = same.get("k");
  assert.ok(r.kind === "value" && text(r.value) === "v");
  assert.ok(nativeMemoryBytes() > before);
  same.close();
  assert.equal(nativeMemoryBytes(), before);
  // A token never attached still holds a reference until discarded.
  const other = new MemTable();
  const unused = other.share();
  other.close();
  assert.ok(nativeMemoryBytes() > before);
  assert.equal(MemTable.discardToken(unused), true);
  assert.equal(MemTable.discardToken(unused), false);
  assert.equal(nativeMemoryBytes(), before);
  assert.throws(() => MemTable.attach({ kind: "memtable" } as never), TypeError);
  const library = loadLibrary().path;
  assert.throws(
    () => MemTable.attach({ kind: "memtable", token: 12345, library, options: {} } as never),
    ShareTokenError,
  );
  assert.throws(
    () => MemTable.attach({ ...unused, library: "/elsewhere/libmemtable.so" }),
    /lives in the native library \/elsewhere\/libmemtable.so, but this Worker loaded/,
  );
});

test("attach needs the merge operator again, by name", () => {
  using mt = new MemTable({
    mergeOperator: { name: "test.Last", fullMerge: (_k, _e, ops) => ops.at(-1)! },
  });
  const token = mt.share();
  assert.throws(() => MemTable.attach(token), /merge operator "test.Last"/);
  using same = MemTable.attach(token, {
    mergeOperator: { name: "test.Last", fullMerge: (_k, _e, ops) => ops.at(-1)! },
  });
  same.add(1, ValueType.Merge, "k", "x");
  mt.add(0, ValueType.Deletion, "k");
  const r = mt.get("k");
  assert.ok(r.kind === "value" && text(r.value) === "x");
});

test("SequenceAllocator hands out ranges and publishes only gap-free prefixes", () => {
  using seqs = new SequenceAllocator({ start: 10 });
  const a = seqs.allocate(3); // 10..12
  const b = seqs.allocate(); // 13
  assert.deepEqual([a, b, seqs.next], [10, 13, 14]);
  seqs.publish(b);
  assert.equal(seqs.lastPublished, 9);
  seqs.publish(a, 3);
  assert.equal(seqs.lastPublished, 13);
  assert.throws(() => seqs.publish(a, 3), /not allocated, or is published already/);
  assert.throws(() => seqs.publish(100), RangeError);
  assert.throws(() => seqs.allocate(0), RangeError);
  assert.throws(() => new SequenceAllocator({ start: 0 }), RangeError);
  using mt = new MemTable();
  const first = seqs.write(mt, new WriteBatch().put("x", "1").put("y", "2"));
  assert.equal(first, 14);
  assert.equal(seqs.lastPublished, 15);
  // A failed write still publishes its range, so later writers are not held up.
  mt.add(16, ValueType.Value, "x", "already there");
  assert.throws(
    () => seqs.write(mt, new WriteBatch().put("x", "dup").put("z", "3")),
    /record 0: an entry with key "x"/,
  );
  assert.equal(seqs.lastPublished, 17);
  const token = seqs.share();
  using again = SequenceAllocator.attach(token);
  assert.equal(again.lastPublished, seqs.lastPublished);
  assert.throws(() => SequenceAllocator.attach(token), ShareTokenError);
  const huge = new SequenceAllocator({ start: 2n ** 56n - 2n });
  huge.allocate(2);
  assert.throws(() => huge.allocate(), /exhausted/);
  huge.close();
  assert.throws(() => huge.allocate(), /closed/);
});

test("allowConcurrentWrites is checked and cannot be combined with maxSuccessiveMerges", () => {
  assert.throws(
    () =>
      new MemTable({
        allowConcurrentWrites: true,
        maxSuccessiveMerges: 2,
        mergeOperator: { name: "x", fullMerge: (_k, _e, ops) => ops[0]! },
      }),
    /cannot be combined/,
  );
  assert.throws(() => new MemTable({ allowConcurrentWrites: 1 as never }), TypeError);
});

test(
  "without allowConcurrentWrites, a second writing Worker gets ConcurrentWriteError and the memtable stays intact",
  {
    timeout: 60_000,
  },
  async () => {
    await withWorkers(2, async (ws) => {
      // The two Workers add as fast as they can; collisions are timing-dependent, so rounds
      // repeat until one is seen (on two cores the first round nearly always has many).
      for (let round = 0; round < 10; round++) {
        using mt = new MemTable({ writeBufferSize: 64 << 20 });
        const results = await Promise.all(
          ws.map((w, writer) =>
            run<{ added: number; refused: number }>(w, {
              task: "hammer",
              memtable: mt.share(),
              writer,
              batches: 20_000,
            })
          ),
        );
        const added = results.reduce((a, r) => a + r.added, 0);
        const refused = results.reduce((a, r) => a + r.refused, 0);
        assert.equal(added + refused, 40_000);
        assert.equal(mt.numEntries, added);
        const keys = [...mt.entries()].map((e) => text(e.key));
        assert.equal(keys.length, added);
        for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1]! < keys[i]!, "sorted");
        if (refused > 0) return;
      }
      assert.fail("two Workers writing at once never collided in 10 rounds");
    });
  },
);

for (const overlap of [false, true]) {
  test(
    `2 writer Workers (${overlap ? "overlapping" : "disjoint"} keys) and 2 readers ` +
      "share one memtable: ordered, batch-atomic at published snapshots, nothing lost",
    { timeout: 60_000 },
    async () => {
      const before = nativeMemoryBytes();
      const mt = new MemTable({
        allowConcurrentWrites: true,
        writeBufferSize: 64 << 20,
        pointIndex: overlap, // concurrent index updates on hot keys
      });
      const seqs = new SequenceAllocator();
      const batches = 150;
      const batchSize = 16;
      const results = await withWorkers(4, (ws) =>
        Promise.all([
          run<{ scans: number; entries: number }>(ws[2]!, {
            task: "read",
            memtable: mt.share(),
            allocator: seqs.share(),
            millis: 1500,
          }),
          run<{ scans: number; entries: number }>(ws[3]!, {
            task: "read",
            memtable: mt.share(),
            allocator: seqs.share(),
            millis: 1500,
          }),
          ...[0, 1].map((writer) =>
            run<{ written: string[] }>(ws[writer]!, {
              task: "write",
              memtable: mt.share(),
              allocator: seqs.share(),
              writer,
              batches,
              batchSize,
              overlap,
            })
          ),
        ]));
      const [r1, r2, w1, w2] = results as unknown as [
        { scans: number },
        { scans: number },
        { written: string[] },
        { written: string[] },
      ];
      assert.ok(r1.scans > 0 && r2.scans > 0);
      // Every acknowledged write is there, with the sequence number its writer got.
      const want = [...w1.written, ...w2.written].sort();
      const got = [...mt.entries()].map((e) => {
        const [w, b, i] = text(e.value).split("/");
        return `${w}/${b}/${i}@${e.seq}`;
      }).sort();
      assert.deepEqual(got, want);
      assert.equal(mt.numEntries, 2 * batches * batchSize);
      assert.equal(seqs.lastPublished, 2 * batches * batchSize);
      const s = mt.stats();
      assert.ok(s.memoryUsage <= s.arenaAllocatedBytes && s.memoryUsage > s.dataSize);
      mt.close();
      seqs.close();
      assert.equal(nativeMemoryBytes(), before, "native memory returns when all holders close");
    },
  );
}

test("Workers attaching and releasing while the creator closes: no crash, no leak", {
  timeout: 60_000,
}, async () => {
  const before = nativeMemoryBytes();
  await withWorkers(2, async (ws) => {
    for (let round = 0; round < 5; round++) {
      const mts = Array.from({ length: 20 }, (_, i) => {
        const mt = new MemTable({ writeBufferSize: 1 << 20 });
        for (let k = 0; k < 200; k++) mt.add(k + 1, ValueType.Value, `k${k}`, `v${i}`);
        return mt;
      });
      const tokens = [mts.map((m) => m.share()), mts.map((m) => m.share())];
      const pending = ws.map((w, i) =>
        run<{ attached: number }>(w, {
          task: "attach-churn",
          memtable: tokens[i]![0]!,
          tokens: tokens[i],
        })
      );
      for (const m of mts) m.close(); // races with the Workers' attach, read and close
      const done = await Promise.all(pending);
      assert.deepEqual(done.map((d) => d.attached), [20, 20]);
    }
  });
  assert.equal(nativeMemoryBytes(), before);
});

/** Waits (up to `ms`) until `done()` holds; true when it did. */
async function eventually(done: () => boolean, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

for (const ending of ["terminate", "exit"] as const) {
  test(`a Worker that ends (${ending}) holding native objects gives their memory and locks back`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-end-"));
    const lockPath = join(dir, "LOCK");
    const before = nativeMemoryBytes();
    const mt = new MemTable({ writeBufferSize: 1 << 20 });
    for (let i = 0; i < 100; i++) mt.add(i + 1, ValueType.Value, `k${i}`, "v".repeat(100));
    const w = await spawn();
    const held = await run<{ holdings: number }>(w, {
      task: "hold",
      memtable: mt.share(),
      lockPath,
      exit: ending === "exit",
    });
    // The attached memtable, its iterator, its own memtable, an allocator and the lock.
    assert.equal(held.holdings, 5);
    assert.equal(FileLock.acquire(lockPath).constructor, Object, "the Worker holds the lock");
    if (ending === "terminate") w.terminate();
    else w.postMessage({ end: true });
    mt.close();
    assert.ok(nativeMemoryBytes() > before, "the Worker's objects are still alive");
    assert.ok(
      await eventually(() => nativeMemoryBytes() === before),
      `native memory stays at ${nativeMemoryBytes()} bytes, ${before} before the Worker`,
    );
    const lock = FileLock.acquire(lockPath);
    assert.ok(lock instanceof FileLock, "the lock was released with the Worker's thread");
    lock.release();
    if (ending === "exit") w.terminate();
    rmSync(dir, { recursive: true, force: true });
  });
}

test("a failed MemTable.attach() takes nothing: the next new MemTable() is a memtable of its own", () => {
  const before = nativeMemoryBytes();
  const op = {
    name: "test.Last",
    fullMerge: (_k: Uint8Array, _e: unknown, o: Uint8Array[]) => o.at(-1)!,
  };
  const mt = new MemTable({ mergeOperator: op });
  mt.add(1, ValueType.Value, "theirs", "secret");
  const token = mt.share();
  // An operator of the right name whose fullMerge is missing: refused by the options checks.
  assert.throws(
    () => MemTable.attach(token, { mergeOperator: { name: "test.Last" } as never }),
    /token's options are not valid.*fullMerge/,
  );
  // A token whose options were altered into ones the constructor refuses.
  const bad = { ...token, options: { ...token.options, rep: { type: "hashSkipList" } } } as never;
  assert.throws(() => MemTable.attach(bad, { mergeOperator: op }), /needs a prefixExtractor/);
  using fresh = new MemTable();
  assert.equal(fresh.numEntries, 0);
  assert.equal(fresh.get("theirs").kind, "absent");
  fresh.add(1, ValueType.Value, "mine", "x");
  assert.equal(mt.get("mine").kind, "absent", "writes to the new memtable stay in it");
  // The token was not used up: it still opens the memtable, once.
  using same = MemTable.attach(token, { mergeOperator: op });
  assert.equal(same.get("theirs").kind, "value");
  same.close();
  mt.close();
  fresh.close();
  assert.equal(nativeMemoryBytes(), before, "every reference taken was given back");
});

test("MemTable.attach() refuses a token altered to describe another memtable", () => {
  const before = nativeMemoryBytes();
  const mt = new MemTable({ writeBufferSize: 1 << 20 });
  const token = mt.share();
  const altered = { ...token, options: { ...token.options, writeBufferSize: 2 << 20 } };
  assert.throws(() => MemTable.attach(altered), /do not match the shared memtable/);
  using fresh = new MemTable();
  assert.equal(fresh.writeBufferSize, 64 << 20);
  mt.close();
  fresh.close();
  assert.equal(nativeMemoryBytes(), before);
});

test("MemTable.attach() compares every option with the native memtable's, not only the size and rep", () => {
  const before = nativeMemoryBytes();
  const mt = new MemTable({ writeBufferSize: 1 << 20, protectionBytesPerKey: 8 });
  for (
    const change of [{ protectionBytesPerKey: 0 }, { paranoidChecks: true }, { hugePageSize: 4096 }]
  ) {
    const token = mt.share();
    const altered = { ...token, options: { ...token.options, ...change } } as typeof token;
    assert.throws(
      () => MemTable.attach(altered),
      /do not match the shared memtable's/,
      JSON.stringify(change),
    );
  }
  using same = MemTable.attach(mt.share());
  assert.equal(same.protectionBytesPerKey, 8);
  same.close();
  mt.close();
  assert.equal(nativeMemoryBytes(), before);
});

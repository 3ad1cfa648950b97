/**
 * The main job: a memtable at work on built-in data, on whichever runtime runs it.
 *
 *     bun demo/demo.ts [writes]
 *     deno run --allow-ffi --allow-read --allow-env demo/demo.ts [writes]
 *
 * A ledger of 50,000 accounts takes `writes` (default 500,000) balance updates, closures and
 * audit notes (Value, Deletion and Merge entries, each with its sequence number), written in
 * atomic batches of 64 events. Halfway through, a snapshot is taken; then a whole branch of
 * accounts is closed with one range deletion. The demo reads an account as of that snapshot
 * and now, scans a key range in both directions, and prints memory use and throughput. Last,
 * the memtable becomes immutable and is flushed to an SST file in RocksDB's format, keeping what
 * the snapshot still needs, and the file is read back.
 *
 *     deno run --allow-ffi --allow-read --allow-env --allow-write demo/demo.ts [writes]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MemTable, SnapshotList, stringAppend, ValueType, WriteBatch } from "../mod.ts";
import { flushMemTables } from "../flush.ts";
import { TableReader } from "../table.ts";

const writes = Number(process.argv[2] ?? 500_000);
const accounts = 50_000;
const decoder = new TextDecoder();
const show = (b: Uint8Array) => decoder.decode(b);
const account = (i: number) => `acct:${String(i).padStart(6, "0")}`;

// A deterministic stream of ledger events (seeded LCG): the same on every run and runtime.
let state = 20261126;
const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);

// Audit notes are Merge operands appended to the balance with stringAppend.
using mt = new MemTable({ writeBufferSize: 128 << 20, mergeOperator: stringAppend("; ") });
const snapshots = new SnapshotList();
let seq = 0;
let snap = snapshots.acquire(0);
let batch = new WriteBatch();
const t0 = performance.now();
for (let w = 0; w < writes; w++) {
  const id = next() % accounts;
  const roll = next() % 100;
  if (roll < 80) batch.put(account(id), `balance=${next() % 100_000}`);
  else if (roll < 95) batch.merge(account(id), `audit#${seq + batch.count + 1}`);
  else batch.delete(account(id));
  if (batch.count === 64 || w === writes - 1) {
    mt.write(batch, seq + 1); // atomically, with consecutive sequence numbers
    seq += batch.count;
    batch = new WriteBatch();
  }
  if (w === Math.floor(writes / 2)) {
    snap.release();
    snap = snapshots.acquire(seq);
  }
}
const loadMs = performance.now() - t0;
const snapshot = snap.seq;
// Branch 0042 closes: every account acct:0042xx is deleted by one range tombstone.
mt.addRangeDeletion(++seq, "acct:004200", "acct:004300");

const t1 = performance.now();
let hits = 0;
for (let i = 0; i < accounts; i++) if (mt.get(account(i)).kind !== "absent") hits++;
const getMs = performance.now() - t1;

console.log(
  `loaded ${writes.toLocaleString()} writes in ${loadMs.toFixed(0)} ms ` +
    `(${Math.round(writes / loadMs * 1000).toLocaleString()} writes/s); ` +
    `${accounts.toLocaleString()} point reads in ${getMs.toFixed(0)} ms ` +
    `(${
      Math.round(accounts / getMs * 1000).toLocaleString()
    } reads/s, ${hits.toLocaleString()} found)`,
);

const describe = (r: ReturnType<MemTable["get"]>) => {
  switch (r.kind) {
    case "value":
      return `${show(r.value)} (seq ${r.seq})`;
    case "deleted":
      return r.type === ValueType.RangeDeletion
        ? `deleted by a range tombstone (seq ${r.seq})`
        : `deleted (seq ${r.seq})`;
    case "merge":
      return `${r.operands.length} audit note(s) on an older value (seq ${r.seq})`;
    case "absent":
      return "absent";
  }
};
const probe = account(4242);
console.log(
  `\nbranch 0042 closed at seq ${seq} (one range tombstone over acct:004200…acct:0042ff)`,
);
console.log(`\n${probe} now:                    ${describe(mt.get(probe))}`);
console.log(`${probe} at snapshot ${snapshot}: ${describe(mt.get(probe, { snapshot }))}`);

console.log(`\nversions of ${probe}, newest first (the ones the tombstone hides included):`);
{
  using it = mt.iterator({ ignoreRangeDeletions: true });
  for (it.seek(probe); it.valid() && show(it.key()) === probe; it.next()) {
    const kind = ["Deletion", "Value", "Merge"][it.type()] ?? `type ${it.type()}`;
    console.log(`  seq ${String(it.seq()).padStart(7)}  ${kind.padEnd(8)}  ${show(it.value())}`);
  }
}

console.log(`\nthe last 3 accounts before acct:010000 as of the snapshot (reverse scan):`);
{
  // Backwards, a key's versions come oldest first: its state is the last one seen.
  using it = mt.iterator({ snapshot });
  const shown: string[] = [];
  let current = "";
  let state = "";
  const flush = () => current && shown.push(`  ${current}  ${state}`);
  for (it.seekForPrev("acct:009999~"); it.valid() && shown.length < 3; it.prev()) {
    const key = show(it.key());
    if (key !== current) {
      flush();
      current = key;
    }
    state = `seq ${it.seq()}  ${it.type() === ValueType.Deletion ? "(deleted)" : show(it.value())}`;
  }
  if (shown.length < 3) flush();
  for (const line of shown) console.log(line);
}

const t2 = performance.now();
let scanned = 0;
for (const _ of mt.entries()) scanned++;
const scanMs = performance.now() - t2;

const s = mt.stats();
console.log(`\nfull ordered scan: ${scanned.toLocaleString()} versions in ${scanMs.toFixed(0)} ms`);
console.log(
  `entries ${s.numEntries.toLocaleString()}, deletions ${s.numDeletes.toLocaleString()}, ` +
    `first seq ${mt.firstSeq}, data ${(s.dataSize / 2 ** 20).toFixed(1)} MiB`,
);
console.log(
  `memory: ${(s.memoryUsage / 2 ** 20).toFixed(1)} MiB in use of ${
    (s.arenaAllocatedBytes / 2 ** 20).toFixed(1)
  } MiB ` +
    `allocated (${(s.memoryUsage / s.numEntries).toFixed(1)} bytes per entry, ` +
    `${((s.memoryUsage - s.dataSize) / s.numEntries).toFixed(1)} over the encoded entry); ` +
    `write buffer ${(mt.approximateMemoryUsage() / mt.writeBufferSize * 100).toFixed(0)}% full, ` +
    `shouldFlush: ${mt.shouldFlush()}`,
);

// Full: the memtable becomes immutable and is flushed to an SST file (RocksDB's format).
mt.markImmutable();
const dir = mkdtempSync(join(tmpdir(), "memtable-demo-"));
try {
  const path = join(dir, "000001.sst");
  const t3 = performance.now();
  const flushed = flushMemTables(path, {
    memtables: [mt],
    snapshots: [snapshot],
    mergeOperator: mt.mergeOperator,
  });
  const flushMs = performance.now() - t3;
  console.log(
    `\nflushed to an SST file in ${
      flushMs.toFixed(0)
    } ms: ${flushed.outputEntries.toLocaleString()} ` +
      `of ${flushed.inputEntries.toLocaleString()} versions kept (the newest per key, and what ` +
      `the snapshot at seq ${snapshot} still sees; audit notes folded), ` +
      `${(flushed.fileSize / 2 ** 20).toFixed(1)} MiB (sst_dump and ldb read it)`,
  );
  using table = TableReader.open(path);
  const inFile = table.get(new TextEncoder().encode(probe), snapshot);
  console.log(
    `${probe} in the file at the snapshot: ${
      inFile === undefined ? "absent" : `${show(inFile.value)} (seq ${inFile.seq})`
    }`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

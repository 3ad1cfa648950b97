/**
 * One memtable, many Workers (Bun or Deno):
 *
 *     bun bench/concurrency.ts [entries=1000000] [millis=3000]
 *     deno run --allow-ffi --allow-read --allow-env bench/concurrency.ts …
 *
 * 1. Reads: a memtable loaded with `entries` random 16-byte keys (100-byte values); 1, 2 and 4
 *    reader Workers look up random present keys for `millis` while one writer Worker inserts
 *    fresh keys. Reports reads/s (total and per reader) and the writer's inserts/s.
 * 2. Writes: 1, 2 and 4 writer Workers insert fresh random keys for `millis` into one
 *    `allowConcurrentWrites` memtable pre-loaded with `entries` keys; plus one writer on a
 *    single-writer memtable (no CAS, no shards) as the baseline.
 */
import process from "node:process";
import { loadLibrary, MemTable, ValueType } from "../mod.ts";
import type { BenchTask } from "./concurrency_worker.ts";
import { keyOf } from "./concurrency_keys.ts";

const entries = Number(process.argv[2] ?? 1_000_000);
const millis = Number(process.argv[3] ?? 3000);
const runtime = "Bun" in globalThis ? "bun" : "deno";
const url = new URL("./concurrency_worker.ts", import.meta.url).href;
const value = new Uint8Array(100).fill(0x61);

async function spawn(): Promise<Worker> {
  const w = new Worker(url, { type: "module" });
  await new Promise<void>((resolve, reject) => {
    w.onmessage = (e) => {
      if (e.data.listening) w.postMessage({ library: loadLibrary().path });
      else if (e.data.ready) resolve();
      else reject(new Error(e.data.error));
    };
    w.onerror = (e) => reject(e);
  });
  return w;
}

function run(w: Worker, task: BenchTask): Promise<{ ops: number; ms: number }> {
  return new Promise((resolve, reject) => {
    w.onmessage = (e) => e.data.ok ? resolve(e.data.result) : reject(new Error(e.data.error));
    w.postMessage(task);
  });
}

function loaded(allowConcurrentWrites: boolean): MemTable {
  const mt = new MemTable({ writeBufferSize: 2 ** 31, allowConcurrentWrites });
  const key = new Uint8Array(16);
  for (let i = 0; i < entries; i++) mt.add(i + 1, ValueType.Value, keyOf(i, key), value);
  return mt;
}

const workers: Worker[] = [];
for (let i = 0; i < 5; i++) workers.push(await spawn());
const rate = (r: { ops: number; ms: number }) => r.ops / r.ms * 1000;
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
let nextFresh = 10 * entries;
let seq = 10 * entries;

/** A writer's task: fresh keys and sequence numbers no other writer gets. */
function putTask(mt: MemTable): BenchTask {
  const task: BenchTask = {
    task: "put",
    memtable: mt.share(),
    present: entries,
    first: nextFresh,
    count: 100_000_000,
    millis,
    seqBase: seq,
  };
  nextFresh += 10_000_000;
  seq += 10_000_000;
  return task;
}

console.log(
  `## ${runtime}: reads while one Worker writes (${entries.toLocaleString()} entries, ${millis} ms)`,
);
console.log("| readers | reads/s total | reads/s per reader | writer inserts/s |");
console.log("|---:|---:|---:|---:|");
{
  const mt = loaded(false);
  for (const readers of [1, 2, 4]) {
    const writer = run(workers[0]!, putTask(mt));
    const reads = await Promise.all(
      workers.slice(1, 1 + readers).map((w, i) =>
        run(w, {
          task: "get",
          memtable: mt.share(),
          present: entries,
          first: i + 1,
          count: 0,
          millis,
          seqBase: 0,
        })
      ),
    );
    const total = reads.reduce((a, r) => a + rate(r), 0);
    console.log(
      `| ${readers} | ${fmt(total)} | ${fmt(total / readers)} | ${fmt(rate(await writer))} |`,
    );
  }
  mt.close();
}

console.log(
  `\n## ${runtime}: concurrent writers (${entries.toLocaleString()} entries loaded, ${millis} ms)`,
);
console.log("| writers | memtable | inserts/s total | inserts/s per writer |");
console.log("|---:|---|---:|---:|");
for (const [writers, concurrent] of [[1, false], [1, true], [2, true], [4, true]] as const) {
  const mt = loaded(concurrent);
  const results = await Promise.all(
    workers.slice(0, writers).map((w) => run(w, putTask(mt))),
  );
  const total = results.reduce((a, r) => a + rate(r), 0);
  console.log(
    `| ${writers} | ${concurrent ? "allowConcurrentWrites" : "single writer"} | ${fmt(total)} | ${
      fmt(total / writers)
    } |`,
  );
  mt.close();
}
for (const w of workers) w.terminate();

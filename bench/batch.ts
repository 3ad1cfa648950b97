/**
 * Write batches against single puts: 1000-record batches of random 16-byte keys (100-byte
 * values) into a memtable that already holds `n` entries, against the same records added one
 * `add()` at a time into an identical memtable. The two alternate in rounds, in one process.
 *
 *     bun bench/batch.ts [n=1000000] [rounds=5] [batchSize=1000]
 *     deno run --allow-ffi --allow-read --allow-env bench/batch.ts …
 *
 * Prints one line per round and a JSON summary (median ns per record of each path).
 */
import process from "node:process";
import { MemTable, ValueType, WriteBatch } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 5);
const batchSize = Number(process.argv[4] ?? 1000);
const batchesPerRound = 50;
const runtime = "Bun" in globalThis ? "bun" : "deno";

const rng = new Rng(0x9e3779b9);
const rand = () => rng.u32();
function randomKey(): Uint8Array {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  for (let i = 0; i < 16; i += 4) v.setUint32(i, rand());
  return k;
}
const value = new Uint8Array(100).fill(0x61);

function prefilled(): MemTable {
  const mt = new MemTable({ writeBufferSize: 2 ** 31 });
  for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, randomKey(), value);
  return mt;
}

const batched = prefilled();
const single = prefilled();
let seq = n + 1;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const batchNs: number[] = [];
const singleNs: number[] = [];

for (let r = 0; r < rounds; r++) {
  // The same keys for both paths: prepared before timing.
  const keys = Array.from({ length: batchesPerRound * batchSize }, randomKey);
  const batches = Array.from({ length: batchesPerRound }, (_, b) => {
    const wb = new WriteBatch();
    for (let i = 0; i < batchSize; i++) wb.put(keys[b * batchSize + i]!, value);
    return wb;
  });
  const first = seq;
  seq += keys.length;

  let t = performance.now();
  for (let b = 0; b < batches.length; b++) batched.write(batches[b]!, first + b * batchSize);
  const tb = (performance.now() - t) * 1e6 / keys.length;

  t = performance.now();
  for (let i = 0; i < keys.length; i++) single.add(first + i, ValueType.Value, keys[i]!, value);
  const ts = (performance.now() - t) * 1e6 / keys.length;

  batchNs.push(tb);
  singleNs.push(ts);
  console.log(
    `round ${r + 1}: batch ${tb.toFixed(0)} ns/record, single add ${ts.toFixed(0)} ns/record, ` +
      `${(ts / tb).toFixed(2)}× (memtables at ${batched.numEntries.toLocaleString()} entries)`,
  );
}
const b = median(batchNs);
const s = median(singleNs);
console.log(JSON.stringify({
  runtime,
  n,
  batchSize,
  batchNsPerRecord: Math.round(b),
  singleNsPerRecord: Math.round(s),
  speedup: Number((s / b).toFixed(2)),
}));
batched.close();
single.close();

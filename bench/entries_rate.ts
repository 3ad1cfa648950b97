/**
 * `entries()` of the checkout at `tree` (default: this one), for comparing one commit's rate
 * with another's in alternating processes:
 *
 *     bun bench/entries_rate.ts [tree] [entries]
 *     deno run -A bench/entries_rate.ts [tree] [entries]
 *
 * The workload of bench/scan.ts (random 16-byte keys, 100-byte values distinct per entry, a
 * default `new MemTable()`); prints the median ns per entry of 3 full passes as one JSON line.
 */
import process from "node:process";
import { makeKeys, valueSize } from "./data.ts";

const tree = process.argv[2] ?? new URL("..", import.meta.url).pathname;
const n = Number(process.argv[3] ?? 1_000_000);
const { MemTable, ValueType } = await import(`${tree}/mod.ts`);
const { key } = makeKeys(n, 42);
using mt = new MemTable();
for (let i = 0; i < n; i++) {
  const value = new Uint8Array(valueSize);
  for (let b = 0; b < 4; b++) value[b] = i >>> (8 * b);
  mt.add(i + 1, ValueType.Value, key(i), value);
}
const times: number[] = [];
for (let r = 0; r < 3; r++) {
  let c = 0;
  const t0 = performance.now();
  for (const e of mt.entries()) c += e.value.length;
  times.push((performance.now() - t0) * 1e6 / n);
  if (c !== n * valueSize) throw new Error(`entries() read ${c} bytes`);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  runtime: "Deno" in globalThis ? "deno" : "bun",
  tree,
  entriesNsPerEntry: Math.round(times[1]! * 10) / 10,
}));

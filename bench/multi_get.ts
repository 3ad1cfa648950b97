/**
 * Batched lookups against single ones on the same memtable, in the same process:
 *
 *     bun bench/multi_get.ts [entries] [rounds]
 *     deno run --allow-ffi --allow-read --allow-env bench/multi_get.ts [entries] [rounds]
 *
 * Random 16-byte keys with 100-byte values (the workload's), looked up in another random order:
 * `get()` one key at a time, and `multiGet()` in batches of 16, 64 and 1000 keys (each batch's
 * array of fresh key views built in the timed loop, as `get` gets a fresh view per call). The
 * JS peers (`js-sdsl`'s OrderedMap and `sorted-btree`, keyed by binary strings, each value an
 * array of its own) hold the same entries and look the same keys up one at a time. The
 * contenders take turns in chunks of 10,000 keys, so drift on a shared machine falls on all of
 * them alike; per round every contender looks up every key once. Prints ns per key (median of
 * the rounds), the speed-up over `get()` and over the faster peer.
 */
import process from "node:process";
import { OrderedMap } from "js-sdsl";
import { MemTable, ValueType } from "../mod.ts";
import { BTree, makeKeys, valueSize } from "./data.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const chunk = 10_000;
const runtime = "Deno" in globalThis ? "deno" : "bun";

const { rng, key, binary } = makeKeys(n, 42);
const order = Uint32Array.from({ length: n }, (_, i) => i);
for (let i = n - 1; i > 0; i--) {
  const j = rng.below(i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
using mt = new MemTable({ writeBufferSize: 2 ** 31 });
const sdsl = new OrderedMap<string, Uint8Array>();
const btree = new BTree();
/** Entry i's value: its number in the first bytes, so each value differs. */
function valueOf(i: number): Uint8Array {
  const value = new Uint8Array(valueSize);
  value[0] = i;
  value[1] = i >>> 8;
  return value;
}
// Each structure filled alone (as bench/scan.ts does: filled together, the peers' nodes lie
// among each other's on the heap).
for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, key(i), valueOf(i));
for (let i = 0; i < n; i++) btree.set(binary(i), valueOf(i));
for (let i = 0; i < n; i++) sdsl.setElement(binary(i), valueOf(i));

/** Looks up order[from, to) and returns the bytes found (so nothing is optimised away). */
type Contender = (from: number, to: number) => number;

function single(from: number, to: number): number {
  let found = 0;
  for (let i = from; i < to; i++) {
    const r = mt.get(key(order[i]!));
    if (r.kind === "value") found += r.value.length;
  }
  return found;
}

function batched(size: number): Contender {
  return (from, to) => {
    let found = 0;
    for (let i = from; i < to; i += size) {
      const end = Math.min(i + size, to);
      const keys = new Array(end - i);
      for (let j = i; j < end; j++) keys[j - i] = key(order[j]!);
      for (const r of mt.multiGet(keys)) if (r.kind === "value") found += r.value.length;
    }
    return found;
  };
}

function peer(get: (k: string) => Uint8Array | undefined): Contender {
  return (from, to) => {
    let found = 0;
    for (let i = from; i < to; i++) found += get(binary(order[i]!))?.length ?? 0;
    return found;
  };
}

const contenders: [string, Contender][] = [
  ["get", single],
  ["js-sdsl", peer((k) => sdsl.getElementByKey(k))],
  ["sorted-btree", peer((k) => btree.get(k))],
  ["multiGet(16)", batched(16)],
  ["multiGet(64)", batched(64)],
  ["multiGet(1000)", batched(1000)],
];
const samples: number[][] = contenders.map(() => []);
// A warm-up pass over a tenth of the keys lets the JIT reach its top tier on every contender.
for (const [, c] of contenders) c(0, Math.min(n, 100_000));
for (let r = 0; r < rounds; r++) {
  const ns = contenders.map(() => 0);
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(from + chunk, n);
    contenders.forEach(([, c], k) => {
      const t0 = performance.now();
      const found = c(from, to);
      ns[k]! += (performance.now() - t0) * 1e6;
      if (found !== (to - from) * valueSize) throw new Error(`lookups missed: ${found}`);
    });
  }
  ns.forEach((t, k) => samples[k]!.push(t / n));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(samples[0]!);
console.log(
  `${runtime}, ${n} entries, median of ${rounds} rounds, contenders interleaved in chunks of ${chunk}:`,
);
const bestPeer = Math.min(median(samples[1]!), median(samples[2]!));
for (const [k, [name]] of contenders.entries()) {
  const m = median(samples[k]!);
  const ratios = `${(base / m).toFixed(2)}× get, ${(bestPeer / m).toFixed(2)}× the faster peer`;
  console.log(`  ${name.padEnd(15)} ${m.toFixed(0).padStart(6)} ns/key  (${ratios})`);
}

/**
 * Scans against the JS peers on the same entries, in the same process:
 *
 *     bun bench/scan.ts [entries] [rounds]
 *     deno run --allow-ffi --allow-read --allow-env bench/scan.ts [entries] [rounds]
 *
 * Random 16-byte keys with 100-byte values distinct per entry, in a default `new MemTable()`
 * and in `js-sdsl`'s OrderedMap and `sorted-btree` (keyed by binary strings, each value an
 * array of its own). Full scans: `scan()` touching each value's view (`value(i).length`), `scan()`
 * reading lengths only (`valueLength(i)`), `entries()`, and each peer's own fastest walk
 * (`forEach`/`forEachPair`) reading `value.length`; range scans: 1000 seeks to random keys, 1000
 * entries read after each, `scan({ lowerBound, limit })` against `MemTableIterator` and the
 * peers' iterators from a lower bound. The contenders alternate within each round; the median
 * of the rounds is printed, with throughput ratios to the faster peer. The peers still share
 * one heap here; `bench/workload.ts` gives each a process of its own, and there the peers'
 * range scans are faster still on Deno (the fairer figure for them).
 */
import process from "node:process";
import { OrderedMap } from "js-sdsl";
import { MemTable, ValueType } from "../mod.ts";
import { BTree, makeKeys, valueSize } from "./data.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const rangeLength = 1000;
const rangeScans = Math.min(1000, n);
const runtime = "Deno" in globalThis ? "deno" : "bun";

const { rng, key, binary } = makeKeys(n, 42);
using mt = new MemTable();
const sdsl = new OrderedMap<string, Uint8Array>();
const btree = new BTree();
/** Entry i's value: its number in the first bytes, so each value differs. */
function valueOf(i: number): Uint8Array {
  const value = new Uint8Array(valueSize);
  for (let b = 0; b < 4; b++) value[b] = i >>> (8 * b);
  return value;
}
// Each structure is filled alone, as if it were the only one in the process: filled together,
// the peers' nodes and values lie among each other's on the heap, which slowed sorted-btree's
// range scans on Deno from 248 to 374 µs (the workload, one structure per process: 116).
for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, key(i), valueOf(i));
for (let i = 0; i < n; i++) btree.set(binary(i), valueOf(i));
for (let i = 0; i < n; i++) sdsl.setElement(binary(i), valueOf(i));
const seeks = Uint32Array.from({ length: rangeScans }, () => rng.below(n));

type Contender = () => number;

const full: Record<string, Contender> = {
  "scan, value views": () => {
    let c = 0;
    for (const b of mt.scan()) for (let i = 0; i < b.length; i++) c += b.value(i).length;
    return c;
  },
  "scan, lengths": () => {
    let c = 0;
    for (const b of mt.scan()) for (let i = 0; i < b.length; i++) c += b.valueLength(i);
    return c;
  },
  "entries()": () => {
    let c = 0;
    for (const e of mt.entries()) c += e.value.length;
    return c;
  },
  "sorted-btree": () => {
    let c = 0;
    btree.forEachPair((_k, v) => void (c += v.length));
    return c;
  },
  "js-sdsl": () => {
    let c = 0;
    sdsl.forEach(([, v]) => void (c += v.length));
    return c;
  },
};

const range: Record<string, Contender> = {
  "scan({ lowerBound, limit })": () => {
    let c = 0;
    for (let j = 0; j < rangeScans; j++) {
      for (const b of mt.scan({ lowerBound: key(seeks[j]!), limit: rangeLength })) {
        for (let i = 0; i < b.length; i++) c += b.value(i).length;
      }
    }
    return c;
  },
  "iterator()": () => {
    let c = 0;
    for (let j = 0; j < rangeScans; j++) {
      using it = mt.iterator();
      let k = 0;
      for (it.seek(key(seeks[j]!)); it.valid() && k < rangeLength; it.next(), k++) {
        c += it.value().length;
      }
    }
    return c;
  },
  "sorted-btree": () => {
    let c = 0;
    for (let j = 0; j < rangeScans; j++) {
      let k = 0;
      for (const [, v] of btree.entries(binary(seeks[j]!))) {
        if (k++ >= rangeLength) break;
        c += v.length;
      }
    }
    return c;
  },
  "js-sdsl": () => {
    let c = 0;
    for (let j = 0; j < rangeScans; j++) {
      let k = 0;
      for (
        const it = sdsl.lowerBound(binary(seeks[j]!));
        !it.equals(sdsl.end()) && k < rangeLength;
        it.next(), k++
      ) c += it.pointer[1].length;
    }
    return c;
  },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function measure(contenders: Record<string, Contender>, per: number, unit: string): void {
  const times: Record<string, number[]> = {};
  let expected: number | undefined;
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of Object.entries(contenders)) {
      const t0 = performance.now();
      const got = f();
      const ns = (performance.now() - t0) * 1e6;
      expected ??= got;
      if (got !== expected) throw new Error(`${name}: read ${got} bytes, expected ${expected}`);
      (times[name] ??= []).push(ns / per);
    }
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const peer = Math.min(med["sorted-btree"]!, med["js-sdsl"]!);
  for (const [name, t] of Object.entries(med)) {
    const shown = unit === "µs" ? (t / 1000).toFixed(1) : t.toFixed(1);
    console.log(
      `  ${name.padEnd(28)} ${shown.padStart(8)} ${unit}  ${
        (peer / t).toFixed(2)
      }× the faster peer`,
    );
  }
}

console.log(`${runtime}, ${n} entries, median of ${rounds} rounds, contenders alternating:`);
console.log(" full scan, per entry:");
measure(full, n, "ns");
console.log(` range scan (seek + ${rangeLength} entries), per scan:`);
measure(range, rangeScans, "µs");

/**
 * Per-operation benchmarks with mitata, peers side by side, a no-op FFI call as the baseline:
 *
 *     bun bench/ops.bench.ts          deno run --allow-ffi --allow-read --allow-env bench/ops.bench.ts
 *
 * Every structure is loaded with MEMTABLE_BENCH_ENTRIES (default 1,000,000) random 16-byte
 * keys and 100-byte values first; `get` looks up random present keys, `put` inserts fresh
 * keys into the loaded structure, `seek+next×10` is a short range scan.
 */
import process from "node:process";
import { bench, do_not_optimize, group, run, summary } from "mitata";
import { OrderedMap } from "js-sdsl";
import { MemTable, ValueType } from "../mod.ts";
import { native } from "../src/ffi/native.ts";
import { BTree, makeKeys } from "./data.ts";

const n = Number(process.env.MEMTABLE_BENCH_ENTRIES ?? 1_000_000);
const extra = 4_000_000; // fresh keys for the put benchmarks
const { key, binary } = makeKeys(n + extra, 7);
const value = new Uint8Array(100).fill(1);

const mt = new MemTable({ writeBufferSize: 2 ** 31 });
const btree = new BTree();
const sdsl = new OrderedMap<string, Uint8Array>();
for (let i = 0; i < n; i++) {
  mt.add(i + 1, ValueType.Value, key(i), value);
  btree.set(binary(i), value.slice());
  sdsl.setElement(binary(i), value.slice());
}
const fn = native().fn;
const it = mt.iterator();
const pick = () => Math.floor(Math.random() * n);
let nextFresh = n;
let seq = n + 1;

group(`get a random present key (${n} entries)`, () => {
  summary(() => {
    bench("no-op FFI call (baseline)", () => do_not_optimize(fn.memtable_abi_version())).baseline();
    bench("memtable get", () => do_not_optimize(mt.get(key(pick()))));
    bench("sorted-btree get", () => do_not_optimize(btree.get(binary(pick()))));
    bench("js-sdsl OrderedMap get", () => do_not_optimize(sdsl.getElementByKey(binary(pick()))));
  });
});

group(`put a fresh random key (${n}+ entries)`, () => {
  summary(() => {
    bench("memtable add", () => {
      const i = nextFresh < n + extra ? nextFresh++ : pick();
      mt.add(seq++, ValueType.Value, key(i), value);
    });
    bench("sorted-btree set", () => {
      const i = nextFresh < n + extra ? nextFresh++ : pick();
      btree.set(binary(i), value.slice());
    });
    bench("js-sdsl OrderedMap setElement", () => {
      const i = nextFresh < n + extra ? nextFresh++ : pick();
      sdsl.setElement(binary(i), value.slice());
    });
  });
});

group("seek + next×10", () => {
  summary(() => {
    bench("memtable iterator (one cursor, re-seeked)", () => {
      let c = 0;
      for (it.seek(key(pick())); it.valid() && c < 10 * value.length; it.next()) c += it.value().length;
      do_not_optimize(c);
    });
    bench("sorted-btree entries()", () => {
      let c = 0;
      for (const [, v] of btree.entries(binary(pick()))) {
        if (c >= 10 * value.length) break;
        c += v.length;
      }
      do_not_optimize(c);
    });
    bench("js-sdsl lowerBound()", () => {
      let c = 0;
      for (let it = sdsl.lowerBound(binary(pick())); !it.equals(sdsl.end()) && c < 10 * value.length; it.next()) c += it.pointer[1].length;
      do_not_optimize(c);
    });
  });
});

await run({ colors: false });
it.close();
mt.close();

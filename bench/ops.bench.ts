/**
 * Per-operation benchmarks with mitata, a no-op FFI call as the baseline:
 *
 *     bun bench/ops.bench.ts <impl>
 *     deno run --allow-ffi --allow-read --allow-env bench/ops.bench.ts <impl>
 *
 * impl: memtable | sorted-btree | js-sdsl. One structure per process: a million-entry JS map
 * makes every allocation in its process pay for the garbage collector, which would be charged
 * to whatever else is measured there (seen on Deno: a no-op FFI call at 280 ns). The structure
 * is loaded with MEMTABLE_BENCH_ENTRIES (default 1,000,000) random 16-byte keys and 100-byte
 * values; `get` looks up random present keys, `put` inserts fresh keys into a second loaded
 * structure, `seek + next×10` is a short range scan. `scripts/bench.sh` runs all three.
 */
import process from "node:process";
import { bench, do_not_optimize, run, summary } from "mitata";
import { OrderedMap } from "js-sdsl";
import { MemTable, ValueType } from "../mod.ts";
import { native } from "../src/ffi/native.ts";
import { BTree, makeKeys } from "./data.ts";

const n = Number(process.env.MEMTABLE_BENCH_ENTRIES ?? 1_000_000);
const extra = 1_000_000; // fresh keys for the put benchmark
const { key, binary } = makeKeys(n + extra, 7);
const value = new Uint8Array(100).fill(1);

const impl = process.argv[2] ?? "memtable";
const fn = native().fn;
const pick = () => Math.floor(Math.random() * n);
let nextFresh = n;
const fresh = () => (nextFresh < n + extra ? nextFresh++ : pick());

/** get, put and a short scan for one structure. */
interface Ops {
  get(): unknown;
  put(): void;
  scan10(): number;
  close(): void;
}

function memtable(): Ops {
  const mt = new MemTable({ writeBufferSize: 2 ** 31 });
  for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, key(i), value);
  let seq = n + 1;
  const it = mt.iterator();
  return {
    get: () => mt.get(key(pick())),
    put: () => mt.add(seq++, ValueType.Value, key(fresh()), value),
    scan10: () => {
      let c = 0;
      for (it.seek(key(pick())); it.valid() && c < 10 * value.length; it.next()) {
        c += it.value().length;
      }
      return c;
    },
    close: () => {
      it.close();
      mt.close();
    },
  };
}

function sortedBtree(): Ops {
  const t = new BTree();
  for (let i = 0; i < n; i++) t.set(binary(i), value.slice());
  return {
    get: () => t.get(binary(pick())),
    put: () => void t.set(binary(fresh()), value.slice()),
    scan10: () => {
      let c = 0;
      for (const [, v] of t.entries(binary(pick()))) {
        if (c >= 10 * value.length) break;
        c += v.length;
      }
      return c;
    },
    close: () => {},
  };
}

function jsSdsl(): Ops {
  const m = new OrderedMap<string, Uint8Array>();
  for (let i = 0; i < n; i++) m.setElement(binary(i), value.slice());
  return {
    get: () => m.getElementByKey(binary(pick())),
    put: () => void m.setElement(binary(fresh()), value.slice()),
    scan10: () => {
      let c = 0;
      for (
        const it = m.lowerBound(binary(pick()));
        !it.equals(m.end()) && c < 10 * value.length;
        it.next()
      ) {
        c += it.pointer[1].length;
      }
      return c;
    },
    close: () => {},
  };
}

const makers: Record<string, () => Ops> = {
  memtable,
  "sorted-btree": sortedBtree,
  "js-sdsl": jsSdsl,
};
const make = makers[impl];
if (!make) {
  console.error(`unknown implementation ${impl}; known: ${Object.keys(makers).join(", ")}`);
  process.exit(2);
}
// Reads and writes get structures of their own: mitata runs every benchmark more than once,
// and the writes would otherwise grow the structure the reads are measured on.
const ops = make();
const writes = make();

summary(() => {
  bench("no-op FFI call (baseline)", () => do_not_optimize(fn.memtable_abi_version())).baseline();
  bench(`${impl} get (${n} entries)`, () => do_not_optimize(ops.get()));
  bench(`${impl} put (fresh key, ${n}–${n + extra} entries)`, () => writes.put());
  bench(`${impl} seek + next×10`, () => do_not_optimize(ops.scan10()));
});

await run({ colors: false });
ops.close();
writes.close();

/**
 * Target (a) measured in one process: the TypeScript path (`MemTable.add` / `MemTable.get`,
 * one FFI crossing each) against the same workload driven by a Zig loop inside the same
 * process on the same code (the `-Dbench-exports` build's `memtable_bench_*` exports), in
 * alternating rounds: puts into two memtables made alike, gets from the very same memtable.
 * Separate processes (and even two memtables in one process) differ by more than the
 * boundary costs (memory placement, the runtime's GC threads sharing the caches), so this is
 * the fair comparison.
 *
 *     (cd native && python3 -m ziglang build -Doptimize=fast -Dbench-exports=true --prefix zig-out-bench)
 *     MEMTABLE_LIBRARY_PATH=$PWD/native/zig-out-bench/lib/libmemtable.so bun bench/boundary.ts [entries] [rounds]
 */
import process from "node:process";
import { loadLibrary, MemTable, ValueType } from "../mod.ts";
import { native, Scratch } from "../src/ffi/native.ts";
import { nativeHandleOf } from "../src/memtable/memtable.ts";
import { keySize, makeKeys, valueSize } from "./data.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const { path } = loadLibrary();

type BenchFns = {
  inserts(
    h: unknown,
    keys: Uint8Array,
    keySize: number,
    value: Uint8Array,
    valueLength: number,
    firstSeq: number,
    n: number,
  ): number;
  lookups(
    h: unknown,
    keys: Uint8Array,
    keySize: number,
    order: Uint32Array,
    n: number,
    out: Uint8Array,
    cap: number,
  ): number;
};

/** The two benchmark-only symbols, from the library already loaded (dlopen returns it again). */
async function benchSymbols(): Promise<BenchFns> {
  if ("Bun" in globalThis) {
    const { dlopen, FFIType } = await import("bun:ffi");
    const { u32, i32, ptr } = FFIType;
    const lib = dlopen(path, {
      memtable_bench_inserts: { args: [ptr, ptr, u32, ptr, u32, u32, u32], returns: i32 },
      memtable_bench_lookups: { args: [ptr, ptr, u32, ptr, u32, ptr, u32], returns: i32 },
    });
    const s = lib.symbols as unknown as Record<string, (...a: unknown[]) => number>;
    return {
      inserts: (...a) => s.memtable_bench_inserts!(...a),
      lookups: (...a) => s.memtable_bench_lookups!(...a),
    };
  }
  const D = (globalThis as unknown as { Deno: typeof Deno }).Deno;
  const lib = D.dlopen(
    path,
    {
      memtable_bench_inserts: {
        parameters: ["pointer", "buffer", "u32", "buffer", "u32", "u32", "u32"],
        result: "i32",
      },
      memtable_bench_lookups: {
        parameters: ["pointer", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
        result: "i32",
      },
    } as const,
  );
  const s = lib.symbols as unknown as Record<string, (...a: unknown[]) => number>;
  return {
    inserts: (...a) => s.memtable_bench_inserts!(...a),
    lookups: (...a) => s.memtable_bench_lookups!(...a),
  };
}

let bench: BenchFns;
try {
  bench = await benchSymbols();
} catch (e) {
  console.error(
    `${path} has no benchmark exports (${(e as Error).message}); see the usage in this file`,
  );
  process.exit(2);
}

const { rng, bytes, key } = makeKeys(n, 42);
const value = new Uint8Array(valueSize).map((_, i) => i);
const order = Uint32Array.from({ length: n }, (_, i) => i);
for (let i = n - 1; i > 0; i--) {
  const j = rng.below(i + 1);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const out = new Uint8Array(4096);
const time = (f: () => void) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) * 1e6 / n;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const results = {
  tsPut: [] as number[],
  zigPut: [] as number[],
  tsGet: [] as number[],
  zigGet: [] as number[],
  bareGet: [] as number[],
};
const fn = native().fn;
const scratch = new Scratch(4096);

for (let r = 0; r < rounds; r++) {
  // Two memtables made the same way: the TypeScript loop fills one, the Zig loop the other;
  // then both loops read the one the TypeScript loop filled.
  const mt = new MemTable({ writeBufferSize: 2 ** 31 });
  const twin = new MemTable({ writeBufferSize: 2 ** 31 });
  const h = nativeHandleOf(mt);
  const ts = () =>
    results.tsPut.push(time(() => {
      for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, key(i), value);
    }));
  const zig = () =>
    results.zigPut.push(time(() => {
      if (bench.inserts(nativeHandleOf(twin), bytes, keySize, value, valueSize, 1, n) !== n) {
        throw new Error("native inserts failed");
      }
    }));
  if (r % 2 === 0) (ts(), zig());
  else (zig(), ts());
  let found = 0;
  const tsGet = () =>
    results.tsGet.push(time(() => {
      for (let j = 0; j < n; j++) {
        const g = mt.get(key(order[j]!));
        if (g.kind === "value") found += g.value.length;
      }
    }));
  const zigGet = () =>
    results.zigGet.push(time(() => {
      if (bench.lookups(h, bytes, keySize, order, n, out, out.length) !== n) {
        throw new Error("native lookups missed");
      }
    }));
  // The crossing alone: the same FFI call MemTable.get makes, with no result built.
  const bareGet = () =>
    results.bareGet.push(time(() => {
      const b = scratch.bytes;
      let hits = 0;
      for (let j = 0; j < n; j++) {
        const o = order[j]! * keySize;
        for (let q = 0; q < keySize; q++) b[q] = bytes[o + q]!;
        hits += fn.memtable_get(h, scratch.arg, 0, scratch.capacity, keySize, 0xff_ffff, 0xffff_ffff);
      }
      if (hits !== n) throw new Error("bare lookups missed");
    }));
  if (r % 2 === 0) (tsGet(), zigGet(), bareGet());
  else (bareGet(), zigGet(), tsGet());
  if (found !== n * valueSize) throw new Error(`MemTable.get found ${found} bytes`);
  mt.close();
  twin.close();
}

const runtime = "Bun" in globalThis ? "bun" : "deno";
const [tp, zp, tg, zg, bg] = [
  results.tsPut,
  results.zigPut,
  results.tsGet,
  results.zigGet,
  results.bareGet,
]
  .map(median) as [number, number, number, number, number];
console.log(`${runtime}, ${n} entries, median of ${rounds} alternating rounds in one process:`);
console.log(
  `  put: TypeScript ${tp.toFixed(0)} ns/op, Zig loop ${zp.toFixed(0)} ns/op, ratio ${
    (tp / zp).toFixed(3)
  }`,
);
console.log(
  `  get: TypeScript ${tg.toFixed(0)} ns/op, Zig loop ${zg.toFixed(0)} ns/op, ratio ${
    (tg / zg).toFixed(3)
  }`,
);
console.log(
  `  get, the FFI crossing alone (no result built): ${bg.toFixed(0)} ns/op, ratio ${
    (bg / zg).toFixed(3)
  }`,
);

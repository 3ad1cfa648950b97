/**
 * Target (a) measured in one process: the TypeScript path (`MemTable.add` / `MemTable.get`,
 * one FFI crossing each) against the same workload driven by a Zig loop inside the same
 * process on the same code (the `-Dbench-exports` build's `memtable_bench_*` exports).
 *
 * The contenders take turns in chunks of 10,000 operations (the order rotating per chunk), so
 * drift on a shared machine (other tenants, clock changes, the runtime's GC threads) falls on
 * all of them alike; timing whole phases one after another moved the ratios by ±20%. Puts go
 * into one memtable per contender, all growing in step with the same keys; gets read the very
 * same memtable. Besides the Zig loop and `MemTable`, two references:
 *
 * - the TypeScript path with keys in one reused array: the harness's own cost of making a key
 *   object per call (`subarray`, as a caller holding keys back to back would) left out — the
 *   Zig loop reads its keys in place;
 * - `getInto` (gets only), the read that allocates nothing, with the key in a reused array and
 *   the value copied into one reused destination: the Zig loop's own work, from TypeScript;
 * - the crossing alone: the same FFI call `MemTable` makes, with the key copied by a loop and
 *   no result built (no checks, no copy out).
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
const chunk = 10_000;
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
const fn = native().fn;
const scratch = new Scratch(4096);
const reused = new Uint8Array(keySize);
/** Key i copied into the one reused array. */
const keyInto = (i: number) => {
  const o = i * keySize;
  for (let q = 0; q < keySize; q++) reused[q] = bytes[o + q]!;
  return reused;
};

type Contender = [name: string, run: (from: number, to: number) => void];

/** Runs the contenders over [0, n) in rotating chunks; ns per operation by name. */
function race(contenders: Contender[]): Map<string, number> {
  const total = new Map<string, number>();
  for (let from = 0, c = 0; from < n; from += chunk, c++) {
    const to = Math.min(n, from + chunk);
    for (let i = 0; i < contenders.length; i++) {
      const [name, run] = contenders[(i + c) % contenders.length]!;
      const t0 = performance.now();
      run(from, to);
      total.set(name, (total.get(name) ?? 0) + performance.now() - t0);
    }
  }
  for (const [name, ms] of total) total.set(name, ms * 1e6 / n);
  return total;
}

const put = new Map<string, number[]>();
const get = new Map<string, number[]>();
const record = (into: Map<string, number[]>, from: Map<string, number>) => {
  for (const [name, ns] of from) (into.get(name) ?? into.set(name, []).get(name)!).push(ns);
};

for (let r = 0; r < rounds; r++) {
  // One memtable per put contender, made alike.
  const made = () => new MemTable({ writeBufferSize: 2 ** 31 });
  const [zigMt, tsMt, reusedMt, crossingMt] = [made(), made(), made(), made()];
  const zigH = nativeHandleOf(zigMt);
  const crossingH = nativeHandleOf(crossingMt);
  record(
    put,
    race([
      ["zig", (from, to) => {
        const keys = bytes.subarray(from * keySize, to * keySize);
        if (
          bench.inserts(zigH, keys, keySize, value, valueSize, from + 1, to - from) !== to - from
        ) {
          throw new Error("native inserts failed");
        }
      }],
      ["ts", (from, to) => {
        for (let i = from; i < to; i++) tsMt.add(i + 1, ValueType.Value, key(i), value);
      }],
      ["tsReusedKey", (from, to) => {
        for (let i = from; i < to; i++) reusedMt.add(i + 1, ValueType.Value, keyInto(i), value);
      }],
      ["crossing", (from, to) => {
        const b = scratch.bytes;
        for (let i = from; i < to; i++) {
          const o = i * keySize;
          for (let q = 0; q < keySize; q++) b[q] = bytes[o + q]!;
          b.set(value, keySize);
          const rc = fn.memtable_add(
            crossingH,
            scratch.arg,
            scratch.capacity,
            0,
            i + 1,
            1,
            keySize,
            valueSize,
          );
          if (rc !== 0) throw new Error(`memtable_add: ${rc}`);
        }
      }],
    ]),
  );
  const h = nativeHandleOf(tsMt);
  let found = 0;
  record(
    get,
    race([
      ["zig", (from, to) => {
        if (
          bench.lookups(h, bytes, keySize, order.subarray(from, to), to - from, out, out.length) !==
            to - from
        ) {
          throw new Error("native lookups missed");
        }
      }],
      ["ts", (from, to) => {
        for (let j = from; j < to; j++) {
          const g = tsMt.get(key(order[j]!));
          if (g.kind === "value") found += g.value.length;
        }
      }],
      ["tsReusedKey", (from, to) => {
        for (let j = from; j < to; j++) {
          const g = tsMt.get(keyInto(order[j]!));
          if (g.kind === "value") found += g.value.length;
        }
      }],
      ["getInto", (from, to) => {
        for (let j = from; j < to; j++) found += tsMt.getInto(keyInto(order[j]!), out);
      }],
      ["crossing", (from, to) => {
        const b = scratch.bytes;
        for (let j = from; j < to; j++) {
          const o = order[j]! * keySize;
          for (let q = 0; q < keySize; q++) b[q] = bytes[o + q]!;
          if (
            fn.memtable_get(
              h,
              scratch.arg,
              0,
              scratch.capacity,
              keySize,
              0xff_ffff,
              0xffff_ffff,
              0,
            ) !== 1
          ) {
            throw new Error("a lookup missed");
          }
        }
      }],
    ]),
  );
  if (found !== 3 * n * valueSize) throw new Error(`MemTable.get found ${found} bytes`);
  for (const mt of [zigMt, tsMt, reusedMt, crossingMt]) mt.close();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const runtime = "Bun" in globalThis ? "bun" : "deno";
console.log(
  `${runtime}, ${n} entries, median of ${rounds} rounds, contenders interleaved in chunks of ${chunk}:`,
);
for (const [op, results] of [["put", put], ["get", get]] as const) {
  const zig = median(results.get("zig")!);
  const cell = (name: string) => {
    const ns = median(results.get(name)!);
    return `${ns.toFixed(0)} ns/op (${(ns / zig).toFixed(3)})`;
  };
  const into = op === "get" ? `; getInto (reused key and destination) ${cell("getInto")}` : "";
  console.log(
    `  ${op}: Zig loop ${zig.toFixed(0)} ns/op; TypeScript ${cell("ts")}, with keys in a ` +
      `reused array ${cell("tsReusedKey")}${into}; the crossing alone ${cell("crossing")}`,
  );
}

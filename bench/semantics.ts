/**
 * The cost of MemTable semantics beyond plain puts and gets:
 *
 *     bun bench/semantics.ts [ops=500000]
 *     deno run --allow-ffi --allow-read --allow-env bench/semantics.ts …
 *
 * 1. Workloads (ops/s, timed loops):
 *    - counters: 10,000 uint64Add counters, 90% merges (+1) and 10% gets, with
 *      maxSuccessiveMerges 0 (operands pile up) and 16 (collapsed on write);
 *    - range deletions: 100,000 keys, 80% puts, 2% deleteRange over ~100 keys, 18% gets.
 * 2. Per-get cost (mitata) with 0, 1, 10 and 100 merge operands on the key, and with 0, 1, 10
 *    and 100 range tombstones covering it (plus 100 elsewhere), in a 100,000-entry memtable.
 */
import process from "node:process";
import { bench, do_not_optimize, run, summary } from "mitata";
import { MemTable, uint64Add, ValueType } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";

const ops = Number(process.argv[2] ?? 500_000);
const runtime = "Bun" in globalThis ? "bun" : "deno";

const rng = new Rng(0x2545f491);
const rand = () => rng.u32();
const keyOf = (i: number) => `key:${String(i).padStart(8, "0")}`;
const one = uint64Add.operand(1);
const value = new Uint8Array(100).fill(0x62);

function counters(maxSuccessiveMerges: number): number {
  using mt = new MemTable({
    writeBufferSize: 2 ** 31,
    mergeOperator: uint64Add,
    maxSuccessiveMerges,
  });
  const keys = Array.from({ length: 10_000 }, (_, i) => keyOf(i));
  let seq = 0;
  let total = 0n;
  const t = performance.now();
  for (let i = 0; i < ops; i++) {
    const k = keys[rand() % keys.length]!;
    if (rand() % 10 !== 0) mt.add(++seq, ValueType.Merge, k, one);
    else {
      const r = mt.get(k);
      if (r.kind === "value") total += uint64Add.decode(r.value);
      else if (r.kind === "merge") {
        total += uint64Add.decode(uint64Add.fullMerge(new Uint8Array(0), undefined, r.operands));
      }
    }
  }
  const seconds = (performance.now() - t) / 1000;
  if (total < 0n) throw new Error("unreachable");
  return ops / seconds;
}

function rangeDeletions(): number {
  using mt = new MemTable({ writeBufferSize: 2 ** 31 });
  const keys = Array.from({ length: 100_000 }, (_, i) => keyOf(i));
  let seq = 0;
  let found = 0;
  const t = performance.now();
  for (let i = 0; i < ops; i++) {
    const roll = rand() % 100;
    const at = rand() % keys.length;
    if (roll < 80) mt.add(++seq, ValueType.Value, keys[at]!, value);
    else if (roll < 82) mt.addRangeDeletion(++seq, keys[at]!, keyOf(at + 100));
    else if (mt.get(keys[at]!).kind === "value") found++;
  }
  const seconds = (performance.now() - t) / 1000;
  if (found < 0) throw new Error("unreachable");
  return ops / seconds;
}

const results = {
  runtime,
  ops,
  countersOpsPerSec: Math.round(counters(0)),
  countersCollapsedOpsPerSec: Math.round(counters(16)),
  rangeDeletionOpsPerSec: Math.round(rangeDeletions()),
};
console.log(JSON.stringify(results));

// ---- per-get cost --------------------------------------------------------------------------

const base = 100_000;
function loaded(options: ConstructorParameters<typeof MemTable>[0]): MemTable {
  const mt = new MemTable({ writeBufferSize: 2 ** 30, ...options });
  for (let i = 0; i < base; i++) mt.add(i + 1, ValueType.Value, keyOf(i), uint64Add.operand(i));
  return mt;
}

const merges = loaded({ mergeOperator: uint64Add });
let seq = base + 1;
for (const n of [1, 10, 100]) {
  const k = keyOf(n); // a key with n operands over its value
  for (let i = 0; i < n; i++) merges.add(seq++, ValueType.Merge, k, one);
}
const tombstones = loaded({});
for (let i = 0; i < 100; i++) {
  // 100 narrow tombstones elsewhere, then 1, 10, 100 tombstones covering one key each.
  tombstones.addRangeDeletion(seq++, keyOf(50_000 + i * 10), keyOf(50_000 + i * 10 + 5));
}
for (const n of [1, 10, 100]) {
  for (let i = 0; i < n; i++) {
    tombstones.addRangeDeletion(seq++, keyOf(n - 1 - (i % n)), keyOf(n + 1 + i));
  }
}
tombstones.get(keyOf(0)); // builds the fragment cache once

summary(() => {
  bench("get, plain value", () => do_not_optimize(merges.get(keyOf(500))));
  for (const n of [1, 10, 100]) {
    bench(
      `get, ${n} merge operand(s) folded (uint64Add)`,
      () => do_not_optimize(merges.get(keyOf(n))),
    );
  }
});
summary(() => {
  bench(
    "get, no tombstone covers the key (100 elsewhere)",
    () => do_not_optimize(tombstones.get(keyOf(20_000))),
  );
  for (const n of [1, 10, 100]) {
    bench(`get, ${n} tombstone(s) cover the key`, () => do_not_optimize(tombstones.get(keyOf(n))));
  }
});
await run({ colors: false });
merges.close();
tombstones.close();

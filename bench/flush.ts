/**
 * The flush with a built-in merge operator: the native flush (which folds merge runs natively)
 * against the TypeScript flush, on the same memtables in the same run:
 *
 *     bun bench/flush.ts [entries=1000000] [rounds=3]
 *     deno run -A bench/flush.ts …
 *
 * Two workloads of `entries` writes over random 16-byte keys (a quarter as many keys as
 * writes, so most keys have several versions): counters (`uint64Add`, 8-byte values, 70%
 * merges) and lists (`stringAppend(",")`, 100-byte values and 20-byte operands, 50% merges),
 * with one live snapshot in the middle. Each round flushes the memtable with `flushMemTables`,
 * `flushMemTablesNative` with the operator and `flushMemTablesNative` without one (operands
 * kept: more bytes written), file synced included. Reported: the median over the rounds of MB of
 * SST written per second and of input entries per second, and whether the two folding flushes
 * wrote the same bytes.
 */
import { Buffer } from "node:buffer";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MemTable, type MergeOperator, stringAppend, uint64Add, ValueType } from "../mod.ts";
import { flushMemTables, flushMemTablesNative, type FlushStats } from "../flush.ts";
import { Rng } from "../tests/helpers.ts";

const entries = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const runtime = "Bun" in globalThis ? "bun" : "deno";
const keySize = 16;

interface Workload {
  name: string;
  op: MergeOperator;
  mergePercent: number;
  value(rng: Rng): Uint8Array;
  operand(rng: Rng): Uint8Array;
}

const workloads: Workload[] = [
  {
    name: "uint64Add counters",
    op: uint64Add,
    mergePercent: 70,
    value: (rng) => uint64Add.operand(rng.u32()),
    operand: (rng) => uint64Add.operand(1 + rng.below(100)),
  },
  {
    name: "stringAppend lists",
    op: stringAppend(","),
    mergePercent: 50,
    value: (rng) => rng.bytes(100),
    operand: (rng) => rng.bytes(20),
  },
];

function fill(w: Workload): { mt: MemTable; snapshot: number } {
  const rng = new Rng(0x5eed);
  const keys = Array.from({ length: Math.max(1, entries >> 2) }, () => rng.bytes(keySize));
  const mt = new MemTable({ writeBufferSize: 2 ** 31, mergeOperator: w.op });
  for (let seq = 1; seq <= entries; seq++) {
    const key = keys[rng.below(keys.length)]!;
    if (rng.below(100) < w.mergePercent) mt.add(seq, ValueType.Merge, key, w.operand(rng));
    else mt.add(seq, ValueType.Value, key, w.value(rng));
  }
  mt.markImmutable();
  return { mt, snapshot: entries >> 1 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-flush-"));
try {
  for (const w of workloads) {
    const { mt, snapshot } = fill(w);
    const input = { memtables: [mt], snapshots: [snapshot] };
    const kinds: [string, (path: string) => FlushStats][] = [
      ["TypeScript flush", (p) => flushMemTables(p, { ...input, mergeOperator: w.op })],
      ["native flush", (p) => flushMemTablesNative(p, { ...input, mergeOperator: w.op })],
      ["native, no operator", (p) => flushMemTablesNative(p, input)],
    ];
    const times = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
    const sizes = new Map<string, number>();
    for (let r = 0; r < rounds; r++) {
      for (const [kind, flush] of kinds) {
        const path = join(dir, `${kind.replaceAll(/\W/g, "_")}.sst`);
        const t = performance.now();
        const stats = flush(path);
        times.get(kind)!.push(performance.now() - t);
        sizes.set(kind, stats.fileSize);
      }
    }
    const same = Buffer.compare(
      readFileSync(join(dir, "TypeScript_flush.sst")),
      readFileSync(join(dir, "native_flush.sst")),
    ) === 0;
    for (const [kind] of kinds) {
      const ms = median(times.get(kind)!);
      const size = sizes.get(kind)!;
      console.log(JSON.stringify({
        runtime,
        workload: w.name,
        flush: kind,
        entries,
        sstMB: +(size / (1 << 20)).toFixed(1),
        ms: Math.round(ms),
        sstMBPerSec: +((size / (1 << 20)) / (ms / 1000)).toFixed(1),
        entriesPerSec: Math.round(entries / (ms / 1000)),
        ...(kind === "native flush" ? { sameBytesAsTypeScript: same } : {}),
      }));
    }
    mt.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The Worker side of bench/concurrency.ts: attaches the shared memtable and runs one timed
 * loop. Protocol as tests/fixtures/worker.ts: `{ listening }` → `{ library }` → `{ ready }`,
 * then one task → `{ ok, result }`.
 */
import { loadLibrary, MemTable, type MemTableShareToken, ValueType } from "../mod.ts";
import { keyOf } from "./concurrency_keys.ts";

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as Scope;

export interface BenchTask {
  task: "get" | "put";
  memtable: MemTableShareToken;
  /** Keys 0..present-1 are in the memtable (get picks among them). */
  present: number;
  /** put: keys from `first` on, `count` of them (or until `millis`). */
  first: number;
  count: number;
  millis: number;
  seqBase: number;
}

const value = new Uint8Array(100).fill(0x61);

function run(t: BenchTask): { ops: number; ms: number } {
  using mt = MemTable.attach(t.memtable);
  const key = new Uint8Array(16);
  let ops = 0;
  const t0 = performance.now();
  if (t.task === "get") {
    let x = (t.first * 2654435761) >>> 0;
    const until = t0 + t.millis;
    while (performance.now() < until) {
      for (let j = 0; j < 256; j++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        if (mt.get(keyOf(x % t.present, key)).kind !== "value") throw new Error("missing key");
      }
      ops += 256;
    }
  } else {
    const until = t0 + t.millis;
    for (let i = 0; i < t.count; i++) {
      mt.add(t.seqBase + i, ValueType.Value, keyOf(t.first + i, key), value);
      ops++;
      if ((i & 255) === 0 && performance.now() > until) break;
    }
  }
  return { ops, ms: performance.now() - t0 };
}

scope.onmessage = (e: MessageEvent) => {
  try {
    if (typeof e.data.library === "string") {
      loadLibrary({ path: e.data.library });
      scope.postMessage({ ready: true });
      return;
    }
    scope.postMessage({ ok: true, result: run(e.data as BenchTask) });
  } catch (err) {
    scope.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
  }
};
scope.postMessage({ listening: true });

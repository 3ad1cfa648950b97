/**
 * Randomised model test: a long random sequence of adds and reads against MemTable and
 * against a plain TypeScript model, comparing every get() and, at the end, every version in
 * order. The seed is printed; replay with MEMTABLE_MODEL_SEED=<seed> (and MEMTABLE_MODEL_OPS).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DuplicateEntryError,
  type GetResult,
  MemTable,
  type MergeOperator,
  ValueType,
} from "../mod.ts";
import { compareBytes, env, Rng, seedFor } from "./helpers.ts";

/** Frames what it is given, so a result shows exactly which base and operands were folded. */
const framed: MergeOperator = {
  name: "test.Framed",
  fullMerge(_key, existing, operands) {
    const parts = [existing === undefined ? [0xee] : [0xba, existing.length, ...existing]];
    for (const o of operands) parts.push([o.length, ...o]);
    return new Uint8Array(parts.flat());
  },
};

interface Version {
  seq: number;
  type: number;
  value: Uint8Array;
}

/** Versions per key, kept in memtable order (trailer descending). */
class Model {
  readonly keys = new Map<number, { key: Uint8Array; versions: Version[] }>();

  /** `id` names the key (its index in the test's key pool). */
  add(id: number, key: Uint8Array, v: Version): boolean {
    let slot = this.keys.get(id);
    if (!slot) this.keys.set(id, slot = { key, versions: [] });
    const t = v.seq * 256 + v.type;
    let i = 0;
    while (i < slot.versions.length && slot.versions[i]!.seq * 256 + slot.versions[i]!.type > t) {
      i++;
    }
    const here = slot.versions[i];
    if (here && here.seq === v.seq && here.type === v.type) return false;
    slot.versions.splice(i, 0, v);
    return true;
  }

  get(id: number, snapshot: number): string {
    const versions = this.keys.get(id)?.versions ?? [];
    let start = 0;
    while (start < versions.length && versions[start]!.seq > snapshot) start++;
    const visible = versions.slice(start);
    const first = visible[0];
    if (!first) return "absent";
    if (first.type === ValueType.Value) return `value ${first.seq} ${first.value.join(".")}`;
    if (first.type !== ValueType.Merge) return `deleted ${first.seq} ${first.type}`;
    const operands: Uint8Array[] = [];
    for (const v of visible) {
      if (v.type === ValueType.Merge) {
        operands.unshift(v.value);
        continue;
      }
      const base = v.type === ValueType.Value ? v.value : undefined;
      return `value ${first.seq} ${framed.fullMerge(new Uint8Array(0), base, operands).join(".")}`;
    }
    return `merge ${first.seq} [${operands.map((o) => o.join(".")).join("|")}]`;
  }

  entries(): string[] {
    const slots = [...this.keys.values()].sort((a, b) => compareBytes(a.key, b.key));
    return slots.flatMap((s) =>
      s.versions.map((v) => `${s.key.join(".")}/${v.seq}/${v.type}/${v.value.join(".")}`)
    );
  }
}

function show(r: GetResult): string {
  switch (r.kind) {
    case "absent":
      return "absent";
    case "value":
      return `value ${r.seq} ${r.value.join(".")}`;
    case "deleted":
      return `deleted ${r.seq} ${r.type}`;
    case "merge":
      return `merge ${r.seq} [${r.operands.map((o) => o.join(".")).join("|")}]`;
  }
}

const types = [
  ValueType.Value,
  ValueType.Value,
  ValueType.Value,
  ValueType.Deletion,
  ValueType.Merge,
  ValueType.Merge,
  ValueType.SingleDeletion,
];

test("MemTable matches a plain model over a long random run (seeded)", { timeout: 300_000 }, () => {
  const seed = seedFor("MEMTABLE_MODEL_SEED", "model test");
  const ops = Number(env("MEMTABLE_MODEL_OPS") ?? 300_000);
  const rng = new Rng(seed);
  const pool: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([0]),
    new Uint8Array([0xff]),
    new Uint8Array([0xff, 0xff]),
  ];
  const distinct = new Set(pool.map((k) => k.join(",")));
  while (pool.length < 3000) {
    const k = rng.bytes(1 + rng.below(12));
    if (distinct.has(k.join(","))) continue; // one pool index per key
    distinct.add(k.join(","));
    pool.push(k);
  }
  const model = new Model();
  using mt = new MemTable({
    writeBufferSize: 256 << 20,
    arenaBlockSize: 64 * 1024,
    mergeOperator: framed,
  });
  let seq = 0;
  let adds = 0;
  let duplicates = 0;
  let gets = 0;
  for (let op = 0; op < ops; op++) {
    const id = rng.below(rng.below(4) === 0 ? 50 : pool.length); // some hot keys
    const key = pool[id]!;
    if (rng.below(100) < 55) {
      const type = types[rng.below(types.length)]!;
      // Mostly increasing sequence numbers; sometimes an older one, sometimes a repeat.
      const s = rng.below(10) === 0 ? rng.below(seq + 1) : (seq += 1 + rng.below(3));
      const value = type === ValueType.Deletion || type === ValueType.SingleDeletion
        ? new Uint8Array(0)
        : rng.bytes(rng.below(20));
      const fresh = model.add(id, key, { seq: s, type, value });
      if (fresh) {
        mt.add(s, type, key, value);
        adds++;
      } else {
        assert.throws(() => mt.add(s, type, key, value), DuplicateEntryError, `op ${op}`);
        duplicates++;
      }
    } else {
      const snapshot = rng.below(3) === 0 ? seq + 5 : rng.below(seq + 1);
      const got = show(mt.get(key, { snapshot }));
      const want = model.get(id, snapshot);
      if (got !== want) {
        assert.fail(
          `op ${op} (seed ${seed}): get([${key}], snapshot ${snapshot}) = ${got}, model: ${want}`,
        );
      }
      gets++;
    }
  }
  assert.equal(mt.numEntries, adds);
  const want = model.entries();
  const got = [...mt.entries()].map((e) =>
    `${e.key.join(".")}/${e.seq}/${e.type}/${e.value.join(".")}`
  );
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`entry ${i} (seed ${seed}): ${got[i]}, model: ${want[i]}`);
  }
  // Backward iteration sees the same versions in reverse.
  using it = mt.iterator();
  let i = want.length;
  for (it.seekToLast(); it.valid(); it.prev()) {
    const line = `${it.key().join(".")}/${it.seq()}/${it.type()}/${it.value().join(".")}`;
    if (line !== want[--i]) {
      assert.fail(`backward entry ${i} (seed ${seed}): ${line}, model: ${want[i]}`);
    }
  }
  assert.equal(i, 0);
  console.log(`model test: ${adds} adds, ${duplicates} duplicates rejected, ${gets} gets compared`);
});

/**
 * Randomised model test: long random sequences of writes (puts, deletions, single deletions,
 * merges, range deletions, write batches) and reads at random snapshots against MemTable and
 * against a plain TypeScript model, comparing every get() and, at the end, every version and
 * tombstone in order. One run per merge operator. The seed is printed; replay with
 * MEMTABLE_MODEL_SEED=<seed> (and MEMTABLE_MODEL_OPS, operations per run).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cappedPrefix,
  DuplicateEntryError,
  fixedPrefix,
  type GetResult,
  MemTable,
  type MemTableOptions,
  type MergeOperator,
  mergeOperators,
  nativeSafetyChecked,
  noopPrefix,
  SingleDeleteMisuseError,
  stringAppend,
  uint64Add,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import {
  assertGetIntoAgrees,
  assertScanAgrees,
  compareBytes,
  env,
  Rng,
  scanLines,
  seedFor,
} from "./helpers.ts";

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

interface Tombstone {
  start: Uint8Array;
  end: Uint8Array;
  seq: number;
}

const trailer = (seq: number, type: number) => seq * 256 + type;

/** Versions per key, kept in memtable order (trailer descending), and the range tombstones. */
class Model {
  readonly keys = new Map<number, { key: Uint8Array; versions: Version[] }>();
  readonly tombstones: Tombstone[] = [];

  constructor(readonly op: MergeOperator) {}

  has(id: number, seq: number, type: number): boolean {
    return (this.keys.get(id)?.versions ?? []).some((v) => v.seq === seq && v.type === type);
  }

  hasTombstone(start: Uint8Array, seq: number): boolean {
    return this.tombstones.some((t) => t.seq === seq && compareBytes(t.start, start) === 0);
  }

  /** `id` names the key (its index in the test's key pool). REQUIRES: not `has()`. */
  add(id: number, key: Uint8Array, v: Version): void {
    let slot = this.keys.get(id);
    if (!slot) this.keys.set(id, slot = { key, versions: [] });
    const t = trailer(v.seq, v.type);
    let i = 0;
    while (i < slot.versions.length && trailer(slot.versions[i]!.seq, slot.versions[i]!.type) > t) {
      i++;
    }
    slot.versions.splice(i, 0, v);
  }

  /** RocksDB's SingleDelete contract, as the native check reads it. */
  singleDeleteMisuse(id: number, seq: number): boolean {
    let values = 0;
    for (const v of this.keys.get(id)?.versions ?? []) {
      if (v.seq >= seq) continue;
      if (v.type === ValueType.SingleDeletion) return false;
      if (v.type !== ValueType.Value || ++values > 1) return true;
    }
    return false;
  }

  covering(key: Uint8Array, snapshot: number): number {
    let best = 0;
    for (const t of this.tombstones) {
      if (t.seq > snapshot || t.seq <= best) continue;
      if (compareBytes(t.start, key) <= 0 && compareBytes(key, t.end) < 0) best = t.seq;
    }
    return best;
  }

  get(id: number, key: Uint8Array, snapshot: number): string {
    const covering = this.covering(key, snapshot);
    const visible = (this.keys.get(id)?.versions ?? []).filter((v) => v.seq <= snapshot);
    const operands: Uint8Array[] = [];
    let newest: number | undefined;
    for (const v of visible) {
      if (v.seq < covering) break;
      if (v.type === ValueType.Merge) {
        newest ??= v.seq;
        operands.unshift(v.value);
        continue;
      }
      if (newest === undefined) {
        return v.type === ValueType.Value
          ? `value ${v.seq} ${v.value.join(".")}`
          : `deleted ${v.seq} ${v.type}`;
      }
      const base = v.type === ValueType.Value ? v.value : undefined;
      return `value ${newest} ${this.op.fullMerge(key, base, operands).join(".")}`;
    }
    if (newest === undefined) {
      return covering > 0 ? `deleted ${covering} ${ValueType.RangeDeletion}` : "absent";
    }
    if (covering > 0) {
      return `value ${newest} ${this.op.fullMerge(key, undefined, operands).join(".")}`;
    }
    return `merge ${newest} [${operands.map((o) => o.join(".")).join("|")}]`;
  }

  /** Every version in memtable order; covered ones only when `all`. */
  entries(all: boolean): string[] {
    const slots = [...this.keys.values()].sort((a, b) => compareBytes(a.key, b.key));
    return slots.flatMap((s) =>
      s.versions
        .filter((v) => all || this.covering(s.key, Number.MAX_SAFE_INTEGER) <= v.seq)
        .map((v) => `${s.key.join(".")}/${v.seq}/${v.type}/${v.value.join(".")}`)
    );
  }

  rangeTombstones(): string[] {
    return [...this.tombstones]
      .sort((a, b) => compareBytes(a.start, b.start) || b.seq - a.seq)
      .map((t) => `${t.start.join(".")}-${t.end.join(".")}@${t.seq}`);
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

const pointTypes = [
  ValueType.Value,
  ValueType.Value,
  ValueType.Value,
  ValueType.Deletion,
  ValueType.Merge,
  ValueType.Merge,
  ValueType.SingleDeletion,
];

interface PointWrite {
  kind: "point";
  id: number;
  type: ValueType;
  value: Uint8Array;
}
interface RangeWrite {
  kind: "range";
  lo: number;
  hi: number;
}
type Write = PointWrite | RangeWrite;

/**
 * Each run also has its own bloom filter and point index set-up: neither may change a result.
 */
const operators: [string, MergeOperator, MemTableOptions][] = [
  ["framed", framed, {
    prefixExtractor: fixedPrefix(1),
    memtablePrefixBloomSizeRatio: 0.002,
    pointIndex: false,
  }],
  ["uint64Add", uint64Add, {
    prefixExtractor: cappedPrefix(2),
    memtableWholeKeyFiltering: true,
    memtablePrefixBloomSizeRatio: 0.002,
    pointIndex: true,
  }],
  ["stringAppend", stringAppend(","), {
    pointIndex: true,
    insertWithHintPrefixExtractor: cappedPrefix(1),
  }],
  ["max", mergeOperators.max, { prefixExtractor: noopPrefix, memtablePrefixBloomSizeRatio: 0.001 }],
  ["put", mergeOperators.put, {
    pointIndex: false, // the list searched (the bloom filter holds whole keys)
    insertWithHintPrefixExtractor: fixedPrefix(2),
    memtableWholeKeyFiltering: true,
    memtablePrefixBloomSizeRatio: 0.002,
  }],
];

operators.forEach(([label, op, filter], run) => {
  test(`MemTable matches a plain model over a long random run, ${label} (seeded)`, {
    timeout: 300_000,
  }, () => {
    const base = seedFor("MEMTABLE_MODEL_SEED", `model test ${label}`);
    const seed = (base + run) >>> 0; // each operator's run draws its own sequence
    const ops = Number(env("MEMTABLE_MODEL_OPS") ?? 100_000);
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
    const sorted = [...pool].sort(compareBytes);
    const paranoid = run % 2 === 0;
    const checksSingleDeletes = paranoid || nativeSafetyChecked();
    const model = new Model(op);
    using mt = new MemTable({
      writeBufferSize: 256 << 20,
      arenaBlockSize: 64 * 1024,
      mergeOperator: op,
      paranoidChecks: paranoid,
      protectionBytesPerKey: ([0, 1, 8] as const)[run % 3],
      ...filter,
    });
    let seq = 0;
    const counts = { adds: 0, duplicates: 0, misuses: 0, batches: 0, tombstones: 0, gets: 0 };

    const randomWrite = (): Write => {
      if (rng.below(300) === 0) {
        const lo = rng.below(sorted.length);
        return { kind: "range", lo, hi: Math.min(sorted.length - 1, lo + rng.below(60)) };
      }
      const id = rng.below(rng.below(4) === 0 ? 50 : pool.length); // some hot keys
      const type = pointTypes[rng.below(pointTypes.length)]!;
      const value = type === ValueType.Deletion || type === ValueType.SingleDeletion
        ? new Uint8Array(0)
        : rng.bytes(rng.below(3) === 0 ? 8 : rng.below(20));
      return { kind: "point", id, type, value };
    };
    /** Whether the write would be refused, checked against the state before the write. */
    const refusal = (w: Write, s: number): "duplicate" | "misuse" | undefined => {
      if (w.kind === "range") {
        return model.hasTombstone(sorted[w.lo]!, s) ? "duplicate" : undefined;
      }
      if (model.has(w.id, s, w.type)) return "duplicate";
      if (w.type === ValueType.SingleDeletion && checksSingleDeletes) {
        if (model.singleDeleteMisuse(w.id, s)) return "misuse";
      }
      return undefined;
    };
    const apply = (w: Write, s: number) => {
      if (w.kind === "range") {
        model.tombstones.push({ start: sorted[w.lo]!, end: sorted[w.hi]!, seq: s });
        counts.tombstones++;
      } else {
        model.add(w.id, pool[w.id]!, { seq: s, type: w.type, value: w.value });
      }
      counts.adds++;
    };
    const expectRefusal = (why: "duplicate" | "misuse", call: () => void, where: string) => {
      assert.throws(
        call,
        why === "duplicate" ? DuplicateEntryError : SingleDeleteMisuseError,
        where,
      );
      if (why === "duplicate") counts.duplicates++;
      else counts.misuses++;
    };

    for (let op = 0; op < ops; op++) {
      const roll = rng.below(100);
      const where = `op ${op} (MEMTABLE_MODEL_SEED=${base})`;
      if (roll < 50) {
        // Mostly increasing sequence numbers; sometimes an older one, sometimes a repeat.
        const s = rng.below(10) === 0 ? rng.below(seq + 1) : (seq += 1 + rng.below(3));
        const w = randomWrite();
        const why = refusal(w, s);
        const call = () =>
          w.kind === "range"
            ? mt.addRangeDeletion(s, sorted[w.lo]!, sorted[w.hi]!)
            : mt.add(s, w.type, pool[w.id]!, w.value);
        if (why === undefined) {
          call();
          apply(w, s);
        } else expectRefusal(why, call, where);
      } else if (roll < 55) {
        // A batch: consecutive sequence numbers, all records checked against the state before.
        const n = 1 + rng.below(40);
        const first = rng.below(10) === 0 ? rng.below(seq + 1) : seq + 1;
        seq = Math.max(seq, first + n - 1);
        const writes = Array.from({ length: n }, () => {
          const w = randomWrite();
          // Keep most batches applicable: a SingleDelete that breaks its contract usually
          // becomes a Deletion (the refusal of whole batches is still exercised).
          if (
            w.kind === "point" && w.type === ValueType.SingleDeletion && checksSingleDeletes &&
            model.singleDeleteMisuse(w.id, first) && rng.below(10) !== 0
          ) w.type = ValueType.Deletion;
          return w;
        });
        const batch = new WriteBatch();
        for (const w of writes) {
          if (w.kind === "range") batch.deleteRange(sorted[w.lo]!, sorted[w.hi]!);
          else if (w.type === ValueType.Value) batch.put(pool[w.id]!, w.value);
          else if (w.type === ValueType.Merge) batch.merge(pool[w.id]!, w.value);
          else if (w.type === ValueType.Deletion) batch.delete(pool[w.id]!);
          else batch.singleDelete(pool[w.id]!);
        }
        // Within a batch, (key, seq) pairs are distinct: refusals come from existing entries.
        const reasons = writes.map((w, i) => refusal(w, first + i));
        const why = reasons.find((r) => r !== undefined);
        if (why === undefined) {
          assert.equal(mt.write(batch, first), n, where);
          writes.forEach((w, i) => apply(w, first + i));
          counts.batches++;
        } else {
          // Duplicates are found before the contract check only when both occur: accept either.
          assert.throws(
            () => mt.write(batch, first),
            (e: unknown) =>
              e instanceof DuplicateEntryError || e instanceof SingleDeleteMisuseError,
            where,
          );
          if (why === "duplicate") counts.duplicates++;
          else counts.misuses++;
        }
      } else {
        const id = rng.below(pool.length);
        const snapshot = rng.below(3) === 0 ? seq + 5 : rng.below(seq + 1);
        const r = mt.get(pool[id]!, { snapshot });
        const got = show(r);
        const want = model.get(id, pool[id]!, snapshot);
        const size = (r.kind === "value" ? r.value.length : 1) + (counts.gets % 3) - 1;
        assertGetIntoAgrees(mt, pool[id]!, { snapshot }, r, Math.max(0, size), where);
        if (got !== want) {
          assert.fail(
            `${where}: get([${pool[id]}], snapshot ${snapshot}) = ${got}, model: ${want}`,
          );
        }
        if (counts.gets % 8 === 0) {
          // A batched read of random keys (repeats included) at the same snapshot.
          const ids = Array.from({ length: rng.below(40) }, () => rng.below(pool.length));
          const many = mt.multiGet(ids.map((i) => pool[i]!), { snapshot });
          ids.forEach((i, j) => {
            const m = show(many[j]!);
            const w = model.get(i, pool[i]!, snapshot);
            if (m !== w) {
              assert.fail(`${where}: multiGet [${pool[i]}] at ${snapshot} = ${m}, model: ${w}`);
            }
          });
        }
        counts.gets++;
      }
    }
    assert.equal(mt.numEntries, counts.adds);
    assert.equal(mt.numRangeDeletes, counts.tombstones);
    const compare = (got: string[], want: string[], what: string) => {
      assert.equal(got.length, want.length, `${what} count (MEMTABLE_MODEL_SEED=${base})`);
      for (let i = 0; i < want.length; i++) {
        if (got[i] !== want[i]) {
          assert.fail(`${what} ${i} (MEMTABLE_MODEL_SEED=${base}): ${got[i]}, model: ${want[i]}`);
        }
      }
    };
    const line = (e: { key: Uint8Array; seq: unknown; type: number; value: Uint8Array }) =>
      `${e.key.join(".")}/${e.seq}/${e.type}/${e.value.join(".")}`;
    compare([...mt.entries()].map(line), model.entries(false), "entry");
    const all = model.entries(true);
    compare([...mt.entries({ ignoreRangeDeletions: true })].map(line), all, "raw entry");
    compare(
      mt.rangeTombstones().map((t) => `${t.start.join(".")}-${t.end.join(".")}@${t.seq}`),
      model.rangeTombstones(),
      "tombstone",
    );
    // scan() sees what entries() sees, forward and backward, and within random bounds.
    compare(scanLines(mt), model.entries(false), "scanned entry");
    compare(
      scanLines(mt, { ignoreRangeDeletions: true, reverse: true }),
      [...all].reverse(),
      "back",
    );
    const scanRng = new Rng(base ^ 0x5ca9);
    for (let i = 0; i < 8; i++) {
      const [a, b] = [0, 1].map(() => pool[scanRng.below(pool.length)]!).sort(compareBytes);
      const reverse = i % 2 === 1;
      const limit = i % 4 < 2 ? undefined : 1 + scanRng.below(200);
      assertScanAgrees(mt, { lowerBound: a, upperBound: b, reverse, limit }, `scan ${i}`);
      assertScanAgrees(mt, { lowerBound: a, reverse, limit, ignoreRangeDeletions: true }, "raw");
      assertScanAgrees(mt, { upperBound: b, reverse, snapshot: scanRng.below(seq + 1) }, "snap");
    }
    // Backward iteration sees the same versions in reverse.
    using it = mt.iterator({ ignoreRangeDeletions: true });
    let i = all.length;
    for (it.seekToLast(); it.valid(); it.prev()) {
      const l = `${it.key().join(".")}/${it.seq()}/${it.type()}/${it.value().join(".")}`;
      if (l !== all[--i]) {
        assert.fail(`backward entry ${i} (MEMTABLE_MODEL_SEED=${base}): ${l}, model: ${all[i]}`);
      }
    }
    assert.equal(i, 0);
    console.log(`model test ${label}: ${JSON.stringify(counts)}`);
  });
});

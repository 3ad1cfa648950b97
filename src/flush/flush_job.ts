/**
 * The flush job in TypeScript: immutable memtables (newest first) become one SST file. The
 * reference is the native flush (`native/src/sst.zig`, `flushMemTablesNative`), which a Store
 * runs with no merge operator or a built-in one; this one remains for a merge operator of your
 * own, whose functions only JavaScript can call, and for `flushInto` (any TableBuilder). Its
 * rules are the native flush's, and `tests/flush.test.ts` checks that both write the same bytes.
 *
 * Entries of all the memtables are merged in internal-key order (for equal entries the newest
 * memtable wins), and per user key only what a reader can still see is kept — RocksDB's
 * compaction rules for a flush:
 *
 * - Live snapshots cut a key's versions into stripes (versions visible to the same set of
 *   snapshots); only the newest version of each stripe is kept, older ones are invisible.
 * - A version that a range tombstone of the same stripe covers is dropped; the tombstones are
 *   all kept (they may hide data in older files).
 * - Deletions and SingleDeletions are kept (they may hide data in older files).
 * - Merge operands of one stripe are folded with the merge operator: onto the Value, deletion
 *   or covering tombstone below them in the stripe (`fullMerge`, the result stored as a Value at
 *   the newest operand's sequence number), or — when the run reaches past the stripe or past
 *   these memtables — into one operand (`partialMerge`, when the operator has it). Without an
 *   operator they are kept as they are, with the version below them.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import type { Entry, MemTable, RangeTombstone } from "../memtable/memtable.ts";
import { applyFullMerge, applyPartialMerges, type MergeOperator } from "../memtable/merge.ts";
import { type FileFaultHook, writeFileDurably } from "../table/file.ts";
import { TableBuilder, type TableBuilderOptions } from "../table/table_builder.ts";

/** What a flush works from. */
export interface FlushInput {
  /** The memtables to flush, newest first (as a MemTableList picks them). */
  memtables: readonly MemTable[];
  /** Sequence numbers of the live snapshots (any order). */
  snapshots?: readonly SequenceNumber[];
  /** Folds Merge operands (see the module notes). */
  mergeOperator?: MergeOperator;
}

/** What a flush wrote and dropped. */
export interface FlushStats {
  /** Point entries read from the memtables. */
  inputEntries: number;
  /** Point entries written (a folded merge run counts as one). */
  outputEntries: number;
  rangeTombstones: number;
  /** Point entries no reader can see any more (or folded into another). */
  droppedEntries: number;
  /** Smallest and largest user key written, when any point entry was. */
  smallestKey: Uint8Array | undefined;
  largestKey: Uint8Array | undefined;
  /** Smallest and largest sequence number written (tombstones included); 0 when empty. */
  smallestSeq: SequenceNumber;
  largestSeq: SequenceNumber;
  fileSize: number;
}

/** A version of a key: what memtables and tables list. */
type Versioned = { key: Uint8Array; seq: SequenceNumber; type: number };

/** Internal-key order of two versions: user key ascending, seq descending, type descending. */
export function compareVersions(a: Versioned, b: Versioned): number {
  const c = compareUserKeys(a.key, b.key);
  if (c !== 0) return c;
  if (a.seq !== b.seq) return a.seq > b.seq ? -1 : 1;
  return b.type - a.type;
}

/**
 * The versions of several sources, each in internal-key order, merged in that order (for equal
 * versions, the earlier source's first). A handful of sources: a linear pick beats a heap.
 */
export function* mergeVersions<T extends Versioned>(sources: Iterator<T>[]): Generator<T> {
  try {
    const heads = sources.map((s) => s.next());
    while (true) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]!;
        if (h.done) continue;
        if (best < 0 || compareVersions(h.value, heads[best]!.value as T) < 0) best = i;
      }
      if (best < 0) return;
      const e = heads[best]!.value as T;
      heads[best] = sources[best]!.next();
      yield e;
    }
  } finally {
    // Stopped early or not: every source ends now (memtable cursors free their native side).
    for (const s of sources) s.return?.();
  }
}

/** Every point entry of the memtables in internal-key order; equal entries once (the newest). */
function* mergedEntries(memtables: readonly MemTable[]): Generator<Entry> {
  let last: Entry | undefined;
  for (const e of mergeVersions(memtables.map((m) => m.entries({ ignoreRangeDeletions: true })))) {
    if (last !== undefined && compareVersions(last, e) === 0) continue; // an older memtable's copy
    last = e;
    yield e;
  }
}

/**
 * Runs the flush rules over `input` into `builder` (entries and tombstones added, the builder
 * not finished) and reports what was kept.
 */
export function flushInto(input: FlushInput, builder: TableBuilder): FlushStats {
  // Sequence numbers stay numbers (bigints above 2^53): `<` compares the two kinds by value.
  const snaps = [...(input.snapshots ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  /** Index of the first snapshot ≥ seq: versions with the same index are one stripe. */
  const stripe = (s: SequenceNumber): number => {
    if (snaps.length === 0) return 0;
    let lo = 0;
    let hi = snaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (snaps[mid]! < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const tombstones: RangeTombstone[] = [];
  for (const m of input.memtables) tombstones.push(...m.rangeTombstones());
  const seen = new Set<string>();
  const stats: FlushStats = {
    inputEntries: 0,
    outputEntries: 0,
    rangeTombstones: 0,
    droppedEntries: 0,
    smallestKey: undefined,
    largestKey: undefined,
    smallestSeq: 0,
    largestSeq: 0,
    fileSize: 0,
  };
  let minSeq: SequenceNumber | undefined;
  let maxSeq: SequenceNumber | undefined;
  const noteSeq = (s: SequenceNumber) => {
    if (minSeq === undefined || s < minSeq) minSeq = s;
    if (maxSeq === undefined || s > maxSeq) maxSeq = s;
  };
  for (const t of tombstones) {
    const id = `${t.start.join(",")}@${t.seq}`;
    if (seen.has(id)) continue; // the same tombstone in two memtables
    seen.add(id);
    builder.addRangeTombstone(t.start, t.end, t.seq);
    noteSeq(t.seq);
    stats.rangeTombstones++;
  }
  /** Whether a tombstone of `v`'s stripe covers it. */
  const covered = (v: Entry): boolean => {
    if (tombstones.length === 0) return false;
    for (const t of tombstones) {
      if (
        t.seq > v.seq && compareUserKeys(t.start, v.key) <= 0 &&
        compareUserKeys(v.key, t.end) < 0 &&
        stripe(t.seq) === stripe(v.seq)
      ) return true;
    }
    return false;
  };
  const op = input.mergeOperator;
  const emit = (key: Uint8Array, seq: SequenceNumber, type: ValueType, value: Uint8Array) => {
    builder.add(key, seq, type, value);
    noteSeq(seq);
    stats.outputEntries++;
    stats.smallestKey ??= key;
    stats.largestKey = key;
  };

  /** Applies the rules to one user key's versions (newest first). */
  const flushKey = (versions: Entry[]) => {
    let lastStripe = -1;
    let i = 0;
    while (i < versions.length) {
      const v = versions[i]!;
      const st = stripe(v.seq);
      if (st === lastStripe || covered(v)) {
        i++;
        continue; // hidden by a newer version or a tombstone of its stripe
      }
      lastStripe = st;
      if (v.type !== ValueType.Merge) {
        emit(v.key, v.seq, v.type, v.value);
        i++;
        continue;
      }
      // A run of operands in this stripe, and what ends it.
      let j = i;
      const run: Entry[] = [];
      while (
        j < versions.length && versions[j]!.type === ValueType.Merge &&
        stripe(versions[j]!.seq) === st && !covered(versions[j]!)
      ) run.push(versions[j++]!);
      const below = j < versions.length && stripe(versions[j]!.seq) === st
        ? versions[j]
        : undefined;
      const operands = run.map((e) => e.value).reverse(); // oldest first
      if (op !== undefined && below !== undefined) {
        // The run ends here: a Value, a deletion, or a version a tombstone hides.
        const base = below.type === ValueType.Value && !covered(below) ? below.value : undefined;
        emit(v.key, v.seq, ValueType.Value, applyFullMerge(op, v.key, base, operands));
        i = j + 1;
        continue;
      }
      if (op !== undefined && below === undefined) {
        // The run reaches past this stripe or these memtables: one operand if possible.
        const combined = run.length > 1 ? applyPartialMerges(op, v.key, operands) : undefined;
        if (combined !== undefined) emit(v.key, v.seq, ValueType.Merge, combined);
        else for (const e of run) emit(e.key, e.seq, e.type, e.value);
        i = j;
        continue;
      }
      // No operator: keep the operands and the version below them, as they are.
      for (const e of run) emit(e.key, e.seq, e.type, e.value);
      if (below !== undefined && !covered(below)) {
        emit(below.key, below.seq, below.type, below.value);
      }
      i = below === undefined ? j : j + 1;
    }
  };

  let group: Entry[] = [];
  for (const e of mergedEntries(input.memtables)) {
    stats.inputEntries++;
    if (group.length > 0 && compareUserKeys(group[0]!.key, e.key) !== 0) {
      flushKey(group);
      group = [];
    }
    group.push(e);
  }
  if (group.length > 0) flushKey(group);
  stats.droppedEntries = stats.inputEntries - stats.outputEntries;
  stats.smallestSeq = minSeq ?? 0;
  stats.largestSeq = maxSeq ?? 0;
  return stats;
}

/**
 * Flushes `input` to an SST file at `path`: written to a temporary name, synced, renamed and
 * its directory synced, so a failure (a full disk) leaves no file and loses nothing — the
 * memtables are only read. Returns what was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flushMemTables, MemTable, TableReader, ValueType } from "../../mod.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * using mt = new MemTable();
 * mt.add(1, ValueType.Value, "k", "old");
 * mt.add(2, ValueType.Value, "k", "new");
 * mt.markImmutable();
 * const path = join(mkdtempSync(join(tmpdir(), "flush-")), "000001.sst");
 * const stats = flushMemTables(path, { memtables: [mt] }); // no snapshot: "old" is dropped
 * assert.equal(stats.outputEntries, 1);
 * assert.equal(stats.droppedEntries, 1);
 * using table = TableReader.open(path);
 * assert.equal(table.get(new TextEncoder().encode("k"))?.seq, 2);
 * ```
 */
export function flushMemTables(
  path: string,
  input: FlushInput,
  options: Omit<TableBuilderOptions, "ingest"> & { fault?: FileFaultHook } = {},
): FlushStats {
  const { fault, ...tableOptions } = options;
  const builder = new TableBuilder(tableOptions);
  const stats = flushInto(input, builder);
  const bytes = builder.finish();
  writeFileDurably(path, bytes, fault);
  stats.fileSize = bytes.length;
  return stats;
}

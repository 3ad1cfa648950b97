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
import { compareSequence, maxSequenceNumber, type SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import type { Entry, MemTable, RangeTombstone } from "../memtable/memtable.ts";
import { applyFullMerge, applyPartialMerges, type MergeOperator } from "../memtable/merge.ts";
import { fileFaultOf, writeFileDurably } from "../table/file.ts";
import { compareVersions, mergeVersions } from "../table/merging_iterator.ts";
import { TableBuilder, type TableBuilderOptions } from "../table/table_builder.ts";
import { type CoveringTombstone, coverOf, hiddenBy } from "../table/tombstone_cover.ts";

/**
 * Options of {@linkcode flushMemTables}: the {@linkcode TableBuilder}'s (block size, restart
 * interval, user properties, bloom filter bits per key), but `ingest` — a flush writes a
 * store's file, not one to ingest.
 */
export type FlushOptions = Omit<TableBuilderOptions, "ingest">;

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
  /** Range tombstones written. */
  rangeTombstones: number;
  /** Point entries no reader can see any more (or folded into another). */
  droppedEntries: number;
  /** Smallest and largest user key written, when any point entry was. */
  smallestKey: Uint8Array | undefined;
  /** The largest user key written (see `smallestKey`). */
  largestKey: Uint8Array | undefined;
  /** Smallest and largest sequence number written (tombstones included); 0 when empty. */
  smallestSeq: SequenceNumber;
  /** The largest sequence number written (see `smallestSeq`). */
  largestSeq: SequenceNumber;
  /** The file's size in bytes. */
  fileSize: number;
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
  const tombstones: RangeTombstone[] = [];
  const seen = new Set<string>();
  for (const t of input.memtables.flatMap((m) => m.rangeTombstones())) {
    const id = `${t.start.join(",")}@${t.seq}`;
    if (seen.has(id)) continue; // the same tombstone in two memtables
    seen.add(id);
    tombstones.push(t);
  }
  const rules = new FlushRules({ ...input, tombstones }, builder);
  for (const t of tombstones) {
    builder.addRangeTombstone(t.start, t.end, t.seq);
    rules.noteSeq(t.seq);
    rules.stats.rangeTombstones++;
  }
  let group: Entry[] = [];
  for (const e of mergedEntries(input.memtables)) {
    rules.stats.inputEntries++;
    if (group.length > 0 && compareUserKeys(group[0]!.key, e.key) !== 0) {
      rules.flushKey(group);
      group = [];
    }
    group.push(e);
  }
  if (group.length > 0) rules.flushKey(group);
  return rules.finish();
}

/** Where the rules put what they keep: a TableBuilder, or a compaction's current output. */
export interface EntrySink {
  add(key: Uint8Array, seq: SequenceNumber, type: ValueType, value: Uint8Array): void;
}

/** What the rules work from: a flush's, or a compaction's (`bottommost`: see FlushRules). */
export interface RulesInput {
  /** Sequence numbers of the live snapshots (any order). */
  snapshots?: readonly SequenceNumber[];
  mergeOperator?: MergeOperator;
  /** Every range tombstone of the input (what covers its versions). */
  tombstones: readonly CoveringTombstone[];
  /**
   * No older version of any key exists below what these rules see (a compaction into the
   * bottommost level holding the range): deletions of the oldest stripe are dropped, and a
   * merge run there is folded onto nothing.
   */
  bottommost?: boolean;
}

/**
 * One flush's (or compaction's) rules and figures (the steps of `native/src/sst.zig`, by the
 * same names), applied one user key at a time (`flushKey`).
 */
export class FlushRules {
  readonly stats: FlushStats = {
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
  /** Live snapshots, ascending. Sequence numbers stay numbers (bigints above 2^53). */
  readonly #snapshots: SequenceNumber[];
  readonly #tombstones: readonly CoveringTombstone[];
  readonly #op: MergeOperator | undefined;
  readonly #sink: EntrySink;
  readonly #bottommost: boolean;
  #minSeq: SequenceNumber | undefined;
  #maxSeq: SequenceNumber | undefined;

  constructor(input: RulesInput, sink: EntrySink) {
    this.#snapshots = [...(input.snapshots ?? [])].sort(compareSequence);
    this.#op = input.mergeOperator;
    this.#sink = sink;
    this.#tombstones = input.tombstones;
    this.#bottommost = input.bottommost ?? false;
  }

  finish(): FlushStats {
    const s = this.stats;
    s.droppedEntries = s.inputEntries - s.outputEntries;
    s.smallestSeq = this.#minSeq ?? 0;
    s.largestSeq = this.#maxSeq ?? 0;
    return s;
  }

  /** Index of the first snapshot ≥ seq: versions with the same index are one stripe. */
  #stripe(seq: SequenceNumber): number {
    const snaps = this.#snapshots;
    let lo = 0;
    let hi = snaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (snaps[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether a tombstone of `v`'s stripe covers it: the cover at the stripe's snapshot. */
  #covered(v: Entry): boolean {
    const ceiling = this.#snapshots[this.#stripe(v.seq)] ?? maxSequenceNumber;
    return hiddenBy(v.seq, coverOf(this.#tombstones, v.key, ceiling));
  }

  /** Counts `seq` into the smallest and largest sequence numbers written. */
  noteSeq(seq: SequenceNumber): void {
    if (this.#minSeq === undefined || seq < this.#minSeq) this.#minSeq = seq;
    if (this.#maxSeq === undefined || seq > this.#maxSeq) this.#maxSeq = seq;
  }

  #emit(key: Uint8Array, seq: SequenceNumber, type: ValueType, value: Uint8Array): void {
    this.#sink.add(key, seq, type, value);
    this.noteSeq(seq);
    this.stats.outputEntries++;
    this.stats.smallestKey ??= key;
    this.stats.largestKey = key;
  }

  /**
   * The rules for one user key's versions (newest first): per stripe the newest version not
   * covered by a tombstone of its stripe; a merge run with what ends it goes to `#flushRun`.
   */
  flushKey(versions: Entry[]): void {
    let lastStripe = -1;
    let i = 0;
    while (i < versions.length) {
      const v = versions[i]!;
      const st = this.#stripe(v.seq);
      if (st === lastStripe || this.#covered(v)) {
        i++;
        continue; // hidden by a newer version or a tombstone of its stripe
      }
      lastStripe = st;
      if (v.type !== ValueType.Merge) {
        // At the bottom, a deletion of the oldest stripe has nothing left to hide.
        const spent = this.#bottommost && st === 0 && v.type !== ValueType.Value;
        if (!spent) this.#emit(v.key, v.seq, v.type, v.value);
        i++;
        continue;
      }
      // A run of operands in this stripe, and what ends it in the stripe (if anything).
      let j = i;
      while (
        j < versions.length && versions[j]!.type === ValueType.Merge &&
        this.#stripe(versions[j]!.seq) === st && !this.#covered(versions[j]!)
      ) j++;
      const below = j < versions.length && this.#stripe(versions[j]!.seq) === st
        ? versions[j]
        : undefined;
      const bottom = this.#bottommost && st === 0;
      i = j + (this.#flushRun(versions.slice(i, j), below, bottom) ? 1 : 0);
    }
  }

  /**
   * Writes a merge run (newest first) and returns whether `below`, the version that ends it in
   * its stripe, was used up with it (see the module notes). `bottom`: nothing older exists.
   */
  #flushRun(run: Entry[], below: Entry | undefined, bottom: boolean): boolean {
    const op = this.#op;
    const v = run[0]!;
    if (op !== undefined && (below !== undefined || bottom)) {
      // The run ends here: a Value, a deletion, a version a tombstone hides, or nothing.
      const base = below?.type === ValueType.Value && !this.#covered(below)
        ? below.value
        : undefined;
      const operands = run.map((e) => e.value).reverse(); // oldest first
      this.#emit(v.key, v.seq, ValueType.Value, applyFullMerge(op, v.key, base, operands));
      return below !== undefined;
    }
    if (op !== undefined && run.length > 1) {
      // The run reaches past this stripe or these memtables: one operand if possible.
      const operands = run.map((e) => e.value).reverse();
      const combined = applyPartialMerges(op, v.key, operands);
      if (combined !== undefined) {
        this.#emit(v.key, v.seq, ValueType.Merge, combined);
        return false;
      }
    }
    // No operator (or no partial merge): the operands and the version below, as they are.
    for (const e of run) this.#emit(e.key, e.seq, e.type, e.value);
    if (below === undefined) return false;
    if (!this.#covered(below)) this.#emit(below.key, below.seq, below.type, below.value);
    return true;
  }
}

/**
 * Flushes `input` to an SST file at `path`: written to a temporary name, synced, renamed and
 * its directory synced, so a failure (a full disk) leaves no file and loses nothing — the
 * memtables are only read. Returns what was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * import { flushMemTables } from "../../flush.ts";
 * import { TableReader } from "../../table.ts";
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
  options: FlushOptions = {},
): FlushStats {
  const fault = fileFaultOf(options, "flushMemTables()");
  const builder = new TableBuilder(options);
  const stats = flushInto(input, builder);
  const bytes = builder.finish();
  writeFileDurably(path, bytes, fault);
  stats.fileSize = bytes.length;
  return stats;
}

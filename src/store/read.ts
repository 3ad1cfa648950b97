/**
 * A Store's reads, over what a read sees — memtables and SST files, newest first, at a
 * snapshot: a point lookup (`getFrom`) and a scan in key order (`scanFrom`). Both walk a key's
 * versions the same way (`readVersions`: the cover rule of `table/tombstone_cover.ts`, Merge
 * operands collected oldest first, a Value or a deletion ending them) and fold what they found
 * the same way (`foldOperands`).
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { applyFullMerge, type MergeOperator } from "../memtable/merge.ts";
import { mergeVersions } from "../table/merging_iterator.ts";
import type { TableEntry, TableReader } from "../table/table_reader.ts";
import { coverOf, hiddenBy } from "../table/tombstone_cover.ts";
import { mergeWithoutOperator } from "./errors.ts";

/** What a read found for a key: operands (oldest first) and what ends them, if anything. */
export interface LayerRead {
  operands: Uint8Array[];
  end: "value" | "deleted" | "none";
  value?: Uint8Array;
}

/** One key-value pair of a Store scan. */
export interface StoreEntry {
  /** The user key. */
  key: Uint8Array;
  /** Its value at the scan's snapshot (merge operands folded). */
  value: Uint8Array;
}

/** What a read looks at: newest first. */
export interface ReadSources {
  readonly snapshot: number;
  /** The mutable memtable, then the immutable ones. */
  readonly memtables: readonly MemTable[];
  readonly files: readonly TableReader[];
}

/**
 * A key's `versions` (newest first) read at `snapshot` under `cover` (the key's cover there):
 * the Merge operands on top and what ends them — a Value, a deletion (or the cover), or nothing.
 */
export function readVersions(
  versions: Iterable<TableEntry>,
  snapshot: SequenceNumber,
  cover: SequenceNumber,
): LayerRead {
  const operands: Uint8Array[] = [];
  for (const v of versions) {
    if (v.seq > snapshot) continue;
    if (hiddenBy(v.seq, cover)) break;
    if (v.type === ValueType.Merge) {
      operands.unshift(v.value);
      continue;
    }
    return v.type === ValueType.Value
      ? { operands, end: "value", value: v.value }
      : { operands, end: "deleted" };
  }
  return { operands, end: cover > 0 ? "deleted" : "none" };
}

/** The value `operands` (oldest first) make of `base`; a MergeOperatorError without `op`. */
export function foldOperands(
  op: MergeOperator | undefined,
  key: Uint8Array,
  base: Uint8Array | undefined,
  operands: readonly Uint8Array[],
  what: string,
): Uint8Array | undefined {
  if (operands.length === 0) return base;
  if (op === undefined) throw mergeWithoutOperator(what, key);
  return applyFullMerge(op, key, base, operands);
}

/** The value of `key` in `sources` (undefined when it has none): `Store.get()`. */
export function getFrom(
  sources: ReadSources,
  key: Uint8Array,
  op: MergeOperator | undefined,
): Uint8Array | undefined {
  const { snapshot } = sources;
  const operands: Uint8Array[] = [];
  const finish = (base: Uint8Array | undefined) =>
    foldOperands(op, key, base, operands, "Store.get()");
  for (const mt of sources.memtables) {
    const r = mt.get(key, { snapshot });
    if (r.kind === "absent") continue;
    if (r.kind === "merge") {
      operands.unshift(...r.operands);
      continue;
    }
    return finish(r.kind === "value" ? r.value : undefined);
  }
  for (const t of sources.files) {
    const r = readVersions(t.versions(key), snapshot, t.maxCoveringTombstone(key, snapshot));
    operands.unshift(...r.operands);
    if (r.end !== "none") return finish(r.value);
  }
  return finish(undefined);
}

/**
 * The visible pairs of `sources` in [lower, upper), in key order: a k-way merge of their
 * memtables and files, each key's versions read under its cover across all of them.
 */
export function* scanFrom(
  sources: ReadSources,
  lower: Uint8Array | undefined,
  upper: Uint8Array | undefined,
  op: MergeOperator | undefined,
): Generator<StoreEntry> {
  const { snapshot, memtables, files } = sources;
  const tombstones = memtables.flatMap((m) => m.rangeTombstones({ snapshot }))
    .concat(files.flatMap((f) => f.rangeTombstones()));
  const resolve = (versions: TableEntry[]): Uint8Array | undefined => {
    const key = versions[0]!.key;
    const r = readVersions(versions, snapshot, coverOf(tombstones, key, snapshot));
    return foldOperands(op, key, r.value, r.operands, "Store.iterator()");
  };
  const sourceIterators: Iterator<TableEntry>[] = [
    ...memtables.map((m) => entriesFrom(m, snapshot, lower)),
    ...files.map((f) => f.entries(lower)),
  ];
  let group: TableEntry[] = [];
  for (const e of mergeVersions(sourceIterators)) {
    if (upper !== undefined && compareUserKeys(e.key, upper) >= 0) break; // the rest is too
    if (group.length > 0 && compareUserKeys(group[0]!.key, e.key) !== 0) {
      const value = resolve(group);
      if (value !== undefined) yield { key: group[0]!.key, value };
      group = [];
    }
    group.push(e);
  }
  if (group.length > 0) {
    const value = resolve(group);
    if (value !== undefined) yield { key: group[0]!.key, value };
  }
}

/** A memtable's versions at `snapshot` from the first key ≥ `lower`, tombstones not applied. */
function* entriesFrom(
  mt: MemTable,
  snapshot: number,
  lower: Uint8Array | undefined,
): Generator<TableEntry> {
  using it = mt.iterator({ snapshot, ignoreRangeDeletions: true });
  if (lower === undefined) it.seekToFirst();
  else it.seek(lower);
  for (; it.valid(); it.next()) {
    yield { key: it.key(), seq: it.seq(), type: it.type(), value: it.value() };
  }
}

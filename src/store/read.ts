/**
 * A Store's point reads, over what a read sees — memtables and SST files, newest first, at a
 * snapshot: one key (`getFrom`) and a batch of keys (`multiGetFrom`: the memtables' batched
 * lookup, then each key's files). They and the Store's cursor (cursor.ts) walk a key's versions
 * the same way (`readVersions`: the cover rule of `table/tombstone_cover.ts`, Merge operands
 * collected oldest first, a Value or a deletion ending them) and fold what they found the same
 * way (`foldOperands`).
 *
 * @module
 */
import type { SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { applyFullMerge, type MergeOperator } from "../memtable/merge.ts";
import { pointRead, type TableEntry, type TableReader } from "../table/table_reader.ts";
import { hiddenBy } from "../table/tombstone_cover.ts";
import { mergeWithoutOperator } from "./errors.ts";

/** What a read found for a key: operands (oldest first) and what ends them, if anything. */
export interface LayerRead {
  operands: Uint8Array[];
  end: "value" | "deleted" | "none";
  value?: Uint8Array;
}

/** One key-value pair of a Store iteration. */
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

/** What a point read looks at: the memtables, and the files that may hold a key. */
export interface PointSources {
  readonly snapshot: number;
  /** The mutable memtable, then the immutable ones. */
  readonly memtables: readonly MemTable[];
  /** The files a read of `key` visits, newest first (`Version.readersFor`). */
  filesFor(key: Uint8Array): readonly TableReader[];
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

/**
 * What `files` (newest first) hold of `key` at `snapshot` under the memtables' `operands`
 * (oldest first, added to): whether a Value or a deletion ends them, and the Value.
 */
function readFiles(
  files: readonly TableReader[],
  key: Uint8Array,
  snapshot: number,
  operands: Uint8Array[],
): LayerRead {
  for (const t of files) {
    const { versions, cover } = pointRead(t, key, snapshot);
    const r = readVersions(versions, snapshot, cover);
    operands.unshift(...r.operands);
    if (r.end !== "none") return { operands, end: r.end, value: r.value };
  }
  return { operands, end: "none" };
}

/** The value of `key` in `sources` (undefined when it has none): `Store.get()`. */
export function getFrom(
  sources: PointSources,
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
  return finish(readFiles(sources.filesFor(key), key, snapshot, operands).value);
}

/**
 * The values of `keys` in `sources`, in their order (undefined where a key has none):
 * `Store.multiGet()`. Each memtable answers the keys still open in one batched lookup
 * (`MemTable.multiGet`); the keys no memtable settled are read from their files, each as
 * `getFrom` reads it.
 */
export function multiGetFrom(
  sources: PointSources,
  keys: readonly Uint8Array[],
  op: MergeOperator | undefined,
): (Uint8Array | undefined)[] {
  const { snapshot } = sources;
  const out: (Uint8Array | undefined)[] = new Array(keys.length).fill(undefined);
  const operands: Uint8Array[][] = keys.map(() => []);
  const finish = (i: number, base: Uint8Array | undefined) => {
    out[i] = foldOperands(op, keys[i]!, base, operands[i]!, "Store.multiGet()");
  };
  let open = keys.map((_, i) => i);
  for (const mt of sources.memtables) {
    if (open.length === 0) break;
    const results = mt.multiGet(open.map((i) => keys[i]!), { snapshot });
    const still: number[] = [];
    for (let j = 0; j < open.length; j++) {
      const i = open[j]!;
      const r = results[j]!;
      if (r.kind === "absent" || r.kind === "merge") {
        if (r.kind === "merge") operands[i]!.unshift(...r.operands);
        still.push(i);
      } else finish(i, r.kind === "value" ? r.value : undefined);
    }
    open = still;
  }
  for (const i of open) {
    const key = keys[i]!;
    finish(i, readFiles(sources.filesFor(key), key, snapshot, operands[i]!).value);
  }
  return out;
}

/**
 * The bodies of the Store's read calls — `get`, `multiGet`, `iterator`, `cursor` — over what
 * the Store hands them (`StoreState`): its options checked, its sources picked, its errors
 * named after the call. The Store keeps the documented façades (store.ts).
 *
 * Point reads are synchronous and read the memtables and files of the moment (no flush can
 * install between their steps); iterators and cursors fix a `ReadView` when they are made.
 *
 * @module
 */
import { checkOptions } from "../arguments.ts";
import { describe } from "../coding/value_type.ts";
import type { Bytes } from "../memtable/bytes.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import type { MemTableList } from "../write/memtable_list.ts";
import { cursorOver, type StoreCursor, ViewCursor } from "./cursor.ts";
import type { FileMeta } from "./directory.ts";
import { named } from "./errors.ts";
import { iteratorOver, ReadView, type StoreIterator } from "./iterator.ts";
import { getOptionNames, keyOf, snapshotOf, type StoreReadOptions } from "./options.ts";
import { getFrom, multiGetFrom, type PointSources } from "./read.ts";
import {
  checkCursorOptions,
  type CheckedRange,
  checkIteratorOptions,
  type StoreCursorOptions,
  type StoreIteratorOptions,
} from "./read_options.ts";
import type { TableFiles } from "./table_files.ts";

/** What a read call reads of an open Store, as the Store is at the call. */
export interface StoreState {
  readonly lastSequence: number;
  readonly mutable: MemTable;
  readonly imm: MemTableList<FileMeta>;
  readonly files: TableFiles;
  /** The views of open iterators and cursors, released by the Store's `close()`. */
  readonly views: Set<ReadView>;
  readonly mergeOperator: MergeOperator | undefined;
}

function pointSources(s: StoreState, snapshot: number): PointSources {
  const version = s.files.current;
  return {
    snapshot,
    memtables: [s.mutable, ...s.imm.unflushed()],
    filesFor: (key) => version.readersFor(key),
  };
}

function pointSnapshot(s: StoreState, options: StoreReadOptions | undefined, what: string) {
  return options === undefined
    ? s.lastSequence
    : snapshotOf(checkOptions(options, getOptionNames, what), s.lastSequence, what);
}

/** `Store.get()`. */
export function storeGet(
  s: StoreState,
  key: Bytes,
  options: StoreReadOptions | undefined,
): Uint8Array | undefined {
  const what = "Store.get()";
  const k = keyOf(key, what);
  const snapshot = pointSnapshot(s, options, what);
  try {
    return getFrom(pointSources(s, snapshot), k, s.mergeOperator);
  } catch (e) {
    throw named(e, what);
  }
}

/** `Store.multiGet()`. */
export function storeMultiGet(
  s: StoreState,
  keys: readonly Bytes[],
  options: StoreReadOptions | undefined,
): (Uint8Array | undefined)[] {
  const what = "Store.multiGet()";
  if (!Array.isArray(keys)) {
    throw new TypeError(
      `${what}: keys must be an array of keys (Uint8Array or string), got ${describe(keys)}`,
    );
  }
  const checked = keys.map((k, i) => keyOf(k, what, `keys[${i}]`));
  const snapshot = pointSnapshot(s, options, what);
  try {
    return multiGetFrom(pointSources(s, snapshot), checked, s.mergeOperator);
  } catch (e) {
    throw named(e, what);
  }
}

/** A cursor over the store as it is now, for `range`; the cursor owns the view. */
function viewCursor(s: StoreState, range: CheckedRange, what: string): ViewCursor {
  const version = s.files.current;
  version.ref(); // the view releases it: files a compaction replaced stay until then
  const view = new ReadView(range.snapshot, s.mutable, s.imm.current(), version, s.views);
  try {
    return new ViewCursor(view, range, s.mergeOperator, what);
  } catch (e) {
    view.release();
    throw named(e, what);
  }
}

/** `Store.iterator()`. */
export function storeIterator(
  s: StoreState,
  options: StoreIteratorOptions | undefined,
): StoreIterator {
  const what = "Store.iterator()";
  const o = checkIteratorOptions(options, s.lastSequence, what);
  return iteratorOver(viewCursor(s, o, what), o);
}

/** `Store.cursor()`. */
export function storeCursor(s: StoreState, options: StoreCursorOptions | undefined): StoreCursor {
  const what = "Store.cursor()";
  return cursorOver(viewCursor(s, checkCursorOptions(options, s.lastSequence, what), what));
}

/**
 * The Store's cursor (RocksDB's DB iterator): `ViewCursor` reads a `ReadView` — its memtables,
 * level-0 files and deeper levels (one `LevelCursor` each) merged in internal-key order
 * (`MergingCursor`) — as user keys and their values at the view's snapshot, within
 * [lower, upper), in both directions; `StoreCursor` is its public face (`Store.cursor()`), and
 * `StoreIterator` (iterator.ts) walks one.
 *
 * A key is read as `Store.get` reads it: the versions above the snapshot are skipped, one that
 * a range tombstone at or below the snapshot covers is gone (the cover rule of
 * table/tombstone_cover.ts, over the tombstones of every memtable and file), a deletion hides
 * the key, Merge operands are folded onto the Value below them with the store's operator.
 *
 * Positions, as RocksDB's: going forward, the merging cursor stands on the first version after
 * the current key's; going backward, on the last version before them. A change of direction
 * seeks from the current key (`seekAfter`, `seekBefore`), so each direction reads every source
 * one way only.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import { StoreError } from "../errors.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import { MergingCursor } from "../table/merging_iterator.ts";
import {
  LevelCursor,
  MemTableCursor,
  TableCursor,
  type VersionCursor,
} from "../table/table_cursor.ts";
import type { TableEntry } from "../table/table_reader.ts";
import { type CoveringTombstone, coverOf } from "../table/tombstone_cover.ts";
import { named } from "./errors.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { TableReader } from "../table/table_reader.ts";
import type { LiveTable } from "./compaction/version.ts";
import { keyOf } from "./options.ts";
import { foldOperands, readVersions } from "./read.ts";
import type { CheckedRange } from "./read_options.ts";

/** Whether a tombstone [start, end) meets [lower, upper). */
function meets(t: CoveringTombstone, lower?: Uint8Array, upper?: Uint8Array): boolean {
  return (lower === undefined || compareUserKeys(t.end, lower) > 0) &&
    (upper === undefined || compareUserKeys(t.start, upper) < 0);
}

/**
 * What a `ViewCursor` reads (a Store's `ReadView`, or another reader's fixed sources such as the
 * command line's): the memtables newest first, the files by level, and its release.
 */
export interface CursorView {
  readonly snapshot: number;
  readonly memtables: readonly MemTable[];
  readonly files: readonly TableReader[];
  /** Level 0 newest first, each level ≥ 1 by key. */
  readonly levels: readonly (readonly LiveTable[])[];
  readonly released: boolean;
  /** Has `close` run when the view is released. */
  closing(close: () => void): void;
  release(): void;
}

/**
 * A view's visible pairs within [lower, upper), both ways (see the module notes). Its `key`
 * and `value` are its own arrays, replaced (not changed) by every move. Owns its view: `close()`
 * releases it. Not for users: `StoreCursor` and `StoreIterator` guard it.
 */
export class ViewCursor {
  readonly view: CursorView;
  readonly #merged: MergingCursor;
  readonly #tombstones: readonly CoveringTombstone[];
  readonly #lower: Uint8Array | undefined;
  readonly #upper: Uint8Array | undefined;
  readonly #op: MergeOperator | undefined;
  /** What merge errors name. */
  readonly #what: string;
  #forward = true;
  key: Uint8Array | undefined;
  value: Uint8Array | undefined;

  constructor(
    view: CursorView,
    range: Omit<CheckedRange, "snapshot">,
    op: MergeOperator | undefined,
    what: string,
  ) {
    const { snapshot } = view;
    const { lower, upper } = range;
    const sources: VersionCursor[] = [];
    try {
      for (const m of view.memtables) {
        sources.push(new MemTableCursor(m.iterator({ snapshot, ignoreRangeDeletions: true })));
      }
      const [level0 = [], ...deeper] = view.levels;
      for (const f of level0) sources.push(new TableCursor(f.reader));
      for (const files of deeper) if (files.length > 0) sources.push(new LevelCursor(files));
      this.#tombstones = view.memtables.flatMap((m) => m.rangeTombstones({ snapshot }))
        .concat(view.files.flatMap((f) => f.rangeTombstones()))
        .filter((t) => t.seq <= snapshot && meets(t, lower, upper));
    } catch (e) {
      for (const s of sources) s.close(); // the memtable cursors' native iterators
      throw e;
    }
    this.view = view;
    this.#merged = new MergingCursor(sources);
    view.closing(() => this.#merged.close()); // also when the store closes under the cursor
    this.#lower = lower;
    this.#upper = upper;
    this.#op = op;
    this.#what = what;
  }

  get valid(): boolean {
    return this.key !== undefined;
  }

  /** The value of the key whose versions (newest first) are `group`, if it has one. */
  #resolve(group: TableEntry[]): Uint8Array | undefined {
    const key = group[0]!.key;
    const { snapshot } = this.view;
    const r = readVersions(group, snapshot, coverOf(this.#tombstones, key, snapshot));
    if (r.operands.length === 0) return r.value?.slice(); // a table block's bytes: copied
    return foldOperands(this.#op, key, r.value, r.operands, this.#what);
  }

  #set(key: Uint8Array | undefined, value?: Uint8Array): void {
    this.key = key;
    this.value = value;
  }

  /** From the first version of a key on, forward: the first visible key below `upper`. */
  #findNext(): void {
    this.#forward = true;
    const m = this.#merged;
    while (m.valid()) {
      const key = m.entry().key;
      if (this.#upper !== undefined && compareUserKeys(key, this.#upper) >= 0) break;
      const group: TableEntry[] = [];
      do {
        group.push(m.entry());
        m.next();
      } while (m.valid() && compareUserKeys(m.entry().key, key) === 0);
      const value = this.#resolve(group);
      if (value !== undefined) return this.#set(key, value);
    }
    this.#set(undefined);
  }

  /** From the last version of a key on, backward: the last visible key at or above `lower`. */
  #findPrev(): void {
    this.#forward = false;
    const m = this.#merged;
    while (m.valid()) {
      const key = m.entry().key;
      if (this.#lower !== undefined && compareUserKeys(key, this.#lower) < 0) break;
      const group: TableEntry[] = [];
      do {
        group.push(m.entry());
        m.prev();
      } while (m.valid() && compareUserKeys(m.entry().key, key) === 0);
      const value = this.#resolve(group.reverse());
      if (value !== undefined) return this.#set(key, value);
    }
    this.#set(undefined);
  }

  seekToFirst(): void {
    if (this.#lower === undefined) this.#merged.seekToFirst();
    else this.#merged.seek(this.#lower);
    this.#findNext();
  }

  seekToLast(): void {
    if (this.#upper === undefined) this.#merged.seekToLast();
    else this.#merged.seekBefore(this.#upper);
    this.#findPrev();
  }

  seek(target: Uint8Array): void {
    const lower = this.#lower;
    this.#merged.seek(lower !== undefined && compareUserKeys(target, lower) < 0 ? lower : target);
    this.#findNext();
  }

  seekForPrev(target: Uint8Array): void {
    const upper = this.#upper;
    if (upper !== undefined && compareUserKeys(target, upper) >= 0) this.#merged.seekBefore(upper);
    else this.#merged.seekForPrev(target);
    this.#findPrev();
  }

  /** REQUIRES: `valid`. */
  next(): void {
    if (!this.#forward) this.#merged.seekAfter(this.key!);
    this.#findNext();
  }

  /** REQUIRES: `valid`. */
  prev(): void {
    if (this.#forward) this.#merged.seekBefore(this.key!);
    this.#findPrev();
  }

  /** Releases the view, which ends the sources (memtable cursors free their native side). */
  close(): void {
    this.#set(undefined);
    this.view.release();
  }
}

/**
 * Releases the view of a cursor dropped unclosed (a backstop: close them). Module state, but
 * no call reads it: it only holds registrations, each keyed by its cursor.
 */
const cursorFinalizer = new FinalizationRegistry<CursorView>((view) => view.release());

/** Makes StoreCursor's constructor internal: cursors come from `Store.cursor()`. */
const internal = Symbol("StoreCursor");

/** The cursor `Store.cursor()` returns, over a view it now owns. */
export function cursorOver(cursor: ViewCursor): StoreCursor {
  return new StoreCursor(internal, cursor);
}

/**
 * A cursor over a store's pairs in key order, moving both ways (RocksDB's DB iterator), from
 * {@linkcode Store.cursor}. It reads the store as it was when the cursor was made (at its
 * snapshot, with the memtables and files of then, held until it is closed); its range options
 * bound every move. `seek(k)` goes to the first key ≥ k, `seekForPrev(k)` to the last key ≤ k;
 * `next()`/`prev()` move from a valid position, either way at any time. `key` and `value` are
 * fresh copies. A cursor holds memory and files: close it (`using`); the store's `close()`
 * releases it too (its later calls throw a `StoreError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Store, stringAppend } from "../../mod.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * const dir = join(mkdtempSync(join(tmpdir(), "store-")), "db");
 * await using store = Store.open({ dir, mergeOperator: stringAppend(",") });
 * for (const k of ["a", "b", "c", "d"]) store.put(k, k);
 * await store.flush(); // in a file now; the next writes in the memtable
 * store.merge("b", "more");
 * store.deleteRange("c", "d");
 * using cursor = store.cursor({ prefix: "" }); // every key
 * const at = () => `${new TextDecoder().decode(cursor.key)}=${new TextDecoder().decode(cursor.value)}`;
 * cursor.seekToLast();
 * assert.equal(at(), "d=d");
 * cursor.prev(); // c is deleted
 * assert.equal(at(), "b=b,more");
 * cursor.next(); // back the other way
 * assert.equal(at(), "d=d");
 * cursor.seekForPrev("a");
 * assert.equal(at(), "a=a");
 * cursor.prev();
 * assert.equal(cursor.valid, false);
 * ```
 */
export class StoreCursor implements Disposable {
  #cursor: ViewCursor | undefined;

  /** Not for direct use: cursors come from `Store.cursor()`. */
  constructor(token: typeof internal, cursor: ViewCursor) {
    if (token !== internal) throw new TypeError("StoreCursor: create cursors with Store.cursor()");
    this.#cursor = cursor;
    cursorFinalizer.register(this, cursor.view, this);
  }

  #live(what: string): ViewCursor {
    const c = this.#cursor;
    if (c === undefined) throw new StoreError(`StoreCursor.${what}(): the cursor is closed`);
    if (c.view.released) {
      this.close();
      throw new StoreError(
        `StoreCursor.${what}(): the store was closed while this cursor was open`,
      );
    }
    return c;
  }

  #positioned(what: string): ViewCursor {
    const c = this.#live(what);
    if (!c.valid) {
      throw new StoreError(
        `StoreCursor.${what}(): the cursor is not on a key (valid is false); seek first`,
      );
    }
    return c;
  }

  /** Runs a move, its errors naming `StoreCursor.what()`. */
  #move(what: string, c: ViewCursor, move: (c: ViewCursor) => void): void {
    try {
      move(c);
    } catch (e) {
      c.key = c.value = undefined;
      throw named(e, `StoreCursor.${what}()`);
    }
  }

  /** Whether the cursor is on a key (false before the first seek, past either end, closed). */
  get valid(): boolean {
    const c = this.#cursor;
    return c !== undefined && !c.view.released && c.valid;
  }

  /** The current key (a copy). REQUIRES: `valid`, else a `StoreError`. */
  get key(): Uint8Array {
    return this.#positioned("key").key!.slice();
  }

  /** The current key's value (a copy). REQUIRES: `valid`, else a `StoreError`. */
  get value(): Uint8Array {
    return this.#positioned("value").value!.slice();
  }

  /** Moves to the first key (of the cursor's range). */
  seekToFirst(): void {
    this.#move("seekToFirst", this.#live("seekToFirst"), (c) => c.seekToFirst());
  }

  /** Moves to the last key (of the cursor's range). */
  seekToLast(): void {
    this.#move("seekToLast", this.#live("seekToLast"), (c) => c.seekToLast());
  }

  /** Moves to the first key ≥ `key` (a Uint8Array or a string). */
  seek(key: Uint8Array | string): void {
    const c = this.#live("seek");
    const k = keyOf(key, "StoreCursor.seek()");
    this.#move("seek", c, (c) => c.seek(k));
  }

  /** Moves to the last key ≤ `key`. */
  seekForPrev(key: Uint8Array | string): void {
    const c = this.#live("seekForPrev");
    const k = keyOf(key, "StoreCursor.seekForPrev()");
    this.#move("seekForPrev", c, (c) => c.seekForPrev(k));
  }

  /** Moves to the next key. REQUIRES: `valid`, else a `StoreError`. */
  next(): void {
    this.#move("next", this.#positioned("next"), (c) => c.next());
  }

  /** Moves to the previous key. REQUIRES: `valid`, else a `StoreError`. */
  prev(): void {
    this.#move("prev", this.#positioned("prev"), (c) => c.prev());
  }

  /** Releases what the cursor holds (idempotent); later moves throw a `StoreError`. */
  close(): void {
    const c = this.#cursor;
    if (c === undefined) return;
    this.#cursor = undefined;
    cursorFinalizer.unregister(this);
    c.close();
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Store iterators: `ReadView`, what an iterator or a cursor reads (fixed when it is created,
 * holding the memtables and the file list until it is released), and `StoreIterator`, the
 * iteration over a view's pairs (a walk of a `ViewCursor`, cursor.ts, one way, up to a limit)
 * that releases it when it ends, is stopped or disposed.
 *
 * @module
 */
import { StoreError } from "../errors.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { TableReader } from "../table/table_reader.ts";
import type { MemTableVersion } from "../write/memtable_list.ts";
import type { LiveTable, Version } from "./compaction/version.ts";
import { named } from "./errors.ts";
import type { CursorView, ViewCursor } from "./cursor.ts";
import type { ReadSources, StoreEntry } from "./read.ts";

/**
 * What a Store iterator or cursor reads, fixed when it is created: the sequence number, a
 * reference on every memtable it reads and on the Version of table files (read newest first).
 * Released once: when the iteration ends or is stopped, the cursor is closed, or the store
 * closes (which releases every view it handed out).
 */
export class ReadView implements ReadSources {
  readonly snapshot: number;
  /** The mutable memtable, then the immutable ones; newest first. */
  readonly memtables: readonly MemTable[];
  readonly files: readonly TableReader[];
  /** The files by level (level 0 newest first, each level ≥ 1 by key): `files`, grouped. */
  readonly levels: readonly (readonly LiveTable[])[];
  readonly #mutable: MemTable;
  readonly #version: MemTableVersion;
  /** The table files' Version; the caller took the reference this view releases. */
  readonly #files: Version;
  readonly #views: Set<ReadView>;
  /** What the readers of the view close when it is released (their native cursors). */
  #onRelease: (() => void) | undefined;
  #released = false;

  constructor(
    snapshot: number,
    mutable: MemTable,
    version: MemTableVersion,
    tables: Version,
    views: Set<ReadView>,
  ) {
    mutable.ref(); // it may be switched out and flushed while the view is read
    this.snapshot = snapshot;
    this.#mutable = mutable;
    this.#version = version;
    this.memtables = [mutable, ...version.memtables];
    this.#files = tables;
    this.files = tables.readers();
    this.levels = tables.levels;
    this.#views = views;
    views.add(this);
  }

  get released(): boolean {
    return this.#released;
  }

  /** Has `close` run when the view is released (by its reader, or by the store's close). */
  closing(close: () => void): void {
    this.#onRelease = close;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#views.delete(this);
    try {
      this.#onRelease?.();
    } finally {
      this.#version.release();
      this.#mutable.unref();
      this.#files.unref();
    }
  }
}

/**
 * Releases the view of an iterator dropped unfinished (a backstop: end or dispose them). Module
 * state, but no call reads it: it only holds registrations, each keyed by its iterator, and
 * outlives every store (a registry on the Store could be collected with it, leaking the views).
 */
const viewFinalizer = new FinalizationRegistry<CursorView>((view) => view.release());

/** Makes StoreIterator's constructor internal: iterators come from `iteratorOver`. */
const internal = Symbol("StoreIterator");

/** How a StoreIterator walks its cursor. */
export interface Walk {
  reverse: boolean;
  limit: number;
}

/** The iterator `Store.iterator()` returns over `cursor` (not yet positioned), which it owns. */
export function iteratorOver(cursor: ViewCursor, walk: Walk): StoreIterator {
  return new StoreIterator(internal, cursor, walk);
}

/**
 * An iteration over a store's key-value pairs, from {@linkcode Store.iterator}: an `Iterator`
 * (`for … of`, and the iterator helpers: `map`, `toArray`, …), an `AsyncIterable`
 * (`for await … of`) and `Disposable`. Its view of the store was fixed when it was created: it
 * holds a reference on every memtable it reads (the mutable one too, which may be switched out
 * and flushed meanwhile) and on the list of files (which compactions then leave on disk), and
 * ending it — done, `break`, `return()`, `[Symbol.dispose]` — releases them, as does the
 * store's `close()` (later `next()` calls then throw a `StoreError`). One dropped unfinished is
 * released when it is garbage-collected; until then it keeps its memtables' memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Store } from "../../mod.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * await using store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
 * store.put("a", "1");
 * using it = store.iterator(); // sees the store as it is now
 * store.put("b", "2");
 * assert.deepEqual(it.map((e) => new TextDecoder().decode(e.key)).toArray(), ["a"]);
 * ```
 */
export class StoreIterator extends Iterator<StoreEntry, undefined>
  implements Disposable, AsyncIterable<StoreEntry> {
  #cursor: ViewCursor | undefined;
  readonly #reverse: boolean;
  #left: number;
  #started = false;

  /** Not for direct use: iterators come from `Store.iterator()`. */
  constructor(token: typeof internal, cursor: ViewCursor, walk: Walk) {
    super();
    if (token !== internal) {
      throw new TypeError("StoreIterator: create iterators with Store.iterator()");
    }
    this.#cursor = cursor;
    this.#reverse = walk.reverse;
    this.#left = walk.limit;
    viewFinalizer.register(this, cursor.view, this);
  }

  /** The next pair; throws a `StoreError` once the store was closed under the iterator. */
  override next(): IteratorResult<StoreEntry, undefined> {
    const c = this.#cursor;
    if (c === undefined) return { done: true, value: undefined };
    if (c.view.released) {
      this.#finish();
      throw new StoreError("Store.iterator(): the store was closed while this iterator was open");
    }
    if (this.#left > 0) {
      try {
        if (!this.#started) {
          this.#started = true;
          if (this.#reverse) c.seekToLast();
          else c.seekToFirst();
        } else if (this.#reverse) c.prev();
        else c.next();
      } catch (e) {
        this.#finish();
        throw named(e, "Store.iterator()");
      }
      if (c.valid) {
        this.#left--;
        return { done: false, value: { key: c.key!, value: c.value! } };
      }
    }
    this.#finish();
    return { done: true, value: undefined };
  }

  /** Ends the iteration (what `break` calls) and releases its view. */
  override return(): IteratorResult<StoreEntry, undefined> {
    this.#finish();
    return { done: true, value: undefined };
  }

  /** Ends the scan and releases what it holds, for `using`. */
  override [Symbol.dispose](): void {
    this.#finish();
  }

  /**
   * The same pairs for `for await … of` (a loop left early ends this iterator). The reads are
   * synchronous: each pair is ready at once.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<StoreEntry, undefined> {
    try {
      for (let r = this.next(); !r.done; r = this.next()) yield r.value;
    } finally {
      this.#finish();
    }
  }

  #finish(): void {
    const c = this.#cursor;
    if (c === undefined) return;
    this.#cursor = undefined;
    viewFinalizer.unregister(this);
    c.close(); // ends every source (memtable cursors free their native side), then the view
  }
}

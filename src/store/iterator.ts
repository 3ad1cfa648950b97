/**
 * Store iterators: `ReadView`, what an iterator reads (fixed when it is created, holding the
 * memtables and the file list until it is released), and `StoreIterator`, the iteration over a
 * view's pairs (`scanFrom` in read.ts) that releases it when it ends, is stopped or disposed.
 *
 * @module
 */
import { StoreError } from "../errors.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { TableReader } from "../table/table_reader.ts";
import type { MemTableVersion } from "../write/memtable_list.ts";
import type { Version } from "./compaction/version.ts";
import { named } from "./errors.ts";
import type { ReadSources, StoreEntry } from "./read.ts";

/**
 * What a Store iterator reads, fixed when it is created: the sequence number, a reference on
 * every memtable it reads and on the Version of table files (read newest first). Released once: when the iteration
 * ends or is stopped, or the store closes (which releases every view it handed out).
 */
export class ReadView implements ReadSources {
  readonly snapshot: number;
  /** The mutable memtable, then the immutable ones; newest first. */
  readonly memtables: readonly MemTable[];
  readonly files: readonly TableReader[];
  readonly #mutable: MemTable;
  readonly #version: MemTableVersion;
  /** The table files' Version; the caller took the reference this view releases. */
  readonly #files: Version;
  readonly #views: Set<ReadView>;
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
    this.#views = views;
    views.add(this);
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#views.delete(this);
    this.#version.release();
    this.#mutable.unref();
    this.#files.unref();
  }
}

/**
 * Releases the view of an iterator dropped unfinished (a backstop: end or dispose them). Module
 * state, but no call reads it: it only holds registrations, each keyed by its iterator, and
 * outlives every store (a registry on the Store could be collected with it, leaking the views).
 */
const viewFinalizer = new FinalizationRegistry<ReadView>((view) => view.release());

/** Makes StoreIterator's constructor internal: iterators come from `iteratorOver`. */
const internal = Symbol("StoreIterator");

/** The iterator `Store.iterator()` returns: `start()` makes the scan at the first `next()`. */
export function iteratorOver(view: ReadView, start: () => Generator<StoreEntry>): StoreIterator {
  return new StoreIterator(internal, view, start);
}

/**
 * An iteration over a store's key-value pairs, from {@linkcode Store.iterator}: an
 * `Iterator` (with the iterator helpers: `map`, `toArray`, …) and `Disposable`. Its view of
 * the store was fixed when it was created; ending it (done, `break`, `return()`,
 * `[Symbol.dispose]`) releases that view.
 */
export class StoreIterator extends Iterator<StoreEntry, undefined> implements Disposable {
  #view: ReadView;
  #start: (() => Generator<StoreEntry>) | undefined;
  #scan: Generator<StoreEntry> | undefined;
  #done = false;

  /** Not for direct use: iterators come from `Store.iterator()`. */
  constructor(token: typeof internal, view: ReadView, start: () => Generator<StoreEntry>) {
    super();
    if (token !== internal) {
      throw new TypeError("StoreIterator: create iterators with Store.iterator()");
    }
    this.#view = view;
    this.#start = start;
    viewFinalizer.register(this, view, this);
  }

  /** The next pair; throws a `StoreError` once the store was closed under the iterator. */
  override next(): IteratorResult<StoreEntry, undefined> {
    if (this.#done) return { done: true, value: undefined };
    if (this.#view.released) {
      this.#finish();
      throw new StoreError("Store.iterator(): the store was closed while this iterator was open");
    }
    try {
      this.#scan ??= this.#start!();
      const r = this.#scan.next();
      if (!r.done) return r;
    } catch (e) {
      this.#finish();
      throw named(e, "Store.iterator()");
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

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    const scan = this.#scan;
    this.#scan = undefined;
    this.#start = undefined;
    viewFinalizer.unregister(this);
    try {
      scan?.return(undefined); // ends every source: memtable cursors free their native side
    } finally {
      this.#view.release();
    }
  }
}

/**
 * MemTableList: the immutable memtables of a store, waiting to be flushed (RocksDB's
 * MemTableList). A full memtable is added (and marked immutable); a flush picks the oldest ones
 * not already being flushed, and either rolls back (they stay readable and are picked again)
 * or installs its result — in order: a newer memtable's flush never lands before an older's.
 * Readers take a `MemTableVersion`, which keeps its memtables alive (reference-counted) however
 * the list changes. Flushed memtables may be kept as history up to
 * `maxWriteBufferSizeToMaintain` bytes.
 *
 * @module
 */
import { describe } from "../coding/value_type.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { WriteBufferManager } from "./write_buffer_manager.ts";

/** Options of {@linkcode MemTableList}. */
export interface MemTableListOptions {
  /** Immutable memtables waiting for a flush at which writes stall (RocksDB's default 2). */
  maxWriteBufferNumber?: number;
  /** Immutable memtables that make a flush worth starting (default 1). */
  minWriteBufferNumberToMerge?: number;
  /** Bytes of flushed memtables kept readable as history (default 0: none). */
  maxWriteBufferSizeToMaintain?: number;
  /** Told when memtables stop being mutable and when they are released. */
  writeBufferManager?: WriteBufferManager;
}

interface Slot<R> {
  mt: MemTable;
  size: number;
  inProgress: boolean;
  done: boolean;
  /** The newest memtable of a completed flush carries its result. */
  last: boolean;
  result?: R;
}

/**
 * The memtables a reader sees, held alive until `release()` (or the end of a `using` block),
 * however the list changes meanwhile. From `MemTableList.current()`.
 */
export class MemTableVersion implements Disposable {
  /** Immutable memtables not yet flushed, newest first. */
  readonly memtables: readonly MemTable[];
  /** Flushed memtables kept as history, newest first. */
  readonly history: readonly MemTable[];
  #released = false;

  /** Made by `MemTableList.current()`, which hands the references it takes to this version. */
  constructor(memtables: MemTable[], history: MemTable[]) {
    this.memtables = memtables;
    this.history = history;
    for (const m of [...memtables, ...history]) m.ref();
  }

  /** Releases the references this version holds (once; later calls do nothing). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const m of [...this.memtables, ...this.history]) m.unref();
  }

  /** `release()`, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

function count(v: unknown, what: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`MemTableList: ${what} must be an integer ≥ ${min}, got ${describe(v)}`);
  }
  return v;
}

/**
 * The immutable memtables of one store. `R` is what a flush produces (a file's description).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * import { MemTableList } from "../../flush.ts";
 * const list = new MemTableList<string>();
 * const mt = new MemTable();
 * mt.add(1, ValueType.Value, "k", "v");
 * list.add(mt); // now immutable; the list holds it
 * const picked = list.pickMemtablesToFlush(); // [mt], oldest first
 * // … write picked to a file …
 * const installed = list.installFlushResult(picked, "000001.sst");
 * assert.deepEqual(installed, ["000001.sst"]);
 * assert.equal(list.numNotFlushed, 0);
 * mt.close(); // the creator's reference; the list released its own
 * ```
 */
export class MemTableList<R = unknown> {
  /** The most memtables (mutable and immutable) before writes should stall. */
  readonly maxWriteBufferNumber: number;
  /** The fewest immutable memtables a flush picks. */
  readonly minWriteBufferNumberToMerge: number;
  /** Bytes of flushed memtables kept as history (0: none). */
  readonly maxWriteBufferSizeToMaintain: number;
  readonly #wbm: WriteBufferManager | undefined;
  /** Oldest first. */
  #slots: Slot<R>[] = [];
  /** Flushed memtables kept as history, newest first. */
  #history: { mt: MemTable; size: number }[] = [];
  #closed = false;

  /** An empty list; bad options throw TypeError/RangeError. */
  constructor(options: MemTableListOptions = {}) {
    this.maxWriteBufferNumber = count(options.maxWriteBufferNumber, "maxWriteBufferNumber", 2, 2);
    this.minWriteBufferNumberToMerge = count(
      options.minWriteBufferNumberToMerge,
      "minWriteBufferNumberToMerge",
      1,
      1,
    );
    this.maxWriteBufferSizeToMaintain = count(
      options.maxWriteBufferSizeToMaintain,
      "maxWriteBufferSizeToMaintain",
      0,
      0,
    );
    this.#wbm = options.writeBufferManager;
  }

  #live(what: string): void {
    if (this.#closed) throw new TypeError(`MemTableList.${what}(): the list is closed`);
  }

  /** Immutable memtables not yet flushed (being flushed included). */
  get numNotFlushed(): number {
    return this.#slots.length;
  }

  /** Flushed memtables kept as history. */
  get numHistory(): number {
    return this.#history.length;
  }

  /** Bytes held by the unflushed immutable memtables. */
  get memoryUsage(): number {
    return this.#slots.reduce((n, s) => n + s.size, 0);
  }

  /**
   * Adds a full memtable as the newest immutable one: it is marked immutable and the list takes
   * a reference to it (the caller keeps its own).
   */
  add(mt: MemTable): void {
    this.#live("add");
    if (this.#slots.some((s) => s.mt === mt)) {
      throw new TypeError(`MemTableList.add(): memtable ${mt.id} is already in the list`);
    }
    mt.markImmutable();
    mt.ref();
    const size = mt.approximateMemoryUsage();
    this.#slots.push({ mt, size, inProgress: false, done: false, last: false });
    this.#wbm?.scheduleFree(size);
  }

  /** Enough memtables wait (at least minWriteBufferNumberToMerge) that are not being flushed. */
  isFlushPending(): boolean {
    const waiting = this.#slots.filter((s) => !s.inProgress && !s.done).length;
    return waiting > 0 && waiting >= this.minWriteBufferNumberToMerge;
  }

  /**
   * Writes must wait (RocksDB's memtable-limit stall): as many immutable memtables wait for
   * their flush as `maxWriteBufferNumber`. With the default of 2, one memtable can fill while
   * another is flushed; a third full one waits.
   */
  shouldStallWrites(): boolean {
    return this.#slots.length >= this.maxWriteBufferNumber;
  }

  /**
   * The memtables a flush should write, oldest first: the oldest run of consecutive ones not
   * being flushed (as RocksDB, never around one that is), now marked as being flushed. Empty
   * when none waits.
   */
  pickMemtablesToFlush(): MemTable[] {
    this.#live("pickMemtablesToFlush");
    const picked: Slot<R>[] = [];
    for (const s of this.#slots) {
      if (!s.inProgress && !s.done) picked.push(s);
      else if (picked.length > 0) break;
    }
    for (const s of picked) s.inProgress = true;
    return picked.map((s) => s.mt);
  }

  #slotsOf(mts: readonly MemTable[], what: string): Slot<R>[] {
    return mts.map((mt) => {
      const s = this.#slots.find((x) => x.mt === mt);
      if (s === undefined || !s.inProgress) {
        throw new TypeError(`MemTableList.${what}(): memtable ${mt.id} is not being flushed`);
      }
      return s;
    });
  }

  /** A flush failed: its memtables stay readable and will be picked again. */
  rollbackFlush(mts: readonly MemTable[]): void {
    this.#live("rollbackFlush");
    for (const s of this.#slotsOf(mts, "rollbackFlush")) s.inProgress = false;
  }

  /**
   * A flush of `mts` succeeded with `result`. Results are installed oldest first: this one now
   * if every older memtable's flush is installed, later otherwise (when that one completes).
   * Returns the results installed by this call, in order; installed memtables leave the list
   * (kept as history within maxWriteBufferSizeToMaintain, else released).
   */
  installFlushResult(mts: readonly MemTable[], result: R): R[] {
    this.#live("installFlushResult");
    const slots = this.#slotsOf(mts, "installFlushResult");
    for (const s of slots) {
      s.done = true;
      s.inProgress = false;
    }
    const newest = slots.reduce((a, b) => this.#slots.indexOf(a) > this.#slots.indexOf(b) ? a : b);
    newest.last = true;
    newest.result = result;
    // Each flush's result sits on its newest memtable: install completed flushes from the
    // oldest, and stop at the first memtable whose flush has not completed.
    const installed: R[] = [];
    while (this.#slots.length > 0) {
      let end = 0;
      while (end < this.#slots.length && this.#slots[end]!.done && !this.#slots[end]!.last) end++;
      const s = this.#slots[end];
      if (s === undefined || !s.done || !s.last) break;
      const batch = this.#slots.splice(0, end + 1);
      installed.push(s.result as R);
      for (const b of batch) this.#retire(b.mt, b.size);
    }
    return installed;
  }

  #retire(mt: MemTable, size: number): void {
    if (this.maxWriteBufferSizeToMaintain > 0) {
      this.#history.unshift({ mt, size });
      let total = this.#history.reduce((n, h) => n + h.size, 0);
      while (this.#history.length > 0 && total > this.maxWriteBufferSizeToMaintain) {
        const old = this.#history.pop()!;
        total -= old.size;
        this.#release(old.mt, old.size);
      }
      return;
    }
    this.#release(mt, size);
  }

  #release(mt: MemTable, size: number): void {
    mt.unref();
    this.#wbm?.free(size);
  }

  /**
   * The unflushed memtables now, newest first, without references: for a read that finishes
   * before the list can change (synchronous code). A read that spans awaits takes `current()`.
   */
  unflushed(): MemTable[] {
    this.#live("unflushed");
    return this.#slots.map((s) => s.mt).reverse();
  }

  /** The memtables a reader should see now, held until the version is released. */
  current(): MemTableVersion {
    this.#live("current");
    return new MemTableVersion(
      this.#slots.map((s) => s.mt).reverse(),
      this.#history.map((h) => h.mt),
    );
  }

  /** Releases every memtable the list holds (versions keep theirs until released). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots) this.#release(s.mt, s.size);
    for (const h of this.#history) this.#release(h.mt, h.size);
    this.#slots = [];
    this.#history = [];
  }
}

/**
 * Store: a memtable, its immutable predecessors and the SST files they were flushed to, behind
 * one key-value API — the write path of an LSM tree without compaction and without a WAL.
 *
 * Writes go to the mutable memtable with the next sequence numbers. When it is full (its own
 * `writeBufferSize`, or the shared `WriteBufferManager`'s rule) it becomes immutable, joins the
 * MemTableList and a flush writes the oldest immutable memtables to a new SST file; the file is
 * recorded in `MANIFEST.json` (written atomically) and the memtables are released. Reads look
 * at the mutable memtable, the immutable ones and the files, newest first, so a write is
 * readable from the moment `put` returns, whether or not it has been flushed.
 *
 * Durability: there is no write-ahead log. Unflushed writes are lost if the process dies;
 * `flush()` and `close()` make them durable (`close()` flushes).
 *
 * This file is the façade and the write path; beside it: the options (options.ts), opening the
 * directory (open.ts; its files and manifest: directory.ts, table_files.ts), flushes
 * (flush_scheduler.ts), reads (read.ts) and iterators (iterator.ts). The directory is the
 * store's own: a directory holding files this library did not write is refused, and only what
 * its own writes left behind is ever removed. SST files are read through a TableCache that
 * bounds their open descriptors (`maxOpenFiles`). Errors raised inside a Store call name the
 * Store call (`Store.put(): key …`), not the MemTable or TableReader that raised them
 * (errors.ts).
 *
 * @module
 */
import { checkOptions } from "../arguments.ts";
import { describe, ValueType } from "../coding/value_type.ts";
import { StoreError } from "../errors.ts";
import type { FileLock } from "../ffi/file_lock.ts";
import type { Bytes } from "../memtable/bytes.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import { MemTableList } from "../write/memtable_list.ts";
import { type Snapshot, SnapshotList } from "../write/snapshots.ts";
import { WriteBatch } from "../write/write_batch.ts";
import type { FileMeta } from "./directory.ts";
import { named, noMergeOperator } from "./errors.ts";
import { type FlushFigures, FlushScheduler } from "./flush_scheduler.ts";
import { iteratorOver, ReadView, type StoreIterator } from "./iterator.ts";
import { openDirectory, type OpenedDirectory } from "./open.ts";
import {
  checkStoreOptions,
  getOptionNames,
  iteratorOptionNames,
  keyOf,
  memTableFor,
  snapshotOf,
  type StoreIteratorOptions,
  type StoreOptions,
  type StoreReadOptions,
} from "./options.ts";
import { getFrom, scanFrom } from "./read.ts";
import type { TableFiles } from "./table_files.ts";

/** A store's figures, for monitoring. */
export interface StoreStats extends FlushFigures {
  lastSequence: number;
  files: number;
  immutableMemTables: number;
  /** Native bytes of the mutable and the immutable memtables. */
  memtableBytes: number;
  /** SST files whose descriptors are open now, and the bound on them in force. */
  openTableFiles: number;
  maxOpenFiles: number;
}

/**
 * A store: memtables and SST files behind one API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Store } from "../../mod.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * const dir = join(mkdtempSync(join(tmpdir(), "store-")), "db");
 * const store = Store.open({ dir, writeBufferSize: 1 << 20 });
 * store.put("user:1", "ada");
 * await store.flush(); // now in an SST file RocksDB can read
 * store.delete("user:1");
 * assert.equal(store.get("user:1"), undefined);
 * await store.close();
 * const again = Store.open({ dir });
 * assert.equal(again.get("user:1"), undefined); // the deletion was flushed by close()
 * await again.close();
 * ```
 */
export class Store {
  readonly dir: string;
  readonly writeBufferSize: number;
  readonly mergeOperator: MergeOperator | undefined;
  readonly #options: StoreOptions;
  #mutable: MemTable;
  #accounted = 0;
  readonly #imm: MemTableList<FileMeta>;
  /** The SST files, their readers and the manifest. */
  readonly #files: TableFiles;
  /** The directory's LOCK, held from open to the end of close(). */
  readonly #lock: FileLock;
  #lastSeq: number;
  readonly #snapshots = new SnapshotList();
  /** The views of open iterators, released by `close()`. */
  readonly #views = new Set<ReadView>();
  readonly #flusher: FlushScheduler;
  #closed = false;

  private constructor(options: StoreOptions, opened: OpenedDirectory, first: MemTable) {
    this.#lock = opened.lock;
    this.#options = options;
    this.#files = opened.files;
    this.dir = options.dir;
    this.writeBufferSize = options.writeBufferSize!;
    this.mergeOperator = options.mergeOperator;
    this.#imm = new MemTableList<FileMeta>({
      maxWriteBufferNumber: options.maxWriteBufferNumber,
      minWriteBufferNumberToMerge: options.minWriteBufferNumberToMerge,
      writeBufferManager: options.writeBufferManager,
    });
    this.#lastSeq = opened.lastSequence;
    this.#mutable = first;
    this.#flusher = new FlushScheduler({
      options,
      imm: this.#imm,
      files: this.#files,
      snapshots: () => this.#snapshots.sequences().map(Number),
      lastSequence: () => this.#lastSeq,
    });
  }

  /**
   * Opens (or creates) the store in `options.dir`: reads its manifest and opens its files. A
   * missing or empty directory becomes a new store (its manifest is written at once). A
   * directory holding files this library did not write (a RocksDB database, anything it does
   * not recognise) is refused with a `StoreError` that names them, and nothing in it changes.
   * What the store's own writes left when a process died is removed: temporaries, and SST
   * files numbered at or above the manifest's `nextFileNumber` (a flush that died before the
   * manifest recorded it).
   */
  static open(options: StoreOptions): Store {
    const checked = checkStoreOptions(options);
    try {
      return openDirectory(checked.options, (d) => new Store(checked.options, d, checked.first));
    } catch (e) {
      checked.first.close();
      throw named(e, "Store.open()");
    }
  }

  #live(what: string): void {
    if (this.#closed) throw new StoreError(`Store.${what}(): the store is closed`);
  }

  /** The sequence number of the last write. */
  get lastSequence(): number {
    return this.#lastSeq;
  }

  /** SST files, oldest first (their numbers and sequence ranges). */
  get files(): readonly Readonly<FileMeta>[] {
    return this.#files.metas();
  }

  /** Immutable memtables not yet flushed. */
  get numImmutableMemTables(): number {
    return this.#imm.numNotFlushed;
  }

  /** Sets `key` to `value` (Uint8Arrays or strings). */
  put(key: Bytes, value: Bytes): void {
    this.#write1("put", (mt, s) => mt.add(s, ValueType.Value, key, value));
  }

  /** Deletes `key`. */
  delete(key: Bytes): void {
    this.#write1("delete", (mt, s) => mt.add(s, ValueType.Deletion, key));
  }

  /** Deletes the one Value of `key` below it (RocksDB's SingleDelete contract). */
  singleDelete(key: Bytes): void {
    this.#write1("singleDelete", (mt, s) => mt.add(s, ValueType.SingleDeletion, key));
  }

  /**
   * Adds a Merge operand to `key`, folded on reads by the store's `mergeOperator`. A store
   * opened without one refuses it with a `MergeOperatorError` and writes nothing (RocksDB:
   * `NotSupported: Provide a merge_operator when opening DB`).
   */
  merge(key: Bytes, operand: Bytes): void {
    this.#live("merge");
    if (this.mergeOperator === undefined) throw noMergeOperator("Store.merge()", "a Merge");
    this.#write1("merge", (mt, s) => mt.add(s, ValueType.Merge, key, operand));
  }

  /** Deletes the keys in [start, end). */
  deleteRange(start: Bytes, end: Bytes): void {
    this.#write1("deleteRange", (mt, s) => mt.addRangeDeletion(s, start, end));
  }

  /**
   * Applies a batch atomically; returns the sequence number of its first record. A batch with
   * a Merge record in a store without a `mergeOperator` is refused as `merge()` is; a refused
   * batch applies nothing.
   */
  write(batch: WriteBatch): number {
    const what = "Store.write()";
    this.#live("write");
    if (!(batch instanceof WriteBatch)) {
      throw new TypeError(`${what}: expected a WriteBatch, got ${describe(batch)}`);
    }
    const first = this.#lastSeq + 1;
    this.#sequencesLeft(batch.count, what);
    let n: number;
    try {
      if (this.mergeOperator === undefined && batch.mayHaveMerge) {
        const at = batch.records().findIndex((r) => r.type === ValueType.Merge);
        if (at >= 0) throw noMergeOperator(what, `record ${at}, a Merge,`);
      }
      n = this.#mutable.write(batch, first);
    } catch (e) {
      throw named(e, what);
    }
    this.#lastSeq += n;
    this.#afterWrite();
    return first;
  }

  /** Throws unless `n` more sequence numbers can be given out (a Store counts in Numbers). */
  #sequencesLeft(n: number, what: string): void {
    if (this.#lastSeq + n <= Number.MAX_SAFE_INTEGER) return;
    throw new StoreError(
      `${what}: the store's sequence numbers are used up (the last is ${this.#lastSeq}; a ` +
        `Store counts to 2^53 - 1); nothing was written`,
    );
  }

  #write1(what: string, apply: (mt: MemTable, seq: number) => void): void {
    this.#live(what);
    this.#sequencesLeft(1, `Store.${what}()`);
    try {
      apply(this.#mutable, this.#lastSeq + 1); // throws before anything changes
    } catch (e) {
      throw named(e, `Store.${what}()`);
    }
    this.#lastSeq++;
    this.#afterWrite();
  }

  #afterWrite(): void {
    const usage = this.#mutable.approximateMemoryUsage();
    const wbm = this.#options.writeBufferManager;
    if (wbm !== undefined && usage > this.#accounted) wbm.reserve(usage - this.#accounted);
    this.#accounted = usage;
    if (this.#mutable.shouldFlush() || (wbm?.shouldFlush() ?? false)) {
      this.#switchMemTable();
      this.#flusher.schedule();
    }
  }

  /** The mutable memtable joins the immutable ones; a fresh one takes the writes. */
  #switchMemTable(): void {
    if (this.#mutable.numEntries === 0) return;
    const full = this.#mutable;
    this.#imm.add(full);
    full.close(); // the list holds its own reference
    this.#mutable = memTableFor(this.#options);
    this.#accounted = 0;
  }

  /**
   * Switches the mutable memtable out (when it holds anything) and flushes every immutable
   * memtable. Rejects with the flush's error when one fails; the memtables then stay readable
   * and the next `flush()` tries again.
   */
  async flush(): Promise<void> {
    this.#live("flush");
    this.#switchMemTable();
    try {
      await this.#flusher.drain();
      this.#files.writeManifest(this.#lastSeq); // the last sequence number, even when nothing was flushed
    } catch (e) {
      throw named(e, "Store.flush()");
    }
  }

  /** Resolves at once, or once flushes bring the memtables under `maxWriteBufferNumber` and
   * the write buffer manager under its budget (when it stalls writers). */
  async whenWritable(): Promise<void> {
    try {
      await this.#flusher.untilWritable();
    } catch (e) {
      throw named(e, "Store.whenWritable()");
    }
    await this.#options.writeBufferManager?.whenWritable();
  }

  /** The store's figures; after `close()`, its totals (no memtable holds memory then). */
  stats(): StoreStats {
    return {
      lastSequence: this.#lastSeq,
      files: this.#files.count,
      immutableMemTables: this.#imm.numNotFlushed,
      memtableBytes: this.#closed
        ? 0
        : this.#mutable.approximateMemoryUsage() + this.#imm.memoryUsage,
      ...this.#flusher.figures,
      openTableFiles: this.#files.tables.openFiles,
      maxOpenFiles: this.#files.tables.bound,
    };
  }

  /** A snapshot of the store now: reads with it see exactly the writes before it. */
  snapshot(): Snapshot {
    this.#live("snapshot");
    return this.#snapshots.acquire(this.#lastSeq);
  }

  /**
   * The value of `key` (undefined when it has none) at the snapshot (default: now). Errors
   * raised while reading (a damaged file, a failing merge operator) name `Store.get()`.
   */
  get(key: Bytes, options?: StoreReadOptions): Uint8Array | undefined {
    const what = "Store.get()";
    this.#live("get");
    const k = keyOf(key, what);
    const snapshot = options === undefined
      ? this.#lastSeq
      : snapshotOf(checkOptions(options, getOptionNames, what), this.#lastSeq, what);
    try {
      // Synchronous: no flush can install (and release memtables) before this returns.
      const sources = {
        snapshot,
        memtables: [this.#mutable, ...this.#imm.unflushed()],
        files: this.#files.readers(),
      };
      return getFrom(sources, k, this.mergeOperator);
    } catch (e) {
      throw named(e, what);
    }
  }

  /**
   * The visible key-value pairs in key order, from `lower` (inclusive) to `upper` (exclusive),
   * at the snapshot (default: the last write before this call — RocksDB's implicit snapshot).
   * The view is fixed here, not at the first `next()`: the iterator holds a reference on every
   * memtable it reads (the mutable one too, which may be switched out and flushed meanwhile)
   * and the list of files, and releases them when the iteration ends, is stopped (`break`,
   * `return()`) or disposed (`using`), or the store closes (later `next()` calls then throw a
   * `StoreError`). An iterator dropped unfinished is released when it is garbage-collected;
   * until then it keeps its memtables' memory, so end or dispose iterators you stop reading.
   * A closed store's `iterator()` throws at once, as do bad options.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * const store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
   * store.put("a", "1");
   * using it = store.iterator(); // sees the store as it is now
   * store.put("b", "2");
   * store.delete("a");
   * assert.deepEqual([...it].map((e) => new TextDecoder().decode(e.key)), ["a"]);
   * await store.close();
   * ```
   */
  iterator(options: StoreIteratorOptions = {}): StoreIterator {
    const what = "Store.iterator()";
    this.#live("iterator");
    const o = checkOptions(options, iteratorOptionNames, what);
    const snapshot = snapshotOf(o, this.#lastSeq, what);
    const lower = o.lower === undefined ? undefined : keyOf(o.lower, what, "lower").slice();
    const upper = o.upper === undefined ? undefined : keyOf(o.upper, what, "upper").slice();
    const view = new ReadView(
      snapshot,
      this.#mutable,
      this.#imm.current(),
      this.#files.readers(),
      this.#views,
    );
    return iteratorOver(view, () => scanFrom(view, lower, upper, this.mergeOperator));
  }

  /** Flushes everything (unflushed writes become durable) and releases the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const v of [...this.#views]) v.release(); // open iterators fail from now on
    this.#flusher.terminate();
    this.#imm.close();
    this.#mutable.close();
    this.#files.close();
    this.#lock.release(); // the last step: the directory is another store's to open from here
  }
}

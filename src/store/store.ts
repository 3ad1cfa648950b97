/**
 * Store: a memtable, its immutable predecessors and the SST files they were flushed to and
 * compacted into, behind one key-value API, in a RocksDB database directory — the write path of
 * an LSM tree with its write-ahead log and leveled compaction.
 *
 * Writes go to the mutable memtable with the next sequence numbers, then to the current log
 * (`NNNNNN.log`, RocksDB's WAL: one WriteBatch record per write). A full memtable (its own
 * `writeBufferSize`, or the `WriteBufferManager`'s rule) becomes immutable, a new log starts for
 * its successor, and a flush writes the oldest immutable memtables to a level-0 file, recorded
 * by one synced MANIFEST edit with the first log still needed (older logs are deleted);
 * compactions then move the data down the levels (compaction/). Reads look at the memtables,
 * then the files, newest first: a write is readable from the moment `put` returns.
 *
 * Durability, as RocksDB's: a write is in the operating system's hands when the call returns;
 * `{ sync: true }` syncs the logs first (`writeAsync` group-commits such writers under one
 * fdatasync); `{ disableWAL: true }` skips the log. `Store.open` replays the live logs. A write
 * is applied to the memtable before it is logged, so a write refused for its arguments is in
 * neither; a log that cannot be written fails the call and every later write (the store can
 * still be read and closed, which flushes what it holds).
 *
 * This file is the façade and the write path; beside it: logs (logs.ts), options (options.ts),
 * opening (open.ts, directory.ts, table_files.ts, recovery.ts), flushes (flush_scheduler.ts),
 * compactions (compaction/), reads (reads.ts, read.ts, read_options.ts, cursor.ts, iterator.ts),
 * figures (stats.ts). A directory holding files this library cannot prove a database's is
 * refused, and only what a store's own writes left behind is ever removed. Errors raised inside
 * a Store call name the Store call (`Store.put(): key …`), not the MemTable or TableReader.
 *
 * @module
 */
import { booleanOption } from "../arguments.ts";
import { describe, ValueType } from "../coding/value_type.ts";
import { StoreError } from "../errors.ts";
import type { FileLock } from "../ffi/file_lock.ts";
import type { Bytes } from "../memtable/bytes.ts";
import type { MemTable } from "../memtable/memtable.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import { LogWriteError, RecordEncoder } from "../db/wal.ts";
import type { TableReader } from "../table/table_reader.ts";
import { MemTableList } from "../write/memtable_list.ts";
import { type Snapshot, SnapshotList } from "../write/snapshots.ts";
import { WriteBatch } from "../write/write_batch.ts";
import type { FileMeta } from "./directory.ts";
import { StoreLogs } from "./logs.ts";
import { named, noMergeOperator } from "./errors.ts";
import { FlushScheduler } from "./flush_scheduler.ts";
import { Compactor } from "./compaction/compactor.ts";
import { checkCompactionOptions } from "./compaction/picker.ts";
import { batchUserBytes, type StoreStats, storeStats, userBytesOf } from "./stats.ts";
import type { ReadView, StoreIterator } from "./iterator.ts";
import { openDirectory, type OpenedDirectory } from "./open.ts";
import {
  checkStoreOptions,
  checkWriteOptions,
  keyOf,
  memTableFor,
  type StoreOptions,
  type StoreReadOptions,
  type WriteOptions,
} from "./options.ts";
import type { StoreCursor } from "./cursor.ts";
import type { StoreCursorOptions, StoreIteratorOptions } from "./read_options.ts";
import { storeCursor, storeGet, storeIterator, storeMultiGet, type StoreState } from "./reads.ts";
import { type RecoveryReport, settleReplayed } from "./recovery.ts";
import type { TableFiles } from "./table_files.ts";

/** How a write is to be logged. */
type Logged = { sync: boolean; log: boolean };

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
  /** The store's directory. */
  readonly dir: string;
  /** Each memtable's memory budget in bytes (resolved). */
  readonly writeBufferSize: number;
  /** The merge operator reads and flushes fold Merge operands with. */
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
  readonly #compactor: Compactor;
  /** Bytes of keys and values written by callers (write amplification's denominator). */
  #userBytes = 0;
  #closed = false;
  /** The logs, and whether the store failed for writes. */
  readonly #logs: StoreLogs;
  /** The log each unflushed memtable's writes went to (the first, for replayed ones). */
  readonly #logOf = new WeakMap<MemTable, number>();
  readonly #encoder = new RecordEncoder();
  readonly #recovery: RecoveryReport;

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
    const replayed = opened.replayed;
    this.#lastSeq = replayed.lastSequence;
    this.#recovery = replayed.report;
    this.#logs = new StoreLogs(opened.wal);
    this.#mutable = first;
    this.#logOf.set(first, opened.wal.number);
    this.#flusher = new FlushScheduler({
      options,
      imm: this.#imm,
      files: this.#files,
      snapshots: () => this.#snapshots.sequences().map(Number),
      install: (installed, number, reader) => this.#install(installed, number, reader),
    });
    this.#compactor = new Compactor({
      options: checkCompactionOptions(options, "Store.open()"),
      files: this.#files,
      mergeOperator: options.mergeOperator,
      blockSize: options.blockSize,
      inWorker: options.flushInWorker ?? true,
      snapshots: () => this.#snapshots.sequences().map(Number),
      lastSequence: () => this.#lastSeq,
      userBytes: () => this.#userBytes,
      failed: (e) => this.#logs.fail(e),
    });
    this.#recover(replayed.memtables);
    this.#compactor.schedule();
  }

  /** What the logs replayed: flushed now, or kept as immutable memtables (`settleReplayed`). */
  #recover(memtables: MemTable[]): void {
    const kept = settleReplayed(memtables, this.#files, this.#options, this.#recovery, {
      logNumber: this.#logs.current.number,
      lastSequence: this.#lastSeq,
    });
    for (const m of kept) {
      this.#imm.add(m);
      this.#logOf.set(m, this.#recovery.logs[0]!);
      m.close(); // the list holds its own reference
    }
    if (kept.length > 0) this.#flusher.schedule();
  }

  /**
   * Opens (or creates) the store in `options.dir`, a RocksDB database directory: reads its
   * MANIFEST, opens its table files and replays its logs (see `walRecoveryMode` and
   * `avoidFlushDuringRecovery`). A missing or empty directory becomes a new database; a store
   * of this library's earlier format (`MANIFEST.json`) is converted. A directory holding files
   * it cannot prove a database's is refused with a `StoreError` that names them, and nothing
   * in it changes; so is one whose MANIFEST, table files or logs are damaged (a
   * `CorruptionError`). What a store's own writes left when a process died is removed:
   * temporaries, and table files numbered at or above the MANIFEST's next file number (a flush
   * that died before the MANIFEST recorded it; its writes are still in the logs).
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

  /** Throws unless the store takes writes (open, its log not failed). */
  #writable(what: string): void {
    this.#live(what);
    this.#logs.checkWritable(what);
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

  /**
   * Sets `key` to `value` (Uint8Arrays or strings). `options`: RocksDB's write options (`sync`,
   * `disableWAL`), as for every write.
   */
  put(key: Bytes, value: Bytes, options?: WriteOptions): void {
    this.#write1("put", ValueType.Value, key, value, options);
  }

  /** Deletes `key`. */
  delete(key: Bytes, options?: WriteOptions): void {
    this.#write1("delete", ValueType.Deletion, key, undefined, options);
  }

  /** Deletes the one Value of `key` below it (RocksDB's SingleDelete contract). */
  singleDelete(key: Bytes, options?: WriteOptions): void {
    this.#write1("singleDelete", ValueType.SingleDeletion, key, undefined, options);
  }

  /**
   * Adds a Merge operand to `key`, folded on reads by the store's `mergeOperator`. A store
   * opened without one refuses it with a `MergeOperatorError` and writes nothing (RocksDB:
   * `NotSupported: Provide a merge_operator when opening DB`).
   */
  merge(key: Bytes, operand: Bytes, options?: WriteOptions): void {
    this.#live("merge");
    if (this.mergeOperator === undefined) throw noMergeOperator("Store.merge()", "a Merge");
    this.#write1("merge", ValueType.Merge, key, operand, options);
  }

  /** Deletes the keys in [start, end). */
  deleteRange(start: Bytes, end: Bytes, options?: WriteOptions): void {
    this.#write1("deleteRange", ValueType.RangeDeletion, start, end, options);
  }

  /**
   * Applies a batch atomically; returns the sequence number of its first record. A batch with
   * a Merge record in a store without a `mergeOperator` is refused as `merge()` is; a refused
   * batch applies nothing. With `{ sync: true }` this call waits for the fdatasync;
   * `writeAsync` shares one among concurrent writers.
   */
  write(batch: WriteBatch, options?: WriteOptions): number {
    const how = this.#writeOptions("write", options);
    const first = this.#apply(batch, how);
    if (how.sync) this.#logs.sync("write");
    return first;
  }

  /**
   * `write`, whose `{ sync: true }` is group-committed: the batch is applied and logged at
   * once, and the promise resolves once an fdatasync that began after it was logged has
   * finished — one covers every writer that arrived while the previous one ran (RocksDB's
   * write group). Without `sync` it resolves at once.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store, WriteBatch } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * const store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
   * const writers = Array.from({ length: 8 }, (_, i) =>
   *   store.writeAsync(new WriteBatch().put(`k${i}`, "v"), { sync: true }));
   * const firsts = await Promise.all(writers); // each durable once its promise resolves
   * assert.deepEqual(firsts, [1, 2, 3, 4, 5, 6, 7, 8]);
   * assert.equal(store.stats().wal.syncedBytes, store.stats().wal.bytes);
   * await store.close();
   * ```
   */
  async writeAsync(batch: WriteBatch, options?: WriteOptions): Promise<number> {
    const how = this.#writeOptions("writeAsync", options);
    const first = this.#apply(batch, how);
    if (how.sync) await this.#logs.syncAsync("writeAsync");
    return first;
  }

  /** Makes every write logged so far survive power loss (RocksDB's `SyncWAL`). */
  syncWAL(): void {
    this.#live("syncWAL");
    this.#logs.sync("syncWAL");
  }

  /**
   * RocksDB's `FlushWAL(sync)`: the logs are written through on every write (nothing is
   * buffered here), so this syncs them when `sync` is true and does nothing otherwise.
   */
  flushWAL(sync = false): void {
    this.#live("flushWAL");
    if (booleanOption(sync, "sync", "Store.flushWAL()", false)) this.#logs.sync("flushWAL");
  }

  #writeOptions(what: string, options: WriteOptions | undefined): Logged {
    this.#writable(what);
    return checkWriteOptions(options, `Store.${what}()`);
  }

  /** Applies `batch` and logs it (see `write`); returns its first sequence number. */
  #apply(batch: WriteBatch, how: Logged): number {
    const what = "Store.write()";
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
    this.#userBytes += batchUserBytes(batch);
    if (how.log && n > 0) this.#logs.add("write", () => this.#encoder.batch(batch.view(), first));
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

  #write1(
    what: string,
    type: ValueType,
    key: Bytes,
    value: Bytes | undefined,
    options: WriteOptions | undefined,
  ): void {
    const how = this.#writeOptions(what, options);
    this.#sequencesLeft(1, `Store.${what}()`);
    const seq = this.#lastSeq + 1;
    try {
      if (how.log) this.#logs.current.applyAndLog(this.#mutable, seq, type, key, value);
      else if (type === ValueType.RangeDeletion) this.#mutable.addRangeDeletion(seq, key, value!);
      else this.#mutable.add(seq, type, key, value);
    } catch (e) {
      if (!(e instanceof LogWriteError)) throw named(e, `Store.${what}()`); // nothing changed
      this.#lastSeq = seq; // the memtable holds it
      throw this.#logs.failure(what, e.cause);
    }
    this.#lastSeq = seq;
    this.#userBytes += userBytesOf(key, value);
    if (how.sync) this.#logs.sync(what);
    this.#afterWrite();
  }

  #afterWrite(): void {
    const usage = this.#mutable.approximateMemoryUsage();
    const wbm = this.#options.writeBufferManager;
    if (wbm !== undefined && usage > this.#accounted) wbm.reserve(usage - this.#accounted);
    this.#accounted = usage;
    if (this.#mutable.shouldFlush() || (wbm?.shouldFlush() ?? false)) {
      try {
        this.#switchMemTable();
      } finally {
        this.#flusher.schedule();
      }
    }
  }

  /**
   * The mutable memtable joins the immutable ones; a fresh one takes the writes, into a new
   * log. A log that cannot be created fails the store for writes (the switch still happens,
   * so that flushes and `close()` go on) and throws.
   */
  #switchMemTable(): void {
    if (this.#mutable.numEntries === 0) return;
    const logs = this.#logs;
    const failure = logs.failed === undefined
      ? logs.next(this.dir, this.#files.tables, this.#files.db.newLogNumber())
      : undefined;
    const full = this.#mutable;
    this.#imm.add(full);
    full.close(); // the list holds its own reference
    this.#mutable = memTableFor(this.#options);
    this.#logOf.set(this.#mutable, logs.current.number);
    this.#accounted = 0;
    if (failure !== undefined) throw failure;
  }

  /** The first log an unflushed memtable's writes are in: the logs before it are obsolete. */
  #liveLogNumber(): number {
    let n = this.#logOf.get(this.#mutable)!;
    for (const m of this.#imm.unflushed()) n = Math.min(n, this.#logOf.get(m) ?? n);
    return n;
  }

  /** Installs a flush's files: recorded with the first live log; older logs are closed. */
  #install(installed: readonly FileMeta[], number: number, reader: TableReader): void {
    const live = this.#liveLogNumber();
    try {
      this.#files.install(installed, number, reader, live, this.#lastSeq);
    } catch (e) {
      // The MANIFEST takes no more edits (database.ts): the logs are the only record of what
      // was flushed, so they must not be deleted, and the store takes no more writes.
      this.#logs.fail(e);
      throw e;
    }
    this.#logs.closeBefore(live);
    this.#compactor.schedule();
  }

  /**
   * Switches the mutable memtable out (when it holds anything) and flushes every immutable
   * memtable. Rejects with the flush's error when one fails; the memtables then stay readable
   * and the next `flush()` tries again.
   */
  async flush(): Promise<void> {
    this.#live("flush");
    try {
      this.#switchMemTable();
      await this.#flusher.drain();
      // The last sequence number, even when nothing was flushed.
      this.#files.recordSequence(this.#lastSeq, this.#liveLogNumber());
    } catch (e) {
      throw named(e, "Store.flush()");
    }
  }

  /**
   * Resolves at once, or once flushes bring the memtables under `maxWriteBufferNumber`,
   * compactions bring level 0 under `level0StopWritesTrigger` (a short pause from
   * `level0SlowdownWritesTrigger` on: RocksDB's slowdown), and the write buffer manager is
   * under its budget (when it stalls writers). Rejects with a flush's or compaction's error.
   */
  async whenWritable(): Promise<void> {
    try {
      await this.#flusher.untilWritable();
      await this.#compactor.untilWritable();
    } catch (e) {
      throw named(e, "Store.whenWritable()");
    }
    await this.#options.writeBufferManager?.whenWritable();
  }

  /**
   * RocksDB's `CompactRange`: flushes the memtables, then compacts every level holding a key in
   * [start, end] (both inclusive; an end left out is open) into the next, down to the deepest
   * such level. Each step is installed with one MANIFEST edit; the files it replaced leave
   * the disk once no iterator reads them.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * const store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
   * for (let i = 0; i < 3; i++) {
   *   store.put("k", `v${i}`);
   *   await store.flush(); // three level-0 files
   * }
   * await store.compactRange();
   * assert.deepEqual(store.stats().levels.slice(0, 2).map((l) => l.files), [0, 1]);
   * assert.equal(store.get("k") !== undefined, true);
   * await store.close();
   * ```
   */
  async compactRange(start?: Bytes, end?: Bytes): Promise<void> {
    const what = "Store.compactRange()";
    this.#writable("compactRange");
    const lo = start === undefined ? undefined : keyOf(start, what, "start").slice();
    const hi = end === undefined ? undefined : keyOf(end, what, "end").slice();
    try {
      await this.flush();
      await this.#compactor.compactRange(lo, hi);
    } catch (e) {
      throw named(e, what);
    }
  }

  /** The store's figures; after `close()`, its totals (no memtable holds memory then). */
  stats(): StoreStats {
    return storeStats({
      lastSequence: this.#lastSeq,
      userBytes: this.#userBytes,
      files: this.#files,
      imm: this.#imm,
      memtableBytes: this.#closed
        ? 0
        : this.#mutable.approximateMemoryUsage() + this.#imm.memoryUsage,
      flushes: this.#flusher.figures,
      compactor: this.#compactor,
      logs: this.#logs.all,
      recovery: this.#recovery,
    });
  }

  /** A snapshot of the store now: reads with it see exactly the writes before it. */
  snapshot(): Snapshot {
    this.#live("snapshot");
    return this.#snapshots.acquire(this.#lastSeq);
  }

  /** What a read call reads: the store as it is now (throws once it is closed). */
  #state(what: string): StoreState {
    this.#live(what);
    return {
      lastSequence: this.#lastSeq,
      mutable: this.#mutable,
      imm: this.#imm,
      files: this.#files,
      views: this.#views,
      mergeOperator: this.mergeOperator,
    };
  }

  /**
   * The value of `key` (undefined when it has none) at the snapshot (default: now). Errors
   * raised while reading (a damaged file, a failing merge operator) name `Store.get()`.
   */
  get(key: Bytes, options?: StoreReadOptions): Uint8Array | undefined {
    return storeGet(this.#state("get"), key, options);
  }

  /**
   * The values of `keys` at one snapshot (default: now), in the keys' order; undefined for a
   * key without one (RocksDB's `MultiGet`). Each memtable looks the keys up in one batched
   * call; a key no memtable settles is read from the files that may hold it, as `get` reads.
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
   * await store.flush();
   * store.put("c", "3");
   * const values = store.multiGet(["c", "b", "a"]).map((v) => v && new TextDecoder().decode(v));
   * assert.deepEqual(values, ["3", undefined, "1"]);
   * ```
   */
  multiGet(keys: readonly Bytes[], options?: StoreReadOptions): (Uint8Array | undefined)[] {
    return storeMultiGet(this.#state("multiGet"), keys, options);
  }

  /**
   * The visible pairs in key order (`reverse`: largest first), at most `limit`, of the range
   * the options give — `gt`/`gte`/`lower`, `lt`/`lte`/`upper`, `prefix` (one bound per side;
   * an inverted range is a RangeError) — at the snapshot (default: the last write before this
   * call, RocksDB's implicit snapshot), for `for … of` and `for await … of`. The view is fixed
   * here (memtables and files held until the iteration ends, is stopped or disposed, or the
   * store closes: see {@linkcode StoreIterator}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * const store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
   * for (const k of ["a", "b1", "b2", "c"]) store.put(k, "v");
   * using it = store.iterator({ prefix: "b", reverse: true }); // sees the store as it is now
   * store.delete("b2");
   * const keys = [];
   * for await (const { key } of it) keys.push(new TextDecoder().decode(key));
   * assert.deepEqual(keys, ["b2", "b1"]);
   * assert.equal(store.iterator({ gt: "a", lte: "c", limit: 1 }).toArray().length, 1);
   * await store.close();
   * ```
   */
  iterator(options?: StoreIteratorOptions): StoreIterator {
    return storeIterator(this.#state("iterator"), options);
  }

  /**
   * A cursor over the visible pairs (RocksDB's DB iterator): `seek`, `seekForPrev`,
   * `seekToFirst`, `seekToLast`, `next` and `prev`, either way at any time, in the range its
   * options give (as `iterator`'s), at the snapshot. Its view is fixed here, as an iterator's;
   * `close()` it (or `using`) to release it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * await using store = Store.open({ dir: join(mkdtempSync(join(tmpdir(), "store-")), "db") });
   * for (const k of ["a", "c", "e"]) store.put(k, k.toUpperCase());
   * using cursor = store.cursor();
   * const at = () => new TextDecoder().decode(cursor.key);
   * cursor.seek("b");
   * assert.equal(at(), "c");
   * cursor.next();
   * assert.equal(at(), "e");
   * cursor.seekForPrev("d");
   * cursor.prev();
   * assert.equal(at(), "a");
   * cursor.prev();
   * assert.equal(cursor.valid, false);
   * ```
   */
  cursor(options?: StoreCursorOptions): StoreCursor {
    return storeCursor(this.#state("cursor"), options);
  }

  /**
   * Flushes everything (into table files: the logs are then obsolete and deleted) and
   * releases the store. A flush that fails rejects, and the store stays open.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    // With a MANIFEST that takes no more edits nothing can be flushed; the logs hold the writes.
    if (this.#files.db.broken === undefined) await this.flush();
    this.#closed = true;
    await this.#compactor.stop();
    for (const v of [...this.#views]) v.release(); // open iterators fail from now on
    this.#flusher.terminate();
    // Nothing unflushed is left (flush() switched out a memtable holding anything): the
    // current log is obsolete too.
    const flushed = this.#mutable.numEntries === 0 && this.#imm.numNotFlushed === 0;
    this.#imm.close();
    this.#mutable.close();
    await this.#logs.close();
    if (flushed && this.#files.db.broken === undefined) {
      this.#files.recordSequence(this.#lastSeq, this.#logs.current.number + 1);
    }
    this.#files.close();
    this.#lock.release(); // the last step: the directory is another store's to open from here
  }

  /**
   * `close()`, for `await using store = Store.open(…)`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * import { mkdtempSync } from "node:fs";
   * import { join } from "node:path";
   * import { tmpdir } from "node:os";
   * const dir = join(mkdtempSync(join(tmpdir(), "store-")), "db");
   * {
   *   await using store = Store.open({ dir });
   *   store.put("k", "v");
   * } // closed (and flushed) here
   * await using again = Store.open({ dir });
   * assert.equal(new TextDecoder().decode(again.get("k")), "v");
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Starts `close()` without waiting, for `using` (prefer `await using`: the directory's lock
   * is free once the close finishes). A failing close is an unhandled rejection.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Store } from "../../mod.ts";
   * using store = Store.open({ dir: `${Deno.makeTempDirSync()}/db` });
   * store.put("k", "v");
   * assert.equal(store.get("k")?.length, 1);
   * ```
   */
  [Symbol.dispose](): void {
    void this.close();
  }
}

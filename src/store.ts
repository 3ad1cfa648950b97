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
 * The directory is the store's own (store_directory.ts): a directory holding files this
 * library did not write is refused, and only what its own writes left behind is ever removed.
 * SST files are read through a TableCache that bounds their open descriptors (`maxOpenFiles`).
 * Errors raised inside a Store call name the Store call (`Store.put(): key …`), not the
 * MemTable or TableReader that raised them.
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { booleanOption, checkOptions, integerOption } from "./arguments.ts";
import { compareUserKeys } from "./coding/internal_key.ts";
import { checkSequence, type SequenceNumber } from "./coding/sequence.ts";
import { describe, ValueType } from "./coding/value_type.ts";
import { CorruptionError, MemTableError, MergeOperatorError, StoreError } from "./errors.ts";
import { flushMemTables, type FlushStats } from "./flush/flush_job.ts";
import { type FlushReply, type FlushRequest, flushWorkerUrl } from "./flush/flush_worker.ts";
import { flushMemTablesNative } from "./flush/native_flush.ts";
import { FileLock } from "./ffi/file_lock.ts";
import { native } from "./ffi/native.ts";
import { type Bytes, bytesOf, keyLabel } from "./memtable/bytes.ts";
import { MemTable } from "./memtable/memtable.ts";
import {
  applyFullMerge,
  builtinSpecOf,
  checkMergeOperator,
  type MergeOperator,
} from "./memtable/merge.ts";
import type { PrefixExtractor } from "./memtable/prefix.ts";
import type { MemTableRep } from "./memtable/rep.ts";
import { type FileFaultHook, writeFileDurably } from "./table/file.ts";
import { descriptorAdvice, isOutOfDescriptors, TableCache } from "./table/table_cache.ts";
import { mergeVersions } from "./table/merging_iterator.ts";
import { openCachedTable, type TableEntry, type TableReader } from "./table/table_reader.ts";
import { coverOf, hiddenBy } from "./table/tombstone_cover.ts";
import {
  emptyManifest,
  encodeManifest,
  type FileMeta,
  fileName,
  foreignFilesMessage,
  lockName,
  type Manifest,
  manifestName,
  readManifest,
  sortDirectory,
} from "./store_directory.ts";
import { MemTableList, type MemTableVersion } from "./write/memtable_list.ts";
import { Snapshot, SnapshotList } from "./write/snapshots.ts";
import { WriteBufferManager } from "./write/write_buffer_manager.ts";
import { WriteBatch } from "./write/write_batch.ts";

/**
 * Options of {@linkcode Store.open}. Every option is checked before anything is read or
 * written: an unknown name or a value of the wrong type or range is a TypeError or RangeError
 * naming `Store.open()` and the option.
 */
export interface StoreOptions {
  /** The directory of the store's files (created if missing). */
  dir: string;
  /** Bytes per memtable before it is switched out and flushed (an integer ≥ 1). Default 64 MiB. */
  writeBufferSize?: number;
  /** Immutable memtables waiting for flushes at which `whenWritable()` waits (≥ 2). Default 2. */
  maxWriteBufferNumber?: number;
  /** Immutable memtables a flush waits for (≥ 1). Default 1. */
  minWriteBufferNumberToMerge?: number;
  /** A memory budget shared with other stores. */
  writeBufferManager?: WriteBufferManager;
  /** Folds Merge entries; without one, `merge()` and batches with Merge records are refused. */
  mergeOperator?: MergeOperator;
  /** The memtables' representation (see `MemTableOptions.rep`). */
  rep?: MemTableRep;
  /** The memtables' prefix extractor (see `MemTableOptions.prefixExtractor`). */
  prefixExtractor?: PrefixExtractor;
  /** SST data block size in bytes (≥ 1). Default 4096. */
  blockSize?: number;
  /**
   * The most SST files whose descriptors stay open (RocksDB's `max_open_files`): the least
   * recently read is closed first and opened again when needed. −1 (the default) is a quarter
   * of the process's open-file limit (`ulimit -n`, read natively), within [16, 1000], and 16
   * where there is none to read (Windows) — not unbounded as in RocksDB. Whatever the
   * bound, a store that finds the process out of descriptors (EMFILE) closes some of its own,
   * halves its bound and tries again.
   */
  maxOpenFiles?: number;
  /**
   * Run flushes in a Worker, off the writer's thread (default true; `flushFault` keeps them on
   * the calling thread). Functions cannot go to a Worker: it folds merge operands with the
   * built-in operators, and keeps them as they are (reads fold them) with an operator of your
   * own.
   */
  flushInWorker?: boolean;
  /** TESTING: fails flushes at a file step, as a full disk would. */
  flushFault?: FileFaultHook;
}

/** The names of {@linkcode StoreOptions}, in the order errors list them. */
const storeOptionNames: readonly (keyof StoreOptions)[] = [
  "dir",
  "writeBufferSize",
  "maxWriteBufferNumber",
  "minWriteBufferNumberToMerge",
  "writeBufferManager",
  "mergeOperator",
  "rep",
  "prefixExtractor",
  "blockSize",
  "maxOpenFiles",
  "flushInWorker",
  "flushFault",
];

/**
 * `options` checked, each option of its type and in its range, before the store touches the
 * file system. The memtable options (`rep`, `prefixExtractor`) are checked by making the first
 * memtable, which the store then uses.
 */
function checkStoreOptions(options: StoreOptions): { options: StoreOptions; first: MemTable } {
  const what = "Store.open()";
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object with a dir, got ${describe(options)}`);
  }
  checkOptions(options, storeOptionNames, what);
  const dir = options.dir;
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`${what}: dir must be a directory path, got ${describe(dir)}`);
  }
  const writeBufferSize = integerOption(
    options.writeBufferSize,
    "writeBufferSize",
    what,
    1,
    64 << 20,
  );
  integerOption(options.maxWriteBufferNumber, "maxWriteBufferNumber", what, 2, 2);
  integerOption(options.minWriteBufferNumberToMerge, "minWriteBufferNumberToMerge", what, 1, 1);
  integerOption(options.blockSize, "blockSize", what, 1, 4096);
  const maxOpenFiles = integerOption(options.maxOpenFiles, "maxOpenFiles", what, -1, -1);
  if (maxOpenFiles === 0) {
    throw new RangeError(
      `${what}: maxOpenFiles must be -1 (a bound from the process's limit) or an integer ≥ 1, ` +
        `got 0`,
    );
  }
  booleanOption(options.flushInWorker, "flushInWorker", what, true);
  const wbm = options.writeBufferManager;
  if (wbm !== undefined && !(wbm instanceof WriteBufferManager)) {
    throw new TypeError(
      `${what}: writeBufferManager must be a WriteBufferManager, got ${describe(wbm)}`,
    );
  }
  if (options.mergeOperator !== undefined) checkMergeOperator(options.mergeOperator, what);
  const fault = options.flushFault;
  if (fault !== undefined && typeof fault !== "function") {
    throw new TypeError(`${what}: flushFault must be a function, got ${describe(fault)}`);
  }
  const checked = { ...options, writeBufferSize, maxOpenFiles };
  let first: MemTable;
  try {
    first = memTableFor(checked);
  } catch (e) {
    throw named(e, what);
  }
  return { options: checked, first };
}

/** A fresh memtable as the store's options make them. */
function memTableFor(o: StoreOptions): MemTable {
  return new MemTable({
    writeBufferSize: o.writeBufferSize,
    ...(o.mergeOperator ? { mergeOperator: o.mergeOperator } : {}),
    ...(o.rep ? { rep: o.rep } : {}),
    ...(o.prefixExtractor ? { prefixExtractor: o.prefixExtractor } : {}),
  });
}

/** How the calls the Store makes inside itself name themselves in their errors. */
const internalCall =
  /^(?:MemTable|MemTableList|MemTableIterator|TableReader|TableBuilder|WriteBatch)(?:\.\w+\(\))?(?=: )/;

/**
 * `e` naming the Store call `what` it was raised in, rather than the internal call that raised
 * it (`MemTable.add(): key …` in `Store.put()` becomes `Store.put(): key …`); the library's
 * own errors without a call name get `what` in front. Other errors are left as they are.
 */
function named(e: unknown, what: string): unknown {
  if (!(e instanceof Error)) return e;
  const internal = internalCall.exec(e.message);
  if (internal !== null) e.message = what + e.message.slice(internal[0].length);
  else if (e instanceof MemTableError && !e.message.startsWith("Store")) {
    e.message = `${what}: ${e.message}`;
  }
  return e;
}

/**
 * Runs a file-system step of `what`; an operating-system error (one with a `code`) becomes a
 * StoreError that says what could not be done, with the error as its cause.
 */
function fsStep<T>(what: string, doing: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (typeof (e as { code?: unknown }).code !== "string") throw e;
    const advice = isOutOfDescriptors(e) ? `: ${descriptorAdvice()}` : "";
    throw new StoreError(`${what}: ${doing}: ${(e as Error).message}${advice}`, { cause: e });
  }
}

/**
 * Runs `step`; when the process is out of file descriptors, has the table cache close some of
 * its own and runs it once more. Out of them still, a StoreError that says what to do.
 */
function withDescriptors<T>(tables: TableCache, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (!isOutOfDescriptors(e)) throw e;
    if (tables.shed() === 0) throw outOfDescriptors(tables, e);
  }
  try {
    return step();
  } catch (e) {
    throw isOutOfDescriptors(e) ? outOfDescriptors(tables, e) : e;
  }
}

/** `withDescriptors` for a step that returns a promise (a flush in the Worker). */
async function withDescriptorsAsync<T>(tables: TableCache, step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (!isOutOfDescriptors(e)) throw e;
    if (tables.shed() === 0) throw outOfDescriptors(tables, e);
  }
  try {
    return await step();
  } catch (e) {
    throw isOutOfDescriptors(e) ? outOfDescriptors(tables, e) : e;
  }
}

function outOfDescriptors(tables: TableCache, e: unknown): StoreError {
  return new StoreError(
    `the process is out of file descriptors (${(e as Error).message}) even after this store ` +
      `closed what it could: ${descriptorAdvice(tables.bound)}`,
    { cause: e },
  );
}

/** The error for a Merge written to a store without a merge operator (RocksDB's NotSupported). */
function noMergeOperator(what: string, subject: string): MergeOperatorError {
  return new MergeOperatorError(
    `${what}: ${subject} needs a merge operator and this store has none (RocksDB: ` +
      `"NotSupported: Provide a merge_operator when opening DB"); open the store with ` +
      `mergeOperator; nothing was written`,
  );
}

/** The error for a read that meets Merge entries in a store opened without an operator. */
function mergeWithoutOperator(what: string, key: Uint8Array): MergeOperatorError {
  return new MergeOperatorError(
    `${what}: key ${keyLabel(key)} has Merge entries (written while the store had a merge ` +
      `operator) and this store was opened without one; open it with that mergeOperator`,
  );
}

/** A key or bound of a Store call: a Uint8Array or a string (UTF-8), else a TypeError. */
function keyOf(key: unknown, what: string, role = "key"): Uint8Array {
  if (typeof key !== "string" && !(key instanceof Uint8Array)) {
    throw new TypeError(`${what}: ${role} must be a Uint8Array or a string, got ${describe(key)}`);
  }
  return bytesOf(key);
}

/** What a read found in one file: operands (oldest first) and what ends them, if anything. */
interface LayerRead {
  operands: Uint8Array[];
  end: "value" | "deleted" | "none";
  value?: Uint8Array;
}

/** A store's figures, for monitoring. */
export interface StoreStats {
  lastSequence: number;
  files: number;
  immutableMemTables: number;
  /** Native bytes of the mutable and the immutable memtables. */
  memtableBytes: number;
  flushes: number;
  /** Flushes that ran in the flush Worker (the rest ran on the calling thread). */
  flushesInWorker: number;
  /** Bytes of SST written by flushes, and the time flushes took from start to install. */
  flushedBytes: number;
  flushMs: number;
  /** SST files whose descriptors are open now, and the bound on them in force. */
  openTableFiles: number;
  maxOpenFiles: number;
}

/** Options of reads. Unknown names are refused with a TypeError naming the call. */
export interface StoreReadOptions {
  /** Read as of this snapshot (a `Snapshot` of this store, or a sequence number). */
  snapshot?: Snapshot | SequenceNumber;
}

/** Options of {@linkcode Store.iterator}. */
export interface StoreIteratorOptions extends StoreReadOptions {
  /** The first key (inclusive); a Uint8Array or a string. */
  lower?: Bytes;
  /** The key the iteration stops before (exclusive). */
  upper?: Bytes;
}

const getOptionNames: readonly (keyof StoreReadOptions)[] = ["snapshot"];
const iteratorOptionNames: readonly (keyof StoreIteratorOptions)[] = [
  "snapshot",
  "lower",
  "upper",
];

/**
 * A store: memtables and SST files behind one API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Store } from "../mod.ts";
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
  /** The bound on open SST descriptors, shared by every file of the store. */
  readonly #tables: TableCache;
  /** The directory's LOCK, held from open to the end of close(). */
  readonly #lock: FileLock;
  /** Newest first. */
  #files: { meta: FileMeta; reader: TableReader }[] = [];
  #lastSeq: number;
  #nextFile: number;
  readonly #snapshots = new SnapshotList();
  /** The views of open iterators, released by `close()`. */
  readonly #views = new Set<ReadView>();
  #flushing: Promise<void> | undefined;
  #flushError: unknown;
  #closed = false;
  #worker: FlushWorkerClient | undefined;
  #flushes = 0;
  #flushesInWorker = 0;
  #flushedBytes = 0;
  #flushMs = 0;

  private constructor(
    options: StoreOptions,
    manifest: Manifest,
    first: MemTable,
    tables: TableCache,
    files: { meta: FileMeta; reader: TableReader }[],
    lock: FileLock,
  ) {
    this.#lock = lock;
    this.#options = options;
    this.#tables = tables;
    this.dir = options.dir;
    this.writeBufferSize = options.writeBufferSize!;
    this.mergeOperator = options.mergeOperator;
    this.#imm = new MemTableList<FileMeta>({
      maxWriteBufferNumber: options.maxWriteBufferNumber,
      minWriteBufferNumberToMerge: options.minWriteBufferNumberToMerge,
      writeBufferManager: options.writeBufferManager,
    });
    this.#lastSeq = manifest.lastSequence;
    this.#nextFile = manifest.nextFileNumber;
    this.#files = files.slice().reverse();
    this.#mutable = first;
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
      return Store.#openChecked(checked.options, checked.first);
    } catch (e) {
      checked.first.close();
      throw named(e, "Store.open()");
    }
  }

  static #openChecked(options: StoreOptions, first: MemTable): Store {
    const what = "Store.open()";
    const dir = options.dir;
    fsStep(what, `cannot open the directory ${dir}`, () => {
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
      else if (!statSync(dir).isDirectory()) {
        throw new StoreError(`${what}: ${dir} is not a directory`);
      }
    });
    // One store per directory, across processes: before anything in it is read or changed.
    const lockPath = join(dir, lockName);
    const lockExisted = existsSync(lockPath);
    const lock = lockDirectory(dir, what);
    try {
      return Store.#openLocked(options, first, lock);
    } catch (e) {
      // A refused directory is left as it was: without the LOCK file this call made.
      if (!lockExisted) rmSync(lockPath, { force: true });
      lock.release();
      throw e;
    }
  }

  static #openLocked(options: StoreOptions, first: MemTable, lock: FileLock): Store {
    const what = "Store.open()";
    const dir = options.dir;
    const names = fsStep(what, `cannot open the directory ${dir}`, () => readdirSync(dir));
    const path = join(dir, manifestName);
    const found = names.includes(manifestName) ? readManifest(path, what) : undefined;
    const { leftovers, foreign } = sortDirectory(names, found);
    if (foreign.length > 0) throw new StoreError(foreignFilesMessage(what, dir, foreign));
    const manifest = found ?? emptyManifest();
    const tables = new TableCache(options.maxOpenFiles);
    const files = openTables(dir, path, manifest, tables);
    try {
      fsStep(what, `cannot set up ${dir}`, () => {
        // A new store records itself at once: a directory with files and no manifest is not ours.
        if (found === undefined) {
          withDescriptors(tables, () => writeFileDurably(path, encodeManifest(manifest)));
        }
        for (const f of leftovers) rmSync(join(dir, f), { force: true });
      });
      return new Store(options, manifest, first, tables, files, lock);
    } catch (e) {
      for (const f of files) f.reader.close();
      throw e;
    }
  }

  #newMemTable(): MemTable {
    return memTableFor(this.#options);
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
    return this.#files.map((f) => ({ ...f.meta })).reverse();
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
      this.#scheduleFlush();
    }
  }

  /** The mutable memtable joins the immutable ones; a fresh one takes the writes. */
  #switchMemTable(): void {
    if (this.#mutable.numEntries === 0) return;
    const full = this.#mutable;
    this.#imm.add(full);
    full.close(); // the list holds its own reference
    this.#mutable = this.#newMemTable();
    this.#accounted = 0;
  }

  #scheduleFlush(): void {
    if (this.#flushing !== undefined) return;
    this.#flushing = (async () => {
      try {
        while (this.#imm.isFlushPending()) {
          // A flush in the Worker starts now (the request is posted before the first await);
          // one on this thread waits for the writer to yield, so `put` returns first.
          if (!this.#flushesInWorkerNow()) await new Promise((r) => setTimeout(r, 0));
          await this.#flushOnce();
        }
      } catch (e) {
        this.#flushError = e;
      } finally {
        this.#flushing = undefined;
      }
    })();
  }

  #flushesInWorkerNow(): boolean {
    return (this.#options.flushInWorker ?? true) && this.#options.flushFault === undefined;
  }

  /** Writes `memtables` (newest first) to `path`: in the flush Worker, or here. */
  #runFlush(path: string, memtables: MemTable[]): Promise<FlushStats> | FlushStats {
    const o = this.#options;
    const snapshots = this.#snapshots.sequences().map(Number);
    const spec = this.mergeOperator === undefined ? undefined : builtinSpecOf(this.mergeOperator);
    const inWorker = this.#flushesInWorkerNow();
    if (!inWorker) {
      // Natively, unless an operator of the caller's own is to fold merge runs.
      const input = {
        memtables,
        snapshots,
        ...(this.mergeOperator ? { mergeOperator: this.mergeOperator } : {}),
      };
      const options = {
        ...(o.blockSize ? { blockSize: o.blockSize } : {}),
        ...(o.flushFault ? { fault: o.flushFault } : {}),
      };
      return this.mergeOperator !== undefined && spec === undefined
        ? flushMemTables(path, input, options)
        : flushMemTablesNative(path, input, options);
    }
    this.#worker ??= new FlushWorkerClient();
    const tokens = memtables.map((m) => m.share());
    const mergeName = spec === undefined ? this.mergeOperator?.name : undefined;
    return this.#worker.run({
      path,
      tokens,
      snapshots,
      merge: spec,
      mergeName,
      blockSize: o.blockSize,
    })
      .finally(() => {
        for (const t of tokens) MemTable.discardToken(t); // those the Worker never attached
      });
  }

  /** One flush: the oldest immutable memtables to a new file, recorded in the manifest. */
  async #flushOnce(): Promise<void> {
    const picked = this.#imm.pickMemtablesToFlush(); // oldest first
    if (picked.length === 0) return;
    const number = this.#nextFile++;
    const path = join(this.dir, fileName(number));
    const started = performance.now();
    const inWorker = this.#flushesInWorkerNow();
    let meta: FileMeta;
    let reader: TableReader;
    try {
      const newestFirst = [...picked].reverse();
      const stats = await withDescriptorsAsync(
        this.#tables,
        () => this.#runFlush(path, newestFirst),
      );
      meta = {
        number,
        smallestSeq: Number(stats.smallestSeq),
        largestSeq: Number(stats.largestSeq),
        size: stats.fileSize,
      };
      reader = openCachedTable(path, this.#tables); // a file it cannot open is not installed
    } catch (e) {
      this.#imm.rollbackFlush(picked); // still readable, picked again by the next flush
      // Written (or renamed into place before a later step failed) but never recorded, the
      // file is the store's to remove: left in place, its number (below the next manifest's
      // nextFileNumber) would make the directory not provably the store's at the next open.
      try {
        rmSync(path, { force: true });
      } catch {
        // then the next open names the file as one it cannot prove its own
      }
      throw e;
    }
    this.#flushes++;
    if (inWorker) this.#flushesInWorker++;
    this.#flushedBytes += meta.size;
    this.#flushMs += performance.now() - started;
    for (const m of this.#imm.installFlushResult(picked, meta)) {
      const r = m.number === number
        ? reader
        : openCachedTable(join(this.dir, fileName(m.number)), this.#tables);
      this.#files.unshift({ meta: m, reader: r });
    }
    this.#writeManifest();
  }

  #writeManifest(): void {
    const manifest: Manifest = {
      version: 1,
      files: this.#files.map((f) => f.meta).reverse(),
      lastSequence: this.#lastSeq,
      nextFileNumber: this.#nextFile,
    };
    const bytes = encodeManifest(manifest);
    withDescriptors(this.#tables, () => writeFileDurably(join(this.dir, manifestName), bytes));
  }

  /**
   * Switches the mutable memtable out (when it holds anything) and flushes every immutable
   * memtable. Rejects with the flush's error when one fails; the memtables then stay readable
   * and the next `flush()` tries again.
   */
  async flush(): Promise<void> {
    this.#live("flush");
    this.#switchMemTable();
    this.#flushError = undefined;
    while (this.#imm.numNotFlushed > 0) {
      this.#scheduleFlush();
      await this.#flushing;
      if (this.#flushError !== undefined) {
        const e = this.#flushError;
        this.#flushError = undefined;
        throw named(e, "Store.flush()");
      }
    }
    try {
      this.#writeManifest(); // the last sequence number, even when nothing was flushed
    } catch (e) {
      throw named(e, "Store.flush()");
    }
  }

  /** Resolves at once, or once flushes bring the memtables under `maxWriteBufferNumber` and
   * the write buffer manager under its budget (when it stalls writers). */
  async whenWritable(): Promise<void> {
    while (this.#imm.shouldStallWrites() && this.#imm.numNotFlushed > 0) {
      this.#scheduleFlush();
      await this.#flushing;
      if (this.#flushError !== undefined) throw named(this.#flushError, "Store.whenWritable()");
    }
    // While a flush runs in the Worker, let its reply in (a macrotask): a writer that never
    // yields to the event loop would otherwise hold finished flushes uninstalled.
    if (this.#flushing !== undefined) await new Promise((r) => setTimeout(r, 0));
    await this.#options.writeBufferManager?.whenWritable();
  }

  /** The store's figures; after `close()`, its totals (no memtable holds memory then). */
  stats(): StoreStats {
    return {
      lastSequence: this.#lastSeq,
      files: this.#files.length,
      immutableMemTables: this.#imm.numNotFlushed,
      memtableBytes: this.#closed
        ? 0
        : this.#mutable.approximateMemoryUsage() + this.#imm.memoryUsage,
      flushes: this.#flushes,
      flushesInWorker: this.#flushesInWorker,
      flushedBytes: this.#flushedBytes,
      flushMs: this.#flushMs,
      openTableFiles: this.#tables.openFiles,
      maxOpenFiles: this.#tables.bound,
    };
  }

  /** A snapshot of the store now: reads with it see exactly the writes before it. */
  snapshot(): Snapshot {
    this.#live("snapshot");
    return this.#snapshots.acquire(this.#lastSeq);
  }

  /** The sequence number a read with `options` sees (checked: a live Snapshot, or a number). */
  #snapshotOf(options: StoreReadOptions, what: string): number {
    const s = options.snapshot;
    if (s === undefined) return this.#lastSeq;
    if (s instanceof Snapshot) return Number(s.sequence(what));
    if (typeof s !== "number" && typeof s !== "bigint") {
      throw new TypeError(
        `${what}: snapshot must be a Snapshot or a sequence number, got ${describe(s)}`,
      );
    }
    return Number(checkSequence(s, what));
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
      : this.#snapshotOf(checkOptions(options, getOptionNames, what), what);
    try {
      return this.#get(k, snapshot);
    } catch (e) {
      throw named(e, what);
    }
  }

  #get(k: Uint8Array, snapshot: number): Uint8Array | undefined {
    const operands: Uint8Array[] = [];
    const finish = (base: Uint8Array | undefined) => {
      if (operands.length === 0) return base;
      if (this.mergeOperator === undefined) throw mergeWithoutOperator("Store.get()", k);
      return applyFullMerge(this.mergeOperator, k, base, operands);
    };
    // Synchronous: no flush can install (and release memtables) before this returns.
    for (const mt of [this.#mutable, ...this.#imm.unflushed()]) {
      const r = mt.get(k, { snapshot });
      if (r.kind === "absent") continue;
      if (r.kind === "merge") {
        operands.unshift(...r.operands);
        continue;
      }
      return finish(r.kind === "value" ? r.value : undefined);
    }
    for (const f of this.#files) {
      const r = readTable(f.reader, k, snapshot);
      operands.unshift(...r.operands);
      if (r.end !== "none") return finish(r.value);
    }
    return finish(undefined);
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
   * import { Store } from "../mod.ts";
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
    const snapshot = this.#snapshotOf(o, what);
    const lower = o.lower === undefined ? undefined : keyOf(o.lower, what, "lower").slice();
    const upper = o.upper === undefined ? undefined : keyOf(o.upper, what, "upper").slice();
    const view = new ReadView(
      snapshot,
      this.#mutable,
      this.#imm.current(),
      this.#files.map((f) => f.reader),
      this.#views,
    );
    return new StoreIterator(internal, view, () => this.#scan(view, lower, upper));
  }

  /** The entries of `view` in [lower, upper): a k-way merge of its memtables and files. */
  *#scan(
    view: ReadView,
    lower: Uint8Array | undefined,
    upper: Uint8Array | undefined,
  ): Generator<StoreEntry> {
    const { snapshot, memtables, files } = view;
    const tombstones = memtables.flatMap((m) => m.rangeTombstones({ snapshot }))
      .concat(files.flatMap((f) => f.rangeTombstones()));
    const sources: Iterator<TableEntry>[] = [
      ...memtables.map((m) => entriesFrom(m, snapshot, lower)),
      ...files.map((f) => f.entries(lower)),
    ];
    const op = this.mergeOperator;
    let group: TableEntry[] = [];
    const resolve = (versions: TableEntry[]): Uint8Array | undefined => {
      const key = versions[0]!.key;
      const cover = coverOf(tombstones, key, snapshot);
      const operands: Uint8Array[] = [];
      const done = (base: Uint8Array | undefined) =>
        operands.length === 0 ? base : applyFullMerge(op!, key, base, operands);
      for (const v of versions) {
        if (v.seq > snapshot) continue;
        if (hiddenBy(v.seq, cover)) return done(undefined);
        if (v.type === ValueType.Merge) {
          if (op === undefined) throw mergeWithoutOperator("Store.iterator()", key);
          operands.unshift(v.value);
          continue;
        }
        return done(v.type === ValueType.Value ? v.value : undefined);
      }
      return done(undefined);
    };
    for (const e of mergeVersions(sources)) {
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

  /** Flushes everything (unflushed writes become durable) and releases the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const v of [...this.#views]) v.release(); // open iterators fail from now on
    this.#worker?.terminate();
    this.#imm.close();
    this.#mutable.close();
    for (const f of this.#files) f.reader.close();
    this.#lock.release(); // the last step: the directory is another store's to open from here
  }
}

/**
 * Locks `dir`'s `LOCK` file (RocksDB's name) for the store being opened, or throws the
 * `StoreError` that says why it cannot be opened.
 */
function lockDirectory(dir: string, what: string): FileLock {
  const path = join(dir, lockName);
  const lock = FileLock.acquire(path);
  if (lock instanceof FileLock) return lock;
  if (lock.reason === "held") {
    throw new StoreError(
      `${what}: ${dir} is in use: its ${lockName} file is locked by another open store ` +
        `(in this process or another; close that one first). Nothing was changed`,
    );
  }
  if (lock.reason === "io" && (lock.code === "EMFILE" || lock.code === "ENFILE")) {
    throw new StoreError(`${what}: cannot lock ${path}: ${lock.code}: ${descriptorAdvice()}`);
  }
  const cause = lock.reason === "io" ? ` (${lock.code ?? `error ${lock.osError}`})` : "";
  throw new StoreError(`${what}: cannot lock ${path}${cause}`);
}

/** One key-value pair of a Store scan. */
export interface StoreEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * What a Store iterator reads, fixed when it is created: the sequence number, a reference on
 * every memtable it reads and the file list (newest first). Released once: when the iteration
 * ends or is stopped, or the store closes (which releases every view it handed out).
 */
class ReadView {
  readonly snapshot: number;
  /** The mutable memtable, then the immutable ones; newest first. */
  readonly memtables: readonly MemTable[];
  readonly files: readonly TableReader[];
  readonly #mutable: MemTable;
  readonly #version: MemTableVersion;
  readonly #views: Set<ReadView>;
  #released = false;

  constructor(
    snapshot: number,
    mutable: MemTable,
    version: MemTableVersion,
    files: TableReader[],
    views: Set<ReadView>,
  ) {
    mutable.ref(); // it may be switched out and flushed while the view is read
    this.snapshot = snapshot;
    this.#mutable = mutable;
    this.#version = version;
    this.memtables = [mutable, ...version.memtables];
    this.files = files;
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
  }
}

/** Releases the view of an iterator dropped unfinished (a backstop: end or dispose them). */
const viewFinalizer = new FinalizationRegistry<ReadView>((view) => view.release());

/** Makes StoreIterator's constructor internal. */
const internal = Symbol("StoreIterator");

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

/** The Store's flush Worker (see flush_worker.ts for its protocol). */
class FlushWorkerClient {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<
    number,
    { resolve: (s: FlushStats) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  #failed: Error | undefined;

  constructor() {
    this.#worker = new Worker(flushWorkerUrl(), { type: "module", name: "memtable-flush" });
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.onmessage = (e: MessageEvent) => {
        const d = e.data as { listening?: boolean; ready?: boolean };
        if (d.listening) this.#worker.postMessage({ library: native().path });
        else if (d.ready) {
          this.#worker.onmessage = (ev: MessageEvent) => this.#reply(ev.data as FlushReply);
          resolve();
        }
      };
      this.#worker.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        this.#failed = new StoreError(`Store: the flush Worker failed: ${e.message}`);
        reject(this.#failed);
        for (const p of this.#pending.values()) p.reject(this.#failed);
        this.#pending.clear();
      };
    });
    this.#ready.catch(() => {}); // reported to the flush that waits for it
  }

  async run(req: Omit<FlushRequest, "id">): Promise<FlushStats> {
    await this.#ready;
    if (this.#failed) throw this.#failed;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id } satisfies FlushRequest);
    });
  }

  #reply(r: FlushReply): void {
    const p = this.#pending.get(r.id);
    if (p === undefined) return;
    this.#pending.delete(r.id);
    if (r.ok) p.resolve(r.stats);
    else p.reject(new StoreError(`Store: flush failed: ${r.error}`));
  }

  terminate(): void {
    this.#worker.terminate();
    const e = new StoreError("Store: the store was closed during a flush");
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}

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

/**
 * Opens the tables `manifest` lists (oldest first), checking that each is there, inside `dir`,
 * of the size the manifest records and readable; on any failure closes what it opened and
 * throws a `CorruptionError` naming the file (and the manifest field).
 */
function openTables(
  dir: string,
  manifestPath: string,
  manifest: Manifest,
  tables: TableCache,
): { meta: FileMeta; reader: TableReader }[] {
  const what = "Store.open()";
  const opened: { meta: FileMeta; reader: TableReader }[] = [];
  try {
    manifest.files.forEach((meta, i) => {
      const name = fileName(meta.number);
      const path = join(dir, name);
      if (dirname(resolve(path)) !== resolve(dir)) { // the manifest's numbers are integers
        throw new CorruptionError(`${what}: ${manifestPath}: files[${i}] names ${path}`);
      }
      let reader: TableReader;
      try {
        reader = openCachedTable(path, tables);
      } catch (e) {
        if ((e as { code?: unknown }).code === "ENOENT") {
          throw new CorruptionError(
            `${what}: ${manifestPath} lists ${name} (files[${i}]), which is missing from ${dir}`,
            { cause: e },
          );
        }
        throw named(e, what);
      }
      opened.push({ meta, reader });
      if (reader.size !== meta.size) {
        throw new CorruptionError(
          `${what}: ${path} is ${reader.size} bytes; ${manifestPath} files[${i}].size says ` +
            `${meta.size}`,
        );
      }
    });
  } catch (e) {
    for (const o of opened) o.reader.close();
    throw e;
  }
  return opened;
}

/**
 * A read of one key in one file at `snapshot`: the Merge operands on top (oldest first) and
 * what ends them — a Value, a deletion (or covering tombstone), or nothing in this file.
 */
function readTable(t: TableReader, key: Uint8Array, snapshot: number): LayerRead {
  const cover = t.maxCoveringTombstone(key, snapshot);
  const operands: Uint8Array[] = [];
  for (const v of t.versions(key)) {
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

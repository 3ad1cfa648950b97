/**
 * The options of a Store and of its reads: what they are, their names, their checks (every
 * option of its type and in its range before anything is read or written) and the memtables
 * they make.
 *
 * @module
 */
import { booleanOption, bytesArgument, checkOptions, integerOption } from "../arguments.ts";
import { checkSequence, type SequenceNumber } from "../coding/sequence.ts";
import { describe } from "../coding/value_type.ts";
import { bytesOf } from "../memtable/bytes.ts";
import { MemTable } from "../memtable/memtable.ts";
import { checkMergeOperator, type MergeOperator } from "../memtable/merge.ts";
import type { PrefixExtractor } from "../memtable/prefix.ts";
import type { MemTableRep } from "../memtable/rep.ts";
import type { OptionsFileFields } from "../db/options_file.ts";
import { type WalRecoveryMode, walRecoveryModes } from "../db/wal.ts";
import { fileFaultOf } from "../table/file.ts";
import { checkBloomBitsPerKey } from "../table/filter_block.ts";
import { Snapshot } from "../write/snapshots.ts";
import { WriteBufferManager } from "../write/write_buffer_manager.ts";
import { named } from "./errors.ts";
import {
  checkCompactionOptions,
  compactionOptionNames,
  type CompactionOptions,
} from "./compaction/picker.ts";

/**
 * Options of {@linkcode Store.open}. Every option is checked before anything is read or
 * written: an unknown name or a value of the wrong type or range is a TypeError or RangeError
 * naming `Store.open()` and the option.
 */
export interface StoreOptions extends CompactionOptions {
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
   * Bits per key of the bloom filter each SST file gets over its user keys (RocksDB's
   * `BlockBasedTableOptions::filter_policy = NewBloomFilterPolicy(bits)`, the full filter of
   * format_version 5): 0 or a number in [1, 100]. Default 10 (about 1% of absent keys read the
   * file anyway); 0 writes no filters. A point read skips a file whose filter says the key is
   * not there. Recorded in the OPTIONS file, so RocksDB's reads of the directory use the
   * filters too.
   */
  bloomBitsPerKey?: number;
  /**
   * The most SST files whose descriptors stay open (RocksDB's `max_open_files`): the least
   * recently read is closed first and opened again when needed. −1 (the default) is a quarter
   * of the process's open-file limit (`ulimit -n`, read natively), within [16, 1000], and 16
   * where there is none to read (Windows) — not unbounded as in RocksDB. Whatever the
   * bound, a store that finds the process out of descriptors (EMFILE) closes some of its own,
   * halves its bound and tries again. A compaction Worker's descriptors count within it.
   */
  maxOpenFiles?: number;
  /**
   * Bytes of data blocks the store's reads keep, verified and uncompressed, least recently used
   * evicted first (RocksDB's block cache, `LRUCache` of `block_cache_size`). Default 8 MiB;
   * 0 keeps none. A compaction Worker reads around it. `stats().blockCache` counts hits and misses.
   */
  blockCacheSize?: number;
  /**
   * Run flushes in a Worker, off the writer's thread (default true), and compactions in another
   * (false: on the calling thread, in slices). Functions cannot go to a Worker: it folds merge operands with the
   * built-in operators, and keeps them as they are (reads fold them) with an operator of your
   * own.
   */
  flushInWorker?: boolean;
  /**
   * How the write-ahead logs are replayed when the store opens, RocksDB's
   * `wal_recovery_mode`: `"pointInTime"` (default: a torn last record is dropped, replay stops
   * at damage and nothing after it is applied), `"tolerateCorruptedTailRecords"` (a torn tail
   * is dropped, other damage fails the open), `"absoluteConsistency"` (any damage fails the
   * open) or `"skipAnyCorruptedRecords"` (damaged records are skipped, the rest applied).
   */
  walRecoveryMode?: WalRecoveryMode;
  /**
   * Keep what the logs replayed in memtables instead of flushing it while the store opens
   * (RocksDB's `avoid_flush_during_recovery`; default false: flushed, as RocksDB does).
   */
  avoidFlushDuringRecovery?: boolean;
}

/**
 * Options of writes (RocksDB's `WriteOptions`). By default a write is in the operating
 * system's hands when the call returns: it survives the process dying, not the machine losing
 * power.
 */
export interface WriteOptions {
  /** Sync the log before returning (fdatasync): the write survives power loss. Default false. */
  sync?: boolean;
  /** Do not log this write: it is lost if the process dies before a flush. Default false. */
  disableWAL?: boolean;
}

export const writeOptionNames: readonly (keyof WriteOptions)[] = ["sync", "disableWAL"];

/** The write options checked: sync and whether to log. */
export function checkWriteOptions(
  options: WriteOptions | undefined,
  what: string,
): { sync: boolean; log: boolean } {
  if (options === undefined) return { sync: false, log: true };
  const o = checkOptions(options, writeOptionNames, what);
  const sync = booleanOption(o.sync, "sync", what, false);
  const disableWAL = booleanOption(o.disableWAL, "disableWAL", what, false);
  if (sync && disableWAL) {
    throw new TypeError(`${what}: sync and disableWAL cannot both be true (as in RocksDB)`);
  }
  return { sync, log: !disableWAL };
}

/** The bits per key of a store's SST filters unless `bloomBitsPerKey` says otherwise. */
export const defaultBloomBitsPerKey = 10;

/** The bits per key of a store's SST filters (its option, or the default). */
export function bloomBitsOf(o: StoreOptions): number {
  return o.bloomBitsPerKey ?? defaultBloomBitsPerKey;
}

/** What the database's OPTIONS file records of a store's options. */
export function optionsFileFields(o: StoreOptions): OptionsFileFields {
  return {
    writeBufferSize: o.writeBufferSize ?? 64 << 20,
    maxWriteBufferNumber: o.maxWriteBufferNumber ?? 2,
    minWriteBufferNumberToMerge: o.minWriteBufferNumberToMerge ?? 1,
    mergeOperatorName: o.mergeOperator?.name,
    prefixExtractorName: o.prefixExtractor === undefined
      ? undefined
      : (o.prefixExtractor as { name?: string }).name,
    blockSize: o.blockSize ?? 4096,
    bloomBitsPerKey: bloomBitsOf(o),
    numLevels: o.numLevels ?? 7,
  };
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
  "bloomBitsPerKey",
  "maxOpenFiles",
  "blockCacheSize",
  "flushInWorker",
  "walRecoveryMode",
  "avoidFlushDuringRecovery",
  ...compactionOptionNames,
];

/**
 * `options` checked, each option of its type and in its range, before the store touches the
 * file system. The memtable options (`rep`, `prefixExtractor`) are checked by making the first
 * memtable, which the store then uses.
 */
export function checkStoreOptions(
  options: StoreOptions,
): { options: StoreOptions; first: MemTable } {
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
  const blockCacheSize = integerOption(options.blockCacheSize, "blockCacheSize", what, 0, 8 << 20);
  booleanOption(options.flushInWorker, "flushInWorker", what, true);
  booleanOption(options.avoidFlushDuringRecovery, "avoidFlushDuringRecovery", what, false);
  const mode = options.walRecoveryMode;
  if (mode !== undefined && !walRecoveryModes.includes(mode)) {
    throw new RangeError(
      `${what}: walRecoveryMode must be one of ${walRecoveryModes.join(", ")}, got ${
        describe(mode)
      }`,
    );
  }
  const wbm = options.writeBufferManager;
  if (wbm !== undefined && !(wbm instanceof WriteBufferManager)) {
    throw new TypeError(
      `${what}: writeBufferManager must be a WriteBufferManager, got ${describe(wbm)}`,
    );
  }
  if (options.mergeOperator !== undefined) checkMergeOperator(options.mergeOperator, what);
  fileFaultOf(options, what); // a test's hook (src/testing.ts): flushes fail at a file step
  const checked = {
    ...options,
    ...checkCompactionOptions(options, what),
    writeBufferSize,
    maxOpenFiles,
    blockCacheSize,
    bloomBitsPerKey: checkBloomBitsPerKey(options.bloomBitsPerKey, what, defaultBloomBitsPerKey),
  };
  let first: MemTable;
  try {
    first = memTableFor(checked);
  } catch (e) {
    throw named(e, what);
  }
  return { options: checked, first };
}

/** A fresh memtable as the store's options make them. */
export function memTableFor(o: StoreOptions): MemTable {
  return new MemTable({
    writeBufferSize: o.writeBufferSize,
    ...(o.mergeOperator ? { mergeOperator: o.mergeOperator } : {}),
    ...(o.rep ? { rep: o.rep } : {}),
    ...(o.prefixExtractor ? { prefixExtractor: o.prefixExtractor } : {}),
  });
}

/** Options of reads. Unknown names are refused with a TypeError naming the call. */
export interface StoreReadOptions {
  /** Read as of this snapshot (a `Snapshot` of this store, or a sequence number). */
  snapshot?: Snapshot | SequenceNumber;
}

export const getOptionNames: readonly (keyof StoreReadOptions)[] = ["snapshot"];

/**
 * The sequence number a read with `options` sees: `lastSequence` without a snapshot, else the
 * snapshot's (checked: a live Snapshot, or a sequence number).
 */
export function snapshotOf(options: StoreReadOptions, lastSequence: number, what: string): number {
  const s = options.snapshot;
  if (s === undefined) return lastSequence;
  if (s instanceof Snapshot) return Number(s.sequence(what));
  if (typeof s !== "number" && typeof s !== "bigint") {
    throw new TypeError(
      `${what}: snapshot must be a Snapshot or a sequence number, got ${describe(s)}`,
    );
  }
  return Number(checkSequence(s, what));
}

/** A key or bound of a Store call: a Uint8Array or a string (UTF-8), else a TypeError. */
export function keyOf(key: unknown, what: string, role = "key"): Uint8Array {
  return typeof key === "string" ? bytesOf(key) : bytesArgument(key, what, role);
}

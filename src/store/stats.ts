/**
 * A Store's figures (`Store.stats()`): what its memtables, logs, flushes and compactions hold
 * and did, and the amplification figures derived from them.
 *
 * @module
 */
import type { BlockCacheFigures } from "../table/block_cache.ts";
import type { CompactionFigures, Compactor, LevelFigures } from "./compaction/compactor.ts";
import type { Log } from "../db/wal.ts";
import { type Bytes, utf8Length } from "../memtable/bytes.ts";
import type { MemTableList } from "../write/memtable_list.ts";
import type { WriteBatch } from "../write/write_batch.ts";
import type { FileMeta } from "./directory.ts";
import type { TableFiles } from "./table_files.ts";
import type { FlushFigures } from "./flush_scheduler.ts";
import type { RecoveryReport } from "./recovery.ts";

/** A store's figures, for monitoring. */
export interface StoreStats extends FlushFigures, CompactionFigures {
  /** The last sequence number written. */
  lastSequence: number;
  /** SST files in the store's current version, every level. */
  files: number;
  /** Memtables switched out and waiting for their flush. */
  immutableMemTables: number;
  /** Native bytes of the mutable and the immutable memtables. */
  memtableBytes: number;
  /** SST files whose descriptors are open now, and the bound on them in force. */
  openTableFiles: number;
  /** The bound on open SST file descriptors (see `StoreOptions.maxOpenFiles`). */
  maxOpenFiles: number;
  /** The block cache's budget, bytes and blocks held, hits and misses (`blockCacheSize`). */
  blockCache: BlockCacheFigures;
  /**
   * The current log: its number, its bytes, how many of them are synced and the fdatasync
   * calls made on it; the live logs (those of unflushed memtables, and the current one).
   */
  wal: { number: number; bytes: number; syncedBytes: number; syncs: number; liveLogs: number[] };
  /** What the logs replayed when the store opened. */
  recovery: RecoveryReport;
  /** Files and bytes of each level, 0 to numLevels − 1. */
  levels: LevelFigures[];
  /** Keys and values written by this store's callers since it opened, in bytes. */
  userBytes: number;
  /**
   * Bytes of table files written (flushes and compactions) per byte written by callers, since
   * the store opened; 0 before anything was written.
   */
  writeAmplification: number;
  /**
   * The table files a point read may visit: every level-0 file, and one per other level that
   * holds any.
   */
  readAmplification: number;
}

/** What `storeStats` reads: the store's parts. */
export interface StoreParts {
  lastSequence: number;
  userBytes: number;
  files: TableFiles;
  imm: MemTableList<FileMeta>;
  /** The memtables' native bytes (0 once closed). */
  memtableBytes: number;
  flushes: FlushFigures;
  compactor: Compactor;
  /** The live logs, the current one last. */
  logs: readonly Log[];
  recovery: RecoveryReport;
}

/** The figures of a store made of `p` (copies: nothing returned changes later). */
export function storeStats(p: StoreParts): StoreStats {
  const levels = p.compactor.levels();
  const compactions = p.compactor.figures;
  const written = p.flushes.flushedBytes + compactions.compactionBytesWritten;
  const wal = p.logs.at(-1)!;
  return {
    ...compactions,
    ...p.flushes,
    levels,
    userBytes: p.userBytes,
    writeAmplification: p.userBytes === 0 ? 0 : written / p.userBytes,
    readAmplification: (levels[0]?.files ?? 0) + levels.slice(1).filter((l) => l.files > 0).length,
    lastSequence: p.lastSequence,
    files: p.files.count,
    immutableMemTables: p.imm.numNotFlushed,
    memtableBytes: p.memtableBytes,
    openTableFiles: p.files.tables.openFiles,
    maxOpenFiles: p.files.tables.bound,
    blockCache: p.files.tables.blocks?.figures() ??
      { capacity: 0, usage: 0, blocks: 0, hits: 0, misses: 0 },
    wal: {
      number: wal.number,
      bytes: wal.size,
      syncedBytes: wal.syncedSize,
      syncs: wal.syncs,
      liveLogs: p.logs.map((w) => w.number),
    },
    recovery: { ...p.recovery, logs: [...p.recovery.logs] },
  };
}

/** A WriteBatch's sequence number and count, before its records. */
const batchHeaderSize = 12;

/** The bytes a caller wrote with a single put/delete/merge/deleteRange (UTF-8 for strings). */
export function userBytesOf(key: Bytes, value: Bytes | undefined): number {
  const length = (b: Bytes) => typeof b === "string" ? utf8Length(b) : b.length;
  return length(key) + (value === undefined ? 0 : length(value));
}

/** The bytes of a batch's records (RocksDB's `WriteBatch::GetDataSize`, less the header). */
export function batchUserBytes(batch: WriteBatch): number {
  return batch.view().length - batchHeaderSize;
}

/**
 * memtable: RocksDB's MemTable for Bun and Deno — the sorted, multi-version, memory-bounded
 * write buffer of an LSM tree. Entries live in native memory (a Zig arena and inline
 * skiplist); this module gives them RocksDB's semantics: internal keys, sequence numbers,
 * snapshot reads and ordered iteration in both directions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "./mod.ts";
 *
 * using mt = new MemTable({ writeBufferSize: 8 << 20 });
 * mt.add(1, ValueType.Value, "user:1", "ada");
 * mt.add(2, ValueType.Value, "user:2", "grace");
 * mt.add(3, ValueType.Deletion, "user:1");
 *
 * assert.equal(mt.get("user:1").kind, "deleted");
 * const before = mt.get("user:1", { snapshot: 2 });
 * assert(before.kind === "value");
 * assert.equal(new TextDecoder().decode(before.value), "ada");
 * assert.equal(mt.numEntries, 3);
 * assert(mt.approximateMemoryUsage() > 0);
 * ```
 *
 * @module
 */
export { GetStatus, MemTable } from "./src/memtable/memtable.ts";
export type {
  Bytes,
  Entry,
  GetResult,
  MemTableOptions,
  MemTableOptionValues,
  MemTableRep,
  MemTableShareToken,
  MemTableStats,
  RangeTombstone,
  ReadOptions,
  ResolvedRep,
} from "./src/memtable/memtable.ts";
export type {
  ResolvedOptions as ResolvedMemTableOptions,
  SharedOptions as MemTableSharedOptions,
} from "./src/memtable/options.ts";
export { MemTableIterator } from "./src/memtable/iterator.ts";
export { MemTableScan, ScanBatch, type ScanOptions } from "./src/memtable/scan.ts";
export {
  type MergeOperator,
  mergeOperators,
  stringAppend,
  uint64Add,
} from "./src/memtable/merge.ts";
export { Snapshot, SnapshotList } from "./src/write/snapshots.ts";
export {
  WriteBufferManager,
  type WriteBufferManagerOptions,
  type WriteBufferManagerStats,
} from "./src/write/write_buffer_manager.ts";
export {
  cappedPrefix,
  fixedPrefix,
  noopPrefix,
  type PrefixExtractor,
} from "./src/memtable/prefix.ts";
export { BatchTag, WriteBatch, type WriteBatchRecord } from "./src/write/write_batch.ts";
export {
  SequenceAllocator,
  type SequenceAllocatorShareToken,
} from "./src/write/sequence_allocator.ts";
export { isValueType, ValueType, valueTypeName } from "./src/coding/value_type.ts";
export { type SequenceNumber } from "./src/coding/sequence.ts";
export {
  ConcurrentWriteError,
  CorruptionError,
  DuplicateEntryError,
  ImmutableMemTableError,
  MemTableClosedError,
  MemTableError,
  MergeOperatorError,
  NativeLibraryError,
  NativeOutOfMemoryError,
  ShareTokenError,
  SingleDeleteMisuseError,
  SnapshotReleasedError,
  StoreError,
  WriteBatchError,
} from "./src/errors.ts";
export { Store } from "./src/store/store.ts";
export { type StoreStats } from "./src/store/stats.ts";
export { type StoreEntry } from "./src/store/read.ts";
export { type FileMeta } from "./src/store/directory.ts";
export { type FlushFigures } from "./src/store/flush_scheduler.ts";
export { StoreIterator } from "./src/store/iterator.ts";
export { StoreCursor } from "./src/store/cursor.ts";
export { type StoreCursorOptions, type StoreIteratorOptions } from "./src/store/read_options.ts";
export {
  type StoreOptions,
  type StoreReadOptions,
  type WriteOptions,
} from "./src/store/options.ts";
export { type RecoveryReport } from "./src/store/recovery.ts";
export { type CompactionFigures, type LevelFigures } from "./src/store/compaction/compactor.ts";
export type { BlockCacheFigures } from "./src/table/block_cache.ts";
export { type CompactionOptions } from "./src/store/compaction/picker.ts";
export { type WalRecoveryMode } from "./src/db/wal.ts";
export {
  libraryPathEnv,
  loadLibrary,
  type LoadLibraryOptions,
  nativeMemoryBytes,
  nativeSafetyChecked,
  prepareLibrary,
  type PrepareLibraryOptions,
} from "./src/ffi/native.ts";
export { keySizeMax, valueSizeMax } from "./src/ffi/layout.ts";

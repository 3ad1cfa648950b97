/**
 * Error classes thrown by memtable. Bad arguments throw the built-in `TypeError` (wrong type)
 * or `RangeError` (out of range); everything specific to the library derives from
 * `MemTableError`, so `catch (e) { if (e instanceof MemTableError) … }` catches all of it.
 *
 * @module
 */

/** Base class of the library's own errors. */
export class MemTableError extends Error {
  /** `"MemTableError"`, as `e.name` and in stack traces. */
  override name = "MemTableError";
}

/**
 * Thrown by any call on a memtable or iterator whose native memory has been released.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, MemTableClosedError } from "../mod.ts";
 * const mt = new MemTable();
 * mt.close();
 * assert.throws(() => mt.get("k"), MemTableClosedError);
 * ```
 */
export class MemTableClosedError extends MemTableError {
  /** `"MemTableClosedError"`, as `e.name` and in stack traces. */
  override name = "MemTableClosedError";
}

/** Thrown by `MemTable.add()` for an entry with the same key, sequence number and type. */
export class DuplicateEntryError extends MemTableError {
  /** `"DuplicateEntryError"`, as `e.name` and in stack traces. */
  override name = "DuplicateEntryError";
}

/** The native library is missing, cannot be opened, or does not match this TypeScript code. */
export class NativeLibraryError extends MemTableError {
  /** `"NativeLibraryError"`, as `e.name` and in stack traces. */
  override name = "NativeLibraryError";
}

/** The native side could not allocate memory; nothing was changed. */
export class NativeOutOfMemoryError extends MemTableError {
  /** `"NativeOutOfMemoryError"`, as `e.name` and in stack traces. */
  override name = "NativeOutOfMemoryError";
}

/**
 * A merge operator is missing where a read meets Merge entries or where a store is asked to
 * write one (refused, nothing written), or it threw, or it returned something other than bytes.
 * The memtable is unchanged.
 */
export class MergeOperatorError extends MemTableError {
  /** `"MergeOperatorError"`, as `e.name` and in stack traces. */
  override name = "MergeOperatorError";
}

/**
 * Stored data failed a check: an entry's protection bytes do not match its contents, entries
 * are out of order, or a batch or file is malformed. The message names what and where.
 */
export class CorruptionError extends MemTableError {
  /** `"CorruptionError"`, as `e.name` and in stack traces. */
  override name = "CorruptionError";
}

/** A released snapshot was used for a read. */
export class SnapshotReleasedError extends MemTableError {
  /** `"SnapshotReleasedError"`, as `e.name` and in stack traces. */
  override name = "SnapshotReleasedError";
}

/**
 * A SingleDelete broke its contract: since the key's previous SingleDelete (or ever), it has
 * more than one version, or one that is not a Value. RocksDB leaves the result undefined; this
 * library refuses the write when it checks (`paranoidChecks`, or a safety-checked build).
 */
export class SingleDeleteMisuseError extends MemTableError {
  /** `"SingleDeleteMisuseError"`, as `e.name` and in stack traces. */
  override name = "SingleDeleteMisuseError";
}

/** A write batch is malformed or holds a record a memtable cannot apply. Nothing was applied. */
export class WriteBatchError extends MemTableError {
  /** `"WriteBatchError"`, as `e.name` and in stack traces. */
  override name = "WriteBatchError";
}

/**
 * Two threads (Workers) wrote to one memtable at once, and it was not created with
 * `allowConcurrentWrites`. The write that found the other one in progress changed nothing.
 */
export class ConcurrentWriteError extends MemTableError {
  /** `"ConcurrentWriteError"`, as `e.name` and in stack traces. */
  override name = "ConcurrentWriteError";
}

/** A write to a memtable after `markImmutable()`. Nothing was written. */
export class ImmutableMemTableError extends MemTableError {
  /** `"ImmutableMemTableError"`, as `e.name` and in stack traces. */
  override name = "ImmutableMemTableError";
}

/** A store operation failed: the store is closed, or its directory holds something unusable. */
export class StoreError extends MemTableError {
  /** `"StoreError"`, as `e.name` and in stack traces. */
  override name = "StoreError";
}

/** A share token was already attached, was discarded, or is not a token of this kind. */
export class ShareTokenError extends MemTableError {
  /** `"ShareTokenError"`, as `e.name` and in stack traces. */
  override name = "ShareTokenError";
}

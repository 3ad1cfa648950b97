/**
 * Read options (`snapshot`, `ignoreRangeDeletions`, the prefix options) and how native code
 * takes them: the snapshot's two 32-bit halves and a word of iterator flags.
 *
 * @module
 */
import {
  checkSequence,
  maxSequenceNumber,
  sequenceHigh,
  sequenceLow,
  type SequenceNumber,
} from "../coding/sequence.ts";
import { describe } from "../coding/value_type.ts";
import { IteratorFlags } from "../ffi/layout.ts";
import { Snapshot } from "../write/snapshots.ts";
import type { Bytes } from "./bytes.ts";

/** Options of reads. */
export interface ReadOptions {
  /** Hides versions with a larger sequence number (a number, bigint or held `Snapshot`). */
  snapshot?: SequenceNumber | Snapshot;
  /**
   * Show versions that range tombstones cover (RocksDB's `ignore_range_deletions`). Default
   * false: a version a tombstone at or below the snapshot covers is hidden from `get`,
   * iterators and `entries()`.
   */
  ignoreRangeDeletions?: boolean;
  /**
   * Iterators: after a seek, stop at the first key whose prefix (by the memtable's
   * `prefixExtractor`) differs from the sought key's (RocksDB's `prefix_same_as_start`).
   * No effect without an extractor, or after `seekToFirst`/`seekToLast`.
   */
  prefixSameAsStart?: boolean;
  /**
   * Iterators: seeks ignore the prefix bloom filter (RocksDB's `total_order_seek`). Without it,
   * a seek to a key whose prefix the filter rules out leaves the iterator invalid, as RocksDB's
   * memtable iterator does; with it, a seek always lands on the next key in total order.
   */
  totalOrderSeek?: boolean;
  /**
   * Iterators and `entries()`: only user keys that start with these bytes (RocksDB's `prefix`
   * read option): `seekToFirst`/`seekToLast` go to the first/last such key, moves stop at the
   * edge of the range, seeks outside it clamp to it.
   */
  prefix?: Bytes;
}

export { IteratorFlags } from "../ffi/layout.ts";

export const maxHigh = sequenceHigh(maxSequenceNumber);
export const maxLow = sequenceLow(maxSequenceNumber);

/**
 * Read options as native code takes them: the snapshot's two halves and the iterator flags
 * (`ignoreRangeDeletions`).
 */
export function snapshotParts(
  options: ReadOptions | undefined,
  what: string,
): [number, number, number] {
  if (options === undefined) return [maxHigh, maxLow, 0];
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
  }
  const ignore = options.ignoreRangeDeletions ?? false;
  if (typeof ignore !== "boolean") {
    throw new TypeError(`${what}: ignoreRangeDeletions must be a boolean, got ${describe(ignore)}`);
  }
  const sameAsStart = options.prefixSameAsStart ?? false;
  const totalOrder = options.totalOrderSeek ?? false;
  if (typeof sameAsStart !== "boolean" || typeof totalOrder !== "boolean") {
    throw new TypeError(`${what}: prefixSameAsStart and totalOrderSeek must be booleans`);
  }
  const flags = (ignore ? IteratorFlags.ignoreRangeDeletions : 0) |
    (sameAsStart ? IteratorFlags.prefixSameAsStart : 0) |
    (totalOrder ? IteratorFlags.totalOrderSeek : 0);
  const given = options.snapshot;
  if (given === undefined) return [maxHigh, maxLow, flags];
  const snapshot = given instanceof Snapshot ? given.sequence(what) : checkSequence(given, what);
  return [sequenceHigh(snapshot), sequenceLow(snapshot), flags];
}

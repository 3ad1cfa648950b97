/**
 * SST filter blocks in RocksDB's format: the full filter `rocksdb.BuiltinBloomFilter` that
 * RocksDB 6.x and later write with format_version 5 (a cache-line-local bloom filter over the
 * XXPH3 hash of each user key; see `native/src/filter.zig`, which builds and probes it). A
 * table holds one, under the metaindex name {@linkcode filterMetaName}; a point read skips the
 * table when its filter says the key is not there.
 *
 * - {@linkcode FilterBuilder} collects a table's user keys as they are added (hashed natively a
 *   batch at a time; a key equal to the one before it counts once) and writes the block.
 * - {@linkcode FilterBlock} probes a block read from a table (RocksDB's or this library's).
 * - {@linkcode filteredLookup} is what a table's point lookup does with one: one check per key,
 *   counted in {@linkcode FilterCounters}.
 *
 * @module
 */
import { native, Scratch } from "../ffi/native.ts";
import { Status } from "../ffi/layout.ts";
import { describe } from "../coding/value_type.ts";

/** The metaindex name of a full bloom filter block (RocksDB's `fullfilter.` + policy name). */
export const filterMetaName = "fullfilter.rocksdb.BuiltinBloomFilter";
/** The `rocksdb.filter.policy` property of a table with such a filter. */
export const filterPolicyName = "bloomfilter";
/** Bytes at the end of a filter block that describe it (RocksDB's `kMetadataLen`). */
export const filterMetadataSize = 5;
/** Bits per key RocksDB's `BloomFilterPolicy` takes at most (more is lowered to this). */
export const bloomBitsPerKeyMax = 100;

/**
 * `value` checked as a bits-per-key setting: 0 (no filter) or a number in [1, 100] (fractions
 * allowed, RocksDB keeps thousandths); errors name `what`.
 */
export function checkBloomBitsPerKey(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`${what}: bloomBitsPerKey must be a number, got ${describe(value)}`);
  }
  if (!(value === 0 || (value >= 1 && value <= bloomBitsPerKeyMax))) {
    throw new RangeError(
      `${what}: bloomBitsPerKey must be 0 (no filter) or in [1, ${bloomBitsPerKeyMax}], got ${value}`,
    );
  }
  return value;
}

/** Thousandths of a bit per key, rounded as RocksDB's `BloomFilterPolicy` rounds them. */
export function millibitsPerKey(bitsPerKey: number): number {
  return Math.floor(bitsPerKey * 1000 + 0.500001);
}

/** Keys are hashed natively once this many bytes of them are waiting. */
const batchBytes = 64 * 1024;

/**
 * Collects a table's user keys, in the order the table adds them, and writes its filter block.
 * Keys are copied (the caller may reuse its array).
 */
export class FilterBuilder {
  /** Thousandths of a bit per key. */
  readonly millibitsPerKey: number;
  readonly #pending = new Scratch(batchBytes);
  #pendingBytes = 0;
  #pendingKeys = 0;
  #hashes = new Uint8Array(8 * 1024);
  #count = 0;

  /** A builder for `bitsPerKey` (≥ 1, checked by `checkBloomBitsPerKey`). */
  constructor(bitsPerKey: number) {
    this.millibitsPerKey = millibitsPerKey(bitsPerKey);
    if (native().fn.memtable_filter_size(0, this.millibitsPerKey) < 0) {
      throw new RangeError(`FilterBuilder: bits per key must be in [1, 100], got ${bitsPerKey}`);
    }
  }

  /** Adds a user key (the same key again, as the next call, counts once). */
  add(userKey: Uint8Array): void {
    const need = 4 + userKey.length;
    if (this.#pendingBytes + need > this.#pending.capacity) {
      this.#hashPending();
      this.#pending.reserve(need);
    }
    const s = this.#pending;
    s.view.setUint32(this.#pendingBytes, userKey.length, true);
    s.bytes.set(userKey, this.#pendingBytes + 4);
    this.#pendingBytes += need;
    this.#pendingKeys++;
  }

  /** Whether no key was added (a table then has no filter, as in RocksDB). */
  get empty(): boolean {
    return this.#count === 0 && this.#pendingKeys === 0;
  }

  /** The distinct keys added so far: the table's `rocksdb.num.filter_entries`. */
  get numEntries(): number {
    this.#hashPending();
    return this.#count;
  }

  #hashPending(): void {
    if (this.#pendingKeys === 0) return;
    const need = (this.#count + this.#pendingKeys) * 8;
    if (need > this.#hashes.length) {
      const grown = new Uint8Array(Math.max(need, this.#hashes.length * 2));
      grown.set(this.#hashes.subarray(0, this.#count * 8));
      this.#hashes = grown;
    }
    const s = this.#pending;
    const rc = native().fn.memtable_filter_add_keys(
      s.arg,
      s.capacity,
      this.#pendingBytes,
      this.#pendingKeys,
      this.#hashes,
      this.#hashes.length,
      this.#count,
    );
    if (rc < 0) {
      throw new RangeError(`FilterBuilder: the native hash of a key batch failed (${rc})`);
    }
    this.#count = rc;
    this.#pendingBytes = 0;
    this.#pendingKeys = 0;
  }

  /** The filter block's contents (without the block trailer). */
  finish(): Uint8Array {
    this.#hashPending();
    const fn = native().fn;
    const size = fn.memtable_filter_size(this.#count, this.millibitsPerKey);
    const out = new Uint8Array(size);
    const rc = fn.memtable_filter_build(
      this.#hashes,
      this.#hashes.length,
      this.#count,
      this.millibitsPerKey,
      out,
      out.length,
    );
    if (rc === Status.outOfMemory) throw new RangeError("FilterBuilder: out of native memory");
    if (rc !== size) throw new RangeError(`FilterBuilder: the native filter build failed (${rc})`);
    return out;
  }
}

/** The property that says whether a table's filter holds its whole user keys ("1") or not. */
export const wholeKeyFilteringProperty = "rocksdb.block.based.table.whole.key.filtering";

/**
 * Whether a table's full filter can answer for whole user keys, from its properties: only when
 * it says so (RocksDB writes "0" for a filter of prefixes alone — `whole_key_filtering=false`
 * with a prefix extractor — which a whole-key probe would wrongly turn away).
 */
export function filterHoldsWholeKeys(properties: ReadonlyMap<string, Uint8Array>): boolean {
  const v = properties.get(wholeKeyFilteringProperty);
  return v !== undefined && v.length === 1 && v[0] === 0x31; // "1"
}

/** A table's filter block, as read from the file (RocksDB's or this library's). */
export class FilterBlock {
  /** The block's contents (the bits and the 5 metadata bytes). */
  readonly contents: Uint8Array;

  constructor(contents: Uint8Array) {
    this.contents = contents;
  }

  /**
   * Whether `userKey` may be in the table (false: certainly not). A block of a format this
   * library does not probe (a legacy bloom, a Ribbon filter) answers true.
   */
  mayMatch(userKey: Uint8Array): boolean {
    const c = this.contents;
    if (c.length <= filterMetadataSize) return false; // nothing was added
    return native().fn.memtable_filter_may_match(c, c.length, userKey, userKey.length) === 1;
  }
}

/** What the filters of a set of tables did (a Store's, in `stats().filter`). */
export interface FilterCounters {
  /** Point lookups that asked a table's filter first (one per table per key). */
  checks: number;
  /** Lookups the filter answered "not there": the table was not read. */
  filteredOut: number;
  /** Lookups the filter let through that found no version of the key in the table. */
  falsePositives: number;
}

/** Counters at zero. */
export function newFilterCounters(): FilterCounters {
  return { checks: 0, filteredOut: 0, falsePositives: 0 };
}

/**
 * A point lookup of `userKey` in a table with `filter` (none: every lookup reads): `lookup()`
 * runs only when the filter lets the key through, and the outcome is counted in `counters`.
 */
export function filteredLookup<T>(
  filter: FilterBlock | undefined,
  counters: FilterCounters,
  userKey: Uint8Array,
  lookup: () => T[],
): T[] {
  if (filter === undefined) return lookup();
  counters.checks++;
  if (!filter.mayMatch(userKey)) {
    counters.filteredOut++;
    return [];
  }
  const found = lookup();
  if (found.length === 0) counters.falsePositives++;
  return found;
}

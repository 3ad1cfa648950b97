/**
 * MemTable: the sorted, multi-version write buffer of an LSM tree (RocksDB's `MemTable`).
 *
 * Every entry lives in native memory: an arena-backed inline skiplist (`native/src/`), so a
 * memtable does not grow the JS heap. This class owns the semantics: argument checks, sequence
 * numbers, snapshots, result shapes, lifetime (`ref`/`unref`/`close`) and flush state.
 *
 * Lifetime: a memtable starts with one reference, held by its creator and released by
 * `close()`. `ref()` adds one, `unref()` drops one; the native memory is freed when the last
 * goes. Iterators pin the native memory on their own, so an open iterator keeps working after
 * the memtable is closed. Any call on a freed memtable throws `MemTableClosedError`.
 *
 * Threading: a `MemTable` object belongs to one realm (main thread or Worker) and its calls are
 * synchronous; the native memtable behind it can be shared with other Workers (`share()` /
 * `MemTable.attach()`), read from all of them without locks, and written by one at a time — or by
 * many with `allowConcurrentWrites`.
 *
 * Each method's logic lives in the modules beside it (options, lookup, entries, batch, share,
 * successive_merges); this file is the class and its documented API.
 *
 * @module
 */
import { MemTableClosedError } from "../errors.ts";
import { keySizeMax, Status } from "../ffi/layout.ts";
import { type Handle, native, type Scratch } from "../ffi/native.ts";
import { statusError } from "../ffi/status.ts";
import {
  checkSequence,
  sequenceHigh,
  sequenceLow,
  type SequenceNumber,
} from "../coding/sequence.ts";
import { checkValueType, describe, ValueType, valueTypeName } from "../coding/value_type.ts";
import {
  type Bytes,
  encodedSizeBound,
  type Entry,
  sizeFor,
  writeBytes,
  writeKey,
  writeValue,
} from "./bytes.ts";
import { applyBatch } from "./batch.ts";
import { EntryBatches } from "./entries.ts";
import { MemTableScan, type ScanOptions } from "./scan.ts";
import { internalToken, IteratorFlags, MemTableIterator, type ReadOptions } from "./iterator.ts";
import {
  absent,
  decodeGet,
  type GetResult,
  lookup,
  lookupInto,
  multiGetChecked,
} from "./lookup.ts";

export { GetStatus } from "./lookup.ts";
import type { MergeOperator } from "./merge.ts";
import {
  encodeOptions,
  type MemTableOptions,
  type MemTableOptionValues,
  optionProperties,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { fn, initRealm, scratchFor } from "./realm.ts";
import { collapseMerges, successiveMerge, type SuccessiveMerges } from "./successive_merges.ts";
import { attachToken, discardToken, type MemTableShareToken, shareToken } from "./share.ts";
import {
  type MemTableStats,
  readStat,
  readStats,
  seqWord,
  StatsWord as W,
  u64Word,
} from "./stats.ts";
import { maxHigh, maxLow, snapshotParts } from "./read_options.ts";
import { WriteBatch } from "../write/write_batch.ts";

export type { Bytes, Entry } from "./bytes.ts";
export type { GetResult } from "./lookup.ts";
export type { MergeOperator } from "./merge.ts";
export type { ReadOptions } from "./iterator.ts";
export type { MemTableRep, ResolvedRep } from "./rep.ts";
export type { MemTableOptions, MemTableOptionValues } from "./options.ts";
export type { MemTableShareToken } from "./share.ts";
export type { MemTableStats } from "./stats.ts";

/** A range tombstone: the keys in [start, end) deleted at `seq`. */
export interface RangeTombstone {
  /** The first key deleted. */
  start: Uint8Array;
  /** The first key after the range (not deleted). */
  end: Uint8Array;
  /** The tombstone's sequence number: it hides versions older than this. */
  seq: SequenceNumber;
}

/** pointTypes[code] is true for the types `add()` stores in the skiplist. */
const pointTypes: boolean[] = [];
for (const t of [ValueType.Deletion, ValueType.Value, ValueType.Merge, ValueType.SingleDeletion]) {
  pointTypes[t] = true;
}

const memtableFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_unref(h);
});

let nextId = 1;

/** Key of the handle `MemTable.attach` passes to the constructor with the options. */
const attachedHandle: unique symbol = Symbol("MemTable.attachedHandle");

/** A native memtable with the options `r`, or null when out of memory. */
function newNative(r: ResolvedOptions): Handle | null {
  const encoded = encodeOptions(r);
  const s = scratchFor(encoded.length);
  s.bytes.set(encoded);
  return fn.memtable_new(s.arg, s.capacity, encoded.length);
}

/**
 * The native handle of a live memtable, for code inside this package that drives native loops
 * on it (bench/boundary.ts). Not exported from mod.ts.
 */
export let nativeHandleOf: (mt: MemTable) => Handle;

/** The options of a {@linkcode MemTable} that it carries as properties. */
export interface MemTable extends MemTableOptionValues {}

/**
 * A sorted, multi-version, memory-bounded write buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 *
 * using mt = new MemTable({ writeBufferSize: 4 << 20 });
 * mt.add(1, ValueType.Value, "apple", "red");
 * mt.add(2, ValueType.Value, "apple", "green");
 * const old = mt.get("apple", { snapshot: 1 });
 * assert(old.kind === "value");
 * assert.equal(new TextDecoder().decode(old.value), "red");
 * const versions = [...mt.entries()].map((e) => [new TextDecoder().decode(e.key), e.seq]);
 * assert.deepEqual(versions, [["apple", 2], ["apple", 1]]); // newest first
 * ```
 */
export class MemTable implements Disposable {
  /** Process-unique, increasing: a newer memtable has a larger id. */
  readonly id: number;
  /** Every option resolved: what a share token carries. */
  readonly #options: ResolvedOptions;
  /** The write-path merge policy, with `maxSuccessiveMerges`. */
  readonly #merges: SuccessiveMerges | undefined;
  #handle: Handle | null;
  #refs = 1;
  #closed = false;
  #markedForFlush = false;

  static {
    nativeHandleOf = (mt) => mt.#live("nativeHandle");
  }

  /** An empty memtable in native memory; `options` are checked first (TypeError/RangeError). */
  constructor(options: MemTableOptions = {}) {
    const r = resolveOptions(options);
    this.#options = r;
    this.#merges = r.maxSuccessiveMerges > 0
      ? { op: r.mergeOperator!, max: r.maxSuccessiveMerges }
      : undefined;
    Object.assign(this, optionProperties(r));
    initRealm();
    // `MemTable.attach` passes the handle it attached with the options (never module state).
    const attached = (options as { [attachedHandle]?: Handle })[attachedHandle];
    const h = attached ?? newNative(r);
    if (h === null) throw statusError(Status.outOfMemory, "MemTable");
    this.#handle = h;
    this.id = nextId++;
    memtableFinalizer.register(this, h, this);
  }

  /**
   * A token that opens this memtable in another Worker (`MemTable.attach(token)`): the native
   * memtable is shared, not copied, and stays alive until every holder in every Worker has
   * closed it. The token holds a reference of its own until it is attached (once) or
   * `MemTable.discardToken(token)`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "k", "v");
   * const token = mt.share(); // postMessage(token) to a Worker; there:
   * using same = MemTable.attach(token);
   * assert.equal(same.get("k").kind, "value");
   * ```
   */
  share(): MemTableShareToken {
    return shareToken(this.#live("share"), this.#options);
  }

  /**
   * Opens the memtable a token from `share()` names, in this Worker (or any). Functions do
   * not cross Workers: pass the merge operator again (`options.mergeOperator`, same name).
   * Throws `ShareTokenError` for a token already attached or discarded.
   */
  static attach(
    token: MemTableShareToken,
    options: { mergeOperator?: MergeOperator } = {},
  ): MemTable {
    const { given, h } = attachToken(token, options);
    try {
      return new MemTable({ ...given, [attachedHandle]: h } as MemTableOptions);
    } catch (e) {
      fn.memtable_unref(h); // the reference the token held: nothing is left behind
      throw e;
    }
  }

  /** Gives back the reference a token holds without attaching it. False if it was used up. */
  static discardToken(token: MemTableShareToken): boolean {
    return discardToken(token);
  }

  #live(what: string): Handle {
    const h = this.#handle;
    if (h === null) {
      throw new MemTableClosedError(`MemTable.${what}(): memtable ${this.id} is closed`);
    }
    return h;
  }

  /**
   * Adds one version of `key`. Deletions carry no value. Throws `DuplicateEntryError` if an
   * entry with the same key, sequence number and type exists; nothing changes then.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(10, ValueType.Value, new Uint8Array([1, 2]), new Uint8Array([3]));
   * mt.add(11n, ValueType.Deletion, new Uint8Array([1, 2]));
   * assert.equal(mt.get(new Uint8Array([1, 2])).kind, "deleted");
   * assert.equal(mt.get(new Uint8Array([1, 2]), { snapshot: 10 }).kind, "value");
   * ```
   */
  add(seq: SequenceNumber, type: ValueType, key: Bytes, value?: Bytes): void {
    const h = this.#live("add");
    if (!(typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0)) {
      checkSequence(seq, "MemTable.add()");
    }
    if (pointTypes[type] !== true) {
      checkValueType(type, "MemTable.add()");
      // RangeDeletion: RocksDB's MemTable::Add takes the start as key, the end as value.
      if (value === undefined) {
        throw new TypeError("MemTable.add(): a RangeDeletion needs its end key as the value");
      }
      return this.#addRange(h, seq, key, value, "MemTable.add()");
    }
    if (value !== undefined && (type === ValueType.Deletion || type === ValueType.SingleDeletion)) {
      const empty = (typeof value === "string" || value instanceof Uint8Array) &&
        value.length === 0;
      if (!empty) {
        throw new TypeError(`MemTable.add(): a ${valueTypeName(type)} carries no value`);
      }
    }
    if (type === ValueType.Merge && this.maxSuccessiveMerges > 0) {
      [type, value] = successiveMerge(this.#merges!, h, seq, key, value);
    }
    const s = scratchFor(sizeFor(key, value, "MemTable.add()"));
    const keyLength = writeKey(s, key, "MemTable.add()");
    const valueLength = writeValue(s, keyLength, value, "MemTable.add()");
    const rc = fn.memtable_add(
      h,
      s.arg,
      s.capacity,
      sequenceHigh(seq),
      sequenceLow(seq),
      type,
      keyLength,
      valueLength,
    );
    if (rc !== 0) throw statusError(rc, "MemTable.add()", key);
  }

  /**
   * Deletes every key in [start, end) at `seq`: versions with a smaller sequence number are
   * hidden from reads at snapshots ≥ `seq` (RocksDB's DeleteRange). Tombstones live in their
   * own native table; reads cut overlapping ones into fragments, cached until the next range
   * deletion. `end < start` throws a RangeError; `end == start` deletes nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "user:1", "a");
   * mt.add(2, ValueType.Value, "user:2", "b");
   * mt.addRangeDeletion(3, "user:", "user;");
   * const r = mt.get("user:1");
   * assert(r.kind === "deleted");
   * assert.equal(r.type, ValueType.RangeDeletion);
   * assert.equal(r.seq, 3);
   * assert.equal(mt.get("user:2", { snapshot: 2 }).kind, "value");
   * assert.equal(mt.numRangeDeletes, 1);
   * ```
   */
  addRangeDeletion(seq: SequenceNumber, start: Bytes, end: Bytes): void {
    const h = this.#live("addRangeDeletion");
    this.#addRange(h, seq, start, end, "MemTable.addRangeDeletion()");
  }

  #addRange(h: Handle, seq: SequenceNumber, start: Bytes, end: Bytes, what: string): void {
    checkSequence(seq, what);
    const s = scratchFor(
      encodedSizeBound(start, what, "key", "start key") +
        encodedSizeBound(end, what, "key", "end key"),
    );
    const startLength = writeKey(s, start, what);
    const endLength = writeBytes(s, startLength, end);
    if (endLength > keySizeMax) {
      throw new RangeError(`${what}: end key is ${endLength} bytes, the maximum is ${keySizeMax}`);
    }
    if (compareRange(s.bytes, startLength, endLength) > 0) {
      throw new RangeError(`${what}: end comes before start`);
    }
    const rc = fn.memtable_add_range_deletion(
      h,
      s.arg,
      s.capacity,
      sequenceHigh(seq),
      sequenceLow(seq),
      startLength,
      endLength,
    );
    if (rc !== 0) throw statusError(rc, what, start);
  }

  /**
   * Applies `batch` atomically: its counted records take sequence numbers `seq`, `seq + 1`, …
   * in batch order, the point records in one native call that sorts them and inserts each
   * from the previous one's position. A malformed batch throws `WriteBatchError`; a record
   * that would duplicate an entry throws `DuplicateEntryError`; either way nothing is applied.
   * Returns the number of records applied.
   *
   * With `maxSuccessiveMerges`, each Merge record is checked against the operands already in
   * this memtable (not against earlier records of the same batch).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, WriteBatch } from "../../mod.ts";
   * using mt = new MemTable();
   * const applied = mt.write(new WriteBatch().put("k", "v").delete("gone"), 7);
   * assert.equal(applied, 2);
   * assert.equal(mt.get("gone").kind, "deleted");
   * ```
   */
  write(batch: WriteBatch, seq: SequenceNumber): number {
    const h = this.#live("write");
    const what = "MemTable.write()";
    if (!(batch instanceof WriteBatch)) {
      throw new TypeError(`${what}: expected a WriteBatch, got ${describe(batch)}`);
    }
    checkSequence(seq, what);
    if (this.maxSuccessiveMerges > 0 && batch.mayHaveMerge) {
      batch = collapseMerges(this.#merges!, h, batch, seq);
    }
    return applyBatch(h, batch, seq, what);
  }

  /**
   * The range tombstones at or below `options.snapshot`, ordered by start key, then newest
   * first; as added (overlaps are not merged).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.addRangeDeletion(5, "m", "p");
   * mt.addRangeDeletion(6, "a", "c");
   * const t = mt.rangeTombstones();
   * assert.deepEqual(t.map((r) => r.seq), [6, 5]);
   * ```
   */
  rangeTombstones(options?: ReadOptions): RangeTombstone[] {
    const h = this.#live("rangeTombstones");
    const [snapHigh, snapLow] = snapshotParts(options, "MemTable.rangeTombstones()");
    const all = [...new EntryBatches(h, snapHigh, snapLow, IteratorFlags.rangeTable)];
    return all.map((e) => ({ start: e.key, end: e.value, seq: e.seq }));
  }

  /**
   * The newest version of `key` with sequence number ≤ `options.snapshot` (default: all).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "k", "v1");
   * mt.add(3, ValueType.Deletion, "k");
   * assert.equal(mt.get("k").kind, "deleted");
   * assert.equal(mt.get("k", { snapshot: 2 }).kind, "value");
   * assert.equal(mt.get("other").kind, "absent");
   * ```
   */
  get(key: Bytes, options?: ReadOptions): GetResult {
    const h = this.#live("get");
    let snapHigh = maxHigh;
    let snapLow = maxLow;
    let flags = 0;
    if (options !== undefined) {
      [snapHigh, snapLow, flags] = snapshotParts(options, "MemTable.get()");
    }
    const found = lookup(h, key, snapHigh, snapLow, flags, "MemTable.get()");
    if (found === undefined) return absent;
    return decodeGet(found, this.mergeOperator, key, "MemTable.get()");
  }

  /**
   * The result of each of `keys` at one snapshot, in order, as `get()` gives it (RocksDB's
   * MultiGet): faster per key than `get()` for batches, as the native side searches for 32
   * keys at a time in lockstep with their cache misses overlapped, and one call carries up to
   * 64 keys. The same key may appear more than once. Every key is checked before any is
   * looked up.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "a", "1");
   * mt.add(2, ValueType.Value, "b", "2");
   * mt.add(3, ValueType.Deletion, "b");
   * const [a, b, c] = mt.multiGet(["a", "b", "c"]);
   * assert.ok(a?.kind === "value");
   * assert.equal(new TextDecoder().decode(a.value), "1");
   * assert.equal(b?.kind, "deleted");
   * assert.equal(c?.kind, "absent");
   * assert.equal(mt.multiGet(["b"], { snapshot: 2 })[0]?.kind, "value");
   * ```
   */
  multiGet(keys: readonly Bytes[], options?: ReadOptions): GetResult[] {
    return multiGetChecked(this.#live("multiGet"), keys, options, this.mergeOperator);
  }

  /**
   * Copies the value visible at `options.snapshot` into `dest` and allocates nothing: for hot
   * loops that decode values at once (RocksJava's `get(key, byte[] value)`; RocksDB's
   * `PinnableSlice` spares the copy the same way). Returns the value's length; when it is
   * longer than `dest`, only `dest.length` bytes were written (call again with a larger
   * array). Without a value: a negative {@linkcode GetStatus}. Merge operands are folded as
   * by `get()`; the version's sequence number is not reported (`get()` has it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { GetStatus, MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "k", "value");
   * mt.add(2, ValueType.Deletion, "gone");
   * const dest = new Uint8Array(16);
   * const n = mt.getInto("k", dest);
   * assert.equal(new TextDecoder().decode(dest.subarray(0, n)), "value");
   * assert.equal(mt.getInto("gone", dest), GetStatus.deleted);
   * assert.equal(mt.getInto("other", dest), GetStatus.absent);
   * ```
   */
  getInto(key: Bytes, dest: Uint8Array, options?: ReadOptions): number {
    const h = this.#live("getInto");
    const what = "MemTable.getInto()";
    if (!(dest instanceof Uint8Array)) {
      throw new TypeError(`${what}: dest must be a Uint8Array, got ${describe(dest)}`);
    }
    let snapHigh = maxHigh;
    let snapLow = maxLow;
    let flags = 0;
    if (options !== undefined) [snapHigh, snapLow, flags] = snapshotParts(options, what);
    return lookupInto(h, key, dest, snapHigh, snapLow, flags, this.mergeOperator, what);
  }

  /**
   * A cursor over every version in internal-key order (user key ascending, newest first),
   * hiding versions above `options.snapshot`. Close it (or `using`) when done.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * for (const k of ["b", "a", "c"]) mt.add(1, ValueType.Value, k, k.toUpperCase());
   * using it = mt.iterator();
   * it.seek("b");
   * assert(it.valid());
   * assert.equal(new TextDecoder().decode(it.key()), "b");
   * it.prev();
   * assert.equal(new TextDecoder().decode(it.key()), "a");
   * ```
   */
  iterator(options?: ReadOptions): MemTableIterator {
    const h = this.#live("iterator");
    const [snapHigh, snapLow, flags] = snapshotParts(options, "MemTable.iterator()");
    return new MemTableIterator(internalToken, h, snapHigh, snapLow, flags, options?.prefix);
  }

  /**
   * Every version in internal-key order, as `{ key, seq, type, value }` (copies). Entries are
   * read in batches; stopping early (`break`) releases the underlying cursor.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * mt.add(1, ValueType.Value, "k", "a");
   * mt.add(2, ValueType.Value, "k", "b");
   * assert.deepEqual([...mt.entries()].map((e) => e.seq), [2, 1]);
   * ```
   */
  entries(options?: ReadOptions): IterableIterator<Entry> {
    const h = this.#live("entries");
    const [snapHigh, snapLow, flags] = snapshotParts(options, "MemTable.entries()");
    return new EntryBatches(h, snapHigh, snapLow, flags, options?.prefix);
  }

  /**
   * Versions in internal-key order in batches of views (`ScanBatch`: how long they live).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable();
   * for (const k of ["a", "b", "c"]) mt.add(1, ValueType.Value, k, k.toUpperCase());
   * const keys: string[] = [];
   * for (const b of mt.scan({ lowerBound: "b" })) {
   *   for (let i = 0; i < b.length; i++) keys.push(new TextDecoder().decode(b.key(i)));
   * }
   * assert.deepEqual(keys, ["b", "c"]);
   * ```
   */
  scan(options?: ScanOptions): MemTableScan {
    return new MemTableScan(this.#live("scan"), options);
  }

  /** Arena bytes in use by this memtable's entries and index (RocksDB's ApproximateMemoryUsage). */
  approximateMemoryUsage(): number {
    return fn.memtable_memory_usage(this.#live("approximateMemoryUsage"));
  }

  /** True once memory usage has reached `writeBufferSize`. */
  shouldFlush(): boolean {
    return this.approximateMemoryUsage() >= this.writeBufferSize;
  }

  /** Requests a flush regardless of size (RocksDB's MarkForFlush). */
  markForFlush(): void {
    this.#live("markForFlush");
    this.#markedForFlush = true;
  }

  /** Whether `markForFlush()` was called. */
  isMarkedForFlush(): boolean {
    this.#live("isMarkedForFlush");
    return this.#markedForFlush;
  }

  /**
   * Makes the memtable read-only (RocksDB's MarkImmutable, done when a full memtable is
   * switched out for flushing): every later write, from any Worker, throws
   * `ImmutableMemTableError` and changes nothing. A `vector` or hash memtable then sorts its
   * entries once, on the first iterator, and every later iterator shares that order.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ImmutableMemTableError, MemTable, ValueType } from "../../mod.ts";
   * using mt = new MemTable({ rep: "vector" });
   * mt.add(2, ValueType.Value, "b", "2");
   * mt.add(1, ValueType.Value, "a", "1");
   * mt.markImmutable();
   * assert.deepEqual([...mt.entries()].map((e) => e.seq), [1, 2]); // sorted once
   * assert.throws(() => mt.add(3, ValueType.Value, "c", "3"), ImmutableMemTableError);
   * ```
   */
  markImmutable(): void {
    fn.memtable_mark_immutable(this.#live("markImmutable"));
  }

  /** True once `markImmutable()` was called (through any handle of this memtable). */
  get immutable(): boolean {
    return readStat(this.#live("stats"), W.immutable, "MemTable.stats()") === 1;
  }

  #readStats(): Scratch {
    return readStats(this.#live("stats"), "MemTable.stats()");
  }

  /** Counters and memory figures, read in one call. */
  stats(): MemTableStats {
    const s = this.#readStats();
    return {
      numEntries: u64Word(s, W.numEntries),
      numDeletes: u64Word(s, W.numDeletes),
      dataSize: u64Word(s, W.dataSize),
      memoryUsage: u64Word(s, W.memoryUsage),
      arenaAllocatedBytes: u64Word(s, W.arenaAllocatedBytes),
      arenaBlockSize: u64Word(s, W.arenaBlockSize),
      writeBufferSize: u64Word(s, W.writeBufferSize),
      bloomHits: u64Word(s, W.bloomHits),
      bloomMisses: u64Word(s, W.bloomMisses),
    };
  }

  /** Number of entries added (every version counts, range tombstones too, as in RocksDB). */
  get numEntries(): number {
    return readStat(this.#live("stats"), W.numEntries, "MemTable.stats()");
  }

  /** Number of range tombstones added. */
  get numRangeDeletes(): number {
    return readStat(this.#live("stats"), W.numRangeDeletes, "MemTable.stats()");
  }

  /** Number of Deletion and SingleDeletion entries added. */
  get numDeletes(): number {
    return readStat(this.#live("stats"), W.numDeletes, "MemTable.stats()");
  }

  /** The smallest sequence number added; undefined while empty. */
  get firstSeq(): SequenceNumber | undefined {
    const s = this.#readStats();
    return u64Word(s, W.numEntries) === 0 ? undefined : seqWord(s, W.firstSeq);
  }

  /**
   * A lower bound of every sequence number here: `options.earliestSeq` when given (lowered if
   * an older entry was added), else the smallest added; undefined while unknown.
   */
  get earliestSeq(): SequenceNumber | undefined {
    return seqWord(this.#readStats(), W.earliestSeq);
  }

  /** Whether the memtable's memory has been released (every reference dropped). */
  get closed(): boolean {
    return this.#handle === null;
  }

  /** Adds a reference. Returns the new count. */
  ref(): number {
    this.#live("ref");
    return ++this.#refs;
  }

  /** Drops a reference; the last one frees the native memory. Returns true when it did. */
  unref(): boolean {
    const h = this.#live("unref");
    if (--this.#refs > 0) return false;
    this.#handle = null;
    memtableFinalizer.unregister(this);
    fn.memtable_unref(h);
    return true;
  }

  /** Releases the creator's reference (once; later calls do nothing). */
  close(): void {
    if (this.#closed || this.#handle === null) return;
    this.#closed = true;
    this.unref();
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Bytewise order of the two keys at s[0, a) and s[a, a + b). */
function compareRange(s: Uint8Array, a: number, b: number): number {
  const n = Math.min(a, b);
  for (let i = 0; i < n; i++) if (s[i] !== s[a + i]) return s[i]! - s[a + i]!;
  return a - b;
}

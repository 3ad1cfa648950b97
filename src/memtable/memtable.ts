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
 * @module
 */
import {
  CorruptionError,
  DuplicateEntryError,
  MemTableClosedError,
  MemTableError,
  MergeOperatorError,
  ShareTokenError,
  SingleDeleteMisuseError,
  WriteBatchError,
} from "../errors.ts";
import { getRecordHeaderSize, keySizeMax } from "../ffi/layout.ts";
import {
  type Handle,
  native,
  type NativeFunctions,
  Scratch,
  statusError,
  useLibraryOf,
} from "../ffi/native.ts";
import { Status } from "../ffi/layout.ts";
import {
  checkSequence,
  maxSequenceNumber,
  sequenceFromTrailer,
  sequenceHigh,
  sequenceLow,
  type SequenceNumber,
} from "../coding/sequence.ts";
import { checkValueType, describe, ValueType, valueTypeName } from "../coding/value_type.ts";
import {
  type Area,
  batchViews,
  type Bytes,
  bytesOf,
  carve,
  corruptionReport,
  encodedSizeBound,
  type Entry,
  keepAttached,
  keyLabel,
  readEntry,
  sizeFor,
  slabCopyMax,
  slabWith,
  writeBytes,
  writeKey,
  writeValue,
} from "./bytes.ts";
import { internalToken, IteratorFlags, MemTableIterator, type ReadOptions } from "./iterator.ts";
import {
  applyFullMerge,
  applyPartialMerges,
  checkMergeOperator,
  type MergeOperator,
} from "./merge.ts";
import { Snapshot } from "../write/snapshots.ts";
import { extractorCode, type PrefixExtractor } from "./prefix.ts";
import { batchFailureMessage, decodeBatch, WriteBatch } from "../write/write_batch.ts";
import { isHashRep, type MemTableRep, repArgs, type ResolvedRep, resolveRep } from "./rep.ts";

export type { Bytes, Entry } from "./bytes.ts";
export type { MergeOperator } from "./merge.ts";
export type { ReadOptions } from "./iterator.ts";
export type { MemTableRep, ResolvedRep } from "./rep.ts";

/** Options of {@linkcode MemTable}. */
export interface MemTableOptions {
  /** Memory budget in bytes: `shouldFlush()` turns true when usage reaches it. Default 64 MiB. */
  writeBufferSize?: number;
  /**
   * Arena block size in bytes, clamped to [4 KiB, 1 GiB] as RocksDB does. Default: an eighth
   * of `writeBufferSize`, at most 1 MiB.
   */
  arenaBlockSize?: number;
  /**
   * 0 (default): arena blocks come from the general allocator. A power of two from 4 KiB to
   * 1 GiB (typically 2 MiB): blocks are rounded up to it and mapped with transparent huge pages
   * where the OS allows (Linux with THP in `madvise` or `always` mode), which cuts TLB misses
   * on the skiplist's random walks. RocksDB's `memtable_huge_page_size`.
   */
  hugePageSize?: number;
  /**
   * A lower bound of the sequence numbers this memtable will hold (RocksDB's earliest seqno,
   * usually the last sequence number when it was created). Default: the first one added.
   */
  earliestSeq?: SequenceNumber;
  /**
   * Folds Merge entries on reads (RocksDB's `merge_operator`). Without one, a read that meets
   * a Merge entry throws `MergeOperatorError`.
   */
  mergeOperator?: MergeOperator;
  /**
   * RocksDB's `max_successive_merges`: when a key's newest versions already are this many
   * Merge operands, the next Merge is stored merged instead — as a Value when this memtable
   * holds the version below the operands, as one combined operand (`partialMerge`) when it
   * does not and the operator can combine them, else as given. 0 (default) never merges on
   * write. Needs `mergeOperator`.
   */
  maxSuccessiveMerges?: number;
  /**
   * Bytes of checksum stored with every entry: 0 (default), 1, 2, 4 or 8 (RocksDB's
   * `memtable_protection_bytes_per_key`). The checksum covers key, sequence number, type and
   * value; it is computed on insert and verified whenever an entry is read (`get`, iterators,
   * `entries()`), so a changed byte is reported as a `CorruptionError` naming the key instead of
   * being returned as data. Costs that many bytes per entry and a hash per read entry.
   */
  protectionBytesPerKey?: 0 | 1 | 2 | 4 | 8;
  /**
   * Extra checks on the write path (RocksDB's `paranoid_checks` for memtables): every insert
   * verifies that its neighbours are in order (a `CorruptionError` otherwise, nothing stored),
   * and every SingleDelete checks its contract (`SingleDeleteMisuseError`). Safety-checked
   * builds of the native library always check SingleDeletes. Default false.
   */
  paranoidChecks?: boolean;
  /**
   * Any number of Workers may write at once (RocksDB's `allow_concurrent_memtable_write`):
   * inserts link nodes with compare-and-swap and allocate from per-thread arena shards.
   * Without it a memtable takes one writer at a time (reads from any number of Workers are
   * always lock-free), and a second concurrent writer gets `ConcurrentWriteError`. Not with
   * `maxSuccessiveMerges` (its read-then-write is not atomic). Default false.
   */
  allowConcurrentWrites?: boolean;
  /**
   * Picks the part of a key the bloom filter and prefix iteration use: `fixedPrefix(n)`,
   * `cappedPrefix(n)` or `noopPrefix` (RocksDB's `prefix_extractor`).
   */
  prefixExtractor?: PrefixExtractor;
  /**
   * Size of the memtable bloom filter as a fraction of `writeBufferSize` (RocksDB's
   * `memtable_prefix_bloom_size_ratio`; above 0.25 counts as 0.25, as RocksDB sanitizes it).
   * 0 (default): no filter. The filter holds prefixes (with a `prefixExtractor`) and, with
   * `memtableWholeKeyFiltering`, whole keys; `get` checks it before searching, so keys that
   * are not here are turned away with one cache miss. `stats()` counts both outcomes.
   */
  memtablePrefixBloomSizeRatio?: number;
  /** Whole keys go into the bloom filter and point lookups check them (default false). */
  memtableWholeKeyFiltering?: boolean;
  /**
   * Beyond RocksDB: a native hash index from user key to its newest version, in the arena
   * (accounted and freed with the memtable; readers never wait). `get` at any snapshot starts
   * there and walks older versions on level 0: a few cache misses instead of a skiplist descent.
   * Costs about one bucket per 128 bytes of `writeBufferSize` plus 24 bytes per distinct key,
   * and a hash-and-link per insert. Ordered iteration is unchanged. Default false.
   */
  pointIndex?: boolean;
  /**
   * RocksDB's `memtable_insert_with_hint_prefix_extractor`: inserts whose keys share a prefix
   * start their skiplist search from where the previous insert with that prefix ended, so
   * several interleaved streams of ascending keys (one per prefix: per user, per device, …)
   * insert at near-append speed. Up to 64 prefixes are remembered at a time. Not used with
   * `allowConcurrentWrites` (as in RocksDB).
   */
  insertWithHintPrefixExtractor?: PrefixExtractor;
  /**
   * How point entries are kept (RocksDB's `memtable_factory`): `"skiplist"` (default),
   * `{ type: "hashSkipList", bucketCount?, height?, branching? }`, `{ type: "hashLinkList",
   * bucketCount?, thresholdUseSkiplist? }` or `{ type: "vector", reserve? }` (a bare name takes
   * the defaults). Every representation gives the same results; see `rep.ts` for what each
   * makes fast and what total-order iteration costs. The hash representations need a
   * `prefixExtractor` and take one writer at a time; `pointIndex` and
   * `insertWithHintPrefixExtractor` need the skiplist.
   */
  rep?: MemTableRep;
}

/**
 * What `MemTable.share()` returns: a plain object that `postMessage` can send to a Worker,
 * where `MemTable.attach(token)` opens the same native memtable. Good for one attach.
 */
export interface MemTableShareToken {
  readonly kind: "memtable";
  readonly token: number;
  /** The native library file the memtable lives in: every Worker must use the same one. */
  readonly library: string;
  readonly options: {
    readonly writeBufferSize: number;
    readonly maxSuccessiveMerges: number;
    readonly protectionBytesPerKey: number;
    readonly paranoidChecks: boolean;
    readonly allowConcurrentWrites: boolean;
    readonly prefixExtractor?: PrefixExtractor;
    readonly memtablePrefixBloomSizeRatio: number;
    readonly memtableWholeKeyFiltering: boolean;
    readonly pointIndex: boolean;
    readonly insertWithHintPrefixExtractor?: PrefixExtractor;
    readonly rep: ResolvedRep;
    /** The merge operator's name: `attach` needs an operator of that name. */
    readonly mergeOperatorName?: string;
  };
}

/** A range tombstone: the keys in [start, end) deleted at `seq`. */
export interface RangeTombstone {
  start: Uint8Array;
  end: Uint8Array;
  seq: SequenceNumber;
}

/**
 * The result of {@linkcode MemTable.get}.
 *
 * - `value`: the newest visible version is a Value, or Merge operands that this memtable could
 *   fold onto a Value or deletion below them (then `seq` is the newest operand's).
 * - `deleted`: the newest visible version is a Deletion or SingleDeletion, or a range
 *   tombstone (type `RangeDeletion`, `seq` the tombstone's) covers the key above every version.
 * - `absent`: this memtable knows nothing of the key.
 * - `merge`: Merge operands (oldest first) reach past the oldest version here: fold them onto
 *   what older memtables or tables hold (RocksDB's `MergeContext`).
 */
export type GetResult =
  | { kind: "value"; value: Uint8Array; seq: SequenceNumber }
  | {
    kind: "deleted";
    seq: SequenceNumber;
    type:
      | typeof ValueType.Deletion
      | typeof ValueType.SingleDeletion
      | typeof ValueType.RangeDeletion;
  }
  | { kind: "absent" }
  | {
    kind: "merge";
    /** The newest operand's sequence number. */
    seq: SequenceNumber;
    /** Merge operands, oldest first. */
    operands: Uint8Array[];
  };

/**
 * What {@linkcode MemTable.getInto} returns when there is no value to copy (a value's length
 * is 0 or more).
 *
 * - `absent`: this memtable knows nothing of the key.
 * - `deleted`: the newest visible version is a deletion (point or range).
 * - `mergeIncomplete`: Merge operands reach past the oldest version here; `get()` lists them.
 */
export const GetStatus = Object.freeze({ absent: -1, deleted: -2, mergeIncomplete: -3 } as const);

/** Counters and memory figures of a memtable. */
export interface MemTableStats {
  numEntries: number;
  numDeletes: number;
  /** Sum of the encoded sizes of all entries (RocksDB's data size). */
  dataSize: number;
  /** Arena bytes in use: what `approximateMemoryUsage()` returns. */
  memoryUsage: number;
  /** Lookups the bloom filter let through (it may hold the key). */
  bloomHits: number;
  /** Lookups the bloom filter turned away without searching. */
  bloomMisses: number;
  /** Arena bytes allocated from the system, unused block tails included. */
  arenaAllocatedBytes: number;
  arenaBlockSize: number;
  writeBufferSize: number;
}

const defaultWriteBufferSize = 64 * 1024 * 1024;
const optionNames = new Set([
  "writeBufferSize",
  "arenaBlockSize",
  "hugePageSize",
  "earliestSeq",
  "mergeOperator",
  "maxSuccessiveMerges",
  "protectionBytesPerKey",
  "paranoidChecks",
  "allowConcurrentWrites",
  "prefixExtractor",
  "memtablePrefixBloomSizeRatio",
  "memtableWholeKeyFiltering",
  "pointIndex",
  "insertWithHintPrefixExtractor",
  "rep",
]);
const scratchInitialSize = 64 * 1024;
/**
 * The shared scratch buffer grows up to this size and keeps it; a call that needs more (a
 * large value or batch) gets a buffer of its own for that call, so no call leaves the
 * library holding more memory than before it.
 */
const scratchRetainMax = 1 << 20;
/** A batch's bytes travel with a u32 length. */
const writeBatchSizeMax = 0xffff_ffff;
const statsWords = 14;
const seqUnset = 0xffff_ffff;

/** The library's functions and the realm's shared scratch buffer, set by the first MemTable. */
let fn: NativeFunctions;
let shared: Scratch;

/** pointTypes[code] is true for the types `add()` stores in the skiplist. */
const pointTypes: boolean[] = [];
for (const t of [ValueType.Deletion, ValueType.Value, ValueType.Merge, ValueType.SingleDeletion]) {
  pointTypes[t] = true;
}

const absent: GetResult = Object.freeze({ kind: "absent" });
const maxHigh = sequenceHigh(maxSequenceNumber);
const maxLow = sequenceLow(maxSequenceNumber);

/**
 * Read options as native code takes them: the snapshot's two halves and the iterator flags
 * (`ignoreRangeDeletions`).
 */
function snapshotParts(
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

function positiveSize(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(
      `MemTable: ${name} must be a positive integer number of bytes, got ${describe(value)}`,
    );
  }
  return value;
}

function u64Word(s: Scratch, index: number): number {
  return s.view.getUint32(index * 8, true) + s.view.getUint32(index * 8 + 4, true) * 0x1_0000_0000;
}

function seqWord(s: Scratch, index: number): SequenceNumber | undefined {
  const low = s.view.getUint32(index * 8, true);
  const high = s.view.getUint32(index * 8 + 4, true);
  if (high === seqUnset && low === seqUnset) return undefined;
  return high < 0x20_0000 ? high * 0x1_0000_0000 + low : (BigInt(high) << 32n) | BigInt(low);
}

const memtableFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_unref(h);
});

let nextId = 1;

/** Key of the handle `MemTable.attach` passes to the constructor with the options. */
const attachedHandle: unique symbol = Symbol("MemTable.attachedHandle");

/** Checks the shape of a share token (it may come from another Worker). */
export function checkToken(
  token: unknown,
  kind: string,
  what: string,
): { token: number; library: string; options: Record<string, unknown> } {
  const t = token as
    | { kind?: unknown; token?: unknown; library?: unknown; options?: unknown }
    | null;
  if (
    typeof t !== "object" || t === null || t.kind !== kind || typeof t.token !== "number" ||
    !Number.isSafeInteger(t.token) || t.token < 0 || typeof t.library !== "string" ||
    typeof t.options !== "object" || t.options === null
  ) {
    throw new TypeError(`${what}: expected a ${kind} share token, got ${describe(token)}`);
  }
  return t as { token: number; library: string; options: Record<string, unknown> };
}

/** What the constructor derives from its options: fields, and `memtable_new`'s arguments. */
interface ResolvedOptions {
  writeBufferSize: number;
  mergeOperator: MergeOperator | undefined;
  maxSuccessiveMerges: number;
  protectionBytesPerKey: number;
  paranoidChecks: boolean;
  allowConcurrentWrites: boolean;
  prefixExtractor: PrefixExtractor | undefined;
  memtablePrefixBloomSizeRatio: number;
  memtableWholeKeyFiltering: boolean;
  pointIndex: boolean;
  insertWithHintPrefixExtractor: PrefixExtractor | undefined;
  rep: ResolvedRep;
  nativeArgs: Parameters<NativeFunctions["memtable_new"]>;
}

/**
 * Checks `options` and derives everything a memtable needs from them, touching nothing: a
 * bad option throws here, before any native object exists.
 */
function resolveOptions(options: MemTableOptions): ResolvedOptions {
  const r = {} as ResolvedOptions;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`MemTable: options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!optionNames.has(name)) {
      throw new TypeError(
        `MemTable: unknown option "${name}"; known: ${[...optionNames].join(", ")}`,
      );
    }
  }
  r.writeBufferSize = options.writeBufferSize === undefined
    ? defaultWriteBufferSize
    : positiveSize(options.writeBufferSize, "writeBufferSize");
  const arenaBlockSize = options.arenaBlockSize === undefined
    ? 0
    : positiveSize(options.arenaBlockSize, "arenaBlockSize");
  const hugePageSize = options.hugePageSize ?? 0;
  if (
    hugePageSize !== 0 &&
    !(typeof hugePageSize === "number" && Number.isInteger(hugePageSize) &&
      hugePageSize >= 4096 &&
      hugePageSize <= 1024 ** 3 && (hugePageSize & (hugePageSize - 1)) === 0)
  ) {
    throw new RangeError(
      `MemTable: hugePageSize must be 0 or a power of two from 4096 to 2^30, got ${
        describe(hugePageSize)
      }`,
    );
  }
  let earliest: [number, number] = [seqUnset, seqUnset];
  if (options.earliestSeq !== undefined) {
    const seq = checkSequence(options.earliestSeq, "MemTable: earliestSeq");
    earliest = [sequenceHigh(seq), sequenceLow(seq)];
  }
  r.mergeOperator = options.mergeOperator === undefined
    ? undefined
    : checkMergeOperator(options.mergeOperator, "MemTable");
  const msm = options.maxSuccessiveMerges ?? 0;
  if (!(typeof msm === "number" && Number.isSafeInteger(msm) && msm >= 0)) {
    throw new RangeError(
      `MemTable: maxSuccessiveMerges must be a non-negative integer, got ${describe(msm)}`,
    );
  }
  if (msm > 0 && r.mergeOperator === undefined) {
    throw new TypeError("MemTable: maxSuccessiveMerges needs a mergeOperator");
  }
  const concurrent = options.allowConcurrentWrites ?? false;
  if (typeof concurrent !== "boolean") {
    throw new TypeError(
      `MemTable: allowConcurrentWrites must be a boolean, got ${describe(concurrent)}`,
    );
  }
  if (concurrent && msm > 0) {
    throw new TypeError(
      "MemTable: maxSuccessiveMerges cannot be combined with allowConcurrentWrites " +
        "(its lookup and write would not be atomic), as in RocksDB",
    );
  }
  r.allowConcurrentWrites = concurrent;
  const [extractorKind, prefixLength] = options.prefixExtractor === undefined
    ? [0, 0]
    : extractorCode(options.prefixExtractor, "MemTable");
  r.prefixExtractor = options.prefixExtractor;
  const ratio = options.memtablePrefixBloomSizeRatio ?? 0;
  if (typeof ratio !== "number" || !(ratio >= 0) || !Number.isFinite(ratio)) {
    throw new RangeError(
      `MemTable: memtablePrefixBloomSizeRatio must be a number ≥ 0, got ${describe(ratio)}`,
    );
  }
  const wholeKey = options.memtableWholeKeyFiltering ?? false;
  if (typeof wholeKey !== "boolean") {
    throw new TypeError(
      `MemTable: memtableWholeKeyFiltering must be a boolean, got ${describe(wholeKey)}`,
    );
  }
  const pointIndex = options.pointIndex ?? false;
  if (typeof pointIndex !== "boolean") {
    throw new TypeError(`MemTable: pointIndex must be a boolean, got ${describe(pointIndex)}`);
  }
  r.pointIndex = pointIndex;
  const [hintKind, hintLength] = options.insertWithHintPrefixExtractor === undefined
    ? [0, 0]
    : extractorCode(options.insertWithHintPrefixExtractor, "MemTable");
  r.insertWithHintPrefixExtractor = options.insertWithHintPrefixExtractor;
  r.memtablePrefixBloomSizeRatio = Math.min(ratio, 0.25);
  r.memtableWholeKeyFiltering = wholeKey;
  const bloomBits = Math.floor(r.writeBufferSize * r.memtablePrefixBloomSizeRatio * 8);
  r.maxSuccessiveMerges = msm;
  const protection = options.protectionBytesPerKey ?? 0;
  if (
    !(protection === 0 || protection === 1 || protection === 2 || protection === 4 ||
      protection === 8)
  ) {
    throw new RangeError(
      `MemTable: protectionBytesPerKey must be 0, 1, 2, 4 or 8, got ${describe(protection)}`,
    );
  }
  const paranoid = options.paranoidChecks ?? false;
  if (typeof paranoid !== "boolean") {
    throw new TypeError(`MemTable: paranoidChecks must be a boolean, got ${describe(paranoid)}`);
  }
  r.protectionBytesPerKey = protection;
  r.paranoidChecks = paranoid;
  r.rep = resolveRep(options.rep);
  if (isHashRep(r.rep)) {
    if (options.prefixExtractor === undefined) {
      throw new TypeError(
        `MemTable: rep ${r.rep.type} buckets entries by key prefix and needs a ` +
          `prefixExtractor (fixedPrefix(n), cappedPrefix(n) or noopPrefix), as in RocksDB`,
      );
    }
    if (concurrent) {
      throw new TypeError(
        `MemTable: rep ${r.rep.type} takes one writer at a time; allowConcurrentWrites ` +
          `needs "skiplist" or "vector" (as in RocksDB)`,
      );
    }
  }
  if (r.rep.type !== "skiplist") {
    if (pointIndex) {
      throw new TypeError(
        `MemTable: pointIndex indexes the skiplist; rep ${r.rep.type} finds keys by its ` +
          `own hash (drop pointIndex or use rep "skiplist")`,
      );
    }
    if (options.insertWithHintPrefixExtractor !== undefined) {
      throw new TypeError(
        `MemTable: insertWithHintPrefixExtractor works with rep "skiplist" only (as in ` +
          `RocksDB), not ${r.rep.type}`,
      );
    }
  }
  const [repCode, repCount, repThreshold] = repArgs(r.rep);
  r.nativeArgs = [
    r.writeBufferSize,
    arenaBlockSize,
    hugePageSize,
    earliest[0],
    earliest[1],
    protection | (paranoid ? 0x100 : 0) | (concurrent ? 0x200 : 0) | (wholeKey ? 0x400 : 0) |
    (pointIndex ? 0x800 : 0),
    extractorKind,
    prefixLength,
    bloomBits,
    hintKind,
    hintLength,
    repCode,
    repCount,
    repThreshold,
  ];
  return r;
}

/**
 * Refuses an attached handle whose native memtable is not what the token's options describe
 * (its write buffer size or its representation differ: the token was altered).
 */
function checkAttached(h: Handle, r: ResolvedOptions, what: string): void {
  const s = shared;
  const rc = fn.memtable_stats(h, s.arg, s.capacity);
  if (rc !== statsWords) throw statusError(rc, what);
  const writeBufferSize = u64Word(s, 8);
  const repCode = u64Word(s, 13);
  if (writeBufferSize !== r.writeBufferSize || repCode !== (r.nativeArgs[11] & 0xf)) {
    throw new ShareTokenError(
      `${what}: the token's options do not match the shared memtable (writeBufferSize ` +
        `${r.writeBufferSize} and rep ${r.rep.type} given, the memtable has ${writeBufferSize} ` +
        `and rep code ${repCode}); the token is used up and its reference released`,
    );
  }
}

/**
 * The native handle of a live memtable, for code inside this package that drives native loops
 * on it (bench/boundary.ts). Not exported from mod.ts.
 */
export let nativeHandleOf: (mt: MemTable) => Handle;

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
  readonly writeBufferSize: number;
  /** The operator that folds Merge entries on reads, if any. */
  readonly mergeOperator: MergeOperator | undefined;
  readonly maxSuccessiveMerges: number;
  readonly protectionBytesPerKey: number;
  readonly paranoidChecks: boolean;
  readonly allowConcurrentWrites: boolean;
  readonly prefixExtractor: PrefixExtractor | undefined;
  readonly memtablePrefixBloomSizeRatio: number;
  readonly memtableWholeKeyFiltering: boolean;
  readonly pointIndex: boolean;
  readonly insertWithHintPrefixExtractor: PrefixExtractor | undefined;
  /** The representation of point entries, defaults filled in. */
  readonly rep: ResolvedRep;
  #handle: Handle | null;
  #refs = 1;
  #closed = false;
  #markedForFlush = false;

  static {
    nativeHandleOf = (mt) => mt.#live("nativeHandle");
  }

  constructor(options: MemTableOptions = {}) {
    const r = resolveOptions(options);
    this.writeBufferSize = r.writeBufferSize;
    this.mergeOperator = r.mergeOperator;
    this.maxSuccessiveMerges = r.maxSuccessiveMerges;
    this.protectionBytesPerKey = r.protectionBytesPerKey;
    this.paranoidChecks = r.paranoidChecks;
    this.allowConcurrentWrites = r.allowConcurrentWrites;
    this.prefixExtractor = r.prefixExtractor;
    this.memtablePrefixBloomSizeRatio = r.memtablePrefixBloomSizeRatio;
    this.memtableWholeKeyFiltering = r.memtableWholeKeyFiltering;
    this.pointIndex = r.pointIndex;
    this.insertWithHintPrefixExtractor = r.insertWithHintPrefixExtractor;
    this.rep = r.rep;
    fn ??= native().fn;
    shared ??= new Scratch(scratchInitialSize);
    // `MemTable.attach` passes the handle it attached with the options (never module state).
    const attached = (options as { [attachedHandle]?: Handle })[attachedHandle];
    const h = attached ?? fn.memtable_new(...r.nativeArgs);
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
    const h = this.#live("share");
    const token = fn.memtable_share(h, 1);
    if (token < 0) {
      throw new MemTableError(
        `MemTable.share(): ${
          token === -2 ? "too many share tokens are outstanding (attach or discard them)" : "failed"
        }`,
      );
    }
    const options = {
      writeBufferSize: this.writeBufferSize,
      maxSuccessiveMerges: this.maxSuccessiveMerges,
      protectionBytesPerKey: this.protectionBytesPerKey,
      paranoidChecks: this.paranoidChecks,
      allowConcurrentWrites: this.allowConcurrentWrites,
      memtablePrefixBloomSizeRatio: this.memtablePrefixBloomSizeRatio,
      memtableWholeKeyFiltering: this.memtableWholeKeyFiltering,
      pointIndex: this.pointIndex,
      rep: this.rep,
      ...(this.prefixExtractor === undefined ? {} : { prefixExtractor: this.prefixExtractor }),
      ...(this.insertWithHintPrefixExtractor === undefined
        ? {}
        : { insertWithHintPrefixExtractor: this.insertWithHintPrefixExtractor }),
    };
    return {
      kind: "memtable",
      token,
      library: native().path,
      options: this.mergeOperator === undefined
        ? options
        : { ...options, mergeOperatorName: this.mergeOperator.name },
    };
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
    const what = "MemTable.attach()";
    const t = checkToken(token, "memtable", what);
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
    }
    const o = t.options as MemTableShareToken["options"];
    const op = options.mergeOperator;
    if (o.mergeOperatorName !== undefined && op?.name !== o.mergeOperatorName) {
      throw new TypeError(
        `${what}: the memtable uses merge operator "${o.mergeOperatorName}"; pass it ` +
          `as options.mergeOperator (functions cannot be sent to a Worker)`,
      );
    }
    const given: MemTableOptions = {
      writeBufferSize: o.writeBufferSize,
      maxSuccessiveMerges: o.maxSuccessiveMerges,
      protectionBytesPerKey: o.protectionBytesPerKey as 0,
      paranoidChecks: o.paranoidChecks,
      allowConcurrentWrites: o.allowConcurrentWrites,
      memtablePrefixBloomSizeRatio: o.memtablePrefixBloomSizeRatio,
      memtableWholeKeyFiltering: o.memtableWholeKeyFiltering,
      pointIndex: o.pointIndex,
      rep: o.rep,
      ...(o.prefixExtractor === undefined ? {} : { prefixExtractor: o.prefixExtractor }),
      ...(o.insertWithHintPrefixExtractor === undefined
        ? {}
        : { insertWithHintPrefixExtractor: o.insertWithHintPrefixExtractor }),
      ...(op === undefined ? {} : { mergeOperator: op }),
    };
    // Every check before the token is used: a token with options this library would not
    // accept (altered, or from another version) is refused and stays as it was.
    let resolved: ResolvedOptions;
    try {
      resolved = resolveOptions(given);
    } catch (e) {
      (e as Error).message = `${what}: the token's options are not valid: ${(e as Error).message}`;
      throw e;
    }
    useLibraryOf(t.library, what);
    fn ??= native().fn;
    shared ??= new Scratch(scratchInitialSize);
    const h = fn.memtable_attach(t.token, 1);
    if (h === null) {
      throw new ShareTokenError(
        `${what}: the token was already attached or discarded (a token opens the ` +
          "memtable once: call share() for every Worker)",
      );
    }
    try {
      checkAttached(h, resolved, what);
      return new MemTable({ ...given, [attachedHandle]: h } as MemTableOptions);
    } catch (e) {
      fn.memtable_unref(h); // the reference the token held: nothing is left behind
      throw e;
    }
  }

  /** Gives back the reference a token holds without attaching it. False if it was used up. */
  static discardToken(token: MemTableShareToken): boolean {
    const t = checkToken(token, "memtable", "MemTable.discardToken()");
    useLibraryOf(t.library, "MemTable.discardToken()");
    fn ??= native().fn;
    const h = fn.memtable_attach(t.token, 1);
    if (h === null) return false;
    fn.memtable_unref(h);
    return true;
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
      [type, value] = this.#successiveMerge(h, seq, key, value);
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
    if (rc !== 0) throw addError(rc, "MemTable.add()", key);
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
    if (rc !== 0) throw addError(rc, what, start);
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
      batch = this.#collapseMerges(batch, seq);
    }
    const rep = batch.view();
    if (rep.length > writeBatchSizeMax) {
      throw new RangeError(
        `${what}: the batch is ${rep.length} bytes, the maximum is ${writeBatchSizeMax}`,
      );
    }
    const s = scratchFor(rep.length);
    s.bytes.set(rep);
    const rc = fn.memtable_write_batch(
      h,
      s.arg,
      s.capacity,
      rep.length,
      sequenceHigh(seq),
      sequenceLow(seq),
    );
    if (rc >= 0) return rc;
    if (rc === Status.badBatch) {
      const v = s.view;
      throw new WriteBatchError(
        `${what}: ${
          batchFailureMessage(
            v.getUint32(0, true),
            v.getUint32(4, true),
            v.getUint32(8, true),
            batch.count,
          )
        }; nothing was applied`,
      );
    }
    if (rc === Status.duplicate || rc === Status.singleDeleteMisuse || rc === Status.corruption) {
      const index = s.view.getUint32(0, true);
      const record = decodeBatch(rep)[index];
      const err = addError(rc, `${what}: record ${index}`, record?.key ?? "");
      err.message += "; nothing was applied";
      throw err;
    }
    throw statusError(rc, what);
  }

  /** The batch with Merge records that reach `maxSuccessiveMerges` replaced. */
  #collapseMerges(batch: WriteBatch, seq: SequenceNumber): WriteBatch {
    const h = this.#handle!;
    const records = decodeBatch(batch.view());
    if (!records.some((r) => r.type === ValueType.Merge)) return batch;
    const out = new WriteBatch();
    const base = BigInt(seq);
    records.forEach((r, i) => {
      let type: ValueType = r.type;
      let value: Bytes = r.value;
      if (type === ValueType.Merge) {
        const at = base + BigInt(i);
        [type, value] = this.#successiveMerge(
          h,
          at <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(at) : at,
          r.key,
          value,
        ) as [ValueType, Bytes];
      }
      if (type === ValueType.Value) out.put(r.key, value);
      else if (type === ValueType.Merge) out.merge(r.key, value);
      else if (type === ValueType.Deletion) out.delete(r.key);
      else if (type === ValueType.SingleDeletion) out.singleDelete(r.key);
      else out.deleteRange(r.key, r.value);
    });
    return out;
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
    const out: RangeTombstone[] = [];
    for (const e of new EntryBatches(h, snapHigh, snapLow, IteratorFlags.rangeTable)) {
      out.push({ start: e.key, end: e.value, seq: e.seq });
    }
    return out;
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
    const count = lookup(h, key, snapHigh, snapLow, flags, "MemTable.get()");
    if (count === 0) return absent;
    return decodeGet(records, recordsAt, count, this.mergeOperator, key, "MemTable.get()");
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
    const s = scratchFor(sizeFor(key, undefined, what));
    const klen = writeKey(s, key, what);
    const cap = Math.min(dest.length, 0xffff_ffff);
    const rc = fn.memtable_get_into(
      h,
      s.arg,
      s.capacity,
      klen,
      dest,
      cap,
      snapHigh,
      snapLow,
      flags,
    );
    if (rc === 1) {
      if ((s.view.getUint32(0, true) & 0xff) !== ValueType.Value) return GetStatus.deleted;
      return s.view.getUint32(8, true);
    }
    if (rc === 0) return GetStatus.absent;
    if (rc === 2) {
      // The newest version is a Merge: collect the run and fold it as get() does.
      const count = lookup(h, key, snapHigh, snapLow, flags, what);
      const r = decodeGet(records, recordsAt, count, this.mergeOperator, key, what);
      if (r.kind === "merge") return GetStatus.mergeIncomplete;
      if (r.kind !== "value") return r.kind === "deleted" ? GetStatus.deleted : GetStatus.absent;
      dest.set(r.value.length > dest.length ? r.value.subarray(0, dest.length) : r.value);
      return r.value.length;
    }
    if (rc === Status.corruption) throw corruptionReport(s, what);
    throw statusError(rc, what);
  }

  /**
   * RocksDB's max_successive_merges on the write path: returns the entry to store for a new
   * Merge operand `value` at `seq`.
   */
  #successiveMerge(
    h: Handle,
    seq: SequenceNumber,
    key: Bytes,
    value: Bytes | undefined,
  ): [ValueType, Bytes | undefined] {
    const op = this.mergeOperator!;
    const what = "MemTable.add()";
    // Check the operand before anything runs on it.
    sizeFor(key, value, what);
    const count = lookup(h, key, sequenceHigh(seq), sequenceLow(seq), 0, what);
    if (leadingMerges(records, recordsAt, count) < this.maxSuccessiveMerges) {
      return [ValueType.Merge, value];
    }
    const run = readRun(records, recordsAt, count)!;
    const keyBytes = bytesOf(key);
    const operands = [...run.operands, bytesOf(value ?? "")];
    if (run.base !== undefined) {
      return [ValueType.Value, applyFullMerge(op, keyBytes, run.base.value, operands)];
    }
    const combined = applyPartialMerges(op, keyBytes, operands);
    return combined === undefined ? [ValueType.Merge, value] : [ValueType.Merge, combined];
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
    return u64Word(this.#readStats(), 12) === 1;
  }

  #readStats(): Scratch {
    const s = shared;
    const rc = fn.memtable_stats(this.#live("stats"), s.arg, s.capacity);
    if (rc !== statsWords) throw statusError(rc, "MemTable.stats()");
    return s;
  }

  /** Counters and memory figures, read in one call. */
  stats(): MemTableStats {
    const s = this.#readStats();
    return {
      numEntries: u64Word(s, 0),
      numDeletes: u64Word(s, 1),
      dataSize: u64Word(s, 2),
      memoryUsage: u64Word(s, 5),
      arenaAllocatedBytes: u64Word(s, 6),
      arenaBlockSize: u64Word(s, 7),
      writeBufferSize: u64Word(s, 8),
      bloomHits: u64Word(s, 10),
      bloomMisses: u64Word(s, 11),
    };
  }

  /** Number of entries added (every version counts, range tombstones too, as in RocksDB). */
  get numEntries(): number {
    return u64Word(this.#readStats(), 0);
  }

  /** Number of range tombstones added. */
  get numRangeDeletes(): number {
    return u64Word(this.#readStats(), 9);
  }

  /** Number of Deletion and SingleDeletion entries added. */
  get numDeletes(): number {
    return u64Word(this.#readStats(), 1);
  }

  /** The smallest sequence number added; undefined while empty. */
  get firstSeq(): SequenceNumber | undefined {
    const s = this.#readStats();
    return u64Word(s, 0) === 0 ? undefined : seqWord(s, 3);
  }

  /**
   * A lower bound of every sequence number here: `options.earliestSeq` when given (lowered if
   * an older entry was added), else the smallest added; undefined while unknown.
   */
  get earliestSeq(): SequenceNumber | undefined {
    return seqWord(this.#readStats(), 4);
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

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Where the last `lookup` left its records: the area and the offset of the first. */
let records: Area;
let recordsAt = 0;

/**
 * Runs the native lookup of `key` at the snapshot; the records are left in `records` from
 * `recordsAt` on. Returns their count (0: absent).
 *
 * A key up to 4 KiB is looked up in the result slab's free part, so that on Deno a value up to
 * 4 KiB is handed out where the native call wrote it (`carve`); larger keys and results go
 * through the shared scratch buffer, grown to fit.
 */
function lookup(
  h: Handle,
  key: Bytes,
  snapHigh: number,
  snapLow: number,
  flags: number,
  what: string,
): number {
  if (encodedSizeBound(key, what, "key") <= slabCopyMax) {
    // At least 4 KiB free: records that do not fit are over 4 KiB, copied out of `shared`.
    const sl = slabWith(slabCopyMax);
    const at = sl.used;
    const klen = writeKey(sl, key, what, at);
    const rc = fn.memtable_get(h, sl.arg, at, sl.capacity, klen, snapHigh, snapLow, flags);
    if (rc !== Status.bufferTooSmall) {
      if (rc === Status.corruption) throw corruptionReport(sl, what, at);
      if (rc < 0) throw statusError(rc, what);
      records = sl;
      recordsAt = at;
      return rc;
    }
  }
  let s = scratchFor(sizeFor(key, undefined, what));
  let rc = fn.memtable_get(
    h,
    s.arg,
    0,
    s.capacity,
    writeKey(s, key, what),
    snapHigh,
    snapLow,
    flags,
  );
  if (rc === Status.bufferTooSmall) {
    // The result is larger than the buffer: ask again with one that holds it.
    const need = s.view.getUint32(0, true);
    if (need === 0xffff_ffff) {
      throw new RangeError(`${what}: the versions to return exceed 4 GiB`);
    }
    s = scratchFor(need);
    rc = fn.memtable_get(h, s.arg, 0, s.capacity, writeKey(s, key, what), snapHigh, snapLow, flags);
  }
  if (rc === Status.corruption) throw corruptionReport(s, what);
  if (rc < 0) throw statusError(rc, what);
  records = s;
  recordsAt = 0;
  return rc;
}

/**
 * Bytes of the realm's shared scratch buffer (0 before the first memtable), for the tests that
 * prove a rejected or large call leaves it as it was. Not exported from mod.ts.
 */
export function sharedScratchBytes(): number {
  return shared === undefined ? 0 : shared.capacity;
}

/** The shared scratch buffer when `need` bytes fit it (growing it up to `scratchRetainMax`),
 * else a buffer of its own for one call. */
function scratchFor(need: number): Scratch {
  const s = shared;
  if (need <= s.capacity) return s;
  if (need <= scratchRetainMax) {
    s.reserve(need);
    return s;
  }
  return new Scratch(need);
}

/** The error for a failed add of `key`. */
function addError(rc: number, what: string, key: Bytes): Error {
  switch (rc) {
    case Status.duplicate:
      return new DuplicateEntryError(
        `${what}: an entry with key ${keyLabel(key)}, this sequence number and type exists`,
      );
    case Status.singleDeleteMisuse:
      return new SingleDeleteMisuseError(
        `${what}: SingleDelete of key ${keyLabel(key)}, which has more than one version or a ` +
          `version that is not a Value since its last SingleDelete (RocksDB leaves this undefined)`,
      );
    case Status.corruption:
      return new CorruptionError(
        `${what}: the entries next to key ${keyLabel(key)} are out of order (memory corruption); ` +
          `nothing was stored`,
      );
    default:
      return statusError(rc, what);
  }
}

/** Bytewise order of the two keys at s[0, a) and s[a, a + b). */
function compareRange(s: Uint8Array, a: number, b: number): number {
  const n = Math.min(a, b);
  for (let i = 0; i < n; i++) if (s[i] !== s[a + i]) return s[i]! - s[a + i]!;
  return a - b;
}

/** A run of Merge records (converted to oldest first) and the version that ends it, if any. */
interface MergeRun {
  seq: SequenceNumber;
  operands: Uint8Array[];
  /** `value` undefined: a deletion (point or range) ends the run. */
  base?: { value: Uint8Array | undefined };
}

/**
 * Reads lookup records (in `s` from `first` on) that start with a Merge record. On Deno the
 * operands and base are views into one copy of the records (one allocation for the run).
 */
function readRun(s: Area, first: number, count: number): MergeRun | undefined {
  const view = s.view;
  if ((view.getUint32(first, true) & 0xff) !== ValueType.Merge) return undefined;
  const seq = sequenceFromTrailer(view.getUint32(first + 4, true), view.getUint32(first, true));
  let end = first;
  for (let i = 0; i < count; i++) end += getRecordHeaderSize + view.getUint32(end + 8, true);
  // Deno: one copy for the run (its operands are views into it, so a large one, which has a
  // buffer of its own, is kept attached as the slab is); Bun: a copy per operand.
  const copy = batchViews ? carve(s, first, end) : undefined;
  if (copy !== undefined && copy.byteLength === copy.buffer.byteLength) keepAttached(copy.buffer);
  const operands: Uint8Array[] = new Array(count);
  let operandCount = 0;
  let base: MergeRun["base"];
  let at = first;
  for (let i = 0; i < count; i++) {
    const type = view.getUint32(at, true) & 0xff;
    const v = at + getRecordHeaderSize;
    const next = v + view.getUint32(at + 8, true);
    at = next;
    const value = copy === undefined
      ? s.bytes.slice(v, next)
      : copy.subarray(v - first, next - first);
    if (type === ValueType.Merge) operands[operandCount++] = value;
    else if (type === ValueType.Value) base = { value };
    else base = { value: undefined };
  }
  operands.length = operandCount;
  operands.reverse();
  return base === undefined ? { seq, operands } : { seq, operands, base };
}

/** How many Merge records the lookup records (in `s` from `first` on) start with. */
function leadingMerges(s: Area, first: number, count: number): number {
  const view = s.view;
  let at = first;
  for (let i = 0; i < count; i++) {
    if ((view.getUint32(at, true) & 0xff) !== ValueType.Merge) return i;
    at += getRecordHeaderSize + view.getUint32(at + 8, true);
  }
  return count;
}

/** The result of a lookup whose `count` records are in `s` from `first` on. */
function decodeGet(
  s: Area,
  first: number,
  count: number,
  op: MergeOperator | undefined,
  key: Bytes,
  what: string,
): GetResult {
  const view = s.view;
  const low = view.getUint32(first, true);
  const type = low & 0xff;
  const seq = sequenceFromTrailer(view.getUint32(first + 4, true), low);
  if (type === ValueType.Value) {
    const v = first + getRecordHeaderSize;
    return { kind: "value", value: carve(s, v, v + view.getUint32(first + 8, true)), seq };
  }
  if (type !== ValueType.Merge) {
    return { kind: "deleted", seq, type: type as typeof ValueType.Deletion };
  }
  if (op === undefined) {
    throw new MergeOperatorError(
      `${what}: key ${keyLabel(key)} has Merge entries and this memtable has no mergeOperator`,
    );
  }
  const run = readRun(s, first, count)!;
  if (run.base === undefined) return { kind: "merge", seq, operands: run.operands };
  return {
    kind: "value",
    value: applyFullMerge(op, bytesOf(key), run.base.value, run.operands),
    seq,
  };
}

const batchScratchSize = 64 * 1024;
const batchEntriesMax = 1024;

/**
 * `entries()`: reads entries in batches through a native cursor it owns. On Deno each entry's
 * key and value are views into that batch's own buffer (copies of native memory, never reused,
 * untransferable); on Bun they are copies of their own and one buffer serves every batch.
 */
class EntryBatches implements IterableIterator<Entry> {
  #it: MemTableIterator | null;
  #batchSize = batchScratchSize;
  #reused: Scratch | undefined;
  #pending: Entry[] = [];
  #index = 0;
  #started = false;

  constructor(h: Handle, snapHigh: number, snapLow: number, flags: number, prefix?: Bytes) {
    this.#it = new MemTableIterator(internalToken, h, snapHigh, snapLow, flags, prefix);
  }

  [Symbol.iterator](): IterableIterator<Entry> {
    return this;
  }

  next(): IteratorResult<Entry> {
    if (this.#index < this.#pending.length) {
      return { value: this.#pending[this.#index++]!, done: false };
    }
    const it = this.#it;
    if (it === null) return { value: undefined, done: true };
    if (!this.#started) {
      this.#started = true;
      it.seekToFirst();
    }
    // Deno: a fresh buffer per batch, since the entries handed out are views into it (one
    // allocation per batch instead of two per entry); it is never written again.
    let s: Scratch;
    if (batchViews) {
      s = new Scratch(this.#batchSize);
      keepAttached(s.bytes.buffer);
    } else {
      s = this.#reused ??= new Scratch(this.#batchSize);
    }
    const n = it.readBatch(s, batchEntriesMax);
    this.#batchSize = Math.max(this.#batchSize, s.capacity);
    if (n === 0) return this.return();
    const pending: Entry[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const [entry, next] = readEntry(s, at);
      pending.push(entry);
      at = next;
    }
    this.#pending = pending;
    this.#index = 1;
    return { value: pending[0]!, done: false };
  }

  return(): IteratorResult<Entry> {
    this.#it?.close();
    this.#it = null;
    this.#pending = [];
    this.#reused = undefined;
    return { value: undefined, done: true };
  }
}

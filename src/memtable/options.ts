/**
 * The options of a memtable, declared once: each is a field of {@linkcode MemTableOptions}
 * (its type and documentation) and an entry of `optionSpecs` below (RocksDB's name, the check
 * with its range, the default). `resolveOptions` checks an options object against them, fills
 * in the defaults and applies the rules between options; `encodeOptions` encodes the result
 * as the record `memtable_new` takes (native code checks it again and keeps it). The share
 * token carries the resolved options whole; `MemTable.attach` encodes them again and compares
 * the record with the one the native memtable keeps, byte for byte.
 *
 * Adding an option, in this file: a field of `MemTableOptions` (type and documentation), its
 * resolved type in `ResolvedOptions` (the compiler holds the spec's check to it: JSR's rule
 * against inferred public types keeps it written out) and a spec entry (RocksDB's name, check,
 * default); `MemTable` then has it as a property. For one native code reads, its native use:
 * a line of `encodeOptions`, a field of `OptionsField` in layout.ts, of `abi.OptionsAbi` and
 * its check in `abi.memtableOptions`, and of memtable.zig's `Options` where it is used.
 *
 * @module
 */
import { checkSequence, type SequenceNumber } from "../coding/sequence.ts";
import { describe } from "../coding/value_type.ts";
import { OptionsField, optionsSize } from "../ffi/layout.ts";
import { checkMergeOperator, type MergeOperator } from "./merge.ts";
import { extractorCode, type PrefixExtractor } from "./prefix.ts";
import { isHashRep, type MemTableRep, repFields, type ResolvedRep, resolveRep } from "./rep.ts";

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
   * Beyond RocksDB (Linux): with `hugePageSize` 0 and arena blocks of 512 KiB or more (a write
   * buffer of 4 MiB or more by default), blocks are carved one after another from 64 MiB
   * mappings advised for transparent huge pages, their sizes and the memory counted unchanged:
   * lookups and inserts pay fewer TLB misses (20–25% faster gets at 1M entries). Default true;
   * it takes effect where the kernel's THP mode is `madvise` or `always`. The price: the process
   * may hold up to one 2 MiB page per memtable beyond what `approximateMemoryUsage()` counts
   * (the part of the last page touched that no block has reached yet). `false` takes every block
   * from the general allocator.
   */
  transparentHugePages?: boolean;
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
   * Beyond RocksDB: a native hash index from user key to its newest version (readers never
   * wait; its memory counts in the memtable's). `get` and `multiGet` at any snapshot start there
   * and walk older versions on level 0: two cache misses instead of a skiplist descent, and an
   * absent key costs about one. Open addressing over 4-byte slots (a node's place in the
   * arena under a few bits of the key's hash) that doubles at three quarters full: 5.3–10.7
   * bytes per distinct key (8.4 at 1M keys), in place of the 1–2 byte whole-key filter a
   * memtable without it keeps; one hash and slot per insert. An arena past 32 GiB turns it off
   * (lookups then search the list). Ordered iteration is unchanged. Default true with rep `"skiplist"` (the only rep it indexes);
   * `false` saves the memory where point reads do not matter.
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

/** Every option with its default filled in, as a memtable reports it. */
export interface ResolvedOptions {
  /** `MemTableOptions.writeBufferSize`, resolved. */
  writeBufferSize: number;
  /** Undefined: derived from `writeBufferSize` natively (`stats().arenaBlockSize` has it). */
  arenaBlockSize: number | undefined;
  /** `MemTableOptions.hugePageSize`, resolved. */
  hugePageSize: number;
  /** `MemTableOptions.transparentHugePages`, resolved. */
  transparentHugePages: boolean;
  /** `MemTableOptions.earliestSeq`, resolved. */
  earliestSeq: SequenceNumber | undefined;
  /** `MemTableOptions.mergeOperator`, resolved. */
  mergeOperator: MergeOperator | undefined;
  /** `MemTableOptions.maxSuccessiveMerges`, resolved. */
  maxSuccessiveMerges: number;
  /** `MemTableOptions.protectionBytesPerKey`, resolved. */
  protectionBytesPerKey: 0 | 1 | 2 | 4 | 8;
  /** `MemTableOptions.paranoidChecks`, resolved. */
  paranoidChecks: boolean;
  /** `MemTableOptions.allowConcurrentWrites`, resolved. */
  allowConcurrentWrites: boolean;
  /** `MemTableOptions.prefixExtractor`, resolved. */
  prefixExtractor: PrefixExtractor | undefined;
  /** As given, at most 0.25 (RocksDB sanitizes it so). */
  memtablePrefixBloomSizeRatio: number;
  /** `MemTableOptions.memtableWholeKeyFiltering`, resolved. */
  memtableWholeKeyFiltering: boolean;
  /** `MemTableOptions.pointIndex`, resolved. */
  pointIndex: boolean;
  /** `MemTableOptions.insertWithHintPrefixExtractor`, resolved. */
  insertWithHintPrefixExtractor: PrefixExtractor | undefined;
  /** `MemTableOptions.rep`, resolved. */
  rep: ResolvedRep;
}

/** How one option is read: RocksDB's name for it and the check that fills in its default. */
interface OptionSpec<K extends keyof MemTableOptions> {
  /** RocksDB's option of the same meaning (undefined: beyond RocksDB). */
  readonly rocksdb: string | undefined;
  /** Checks the given value (undefined: not given) and returns it resolved. */
  readonly parse: (value: MemTableOptions[K]) => ResolvedOptions[K];
}

const defaultWriteBufferSize = 64 * 1024 * 1024;

function positiveSize(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(
      `MemTable: ${name} must be a positive integer number of bytes, got ${describe(value)}`,
    );
  }
  return value;
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") {
    throw new TypeError(`MemTable: ${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

function extractor(value: PrefixExtractor | undefined): PrefixExtractor | undefined {
  if (value !== undefined) extractorCode(value, "MemTable");
  return value;
}

/**
 * The resolved options a memtable has as properties of its own (`mt.writeBufferSize`,
 * `mt.rep`, …): every option but those `stats()` reports (`arenaBlockSize`, `earliestSeq`) or
 * that only shape the arena (`hugePageSize`, `transparentHugePages`). Derived from
 * `ResolvedOptions`, so an option is declared once, here.
 */
export type MemTableOptionValues = Readonly<
  Omit<
    ResolvedOptions,
    "arenaBlockSize" | "hugePageSize" | "transparentHugePages" | "earliestSeq"
  >
>;

export function optionProperties(r: ResolvedOptions): MemTableOptionValues {
  const {
    arenaBlockSize: _block,
    hugePageSize: _huge,
    transparentHugePages: _thp,
    earliestSeq: _earliest,
    ...properties
  } = r;
  return properties;
}

/** Every option, in the order `unknown option` errors list them. */
const optionSpecs: { readonly [K in keyof Required<MemTableOptions>]: OptionSpec<K> } = {
  writeBufferSize: {
    rocksdb: "write_buffer_size",
    parse: (v) => v === undefined ? defaultWriteBufferSize : positiveSize(v, "writeBufferSize"),
  },
  arenaBlockSize: {
    rocksdb: "arena_block_size",
    parse: (v) => v === undefined ? undefined : positiveSize(v, "arenaBlockSize"),
  },
  hugePageSize: {
    rocksdb: "memtable_huge_page_size",
    parse: (v) => {
      const size = v ?? 0;
      if (
        size !== 0 &&
        !(typeof size === "number" && Number.isInteger(size) && size >= 4096 &&
          size <= 1024 ** 3 && (size & (size - 1)) === 0)
      ) {
        throw new RangeError(
          `MemTable: hugePageSize must be 0 or a power of two from 4096 to 2^30, got ${
            describe(size)
          }`,
        );
      }
      return size;
    },
  },
  transparentHugePages: {
    rocksdb: undefined,
    parse: (v) => v === undefined ? true : flag(v, "transparentHugePages"),
  },
  earliestSeq: {
    rocksdb: undefined, // MemTable's constructor argument `earliest_seq`
    parse: (v) => v === undefined ? undefined : checkSequence(v, "MemTable: earliestSeq"),
  },
  mergeOperator: {
    rocksdb: "merge_operator",
    parse: (v) => v === undefined ? undefined : checkMergeOperator(v, "MemTable"),
  },
  maxSuccessiveMerges: {
    rocksdb: "max_successive_merges",
    parse: (v) => {
      const n = v ?? 0;
      if (!(typeof n === "number" && Number.isSafeInteger(n) && n >= 0)) {
        throw new RangeError(
          `MemTable: maxSuccessiveMerges must be a non-negative integer, got ${describe(n)}`,
        );
      }
      return n;
    },
  },
  protectionBytesPerKey: {
    rocksdb: "memtable_protection_bytes_per_key",
    parse: (v) => {
      const n = v ?? 0;
      if (!(n === 0 || n === 1 || n === 2 || n === 4 || n === 8)) {
        throw new RangeError(
          `MemTable: protectionBytesPerKey must be 0, 1, 2, 4 or 8, got ${describe(n)}`,
        );
      }
      return n;
    },
  },
  paranoidChecks: { rocksdb: "paranoid_checks", parse: (v) => flag(v, "paranoidChecks") },
  allowConcurrentWrites: {
    rocksdb: "allow_concurrent_memtable_write",
    parse: (v) => flag(v, "allowConcurrentWrites"),
  },
  prefixExtractor: { rocksdb: "prefix_extractor", parse: extractor },
  memtablePrefixBloomSizeRatio: {
    rocksdb: "memtable_prefix_bloom_size_ratio",
    parse: (v) => {
      const ratio = v ?? 0;
      if (typeof ratio !== "number" || !(ratio >= 0) || !Number.isFinite(ratio)) {
        throw new RangeError(
          `MemTable: memtablePrefixBloomSizeRatio must be a number ≥ 0, got ${describe(ratio)}`,
        );
      }
      return Math.min(ratio, 0.25);
    },
  },
  memtableWholeKeyFiltering: {
    rocksdb: "memtable_whole_key_filtering",
    parse: (v) => flag(v, "memtableWholeKeyFiltering"),
  },
  // Not given, `resolveOptions` turns it on when `rep` is the skiplist.
  pointIndex: { rocksdb: undefined, parse: (v) => flag(v, "pointIndex") },
  insertWithHintPrefixExtractor: {
    rocksdb: "memtable_insert_with_hint_prefix_extractor",
    parse: extractor,
  },
  rep: { rocksdb: "memtable_factory", parse: (v) => resolveRep(v) },
};

/** The options' names, as `unknown option` errors list them. */
export const optionNames: readonly string[] = Object.keys(optionSpecs);

/** RocksDB's name for each option that has one (for documentation and tools). */
export const rocksdbOptionNames: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(optionSpecs).flatMap(([k, s]) => s.rocksdb === undefined ? [] : [[k, s.rocksdb]]),
);

/**
 * Checks `options` and resolves every option (defaults filled in), touching nothing: a bad
 * option throws here, before any native object exists.
 */
export function resolveOptions(options: MemTableOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`MemTable: options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(optionSpecs, name)) {
      throw new TypeError(`MemTable: unknown option "${name}"; known: ${optionNames.join(", ")}`);
    }
  }
  const r = {} as Record<string, unknown>;
  for (const [name, spec] of Object.entries(optionSpecs)) {
    r[name] = (spec.parse as (v: unknown) => unknown)(options[name as keyof MemTableOptions]);
  }
  if (options.pointIndex === undefined) r.pointIndex = (r.rep as ResolvedRep).type === "skiplist";
  checkCombinations(r as unknown as ResolvedOptions);
  return r as unknown as ResolvedOptions;
}

/** The rules between options (RocksDB's, where it has them). */
function checkCombinations(r: ResolvedOptions): void {
  if (r.maxSuccessiveMerges > 0 && r.mergeOperator === undefined) {
    throw new TypeError("MemTable: maxSuccessiveMerges needs a mergeOperator");
  }
  if (r.allowConcurrentWrites && r.maxSuccessiveMerges > 0) {
    throw new TypeError(
      "MemTable: maxSuccessiveMerges cannot be combined with allowConcurrentWrites " +
        "(its lookup and write would not be atomic), as in RocksDB",
    );
  }
  if (isHashRep(r.rep)) {
    if (r.prefixExtractor === undefined) {
      throw new TypeError(
        `MemTable: rep ${r.rep.type} buckets entries by key prefix and needs a ` +
          `prefixExtractor (fixedPrefix(n), cappedPrefix(n) or noopPrefix), as in RocksDB`,
      );
    }
    if (r.allowConcurrentWrites) {
      throw new TypeError(
        `MemTable: rep ${r.rep.type} takes one writer at a time; allowConcurrentWrites ` +
          `needs "skiplist" or "vector" (as in RocksDB)`,
      );
    }
  }
  if (r.rep.type !== "skiplist") {
    if (r.pointIndex) {
      throw new TypeError(
        `MemTable: pointIndex indexes the skiplist; rep ${r.rep.type} finds keys by its ` +
          `own hash (drop pointIndex or use rep "skiplist")`,
      );
    }
    if (r.insertWithHintPrefixExtractor !== undefined) {
      throw new TypeError(
        `MemTable: insertWithHintPrefixExtractor works with rep "skiplist" only (as in ` +
          `RocksDB), not ${r.rep.type}`,
      );
    }
  }
}

/** The resolved options as plain data a share token carries (the merge operator by name). */
export type SharedOptions = Omit<ResolvedOptions, "mergeOperator"> & {
  readonly mergeOperatorName?: string;
};

/** What a share token carries of `r`. */
export function sharedOptions(r: ResolvedOptions): SharedOptions {
  const { mergeOperator, ...rest } = r;
  return mergeOperator === undefined ? rest : { ...rest, mergeOperatorName: mergeOperator.name };
}

/** The options record `memtable_new` takes for resolved options (layout.ts `OptionsField`). */
export function encodeOptions(r: ResolvedOptions): Uint8Array {
  const [extractor, prefixLength] = r.prefixExtractor === undefined
    ? [0, 0]
    : extractorCode(r.prefixExtractor, "MemTable");
  const [hintExtractor, hintPrefixLength] = r.insertWithHintPrefixExtractor === undefined
    ? [0, 0]
    : extractorCode(r.insertWithHintPrefixExtractor, "MemTable");
  const fields: { [K in keyof typeof OptionsField]?: number | bigint } = {
    writeBufferSize: r.writeBufferSize,
    arenaBlockSize: r.arenaBlockSize ?? 0,
    hugePageSize: r.hugePageSize,
    earliestSeq: r.earliestSeq === undefined ? 0xffff_ffff_ffff_ffffn : r.earliestSeq,
    bloomBits: Math.floor(r.writeBufferSize * r.memtablePrefixBloomSizeRatio * 8),
    prefixLength,
    hintPrefixLength,
    protectionBytes: r.protectionBytesPerKey,
    paranoid: r.paranoidChecks ? 1 : 0,
    concurrentWrites: r.allowConcurrentWrites ? 1 : 0,
    wholeKeyFiltering: r.memtableWholeKeyFiltering ? 1 : 0,
    pointIndex: r.pointIndex ? 1 : 0,
    transparentHugePages: r.transparentHugePages ? 1 : 0,
    extractor,
    hintExtractor,
    ...repFields(r.rep),
  };
  const out = new Uint8Array(optionsSize);
  const view = new DataView(out.buffer);
  for (const [name, value] of Object.entries(fields)) {
    const [at, width] = OptionsField[name as keyof typeof OptionsField];
    if (width === 8) view.setBigUint64(at, BigInt(value), true);
    else if (width === 4) view.setUint32(at, Number(value), true);
    else view.setUint8(at, Number(value));
  }
  return out;
}

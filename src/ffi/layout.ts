/**
 * Limits and layout constants shared with `native/src/limits.zig`. The loader compares them
 * with what the library reports (`memtable_layout`) and refuses a library that disagrees.
 *
 * @module
 */

/** This package's version (package.json and deno.json say the same; a test checks it). */
export const packageVersion = "0.1.0";

/** Bumped with every change to an export's signature or a shared layout. */
export const abiVersion = 18;
/** RocksDB's InlineSkipList defaults. */
export const skiplistHeightMax = 12;
export const skiplistBranching = 4;
/** Largest user key accepted (8 MiB): see limits.zig for the reason. */
export const keySizeMax = 8 * 1024 * 1024;
/** Largest value accepted (256 MiB): see limits.zig for the reason. */
export const valueSizeMax = 256 * 1024 * 1024;
/** Sequence numbers are 56-bit: the high bits of the internal-key trailer. */
export const sequenceMax = (1n << 56n) - 1n;
/** `fixed64 trailer ‖ fixed32 klen ‖ fixed32 vlen` before every entry copied out. */
export const entryOutHeaderSize = 16;
/** `fixed64 trailer ‖ fixed32 vlen` before every get() record. */
export const getRecordHeaderSize = 12;
/** Bytes before each key's records in `memtable_multi_get`'s answer: their count (fixed32). */
export const multiGetCountSize = 4;

/** Native status codes (negative results of fallible exports). */
export const Status = {
  duplicate: -1,
  outOfMemory: -2,
  bufferTooSmall: -3,
  invalidArgument: -4,
  badHandle: -5,
  corruption: -6,
  singleDeleteMisuse: -7,
  badBatch: -8,
  concurrentWrite: -9,
  immutable: -10,
  lockHeld: -11,
  ioError: -12,
} as const;

/** Iterator flags (`memtable_iter_new`; bit 1 is also the lookups' `ignoreRangeDeletions`). */
export const IteratorFlags = {
  rangeTable: 1,
  ignoreRangeDeletions: 2,
  prefixSameAsStart: 4,
  totalOrderSeek: 8,
} as const;

/** The words of `memtable_stats`, by index (`memtable_stat` reads one). */
export const StatsWord = {
  numEntries: 0,
  numDeletes: 1,
  dataSize: 2,
  firstSeq: 3,
  earliestSeq: 4,
  memoryUsage: 5,
  arenaAllocatedBytes: 6,
  arenaBlockSize: 7,
  writeBufferSize: 8,
  numRangeDeletes: 9,
  bloomHits: 10,
  bloomMisses: 11,
  immutable: 12,
  rep: 13,
} as const;
export const statsWordCount = 14;

/** What `memtable_get_into` returns besides statuses. */
export const GetIntoResult = { absent: 0, found: 1, merge: 2, mergeTooLarge: 3 } as const;

/** `memtable_share`'s failures. */
export const ShareFailure = { badHandle: -1, tooMany: -2 } as const;
/** `memtable_share`/`memtable_attach` kinds. */
export const ShareKind = { memtable: 1, sequenceAllocator: 2 } as const;

/** Representation codes (`OptionsAbi.rep_kind`, stats word `rep`). */
export const RepCode = { skiplist: 0, hashSkipList: 1, hashLinkList: 2, vector: 3 } as const;
/** Prefix extractor kinds (0: none). */
export const ExtractorKind = { fixed: 1, capped: 2, noop: 3 } as const;

/**
 * `memtable_new`'s options record (native `abi.OptionsAbi`): each field's byte offset and
 * width, little-endian, in declaration order. The layout check compares the offsets.
 */
export const OptionsField = {
  writeBufferSize: [0, 8],
  arenaBlockSize: [8, 8],
  hugePageSize: [16, 8],
  earliestSeq: [24, 8],
  bloomBits: [32, 8],
  repBucketCount: [40, 4],
  repThreshold: [44, 4],
  repReserve: [48, 4],
  prefixLength: [52, 4],
  hintPrefixLength: [56, 4],
  protectionBytes: [60, 1],
  paranoid: [61, 1],
  concurrentWrites: [62, 1],
  wholeKeyFiltering: [63, 1],
  pointIndex: [64, 1],
  extractor: [65, 1],
  hintExtractor: [66, 1],
  repKind: [67, 1],
  repHeight: [68, 1],
  repBranching: [69, 1],
  transparentHugePages: [70, 1],
  reserved: [71, 9],
} as const satisfies Record<string, readonly [number, number]>;
export const optionsSize = 80;

/** The words `memtable_layout` must report, in order, each with its name (for the error). */
export const layoutWords: readonly (readonly [string, number])[] = [
  ["abi version", abiVersion],
  ["skiplist height max", skiplistHeightMax],
  ["skiplist branching", skiplistBranching],
  ["key size max", keySizeMax],
  ["value size max", valueSizeMax],
  ["sequence max (high)", Number(sequenceMax >> 32n)],
  ["sequence max (low)", Number(sequenceMax & 0xffff_ffffn)],
  ["entry out header size", entryOutHeaderSize],
  ["get record header size", getRecordHeaderSize],
  ...Object.entries(Status).map(([k, v]) => [`status ${k}`, v >>> 0] as const),
  ["stats words", statsWordCount],
  ...Object.entries(GetIntoResult).map(([k, v]) => [`getInto ${k}`, v] as const),
  ...Object.entries(ShareFailure).map(([k, v]) => [`share ${k}`, v >>> 0] as const),
  ["multiGet count size", multiGetCountSize],
  ...Object.entries(IteratorFlags).map(([k, v]) => [`iterator flag ${k}`, v] as const),
  ...Object.entries(ShareKind).map(([k, v]) => [`share kind ${k}`, v] as const),
  ...Object.entries(RepCode).map(([k, v]) => [`rep ${k}`, v] as const),
  ...Object.entries(ExtractorKind).map(([k, v]) => [`extractor ${k}`, v] as const),
  ["options size", optionsSize],
  ...Object.entries(OptionsField).map(([k, [at]]) => [`options.${k} offset`, at] as const),
];

/** The words alone. */
export const expectedLayout: readonly number[] = layoutWords.map(([, v]) => v);

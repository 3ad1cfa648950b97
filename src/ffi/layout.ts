/**
 * Limits and layout constants shared with `native/src/limits.zig`. The loader compares them
 * with what the library reports (`memtable_layout`) and refuses a library that disagrees.
 *
 * @module
 */

/** This package's version (package.json and deno.json say the same; a test checks it). */
export const packageVersion = "0.1.0";

/** Bumped with every change to an export's signature or a shared layout. */
export const abiVersion = 12;
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

/** The words `memtable_layout` must report, in order. */
export const expectedLayout: readonly number[] = [
  abiVersion,
  skiplistHeightMax,
  skiplistBranching,
  keySizeMax,
  valueSizeMax,
  Number(sequenceMax >> 32n),
  Number(sequenceMax & 0xffff_ffffn),
  entryOutHeaderSize,
  getRecordHeaderSize,
  Status.duplicate >>> 0,
  Status.outOfMemory >>> 0,
  Status.bufferTooSmall >>> 0,
  Status.invalidArgument >>> 0,
  Status.badHandle >>> 0,
  Status.corruption >>> 0,
  Status.singleDeleteMisuse >>> 0,
  Status.badBatch >>> 0,
  Status.concurrentWrite >>> 0,
  Status.immutable >>> 0,
  Status.lockHeld >>> 0,
  Status.ioError >>> 0,
];

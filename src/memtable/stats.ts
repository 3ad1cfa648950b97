/**
 * A memtable's counters and memory figures, read natively in one call (`memtable_stats`): the
 * words and their order are part of the ABI (exports.zig).
 *
 * @module
 */
import type { Handle, Scratch } from "../ffi/native.ts";
import { statsWordCount, Status } from "../ffi/layout.ts";
import { statusError } from "../ffi/status.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import { fn, shared } from "./realm.ts";

/** Counters and memory figures of a memtable. */
export interface MemTableStats {
  /** Entries added (point entries and range tombstones). */
  numEntries: number;
  /** Deletion, SingleDeletion and RangeDeletion entries among them. */
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
  /** The arena's block size in bytes, as resolved from the options. */
  arenaBlockSize: number;
  /** The memory budget in bytes: `shouldFlush()` turns true at it. */
  writeBufferSize: number;
}

export { StatsWord } from "../ffi/layout.ts";
const seqUnset = 0xffff_ffff;

/** Reads the stats words of `h` into the shared scratch buffer. */
export function readStats(h: Handle, what: string): Scratch {
  const s = shared;
  const rc = fn.memtable_stats(h, s.arg, s.capacity);
  if (rc !== statsWordCount) throw statusError(rc, what);
  return s;
}

export function u64Word(s: Scratch, index: number): number {
  return s.view.getUint32(index * 8, true) + s.view.getUint32(index * 8 + 4, true) * 0x1_0000_0000;
}

export function seqWord(s: Scratch, index: number): SequenceNumber | undefined {
  const low = s.view.getUint32(index * 8, true);
  const high = s.view.getUint32(index * 8 + 4, true);
  if (high === seqUnset && low === seqUnset) return undefined;
  return high < 0x20_0000 ? high * 0x1_0000_0000 + low : (BigInt(high) << 32n) | BigInt(low);
}

/** One counter of `h` (a stats word below 2^53, read alone). */
export function readStat(h: Handle, word: number, what: string): number {
  const v = fn.memtable_stat(h, word);
  if (v < 0) throw statusError(Status.badHandle, what);
  return v;
}

/**
 * A memtable's counters and memory figures, read natively in one call (`memtable_stats`): the
 * words and their order are part of the ABI (exports.zig).
 *
 * @module
 */
import type { Handle, Scratch } from "../ffi/native.ts";
import { statusError } from "../ffi/status.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import { fn, shared } from "./realm.ts";

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

/** How many words `memtable_stats` writes, and what each is. */
export const statsWords = 14;
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
const seqUnset = 0xffff_ffff;

/** Reads the stats words of `h` into the shared scratch buffer. */
export function readStats(h: Handle, what: string): Scratch {
  const s = shared;
  const rc = fn.memtable_stats(h, s.arg, s.capacity);
  if (rc !== statsWords) throw statusError(rc, what);
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

/**
 * A point lookup inside one data block, as RocksDB's `DataBlockIter::SeekForGet` does it: a
 * binary search of the restart points (whose keys are stored whole), then entries decoded from
 * the last restart before the key until its versions end — instead of decoding every entry of
 * the block. Keys are compared in a reused buffer; only the matching entries are copied out.
 *
 * @module
 */
import { CorruptionError } from "../errors.ts";
import { decodeFixed32 as readFixed32 } from "../coding/varint.ts";
import { compareUserKeyOf } from "../coding/internal_key.ts";
import type { BlockEntry } from "./format.ts";

/** The versions of one user key found in a block (see `versionsInBlock`). */
export interface BlockVersions {
  /** Entries whose user key is the one sought, in block order (newest first). */
  entries: BlockEntry[];
  /** The block holds a greater user key after them: no later block holds the key. */
  past: boolean;
}

/** A read position in a block's entries (below `limit`). */
interface Reader {
  readonly b: Uint8Array;
  readonly limit: number;
  readonly what: string;
  at: number;
}

/** The varint32 at `r.at`, which moves past it. */
function varint(r: Reader): number {
  let v = 0;
  for (let shift = 0; shift <= 28; shift += 7) {
    if (r.at >= r.limit) break;
    const byte = r.b[r.at++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return v;
  }
  throw new CorruptionError(`${r.what}: a varint runs past the block`);
}

/**
 * Decodes a block's entries one at a time, each internal key rebuilt in one reused buffer
 * (prefix compression: an entry shares the start of the one before it). After `step`,
 * `key[0, length)` is the entry's internal key and `[value, value + valueLength)` of the block
 * its value, and the reader stands at the next entry.
 */
class EntryDecoder {
  key = new Uint8Array(64);
  length = 0;
  value = 0;
  valueLength = 0;

  step(r: Reader): void {
    const { b, limit, what } = r;
    const shared = varint(r);
    const nonShared = varint(r);
    const valueLength = varint(r);
    const at = r.at;
    const length = shared + nonShared;
    if (shared > this.length || at + nonShared > limit || length < 8) {
      throw new CorruptionError(`${what}: an entry's key runs past the block`);
    }
    if (length > this.key.length) {
      const grown = new Uint8Array(Math.max(length, 2 * this.key.length));
      grown.set(this.key.subarray(0, shared));
      this.key = grown;
    }
    const key = this.key;
    if (nonShared <= 32) {
      for (let i = 0; i < nonShared; i++) key[shared + i] = b[at + i]!;
    } else key.set(b.subarray(at, at + nonShared), shared);
    const value = at + nonShared;
    if (value + valueLength > limit) {
      throw new CorruptionError(`${what}: a value runs past the block`);
    }
    this.length = length;
    this.value = value;
    this.valueLength = valueLength;
    r.at = value + valueLength;
  }
}

/** Compares the user key of the internal key at `b[at, at + length)` with `user`. */
function compareAt(b: Uint8Array, at: number, length: number, user: Uint8Array): number {
  const n = length - 8;
  const m = Math.min(n, user.length);
  for (let i = 0; i < m; i++) {
    const d = b[at + i]! - user[i]!;
    if (d !== 0) return d;
  }
  return n - user.length;
}

/**
 * The entries of the data block `contents` (its uncompressed bytes, restart array included)
 * whose internal key's user key is `userKey`; `what` names the block in errors.
 */
export function versionsInBlock(
  contents: Uint8Array,
  userKey: Uint8Array,
  what: string,
): BlockVersions {
  if (contents.length < 4) throw new CorruptionError(`${what}: the block is too short`);
  const restarts = readFixed32(contents, contents.length - 4) & 0x7fff_ffff;
  const limit = contents.length - 4 - 4 * restarts;
  if (restarts < 1 || limit < 0) {
    throw new CorruptionError(`${what}: the block's restart array is damaged`);
  }
  const r: Reader = { b: contents, limit, what, at: 0 };
  // The first restart whose key is not below userKey; the search starts one before it.
  let lo = 0;
  let hi = restarts;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    r.at = readFixed32(contents, limit + 4 * mid);
    const shared = varint(r);
    const nonShared = varint(r);
    varint(r); // the value's length
    if (shared !== 0 || nonShared < 8 || r.at + nonShared > limit) {
      throw new CorruptionError(`${what}: the key at a restart point is damaged`);
    }
    if (compareAt(contents, r.at, nonShared, userKey) < 0) lo = mid + 1;
    else hi = mid;
  }
  r.at = lo === 0 ? 0 : readFixed32(contents, limit + 4 * (lo - 1));
  const entries: BlockEntry[] = [];
  const d = new EntryDecoder();
  while (r.at < limit) {
    d.step(r);
    const c = compareUserKeyOf(d.key, d.length, userKey);
    if (c > 0) return { entries, past: true };
    if (c === 0) {
      entries.push({
        key: d.key.slice(0, d.length),
        value: contents.slice(d.value, d.value + d.valueLength),
      });
    }
  }
  if (r.at !== limit) throw new CorruptionError(`${what}: the entries overrun the restart array`);
  return { entries, past: false };
}

/** One entry of a data block: its user key and value (copies) and its trailer's two halves. */
export interface DataEntry {
  key: Uint8Array;
  /** The trailer's low 32 bits (the type in the low byte) and high 32 bits. */
  low: number;
  high: number;
  value: Uint8Array;
}

/**
 * Every entry of the data block `contents`, in order, its internal key rebuilt in one reused
 * buffer and only the user key copied out (one allocation per key instead of three).
 */
export function dataEntries(contents: Uint8Array, what: string): DataEntry[] {
  if (contents.length < 4) throw new CorruptionError(`${what}: the block is too short`);
  const restarts = readFixed32(contents, contents.length - 4) & 0x7fff_ffff;
  const limit = contents.length - 4 - 4 * restarts;
  if (restarts < 1 || limit < 0) {
    throw new CorruptionError(`${what}: the block's restart array is damaged`);
  }
  const r: Reader = { b: contents, limit, what, at: 0 };
  const out: DataEntry[] = [];
  const d = new EntryDecoder();
  while (r.at < limit) {
    d.step(r);
    const { key, length, value } = d;
    out.push({
      key: key.slice(0, length - 8),
      low: readFixed32(key, length - 8),
      high: readFixed32(key, length - 4),
      value: contents.slice(value, value + d.valueLength),
    });
  }
  if (r.at !== limit) throw new CorruptionError(`${what}: the entries overrun the restart array`);
  return out;
}

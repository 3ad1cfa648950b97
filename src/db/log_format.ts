/**
 * RocksDB's log format, the framing of both the write-ahead log (`NNNNNN.log`) and the
 * MANIFEST: a file of 32 KiB blocks; a record is cut into fragments that never cross a block,
 * each behind a 7-byte header `u32le masked crc32c(type ‖ payload) ‖ u16le length ‖ u8 type`
 * (FULL, or FIRST, MIDDLE…, LAST). A block with fewer than 7 bytes left is padded with zeros.
 *
 * `LogWriter` frames records for appending; `readLog` splits a file back into records and says
 * where and how it stopped (a torn last record, a checksum mismatch, a bad header), so that
 * recovery can apply RocksDB's `wal_recovery_mode` rules. Recyclable records (types 5–8) are
 * read; types from 9 on end the log, as they do in RocksDB 7.8.
 *
 * @module
 */
import { crc32c, maskCrc } from "../table/format.ts";

/** Bytes per block. */
export const logBlockSize = 32 * 1024;
/** Bytes of a fragment's header (recyclable records add a u32 log number). */
export const logHeaderSize = 7;
const recyclableHeaderSize = 11;

/** Fragment types. Do not change: they are part of the file format. */
export const RecordType = {
  zero: 0,
  full: 1,
  first: 2,
  middle: 3,
  last: 4,
  recyclableFull: 5,
  recyclableFirst: 6,
  recyclableMiddle: 7,
  recyclableLast: 8,
} as const;

/** The CRCs of the type bytes, so a fragment's checksum extends them (as RocksDB's writer). */
const typeBytes = [1, 2, 3, 4].map((t) => new Uint8Array([t]));

/**
 * Frames records for a log file that already holds `offset` bytes (0 for a new file): each
 * `frame(payload)` returns the bytes to append — headers, fragments and any block padding —
 * and advances the writer's position.
 */
export class LogWriter {
  #blockOffset: number;

  constructor(offset = 0) {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`LogWriter: offset must be a non-negative integer, got ${offset}`);
    }
    this.#blockOffset = offset % logBlockSize;
  }

  /** The bytes that append `payload` as one record. */
  frame(payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.framedSize(payload.length));
    let at = 0;
    let left = payload.length;
    let from = 0;
    let begin = true;
    for (;;) {
      const room = logBlockSize - this.#blockOffset;
      if (room < logHeaderSize) {
        at += room; // zero padding: the reader skips a tail shorter than a header
        this.#blockOffset = 0;
        continue;
      }
      const length = Math.min(left, room - logHeaderSize);
      const end = length === left;
      const type = begin && end
        ? RecordType.full
        : begin
        ? RecordType.first
        : end
        ? RecordType.last
        : RecordType.middle;
      const fragment = payload.subarray(from, from + length);
      const crc = maskCrc(crc32c(typeBytes[type - 1]!, fragment));
      out[at] = crc & 0xff;
      out[at + 1] = (crc >>> 8) & 0xff;
      out[at + 2] = (crc >>> 16) & 0xff;
      out[at + 3] = crc >>> 24;
      out[at + 4] = length & 0xff;
      out[at + 5] = length >>> 8;
      out[at + 6] = type;
      out.set(fragment, at + logHeaderSize);
      at += logHeaderSize + length;
      this.#blockOffset += logHeaderSize + length;
      from += length;
      left -= length;
      begin = false;
      if (end) return out;
    }
  }

  /** How many bytes `frame` makes of a payload of `length` bytes from the current position. */
  framedSize(length: number): number {
    let size = 0;
    let offset = this.#blockOffset;
    let left = length;
    for (;;) {
      const room = logBlockSize - offset;
      if (room < logHeaderSize) {
        size += room;
        offset = 0;
        continue;
      }
      const n = Math.min(left, room - logHeaderSize);
      size += logHeaderSize + n;
      offset += logHeaderSize + n;
      left -= n;
      if (left === 0) return size;
    }
  }
}

/** How a read of a log ended. */
export type LogEnd =
  | { kind: "clean" }
  /** The last record was cut short (the writer died while appending it). */
  | { kind: "truncated"; offset: number }
  /** A damaged fragment: a bad checksum, length or type, or a fragment out of sequence. */
  | { kind: "corrupt"; offset: number; reason: string };

/** One record of a log and where it starts in the file. */
export interface LogRecord {
  readonly offset: number;
  readonly payload: Uint8Array;
}

/**
 * Reads the records of a log file's bytes. With `skipCorrupt`, a damaged record is skipped
 * and reading goes on at the next block (RocksDB's kSkipAnyCorruptedRecords); otherwise
 * reading stops at the first damage, which `end` reports with the records read before it.
 *
 * Length: one loop of RocksDB's reader, past the ~70-line guide on purpose: every fragment check
 * moves the same cursor, partial record and skip count, which split functions would pass back
 * and forth.
 */
export function readLog(
  bytes: Uint8Array,
  options: { skipCorrupt?: boolean } = {},
): { records: LogRecord[]; end: LogEnd; skipped: number } {
  const records: LogRecord[] = [];
  let parts: Uint8Array[] = [];
  let start = -1;
  let at = 0;
  let skipped = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Skipping (as RocksDB's reader): a damaged fragment takes the rest of its block with it (its
  // length cannot be trusted); a fragment out of sequence is dropped alone.
  // Damage with nothing but zeros after it is a record torn by a writer that died while
  // copying it into preallocated space (a memory-mapped log's zero tail): the log's end.
  const zerosFrom = (from: number): boolean => {
    for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
    return true;
  };
  const damage = (
    offset: number,
    reason: string,
    next?: number,
    extent?: number,
  ): LogEnd | undefined => {
    if (extent !== undefined && zerosFrom(Math.min(extent, bytes.length))) {
      at = bytes.length;
      return { kind: "truncated", offset: start >= 0 ? start : offset };
    }
    if (!options.skipCorrupt) return { kind: "corrupt", offset, reason };
    skipped++;
    parts = [];
    start = -1;
    at = next ?? (Math.floor(at / logBlockSize) + 1) * logBlockSize;
    return undefined;
  };
  while (at < bytes.length) {
    const inBlock = at % logBlockSize;
    const room = logBlockSize - inBlock;
    if (room < logHeaderSize) {
      at += room;
      continue;
    }
    if (bytes.length - at < logHeaderSize) {
      return { records, end: { kind: "truncated", offset: start >= 0 ? start : at }, skipped };
    }
    const stored = view.getUint32(at, true);
    const length = view.getUint16(at + 4, true);
    const type = bytes[at + 6]!;
    if (type === RecordType.zero && length === 0 && stored === 0) {
      // A zero-filled tail (preallocated space) ends the log. Zeros with records after them
      // are a hole (pages of a preallocated log lost to a power cut): nothing after it may be
      // applied as if it followed.
      if (zerosFrom(at)) break;
      const end = damage(at, "zeros before further records (a hole in the log)");
      if (end) return { records, end, skipped };
      continue;
    }
    const header = type >= RecordType.recyclableFull && type <= RecordType.recyclableLast
      ? recyclableHeaderSize
      : logHeaderSize;
    if (type === 0 || type > RecordType.recyclableLast) {
      // RocksDB 7.8 ends replay at a type it does not know (newer formats' record kinds).
      // (Type 0 with a checksum: a header torn while it was copied, when zeros follow it.)
      const torn = type === 0 ? at + logHeaderSize : undefined;
      const end = damage(at, `unknown record type ${type}`, undefined, torn);
      if (end) return { records, end, skipped };
      continue;
    }
    if (at + header + length > bytes.length) {
      return { records, end: { kind: "truncated", offset: start >= 0 ? start : at }, skipped };
    }
    if (inBlock + header + length > logBlockSize) {
      const end = damage(at, `a fragment of ${length} bytes runs past its block`);
      if (end) return { records, end, skipped };
      continue;
    }
    const body = bytes.subarray(at + 6, at + header + length); // type ‖ [log number] ‖ payload
    if (maskCrc(crc32c(body)) !== stored) {
      const end = damage(at, "checksum mismatch", undefined, at + header + length);
      if (end) return { records, end, skipped };
      continue;
    }
    const payload = bytes.subarray(at + header, at + header + length);
    const kind = type > RecordType.last ? type - 4 : type;
    if (kind === RecordType.full || kind === RecordType.first) {
      if (parts.length > 0) {
        // The unfinished record is dropped; this fragment starts afresh.
        const end = damage(start, "a record without its last fragment", at);
        if (end) return { records, end, skipped };
      }
      start = at;
    } else if (parts.length === 0) {
      const end = damage(at, "a fragment without its first", at + header + length);
      if (end) return { records, end, skipped };
      continue;
    }
    parts.push(payload);
    at += header + length;
    if (kind === RecordType.full || kind === RecordType.last) {
      records.push({ offset: start, payload: concat(parts) });
      parts = [];
      start = -1;
    }
  }
  if (parts.length > 0) return { records, end: { kind: "truncated", offset: start }, skipped };
  return { records, end: { kind: "clean" }, skipped };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

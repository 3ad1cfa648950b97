/**
 * WriteBatch: a group of writes applied atomically, in RocksDB's own representation
 * (`db/write_batch.cc`), so the bytes this class produces are what RocksDB writes into its WAL:
 *
 *     fixed64 sequence ‖ fixed32 count ‖ record*
 *     record: tag ‖ varint32 len ‖ key [‖ varint32 len ‖ value]
 *
 * Tags: Deletion 0x0, Value 0x1, Merge 0x2, LogData 0x3, SingleDeletion 0x7, RangeDeletion 0xF
 * (and the column-family forms 0x4–0x6, 0x8, 0xE, Noop 0xD when decoding). LogData and Noop
 * records are not counted.
 *
 * @module
 */
import { WriteBatchError } from "../errors.ts";
import { keySizeMax, valueSizeMax } from "../ffi/layout.ts";
import { checkSequence, type SequenceNumber } from "../coding/sequence.ts";
import { describe, ValueType } from "../coding/value_type.ts";
import type { Bytes } from "../memtable/bytes.ts";

/** RocksDB's record tags used in write batches. */
export const BatchTag = {
  Deletion: 0x0,
  Value: 0x1,
  Merge: 0x2,
  LogData: 0x3,
  ColumnFamilyDeletion: 0x4,
  ColumnFamilyValue: 0x5,
  ColumnFamilyMerge: 0x6,
  SingleDeletion: 0x7,
  ColumnFamilySingleDeletion: 0x8,
  Noop: 0xd,
  ColumnFamilyRangeDeletion: 0xe,
  RangeDeletion: 0xf,
} as const;

/** A decoded record of a batch. `value` is the end key of a RangeDeletion. */
export interface WriteBatchRecord {
  /** The record's type (Value, Merge, Deletion, SingleDeletion, RangeDeletion). */
  type: ValueType;
  /** The key (the start key of a RangeDeletion). */
  key: Uint8Array;
  /** The value or operand, the end key of a RangeDeletion, empty for deletions. */
  value: Uint8Array;
}

export const batchHeaderSize = 12;
const encoder = new TextEncoder();
const empty: Uint8Array = new Uint8Array(0);

function toBytes(data: unknown, what: string, role: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return encoder.encode(data);
  throw new TypeError(`${what}: ${role} must be a Uint8Array or a string, got ${describe(data)}`);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * A batch of writes, applied with `MemTable.write(batch, seq)`: all of it or none, its records
 * taking consecutive sequence numbers from `seq` on in the order they were added.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType, WriteBatch } from "../../mod.ts";
 * const batch = new WriteBatch().put("a", "1").put("b", "2").delete("c").deleteRange("x", "z");
 * assert.equal(batch.count, 4);
 * using mt = new MemTable();
 * mt.write(batch, 100); // a@100, b@101, c@102 (deletion), [x, z)@103
 * const r = mt.get("b");
 * assert(r.kind === "value");
 * assert.equal(r.seq, 101);
 * ```
 */
export class WriteBatch {
  #rep: Uint8Array;
  #view: DataView;
  #size = batchHeaderSize;
  #count = 0;
  #hasMerge = false;

  constructor() {
    this.#rep = new Uint8Array(256);
    this.#view = new DataView(this.#rep.buffer);
  }

  /**
   * A batch over a copy of `bytes` (RocksDB's representation, e.g. from a WAL). It is checked
   * when applied or decoded; a malformed one throws `WriteBatchError` then.
   */
  static from(bytes: Uint8Array): WriteBatch {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`WriteBatch.from(): expected a Uint8Array, got ${describe(bytes)}`);
    }
    if (bytes.length < batchHeaderSize) {
      throw new WriteBatchError(
        `WriteBatch.from(): ${bytes.length} bytes is shorter than the 12-byte header`,
      );
    }
    const b = new WriteBatch();
    b.#reserve(bytes.length);
    b.#rep.set(bytes);
    b.#size = bytes.length;
    b.#count = b.#view.getUint32(8, true);
    b.#hasMerge = true; // unknown without decoding: callers that care decode
    return b;
  }

  #reserve(extra: number): void {
    const need = this.#size + extra;
    if (need <= this.#rep.length) return;
    let cap = this.#rep.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#rep.subarray(0, this.#size));
    this.#rep = next;
    this.#view = new DataView(next.buffer);
  }

  #varint(v: number): void {
    while (v >= 0x80) {
      this.#rep[this.#size++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#rep[this.#size++] = v;
  }

  #slice(data: Uint8Array): void {
    this.#varint(data.length);
    this.#rep.set(data, this.#size);
    this.#size += data.length;
  }

  #record(tag: number, key: Uint8Array, value: Uint8Array | undefined, counted = true): this {
    this.#reserve(1 + 5 + key.length + (value === undefined ? 0 : 5 + value.length));
    this.#rep[this.#size++] = tag;
    this.#slice(key);
    if (value !== undefined) this.#slice(value);
    if (counted) {
      this.#count++;
      this.#view.setUint32(8, this.#count, true);
    }
    return this;
  }

  #key(key: unknown, what: string, role = "key"): Uint8Array {
    const k = toBytes(key, what, role);
    if (k.length > keySizeMax) {
      throw new RangeError(`${what}: ${role} is ${k.length} bytes, the maximum is ${keySizeMax}`);
    }
    return k;
  }

  #value(value: unknown, what: string): Uint8Array {
    const v = toBytes(value, what, "value");
    if (v.length > valueSizeMax) {
      throw new RangeError(`${what}: value is ${v.length} bytes, the maximum is ${valueSizeMax}`);
    }
    return v;
  }

  /** Adds a Value record. Returns the batch (chainable). */
  put(key: Bytes, value: Bytes): this {
    const k = this.#key(key, "WriteBatch.put()");
    return this.#record(BatchTag.Value, k, this.#value(value, "WriteBatch.put()"));
  }

  /** Adds a Deletion record. */
  delete(key: Bytes): this {
    return this.#record(BatchTag.Deletion, this.#key(key, "WriteBatch.delete()"), undefined);
  }

  /** Adds a SingleDeletion record (see `ValueType.SingleDeletion` for its contract). */
  singleDelete(key: Bytes): this {
    return this.#record(
      BatchTag.SingleDeletion,
      this.#key(key, "WriteBatch.singleDelete()"),
      undefined,
    );
  }

  /** Adds a Merge record: `operand` for the memtable's merge operator. */
  merge(key: Bytes, operand: Bytes): this {
    const k = this.#key(key, "WriteBatch.merge()");
    this.#hasMerge = true;
    return this.#record(BatchTag.Merge, k, this.#value(operand, "WriteBatch.merge()"));
  }

  /** Adds a RangeDeletion record for the keys in [start, end). Throws if end < start. */
  deleteRange(start: Bytes, end: Bytes): this {
    const s = this.#key(start, "WriteBatch.deleteRange()", "start");
    const e = this.#key(end, "WriteBatch.deleteRange()", "end");
    if (compareBytes(s, e) > 0) {
      throw new RangeError("WriteBatch.deleteRange(): end comes before start");
    }
    return this.#record(BatchTag.RangeDeletion, s, e);
  }

  /**
   * Adds a LogData blob: carried in the batch (and a WAL) but applied to nothing and not
   * counted (RocksDB's `PutLogData`).
   */
  putLogData(blob: Bytes): this {
    const b = this.#value(blob, "WriteBatch.putLogData()");
    this.#reserve(1 + 5 + b.length);
    this.#rep[this.#size++] = BatchTag.LogData;
    this.#slice(b);
    return this;
  }

  /** Removes every record. */
  clear(): void {
    this.#size = batchHeaderSize;
    this.#count = 0;
    this.#hasMerge = false;
    this.#rep.fill(0, 0, batchHeaderSize);
  }

  /** Number of counted records (every record but LogData and Noop). */
  get count(): number {
    return this.#count;
  }

  /** Size of the representation in bytes, header included (RocksDB's `GetDataSize`). */
  get byteSize(): number {
    return this.#size;
  }

  /** The sequence number in the header (0 until a writer sets it). */
  get sequence(): SequenceNumber {
    const low = this.#view.getUint32(0, true);
    const high = this.#view.getUint32(4, true);
    return high < 0x20_0000 ? high * 0x1_0000_0000 + low : (BigInt(high) << 32n) | BigInt(low);
  }

  /** Sets the header's sequence number (a WAL writer does this before logging the batch). */
  set sequence(seq: SequenceNumber) {
    const s = BigInt(checkSequence(seq, "WriteBatch.sequence"));
    this.#view.setBigUint64(0, s, true);
  }

  /** @internal Whether a Merge record may be present. */
  get mayHaveMerge(): boolean {
    return this.#hasMerge;
  }

  /** A copy of the representation. */
  data(): Uint8Array {
    return this.#rep.slice(0, this.#size);
  }

  /** @internal The representation without copying (valid until the batch changes). */
  view(): Uint8Array {
    return this.#rep.subarray(0, this.#size);
  }

  /**
   * Decodes the counted records in order, with RocksDB's rules (column family 0 only). Throws
   * `WriteBatchError` for a malformed batch.
   */
  records(): WriteBatchRecord[] {
    return decodeBatch(this.view());
  }
}

const tagTypes: Record<number, ValueType> = {
  [BatchTag.Deletion]: ValueType.Deletion,
  [BatchTag.ColumnFamilyDeletion]: ValueType.Deletion,
  [BatchTag.Value]: ValueType.Value,
  [BatchTag.ColumnFamilyValue]: ValueType.Value,
  [BatchTag.Merge]: ValueType.Merge,
  [BatchTag.ColumnFamilyMerge]: ValueType.Merge,
  [BatchTag.SingleDeletion]: ValueType.SingleDeletion,
  [BatchTag.ColumnFamilySingleDeletion]: ValueType.SingleDeletion,
  [BatchTag.RangeDeletion]: ValueType.RangeDeletion,
  [BatchTag.ColumnFamilyRangeDeletion]: ValueType.RangeDeletion,
};
const cfTags = new Set<number>([
  BatchTag.ColumnFamilyDeletion,
  BatchTag.ColumnFamilyValue,
  BatchTag.ColumnFamilyMerge,
  BatchTag.ColumnFamilySingleDeletion,
  BatchTag.ColumnFamilyRangeDeletion,
]);
/** The highest tag RocksDB defines; the ones up to it not listed above are unsupported. */
const knownTagMax = 0x19;

/** Why the native side refused a batch, by the reason code of `write_batch.zig`. */
export function batchFailureMessage(
  reason: number,
  offset: number,
  detail: number,
  count: number,
): string {
  const tag = `0x${detail.toString(16).padStart(2, "0")}`;
  switch (reason) {
    case 1:
      return `${detail} bytes is shorter than the 12-byte header`;
    case 2:
      return `the record at byte ${offset} (tag ${tag}) is truncated`;
    case 3:
      return `unknown record tag ${tag} at byte ${offset}`;
    case 4:
      return `wrong count: the header says ${count} records, the batch holds ${detail}`;
    case 5:
      return `the record at byte ${offset} has tag ${tag} (a transaction marker, blob index, ` +
        `timestamp or wide-column record), which a memtable does not apply`;
    case 6:
      return `the record at byte ${offset} is for column family ${detail}; a MemTable holds ` +
        `one column family (0)`;
    case 7:
      return `the record at byte ${offset} has a key or value of ${detail} bytes, above the limits`;
    case 8:
      return `the range deletion at byte ${offset} ends before it starts`;
    case 9:
      return `record ${detail} would take a sequence number above 2^56 - 1`;
    default:
      return `refused for reason ${reason} at byte ${offset}`;
  }
}

/** Decodes a batch representation in TypeScript (the same rules as the native decoder). */
export function decodeBatch(rep: Uint8Array): WriteBatchRecord[] {
  const fail = (reason: number, offset: number, detail: number) => {
    const count = rep.length >= batchHeaderSize
      ? new DataView(rep.buffer, rep.byteOffset, batchHeaderSize).getUint32(8, true)
      : 0;
    return new WriteBatchError(
      `WriteBatch: ${batchFailureMessage(reason, offset, detail, count)}`,
    );
  };
  if (rep.length < batchHeaderSize) throw fail(1, 0, rep.length);
  const count = new DataView(rep.buffer, rep.byteOffset, batchHeaderSize).getUint32(8, true);
  const out: WriteBatchRecord[] = [];
  let pos = batchHeaderSize;
  const varint = (): number | undefined => {
    let result = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (pos >= rep.length) return undefined;
      const b = rep[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
    }
    return undefined;
  };
  const slice = (): Uint8Array | undefined => {
    const n = varint();
    if (n === undefined || n > rep.length - pos) return undefined;
    const s = rep.slice(pos, pos + n);
    pos += n;
    return s;
  };
  while (pos < rep.length) {
    const at = pos;
    const tag = rep[pos++]!;
    if (tag === BatchTag.LogData) {
      if (slice() === undefined) throw fail(2, at, tag);
      continue;
    }
    if (tag === BatchTag.Noop) continue;
    const type = tagTypes[tag];
    if (type === undefined) throw fail(tag <= knownTagMax ? 5 : 3, at, tag);
    if (cfTags.has(tag)) {
      const cf = varint();
      if (cf === undefined) throw fail(2, at, tag);
      if (cf !== 0) throw fail(6, at, cf);
    }
    const key = slice();
    if (key === undefined) throw fail(2, at, tag);
    let value = empty;
    if (type === ValueType.Value || type === ValueType.Merge || type === ValueType.RangeDeletion) {
      const v = slice();
      if (v === undefined) throw fail(2, at, tag);
      value = v;
    }
    if (type === ValueType.RangeDeletion && compareBytes(key, value) > 0) throw fail(8, at, 0);
    out.push({ type, key, value });
  }
  if (out.length !== count) throw fail(4, rep.length, out.length);
  return out;
}

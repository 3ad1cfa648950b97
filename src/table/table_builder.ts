/**
 * TableBuilder: writes an SST file in RocksDB's block-based format (format version 5, CRC32c
 * checksums, no compression) that RocksDB's own tools read: data blocks of prefix-compressed
 * internal keys with restart points, a full bloom filter of the user keys when
 * `bloomBitsPerKey` asks for one (RocksDB's `rocksdb.BuiltinBloomFilter`: filter_block.ts), an
 * index with the last internal key of each block, a range-deletion block, a properties block and
 * the metaindex, then the footer (RocksDB's order).
 *
 * Two kinds of file: a flush file keeps real sequence numbers and any number of versions per
 * key; an ingest file (`ingest: true`, what RocksDB's SstFileWriter writes) has sequence number
 * 0 throughout, one entry per user key and the `rocksdb.external_sst_file.*` properties.
 *
 * @module
 */
import {
  compareInternalKeys,
  compareUserKeys as compareBytes,
  packInternalKey,
} from "../coding/internal_key.ts";
import { checkSequence, type SequenceNumber, trailerParts } from "../coding/sequence.ts";
import { checkValueType, describe, ValueType, valueTypeName } from "../coding/value_type.ts";
import { booleanOption, bytesArgument, checkOptions, integerOption } from "../arguments.ts";
import type { Bytes } from "../memtable/bytes.ts";
import {
  checkBloomBitsPerKey,
  FilterBuilder,
  filterMetaName,
  filterPolicyName,
  wholeKeyFilteringProperty,
} from "./filter_block.ts";
import {
  BlockBuilder,
  type BlockHandle,
  blockTrailer,
  blockTrailerSize,
  ByteWriter,
  encodeFooter,
} from "./format.ts";

/** Options of {@linkcode TableBuilder}. */
export interface TableBuilderOptions {
  /** Data blocks are cut once they reach this many bytes (RocksDB's default, 4096). */
  blockSize?: number;
  /** A full key every this many entries in data blocks (RocksDB's default, 16). */
  restartInterval?: number;
  /** Write an ingest file (seq 0, the external-file properties). Default false. */
  ingest?: boolean;
  /** Extra properties stored with the file (names must not start with "rocksdb."). */
  userProperties?: Record<string, Uint8Array | string>;
  /**
   * Bits per key of the table's bloom filter over its user keys (RocksDB's
   * `bloomfilter:<bits>`; a number in [1, 100]); 0, the default as in RocksDB's table options,
   * writes no filter.
   */
  bloomBitsPerKey?: number;
}

const encoder = new TextEncoder();
const empty = new Uint8Array(0);

/** The names of {@linkcode TableBuilderOptions}. */
export const tableBuilderOptionNames: readonly string[] = [
  "blockSize",
  "restartInterval",
  "ingest",
  "userProperties",
  "bloomBitsPerKey",
];

/**
 * `options` checked (names in `known`, each of its type and range) with the defaults filled
 * in; errors name `what` (the constructor: `TableBuilder`, `SstFileWriter`).
 */
export function checkTableBuilderOptions(
  options: TableBuilderOptions | undefined,
  what: string,
  known: readonly string[] = tableBuilderOptionNames,
): {
  blockSize: number;
  restartInterval: number;
  ingest: boolean;
  user: [string, Uint8Array][];
  bloomBitsPerKey: number;
} {
  const o = checkOptions(options, known, what);
  const blockSize = integerOption(o.blockSize, "blockSize", what, 1, 4096);
  const restartInterval = integerOption(o.restartInterval, "restartInterval", what, 1, 16);
  const ingest = booleanOption(o.ingest, "ingest", what, false);
  const props = o.userProperties ?? {};
  if (typeof props !== "object" || props === null || Array.isArray(props)) {
    throw new TypeError(`${what}: userProperties must be an object, got ${describe(props)}`);
  }
  const user = Object.entries(props).map(([k, v]): [string, Uint8Array] => {
    if (k.startsWith("rocksdb.")) {
      throw new TypeError(`${what}: user property "${k}" uses RocksDB's own prefix`);
    }
    return [k, bytesArgument(v, what, `user property "${k}"`).slice()];
  });
  const bloomBitsPerKey = checkBloomBitsPerKey(o.bloomBitsPerKey, what, 0);
  return { blockSize, restartInterval, ingest, user, bloomBitsPerKey };
}

/** `userKey ‖ fixed64le(seq << 8 | type)`; seq and type already checked. */
function internalKey(userKey: Uint8Array, seq: SequenceNumber, type: number): Uint8Array {
  const n = userKey.length;
  const out = new Uint8Array(n + 8);
  if (n <= 32) { for (let i = 0; i < n; i++) out[i] = userKey[i]!; }
  else out.set(userKey);
  const [high, low] = trailerParts(seq, type);
  out[n] = low;
  out[n + 1] = low >>> 8;
  out[n + 2] = low >>> 16;
  out[n + 3] = low >>> 24;
  out[n + 4] = high;
  out[n + 5] = high >>> 8;
  out[n + 6] = high >>> 16;
  out[n + 7] = high >>> 24;
  return out;
}

/**
 * Builds one SST file in memory; `finish()` returns its bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueType } from "../../mod.ts";
 * import { TableBuilder, TableReader } from "../../table.ts";
 * const enc = (s: string) => new TextEncoder().encode(s);
 * const b = new TableBuilder();
 * b.add(enc("apple"), 7, ValueType.Value, enc("red")); // internal-key order:
 * b.add(enc("apple"), 3, ValueType.Deletion, new Uint8Array(0)); // newer versions first
 * b.addRangeTombstone(enc("b"), enc("c"), 9);
 * const t = TableReader.fromBytes(b.finish());
 * assert.equal(t.get(enc("apple"), 5)?.type, ValueType.Deletion);
 * assert.equal(t.rangeTombstones().length, 1);
 * ```
 */
export class TableBuilder {
  /** Data blocks are cut once they reach this many bytes. */
  readonly blockSize: number;
  /** Whether this is an ingest file (sequence numbers 0, the external-file properties). */
  readonly ingest: boolean;
  readonly #data: BlockBuilder;
  readonly #index = new BlockBuilder(1);
  readonly #out: Uint8Array[] = [];
  #offset = 0;
  #lastUser: Uint8Array | undefined;
  #lastSeq: SequenceNumber = 0;
  #lastType = 0;
  #blockLast: Uint8Array | undefined;
  #tombstones: { ikey: Uint8Array; end: Uint8Array }[] = [];
  #finished = false;
  readonly #user: [string, Uint8Array][];
  readonly #filter: FilterBuilder | undefined;
  /** What the table holds so far: the figures its properties block records. */
  readonly props = {
    numEntries: 0,
    deletedKeys: 0,
    mergeOperands: 0,
    numRangeDeletions: 0,
    rawKeySize: 0,
    rawValueSize: 0,
    dataSize: 0,
    indexSize: 0,
    numDataBlocks: 0,
    /** Bytes of the filter block (its trailer not included, as in RocksDB). */
    filterSize: 0,
    /** Distinct user keys in the filter. */
    numFilterEntries: 0,
  };

  /** Throws a TypeError or RangeError (naming the option) for options it cannot use. */
  constructor(options: TableBuilderOptions = {}) {
    const o = checkTableBuilderOptions(options, "TableBuilder");
    this.blockSize = o.blockSize;
    this.ingest = o.ingest;
    this.#data = new BlockBuilder(o.restartInterval);
    this.#user = o.user;
    this.#filter = o.bloomBitsPerKey > 0 ? new FilterBuilder(o.bloomBitsPerKey) : undefined;
  }

  #check(what: string): void {
    if (this.#finished) throw new TypeError(`TableBuilder.${what}(): the table is finished`);
  }

  /** Entries added so far (range tombstones included). */
  get numEntries(): number {
    return this.props.numEntries;
  }

  /** Bytes written so far (data blocks); a flush cuts files by it. */
  get fileSize(): number {
    return this.#offset;
  }

  /**
   * Adds a point entry: key and value are `Uint8Array`s or strings (stored as UTF-8); a
   * Deletion or SingleDeletion carries no value. Entries must come in internal-key order: user
   * keys ascending, and for one user key sequence numbers descending. A refused entry (a
   * TypeError or RangeError naming the argument) adds nothing.
   */
  add(userKey: Bytes, seq: SequenceNumber, type: ValueType, value?: Bytes): void {
    const what = "TableBuilder.add()";
    this.#check("add");
    const key = bytesArgument(userKey, what, "key");
    checkSequence(seq, what);
    checkValueType(type, what);
    if (type === ValueType.RangeDeletion) {
      throw new TypeError(`${what}: use addRangeTombstone() for range deletions`);
    }
    const v = value === undefined ? empty : bytesArgument(value, what, "value");
    if (v.length > 0 && (type === ValueType.Deletion || type === ValueType.SingleDeletion)) {
      throw new TypeError(`${what}: a ${valueTypeName(type)} carries no value`);
    }
    if (this.#lastUser !== undefined && !this.#after(key, seq, type)) {
      throw new RangeError(
        `${what}: keys must be added in internal-key order (user key ascending, ` +
          "then sequence number descending), each once",
      );
    }
    const ikey = internalKey(key, seq, type);
    if (!this.#data.empty && this.#data.estimate() >= this.blockSize) this.#flushData();
    this.#data.add(ikey, v);
    this.#filter?.add(key);
    this.#lastUser = ikey.subarray(0, key.length); // a copy: the caller may reuse its array
    this.#lastSeq = seq;
    this.#lastType = type;
    this.#blockLast = ikey;
    const p = this.props;
    p.numEntries++;
    if (type === ValueType.Deletion || type === ValueType.SingleDeletion) p.deletedKeys++;
    if (type === ValueType.Merge) p.mergeOperands++;
    p.rawKeySize += ikey.length;
    p.rawValueSize += v.length;
  }

  /** Whether (userKey, seq, type) comes after the last entry in internal-key order. */
  #after(userKey: Uint8Array, seq: SequenceNumber, type: number): boolean {
    const c = compareBytes(this.#lastUser!, userKey);
    if (c !== 0) return c < 0;
    if (seq < this.#lastSeq) return true; // number and bigint compare by value
    if (seq > this.#lastSeq) return false;
    return type < this.#lastType;
  }

  /**
   * Adds the range tombstone [start, end) at `seq` (any order; sorted when the file ends).
   * Keys are `Uint8Array`s or strings (UTF-8).
   */
  addRangeTombstone(start: Bytes, end: Bytes, seq: SequenceNumber): void {
    const what = "TableBuilder.addRangeTombstone()";
    this.#check("addRangeTombstone");
    const from = bytesArgument(start, what, "start");
    const to = bytesArgument(end, what, "end");
    checkSequence(seq, what);
    if (compareBytes(from, to) > 0) {
      throw new RangeError(`${what}: end comes before start`);
    }
    const ikey = packInternalKey(from, seq, ValueType.RangeDeletion);
    this.#tombstones.push({ ikey, end: to.slice() });
    const p = this.props;
    p.numEntries++;
    p.deletedKeys++;
    p.numRangeDeletions++;
    p.rawKeySize += ikey.length;
    p.rawValueSize += to.length;
  }

  #write(contents: Uint8Array): BlockHandle {
    const handle = { offset: this.#offset, size: contents.length };
    this.#out.push(contents, blockTrailer(contents));
    this.#offset += contents.length + blockTrailerSize;
    return handle;
  }

  #flushData(): void {
    const contents = this.#data.finish();
    const h = this.#write(contents);
    this.props.dataSize += contents.length + blockTrailerSize;
    this.props.numDataBlocks++;
    const w = new ByteWriter(20);
    w.handle(h);
    this.#index.add(this.#blockLast!, w.view().slice());
  }

  /** Ends the file and returns all of it. The builder takes no more entries. */
  finish(): Uint8Array {
    this.#check("finish");
    this.#finished = true;
    if (!this.#data.empty) this.#flushData();
    const meta: [string, BlockHandle][] = [];
    if (this.#filter !== undefined && !this.#filter.empty) {
      const contents = this.#filter.finish();
      this.props.filterSize = contents.length;
      this.props.numFilterEntries = this.#filter.numEntries;
      meta.push([filterMetaName, this.#write(contents)]);
    }
    const indexContents = this.#index.finish();
    const indexHandle = this.#write(indexContents);
    this.props.indexSize = indexContents.length + blockTrailerSize;
    if (this.#tombstones.length > 0) {
      const rd = new BlockBuilder(1);
      this.#tombstones.sort((a, b) => compareInternalKeys(a.ikey, b.ikey));
      for (let i = 1; i < this.#tombstones.length; i++) {
        if (compareInternalKeys(this.#tombstones[i - 1]!.ikey, this.#tombstones[i]!.ikey) === 0) {
          throw new RangeError(
            "TableBuilder.finish(): two range tombstones with the same start and sequence number",
          );
        }
      }
      for (const t of this.#tombstones) rd.add(t.ikey, t.end);
      meta.push(["rocksdb.range_del", this.#write(rd.finish())]);
    }
    meta.push(["rocksdb.properties", this.#write(this.#properties())]);
    meta.sort((a, b) => compareBytes(encoder.encode(a[0]), encoder.encode(b[0])));
    const mi = new BlockBuilder(1);
    for (const [name, h] of meta) {
      const w = new ByteWriter(20);
      w.handle(h);
      mi.add(encoder.encode(name), w.view().slice());
    }
    const metaindexHandle = this.#write(mi.finish());
    this.#out.push(encodeFooter(metaindexHandle, indexHandle));
    const size = this.#offset + 53;
    const file = new Uint8Array(size);
    let at = 0;
    for (const part of this.#out) {
      file.set(part, at);
      at += part.length;
    }
    return file;
  }

  #properties(): Uint8Array {
    const p = this.props;
    const v = (n: number) => {
      const w = new ByteWriter(10);
      w.varint(n);
      return w.view().slice();
    };
    const entries: [string, Uint8Array][] = [
      ["rocksdb.column.family.id", v(0)],
      ["rocksdb.column.family.name", encoder.encode("default")],
      ["rocksdb.comparator", encoder.encode("leveldb.BytewiseComparator")],
      ["rocksdb.compression", encoder.encode("NoCompression")],
      ["rocksdb.creating.db.identity", encoder.encode("memtable")],
      ["rocksdb.data.size", v(p.dataSize)],
      ["rocksdb.deleted.keys", v(p.deletedKeys)],
      ["rocksdb.filter.size", v(p.filterSize)],
      ["rocksdb.format.version", v(0)],
      ["rocksdb.index.key.is.user.key", v(0)],
      ["rocksdb.index.size", v(p.indexSize)],
      ["rocksdb.index.value.is.delta.encoded", v(0)],
      ["rocksdb.merge.operands", v(p.mergeOperands)],
      ["rocksdb.num.data.blocks", v(p.numDataBlocks)],
      ["rocksdb.num.entries", v(p.numEntries)],
      ["rocksdb.num.range-deletions", v(p.numRangeDeletions)],
      ["rocksdb.raw.key.size", v(p.rawKeySize)],
      ["rocksdb.raw.value.size", v(p.rawValueSize)],
      ...this.#user,
    ];
    if (this.#filter !== undefined && p.filterSize > 0) {
      entries.push(
        ["rocksdb.block.based.table.prefix.filtering", encoder.encode("0")],
        [wholeKeyFilteringProperty, encoder.encode("1")],
        ["rocksdb.filter.policy", encoder.encode(filterPolicyName)],
        ["rocksdb.num.filter_entries", v(p.numFilterEntries)],
      );
    }
    if (this.ingest) {
      const version = new ByteWriter(4);
      version.fixed32(2);
      const global = new ByteWriter(8);
      global.fixed64(0n);
      entries.push(
        ["rocksdb.external_sst_file.global_seqno", global.view().slice()],
        ["rocksdb.external_sst_file.version", version.view().slice()],
      );
    }
    const named = entries.map(([k, val]) => [encoder.encode(k), val] as const);
    named.sort((a, b) => compareBytes(a[0], b[0]));
    const b = new BlockBuilder(1);
    for (const [k, val] of named) b.add(k, val);
    return b.finish();
  }
}

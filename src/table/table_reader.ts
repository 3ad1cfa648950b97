/**
 * TableReader: opens an SST file in RocksDB's block-based format — this library's and RocksDB's
 * own (user-key indexes with delta-encoded handles included; uncompressed or Snappy-compressed
 * blocks, RocksDB's default codec: another codec is an error that names it) — and reads it:
 * properties, point entries in order, lookups at a snapshot (a table whose full bloom filter says
 * no is not read: filter_block.ts), range tombstones. Every block's checksum is verified
 * when the block is read; a damaged or truncated file gives a `CorruptionError` that says where,
 * never wrong data.
 *
 * @module
 */
import {
  compareInternalKeys,
  compareUserKeyOf,
  compareUserKeys,
  packInternalKey,
} from "../coding/internal_key.ts";
import {
  checkSequence,
  maxSequenceNumber,
  sequenceFromTrailer,
  type SequenceNumber,
} from "../coding/sequence.ts";
import { describe, isValueType, ValueType } from "../coding/value_type.ts";
import { bytesArgument } from "../arguments.ts";
import type { Bytes } from "../memtable/bytes.ts";
import type { TableCache } from "./table_cache.ts";
import type { BlockCache } from "./block_cache.ts";
import { dataEntries, versionsInBlock } from "./block_search.ts";
import { decodeFixed32 as readFixed32 } from "../coding/varint.ts";
import { CorruptionError } from "../errors.ts";
import { snappyUncompress } from "./snappy.ts";
import { coverOf } from "./tombstone_cover.ts";
import {
  FilterBlock,
  type FilterCounters,
  filteredLookup,
  filterHoldsWholeKeys,
  filterMetaName,
  newFilterCounters,
} from "./filter_block.ts";
import {
  blockChecksum,
  type BlockEntry,
  type BlockHandle,
  blockTrailerSize,
  decodeFooter,
  type Footer,
  footerSize,
  readBlock,
  readHandle,
} from "./format.ts";
import { parseProperties, type TableProperties } from "./table_properties.ts";
import {
  bufferSource,
  cachedSource,
  fileSource,
  snappyCompression,
  type Source,
  unsupportedCompression,
} from "./table_source.ts";

export type { TableProperties } from "./table_properties.ts";

/** A point entry of a table. */
export interface TableEntry {
  /** The user key. */
  key: Uint8Array;
  /** The version's sequence number. */
  seq: SequenceNumber;
  /** What the version is. */
  type: ValueType;
  /** Its value or merge operand (empty for deletions). */
  value: Uint8Array;
}

/** A range tombstone of a table: keys in [start, end) older than `seq` are deleted. */
export interface TableTombstone {
  /** The first key deleted. */
  start: Uint8Array;
  /** The first key after the range. */
  end: Uint8Array;
  /** The tombstone's sequence number: it hides versions older than this. */
  seq: SequenceNumber;
}

const decoder = new TextDecoder();

/**
 * Opens the SST file at `path` with its descriptor under `cache`'s bound: closed when others
 * are needed, opened again on demand. For the Store (not exported from mod.ts).
 */
export let openCachedTable: (path: string, cache: TableCache) => TableReader;

/**
 * A table's data blocks, for the seekable cursor of table_cursor.ts (not exported from mod.ts):
 * how many, the user key each block's index separator holds (≥ every key of the block, ≤ every
 * key of the next), and a block's entries, checked as `entries()` checks them.
 */
export interface DataBlocks {
  readonly count: number;
  separator(block: number): Uint8Array;
  entries(block: number): TableEntry[];
}

/**
 * An index entry: the separator key (internal, or user key) and the data block's handle; its
 * separator's user key and the block's name in messages, made when first needed.
 */
interface IndexEntry {
  key: Uint8Array;
  handle: BlockHandle;
  user?: Uint8Array;
  label?: string;
}

/** The data blocks of `table`; a TypeError naming `what` once it is closed. */
export let dataBlocksOf: (table: TableReader, what: string) => DataBlocks;

/**
 * A Store's point read of one file, without the public methods' argument checks (the store
 * checked the key and the snapshot once): the versions of `userKey` (newest first, through the
 * filter) and the largest sequence number ≤ `snapshot` of a range tombstone covering it (0:
 * none). A TypeError once the table is closed, as `versions()` throws.
 */
export let pointRead: (
  table: TableReader,
  userKey: Uint8Array,
  snapshot: number,
) => { versions: TableEntry[]; cover: number };

/**
 * An opened SST file. Its index, properties and range tombstones are held in memory; data
 * blocks are read from the file when needed (from the buffer for `fromBytes`). `close()`
 * releases the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SstFileWriter, TableReader } from "../../table.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * const path = join(mkdtempSync(join(tmpdir(), "sst-")), "a.sst");
 * const w = new SstFileWriter(path);
 * w.put("k1", "v1");
 * w.put("k2", "v2");
 * w.finish();
 * using t = TableReader.open(path); // RocksDB's own files open the same way
 * assert.equal([...t.entries()].length, 2);
 * assert.equal(t.properties.comparator, "leveldb.BytewiseComparator");
 * assert.equal(t.verify(), 2); // every block's checksum and the key order
 * ```
 */
export class TableReader implements Disposable {
  /** The file name (or the name given to `fromBytes`), for messages. */
  readonly name: string;
  /** The table's footer: where its metaindex and index blocks are, and its format version. */
  readonly footer: Footer;
  /** The table's properties block, decoded. */
  readonly properties: TableProperties;
  readonly #file: Source;
  /** Index entries: separator key (internal, or user key) and the data block's handle. */
  readonly #index: IndexEntry[];
  readonly #tombstones: TableTombstone[];
  readonly #filter: FilterBlock | undefined;
  readonly #counters: FilterCounters;
  /** The store's block cache and this reader's id in it (data blocks only). */
  readonly #blocks: BlockCache | undefined;
  readonly #owner: number;
  #closed = false;

  static {
    openCachedTable = (path, cache) => {
      const source = cachedSource(path, cache);
      try {
        return new TableReader(source, path, cache.filterCounters, cache.blocks);
      } catch (e) {
        source.close();
        throw e;
      }
    };
  }

  static {
    pointRead = (t, key, snapshot) => {
      t.#live("versions");
      const versions = t.#versionsOf(key);
      const cover = t.#tombstones.length === 0 ? 0 : Number(coverOf(t.#tombstones, key, snapshot));
      return { versions, cover };
    };
    dataBlocksOf = (t, what) => {
      t.#live(what);
      const user = t.properties.indexKeyIsUserKey;
      return {
        count: t.#index.length,
        separator: (b) => {
          const sep = t.#index[b]!;
          return user ? sep.key : (sep.user ??= sep.key.subarray(0, sep.key.length - 8));
        },
        entries: (b) => t.#entriesOf(b),
      };
    };
  }

  private constructor(
    file: Source,
    name: string,
    counters = newFilterCounters(),
    blocks?: BlockCache,
  ) {
    this.#file = file;
    this.name = name;
    this.#counters = counters;
    this.#blocks = blocks;
    this.#owner = blocks?.newOwner() ?? 0;
    const tail = Math.min(file.size, footerSize);
    this.footer = decodeFooter(file.read(file.size - tail, tail), file.size, name);
    const meta = new Map<string, BlockHandle>();
    for (const e of this.#block(this.footer.metaindex, "metaindex block")) {
      meta.set(decoder.decode(e.key), readHandle(e.value, 0, `${name}: metaindex block`)[0]);
    }
    const propsHandle = meta.get("rocksdb.properties");
    if (propsHandle === undefined) {
      throw new CorruptionError(`${name}: no properties block (rocksdb.properties)`);
    }
    this.properties = parseProperties(this.#block(propsHandle, "properties block"), name);
    if (this.properties.comparator !== "leveldb.BytewiseComparator") {
      throw new CorruptionError(
        `${name}: written with comparator "${this.properties.comparator}"; only ` +
          `leveldb.BytewiseComparator is supported`,
      );
    }
    this.#index = this.#block(
      this.footer.index,
      "index block",
      this.properties.indexValueIsDeltaEncoded,
    ).map((e) => ({ key: e.key, handle: readHandle(e.value, 0, `${name}: index block`)[0] }));
    for (let i = 1; i < this.#index.length; i++) {
      if (this.#compareIndexKeys(this.#index[i - 1]!.key, this.#index[i]!.key) > 0) {
        throw new CorruptionError(`${name}: index block keys are out of order`);
      }
    }
    const rd = meta.get("rocksdb.range_del");
    this.#tombstones = rd === undefined ? [] : this.#block(rd, "range deletion block").map((e) => {
      const k = this.#parseKey(e.key, "range deletion block");
      if (k.type !== ValueType.RangeDeletion) {
        throw new CorruptionError(`${name}: range deletion block holds a ${k.type} entry`);
      }
      return { start: k.key, end: e.value, seq: k.seq };
    });
    const filter = meta.get(filterMetaName);
    this.#filter = filter && filterHoldsWholeKeys(this.properties.raw)
      ? new FilterBlock(
        this.#contents(filter, `${name}: filter block at offset ${filter.offset}`).slice(),
      )
      : undefined;
  }

  /** Opens the bytes of an SST file; `name` is what error messages call it. */
  static fromBytes(bytes: Uint8Array, name = "SST file"): TableReader {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `TableReader.fromBytes(): bytes must be a Uint8Array, got ${describe(bytes)}`,
      );
    }
    if (typeof name !== "string") {
      throw new TypeError(`TableReader.fromBytes(): name must be a string, got ${describe(name)}`);
    }
    return new TableReader(bufferSource(bytes), name);
  }

  /** Opens the SST file at `path` (kept open until `close()`). */
  static open(path: string): TableReader {
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `TableReader.open(): path must be a non-empty string, got ${describe(path)}`,
      );
    }
    const source = fileSource(path);
    try {
      return new TableReader(source, path);
    } catch (e) {
      source.close();
      throw e;
    }
  }

  /** The file's size in bytes. */
  get size(): number {
    return this.#file.size;
  }

  /** Releases the file; every later read throws a TypeError. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#file.close();
    this.#blocks?.drop(this.#owner);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #live(what: string): void {
    if (this.#closed) throw new TypeError(`TableReader.${what}(): ${this.name} is closed`);
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #compareIndexKeys(a: Uint8Array, b: Uint8Array): number {
    return this.properties.indexKeyIsUserKey ? compareUserKeys(a, b) : compareInternalKeys(a, b);
  }

  /** A block's entries after its checksum is verified. */
  #block(h: BlockHandle, what: string, deltaHandles = false): BlockEntry[] {
    const label = `${this.name}: ${what} at offset ${h.offset}`;
    return readBlock(this.#contents(h, label), label, deltaHandles);
  }

  /**
   * A data block's contents, verified and uncompressed: from the block cache when it holds
   * them, else read (and then cached). Callers copy what they hand out.
   */
  #dataBlock(block: number): { contents: Uint8Array; label: string } {
    const entry = this.#index[block]!;
    const h = entry.handle;
    const label = entry.label ??= `${this.name}: data block ${block} at offset ${h.offset}`;
    const cache = this.#blocks;
    const hit = cache?.get(this.#owner, h.offset);
    if (hit !== undefined) return { contents: hit, label };
    const contents = this.#contents(h, label);
    cache?.insert(this.#owner, h.offset, contents);
    return { contents, label };
  }

  /** A block's contents read from the file, its checksum verified, uncompressed. */
  #contents(h: BlockHandle, label: string): Uint8Array {
    const end = h.offset + h.size;
    if (end + blockTrailerSize > this.#file.size - footerSize) {
      throw new CorruptionError(`${label}: the block runs past the end of the file`);
    }
    const block = this.#file.read(h.offset, h.size + blockTrailerSize);
    const stored = readFixed32(block, h.size + 1);
    const computed = blockChecksum(
      this.footer.checksumType,
      block.subarray(0, h.size),
      block[h.size]!,
    );
    if (computed !== stored) throw new CorruptionError(`${label}: checksum mismatch`);
    const compression = block[h.size]!;
    return compression === 0
      ? block.subarray(0, h.size)
      : compression === snappyCompression
      ? snappyUncompress(block.subarray(0, h.size), label)
      : unsupportedCompression(compression, label);
  }

  #parseKey(ikey: Uint8Array, what: string): TableEntry {
    if (ikey.length < 8) {
      throw new CorruptionError(`${this.name}: ${what}: an internal key is shorter than 8 bytes`);
    }
    const at = ikey.length - 8;
    return this.#entryOf(
      ikey.slice(0, at),
      readFixed32(ikey, at),
      readFixed32(ikey, at + 4),
      new Uint8Array(0),
      what,
    );
  }

  /** The entry of user key `key` with the trailer halves `low`, `high` (its type checked). */
  #entryOf(
    key: Uint8Array,
    low: number,
    high: number,
    value: Uint8Array,
    what: string,
  ): TableEntry {
    const type = low & 0xff;
    if (!isValueType(type)) {
      throw new CorruptionError(`${this.name}: ${what}: unknown value type ${type}`);
    }
    const global = this.properties.globalSeqno;
    const seq = global !== undefined && global !== 0n &&
        this.properties.externalSstFileVersion !== undefined
      ? global
      : sequenceFromTrailer(high, low);
    return { key, seq: seq as SequenceNumber, type, value };
  }

  #entriesOf(block: number): TableEntry[] {
    const { contents, label } = this.#dataBlock(block);
    const what = `data block ${block}`;
    return dataEntries(contents, label).map((e) => {
      const k = this.#entryOf(e.key, e.low, e.high, e.value, what);
      if (k.type === ValueType.RangeDeletion) {
        throw new CorruptionError(`${this.name}: data block ${block} holds a range deletion`);
      }
      return k;
    });
  }

  #dataEntry(e: BlockEntry, block: number): TableEntry {
    const k = this.#parseKey(e.key, `data block ${block}`);
    if (k.type === ValueType.RangeDeletion) {
      throw new CorruptionError(`${this.name}: data block ${block} holds a range deletion`);
    }
    k.value = e.value;
    return k;
  }

  /** Index of the first data block that may hold `userKey` (or the index length). */
  #firstBlockFor(userKey: Uint8Array): number {
    let lo = 0;
    let hi = this.#index.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const sep = this.#index[mid]!.key;
      const below = this.properties.indexKeyIsUserKey
        ? compareUserKeys(sep, userKey) < 0
        : compareUserKeyOf(sep, sep.length, userKey) < 0;
      if (below) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Every point entry in internal-key order (user key ascending, newest version first), from
   * the first user key ≥ `from` when given. Checks each block as it reads it.
   */
  entries(from?: Bytes): Generator<TableEntry> {
    this.#live("entries");
    return this.#entriesFrom(
      from === undefined ? undefined : bytesArgument(from, "TableReader.entries()", "from"),
    );
  }

  *#entriesFrom(from: Uint8Array | undefined): Generator<TableEntry> {
    let block = from === undefined ? 0 : this.#firstBlockFor(from);
    for (; block < this.#index.length; block++) {
      for (const e of this.#entriesOf(block)) {
        if (from !== undefined && compareUserKeys(e.key, from) < 0) continue;
        yield e;
      }
    }
  }

  /** Every version of `userKey` (bytes, or a string as UTF-8), newest first. */
  versions(userKey: Bytes): TableEntry[] {
    this.#live("versions");
    return this.#versionsOf(bytesArgument(userKey, "TableReader.versions()", "key"));
  }

  /** What this table's point lookups asked of its filter (all zero without one). */
  get filterCounters(): FilterCounters {
    return { ...this.#counters };
  }

  /** The versions of `key`, unless the filter says the table has none (one check per call). */
  #versionsOf(key: Uint8Array): TableEntry[] {
    return filteredLookup(this.#filter, this.#counters, key, () => this.#scanVersions(key));
  }

  #scanVersions(key: Uint8Array): TableEntry[] {
    const out: TableEntry[] = [];
    for (let block = this.#firstBlockFor(key); block < this.#index.length; block++) {
      const { contents, label } = this.#dataBlock(block);
      const found = versionsInBlock(contents, key, label);
      for (const e of found.entries) out.push(this.#dataEntry(e, block));
      if (found.past) return out;
    }
    return out;
  }

  /** The newest version of `userKey` with seq ≤ `snapshot` (default: all), if any. */
  get(userKey: Bytes, snapshot?: SequenceNumber): TableEntry | undefined {
    const what = "TableReader.get()";
    this.#live("get");
    const key = bytesArgument(userKey, what, "key");
    const limit = snapshot === undefined ? undefined : BigInt(checkSequence(snapshot, what));
    return this.#versionsOf(key).find((e) => limit === undefined || BigInt(e.seq) <= limit);
  }

  /**
   * The largest sequence number ≤ `snapshot` of a range tombstone covering `userKey`, or 0 —
   * what hides this file's older versions of the key (the cover rule of tombstone_cover.ts, a
   * scan of the tombstones, no copies).
   */
  maxCoveringTombstone(userKey: Bytes, snapshot: SequenceNumber): number {
    const what = "TableReader.maxCoveringTombstone()";
    this.#live("maxCoveringTombstone");
    const key = bytesArgument(userKey, what, "key");
    return Number(coverOf(this.#tombstones, key, checkSequence(snapshot, what)));
  }

  /**
   * The smallest and largest internal keys of the file, as a MANIFEST records them (RocksDB's
   * `FileMetaData::smallest/largest`): point entries and range tombstones alike — a tombstone
   * counts from `start` at its sequence number to `end` at the largest sequence number, type
   * RangeDeletion (RocksDB's sentinel). Undefined for a file with neither.
   */
  bounds(): { smallest: Uint8Array; largest: Uint8Array } | undefined {
    this.#live("bounds");
    let smallest: Uint8Array | undefined;
    let largest: Uint8Array | undefined;
    const consider = (k: Uint8Array) => {
      if (smallest === undefined || compareInternalKeys(k, smallest) < 0) smallest = k;
      if (largest === undefined || compareInternalKeys(k, largest) > 0) largest = k;
    };
    const n = this.#index.length;
    if (n > 0) {
      const first = this.#entriesOf(0)[0];
      const last = this.#entriesOf(n - 1).at(-1);
      if (first !== undefined) consider(packInternalKey(first.key, first.seq, first.type));
      if (last !== undefined) consider(packInternalKey(last.key, last.seq, last.type));
    }
    for (const t of this.#tombstones) {
      consider(packInternalKey(t.start, t.seq, ValueType.RangeDeletion));
      consider(packInternalKey(t.end, maxSequenceNumber, ValueType.RangeDeletion));
    }
    return smallest === undefined ? undefined : { smallest, largest: largest! };
  }

  /** The range tombstones, by start key (newest first for one start). */
  rangeTombstones(): TableTombstone[] {
    this.#live("rangeTombstones");
    return this.#tombstones.map((t) => ({
      start: t.start.slice(),
      end: t.end.slice(),
      seq: t.seq,
    }));
  }

  /**
   * Reads every block and checks what `sst_dump --command=verify --verify_checksum` checks:
   * checksums, and that keys are in internal-key order within and across blocks and below
   * their index separators. Returns the number of point entries.
   */
  verify(): number {
    this.#live("verify");
    let last: Uint8Array | undefined;
    let count = 0;
    for (let block = 0; block < this.#index.length; block++) {
      const raw = this.#block(this.#index[block]!.handle, `data block ${block}`);
      for (const e of raw) {
        this.#parseKey(e.key, `data block ${block}`);
        if (last !== undefined && compareInternalKeys(last, e.key) >= 0) {
          throw new CorruptionError(`${this.name}: data block ${block}: keys out of order`);
        }
        last = e.key;
        count++;
      }
      const sep = this.#index[block]!.key;
      if (last !== undefined) {
        const beyond = this.properties.indexKeyIsUserKey
          ? compareUserKeys(last.subarray(0, last.length - 8), sep) > 0
          : compareInternalKeys(last, sep) > 0;
        if (beyond) {
          throw new CorruptionError(
            `${this.name}: data block ${block} ends after its index separator`,
          );
        }
      }
    }
    return count;
  }
}

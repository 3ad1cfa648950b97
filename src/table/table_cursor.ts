/**
 * Seekable cursors over versions in internal-key order (user key ascending, newest version
 * first), moving both ways — what RocksDB calls an internal iterator: `TableCursor` over an SST
 * file's data blocks, `LevelCursor` over the sorted files of a level, `MemTableCursor` over a
 * memtable's iterator, all behind `VersionCursor`, the interface the Store's merging cursor
 * reads (store/cursor.ts).
 *
 * A `TableCursor` holds one decoded data block at a time (each block's checksum is verified when
 * it is read, as `TableReader.entries()` does) and finds blocks by binary search of the index
 * separators. It reads the reader it was given and does not own it: the reader must stay open
 * while the cursor is used (a Store's read view holds its files' Version for that).
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { MemTableIterator } from "../memtable/iterator.ts";
import {
  type DataBlocks,
  dataBlocksOf,
  type TableEntry,
  type TableReader,
} from "./table_reader.ts";

/**
 * A cursor over versions in internal-key order. `entry()`, `next()` and `prev()` REQUIRE
 * `valid()`. Seeks take user keys: `seek(k)` goes to the newest version of the first user key
 * ≥ k, `seekForPrev(k)` to the oldest version of the last user key ≤ k.
 */
export interface VersionCursor {
  valid(): boolean;
  entry(): TableEntry;
  seekToFirst(): void;
  seekToLast(): void;
  seek(key: Uint8Array): void;
  seekForPrev(key: Uint8Array): void;
  next(): void;
  prev(): void;
  close(): void;
}

/** An SST file's versions, read a data block at a time (see the module notes). */
export class TableCursor implements VersionCursor {
  readonly #blocks: DataBlocks;
  /** The block `#entries` holds (-1: none). */
  #block = -1;
  #entries: TableEntry[] = [];
  /** The position in `#entries`; the cursor is valid when it is in range. */
  #at = -1;

  constructor(table: TableReader) {
    this.#blocks = dataBlocksOf(table, "cursor");
  }

  valid(): boolean {
    return this.#at >= 0 && this.#at < this.#entries.length;
  }

  entry(): TableEntry {
    if (!this.valid()) throw new Error("TableCursor.entry(): the cursor is not on an entry");
    return this.#entries[this.#at]!;
  }

  #load(block: number): void {
    if (block !== this.#block) {
      this.#entries = this.#blocks.entries(block);
      this.#block = block;
    }
  }

  /** Positions at the first entry of `block` or of the next non-empty one; invalid past them. */
  #firstFrom(block: number): void {
    for (; block < this.#blocks.count; block++) {
      this.#load(block);
      if (this.#entries.length > 0) {
        this.#at = 0;
        return;
      }
    }
    this.#at = -1;
  }

  /** Positions at the last entry of `block` or of the previous non-empty one. */
  #lastFrom(block: number): void {
    for (; block >= 0; block--) {
      this.#load(block);
      if (this.#entries.length > 0) {
        this.#at = this.#entries.length - 1;
        return;
      }
    }
    this.#at = -1;
  }

  /** The first block whose separator is ≥ `key` (`strict`: > `key`), or the block count. */
  #blockFor(key: Uint8Array, strict: boolean): number {
    let lo = 0;
    let hi = this.#blocks.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareUserKeys(this.#blocks.separator(mid), key);
      if (c < 0 || (strict && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  seekToFirst(): void {
    this.#firstFrom(0);
  }

  seekToLast(): void {
    this.#lastFrom(this.#blocks.count - 1);
  }

  seek(key: Uint8Array): void {
    const block = this.#blockFor(key, false);
    if (block >= this.#blocks.count) {
      this.#at = -1;
      return;
    }
    this.#load(block);
    // The first entry ≥ key: in this block, or the next block's first.
    const at = lowerBound(this.#entries, key, false);
    if (at < this.#entries.length) this.#at = at;
    else this.#firstFrom(block + 1);
  }

  seekForPrev(key: Uint8Array): void {
    // Blocks before `block` hold only keys ≤ key; the last such entry is in `block` or before.
    const block = this.#blockFor(key, true);
    if (block >= this.#blocks.count) {
      this.seekToLast();
      return;
    }
    this.#load(block);
    const at = lowerBound(this.#entries, key, true) - 1;
    if (at >= 0) this.#at = at;
    else this.#lastFrom(block - 1);
  }

  next(): void {
    this.entry();
    if (++this.#at >= this.#entries.length) this.#firstFrom(this.#block + 1);
  }

  prev(): void {
    this.entry();
    if (--this.#at < 0) this.#lastFrom(this.#block - 1);
  }

  close(): void {
    this.#entries = [];
    this.#at = -1;
    this.#block = -1;
  }
}

/** The first index in `entries` whose key is ≥ `key` (`strict`: > `key`). */
function lowerBound(entries: readonly TableEntry[], key: Uint8Array, strict: boolean): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareUserKeys(entries[mid]!.key, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A memtable's versions at a snapshot through its native iterator (opened with
 * `ignoreRangeDeletions`: the merging reader applies the tombstones). Owns the iterator.
 */
export class MemTableCursor implements VersionCursor {
  readonly #it: MemTableIterator;
  #current: TableEntry | undefined;

  constructor(it: MemTableIterator) {
    this.#it = it;
  }

  valid(): boolean {
    return this.#it.valid();
  }

  entry(): TableEntry {
    const it = this.#it;
    return this.#current ??= { key: it.key(), seq: it.seq(), type: it.type(), value: it.value() };
  }

  #moved(): void {
    this.#current = undefined;
  }

  seekToFirst(): void {
    this.#moved();
    this.#it.seekToFirst();
  }

  seekToLast(): void {
    this.#moved();
    this.#it.seekToLast();
  }

  seek(key: Uint8Array): void {
    this.#moved();
    this.#it.seek(key);
  }

  seekForPrev(key: Uint8Array): void {
    this.#moved();
    this.#it.seekForPrev(key);
  }

  next(): void {
    this.#moved();
    this.#it.next();
  }

  prev(): void {
    this.#moved();
    this.#it.prev();
  }

  close(): void {
    this.#moved();
    this.#it.close();
  }
}

/** A file of a sorted level: its reader and the user keys its range runs between. */
export interface LevelFile {
  readonly reader: TableReader;
  readonly smallestUser: Uint8Array;
  readonly largestUser: Uint8Array;
}

/**
 * The files of one level ≥ 1 — sorted by key, not overlapping — read as one cursor (RocksDB's
 * LevelIterator): a seek opens the one file whose range may hold the key (a binary search of
 * the ranges), and moves run on into the next or previous file. One source for the merge
 * instead of one per file.
 */
export class LevelCursor implements VersionCursor {
  readonly #files: readonly LevelFile[];
  /** The file `#cursor` reads (-1: none). */
  #file = -1;
  #cursor: TableCursor | undefined;

  constructor(files: readonly LevelFile[]) {
    this.#files = files;
  }

  valid(): boolean {
    return this.#cursor?.valid() ?? false;
  }

  entry(): TableEntry {
    if (this.#cursor === undefined) {
      throw new Error("LevelCursor.entry(): the cursor is not on an entry");
    }
    return this.#cursor.entry();
  }

  #open(file: number): TableCursor {
    if (file !== this.#file || this.#cursor === undefined) {
      this.#cursor?.close();
      this.#cursor = new TableCursor(this.#files[file]!.reader);
      this.#file = file;
    }
    return this.#cursor;
  }

  /** The first entry of `file` or of the next file that has one. */
  #firstFrom(file: number): void {
    for (; file < this.#files.length; file++) {
      const c = this.#open(file);
      c.seekToFirst();
      if (c.valid()) return;
    }
  }

  /** The last entry of `file` or of the previous file that has one. */
  #lastFrom(file: number): void {
    for (; file >= 0; file--) {
      const c = this.#open(file);
      c.seekToLast();
      if (c.valid()) return;
    }
  }

  /** The first file whose `edge` user key is ≥ `key` (`strict`: > `key`). */
  #fileFor(key: Uint8Array, edge: "smallestUser" | "largestUser", strict: boolean): number {
    let lo = 0;
    let hi = this.#files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareUserKeys(this.#files[mid]![edge], key);
      if (c < 0 || (strict && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #none(): void {
    this.#cursor?.close();
    this.#cursor = undefined;
    this.#file = -1;
  }

  seekToFirst(): void {
    this.#none();
    this.#firstFrom(0);
  }

  seekToLast(): void {
    this.#none();
    this.#lastFrom(this.#files.length - 1);
  }

  seek(key: Uint8Array): void {
    const file = this.#fileFor(key, "largestUser", false);
    if (file >= this.#files.length) return this.#none();
    const c = this.#open(file);
    c.seek(key);
    if (!c.valid()) this.#firstFrom(file + 1);
  }

  seekForPrev(key: Uint8Array): void {
    const file = this.#fileFor(key, "smallestUser", true) - 1; // the last file starting ≤ key
    if (file < 0) return this.#none();
    const c = this.#open(file);
    c.seekForPrev(key);
    if (!c.valid()) this.#lastFrom(file - 1);
  }

  next(): void {
    const c = this.#cursor;
    if (c === undefined) throw new Error("LevelCursor.next(): the cursor is not on an entry");
    c.next();
    if (!c.valid()) this.#firstFrom(this.#file + 1);
  }

  prev(): void {
    const c = this.#cursor;
    if (c === undefined) throw new Error("LevelCursor.prev(): the cursor is not on an entry");
    c.prev();
    if (!c.valid()) this.#lastFrom(this.#file - 1);
  }

  close(): void {
    this.#none();
  }
}

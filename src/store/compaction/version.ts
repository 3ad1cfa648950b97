/**
 * Version: the table files of a Store at one moment, level by level (RocksDB's `Version`), and
 * the reference counts that decide when a file a compaction replaced leaves the disk.
 *
 * Invariants (RocksDB's, checked by `ldb checkconsistency`): level 0 is newest first (largest
 * sequence number, then file number, descending) and its files may overlap; each level ≥ 1 is
 * sorted by smallest key and its files do not overlap (a file's largest internal key is below
 * the next one's smallest). A Version never changes: a flush or a compaction makes a new one.
 *
 * References: the store's current Version holds one reference (`TableFiles`), every iterator's
 * view one more, a running compaction one on the Version it picked from. A Version holds one
 * reference on each of its files. A file whose last reference goes is closed; if a compaction
 * made it obsolete (`LiveTable.obsolete`) it is deleted from disk then — never before the
 * MANIFEST edit that replaced it is synced, and never while a reader still holds a Version
 * listing it. Single-threaded: every call runs on the store's thread.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { compareUserKeyOf, compareUserKeys } from "../../coding/internal_key.ts";
import { ValueType } from "../../coding/value_type.ts";
import { decodeFixed32 } from "../../coding/varint.ts";
import type { TableReader } from "../../table/table_reader.ts";
import type { FileMeta } from "../directory.ts";

/** A table file of the store with the count of Versions that list it. */
export class LiveTable {
  readonly meta: FileMeta;
  readonly reader: TableReader;
  readonly path: string;
  /** Set once a synced MANIFEST edit removed the file: deleted at its last `unref`. */
  obsolete = false;
  #refs = 0;

  /** The smallest and largest user keys (the internal keys without their trailers). */
  readonly smallestUser: Uint8Array;
  readonly largestUser: Uint8Array;

  constructor(meta: FileMeta, reader: TableReader, path: string) {
    this.meta = meta;
    this.reader = reader;
    this.path = path;
    this.smallestUser = meta.smallest.subarray(0, meta.smallest.length - 8);
    this.largestUser = meta.largest.subarray(0, meta.largest.length - 8);
  }

  ref(): void {
    this.#refs++;
  }

  unref(): void {
    if (this.#refs <= 0) throw new Error(`LiveTable.unref(): ${this.path} holds no reference`);
    if (--this.#refs > 0) return;
    this.reader.close();
    if (this.obsolete) rmSync(this.path, { force: true });
  }

  /** Whether `key` may be in the file: within its user-key range (see `holdsKey`). */
  mayHold(key: Uint8Array): boolean {
    return holdsKey(this.meta, key);
  }
}

/**
 * Whether `key` is within the user-key range of a file with these bounds. A largest key that is
 * a range tombstone's end sentinel (`end@2^56-1`, type RangeDeletion: RocksDB's, for a tombstone
 * cut at a file boundary) is exclusive: that key belongs to the next file of the level.
 */
export function holdsKey(meta: Pick<FileMeta, "smallest" | "largest">, key: Uint8Array): boolean {
  const { smallest, largest } = meta;
  if (compareUserKeyOf(smallest, smallest.length, key) > 0) return false;
  const c = compareUserKeyOf(largest, largest.length, key);
  return c > 0 || (c === 0 && !isEndSentinel(largest));
}

/** Whether an internal key is `key@2^56-1` of type RangeDeletion. */
function isEndSentinel(ikey: Uint8Array): boolean {
  const at = ikey.length - 8;
  return decodeFixed32(ikey, at) === ((0xffffff << 8 | ValueType.RangeDeletion) >>> 0) &&
    decodeFixed32(ikey, at + 4) === 0xffffffff;
}

/** The files of one store at one moment (see the module notes). */
export class Version {
  /** levels[0] newest first; levels[n ≥ 1] by smallest key. */
  readonly levels: readonly (readonly LiveTable[])[];
  #refs = 1;

  /** `levels` as given, sorted by the rules above; the caller holds the first reference. */
  constructor(levels: readonly (readonly LiveTable[])[]) {
    this.levels = levels.map((files, level) => sortLevel(files, level));
    for (const files of this.levels) for (const f of files) f.ref();
  }

  ref(): void {
    if (this.#refs <= 0) throw new Error("Version.ref(): the version was released");
    this.#refs++;
  }

  /** Drops a reference; the last one releases every file (see the module notes). */
  unref(): void {
    if (this.#refs <= 0) throw new Error("Version.unref(): the version was released");
    if (--this.#refs > 0) return;
    for (const files of this.levels) for (const f of files) f.unref();
  }

  /** Every file: level 0 newest first, then levels 1, 2, … */
  files(): LiveTable[] {
    return this.levels.flat();
  }

  /** Every file's reader, in `files()` order (what a scan merges). */
  readers(): TableReader[] {
    return this.files().map((f) => f.reader);
  }

  get count(): number {
    return this.levels.reduce((n, l) => n + l.length, 0);
  }

  /**
   * The readers a point read of `key` visits, newest first: the level-0 files whose range holds
   * it, then at most one file per deeper level (a binary search of its ranges).
   */
  readersFor(key: Uint8Array): TableReader[] {
    const out: TableReader[] = [];
    for (const f of this.levels[0] ?? []) if (f.mayHold(key)) out.push(f.reader);
    for (let level = 1; level < this.levels.length; level++) {
      const f = findFile(this.levels[level]!, key);
      if (f !== undefined) out.push(f.reader);
    }
    return out;
  }

  /** The files of `level` whose user-key range meets [lo, hi] (either end open if undefined). */
  overlapping(level: number, lo: Uint8Array | undefined, hi: Uint8Array | undefined): LiveTable[] {
    return (this.levels[level] ?? []).filter((f) =>
      (lo === undefined || compareUserKeys(f.largestUser, lo) >= 0) &&
      (hi === undefined || compareUserKeys(f.smallestUser, hi) <= 0)
    );
  }
}

/** The file of a sorted, non-overlapping level that may hold `key`. */
function findFile(files: readonly LiveTable[], key: Uint8Array): LiveTable | undefined {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) { // the first file whose largest user key is ≥ key
    const mid = (lo + hi) >>> 1;
    if (compareUserKeys(files[mid]!.largestUser, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < files.length && i <= lo + 1; i++) {
    if (files[i]!.mayHold(key)) return files[i]; // the next one when key is a sentinel end
  }
  return undefined;
}

function sortLevel(files: readonly LiveTable[], level: number): LiveTable[] {
  const sorted = [...files];
  if (level === 0) {
    sorted.sort((a, b) =>
      b.meta.largestSeq - a.meta.largestSeq || b.meta.smallestSeq - a.meta.smallestSeq ||
      b.meta.number - a.meta.number
    );
  } else {
    sorted.sort((a, b) => compareUserKeys(a.smallestUser, b.smallestUser));
  }
  return sorted;
}

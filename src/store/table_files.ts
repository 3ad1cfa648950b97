/**
 * The table files of a Store — the current Version (compaction/version.ts: the files per
 * level, with their readers opened through the store's table cache) — and the database
 * directory (src/db/database.ts) whose MANIFEST records them. A flush takes a number (`next`),
 * installs what it wrote (`install`: each file recorded by one synced MANIFEST edit, with the
 * log number from which logs are still needed); a compaction installs its outputs and drops
 * its inputs in one edit (`installCompaction`). Each change makes a new Version.
 *
 * Read order is newest first: level 0 by largest sequence number (then file number), then the
 * deeper levels, whose files do not overlap within a level and hold only older versions than
 * the levels above them (RocksDB's invariants).
 *
 * @module
 */
import { join } from "node:path";
import { sequenceFromTrailer } from "../coding/sequence.ts";
import { decodeFixed32 } from "../coding/varint.ts";
import { CorruptionError } from "../errors.ts";
import type { DbDirectory } from "../db/database.ts";
import { tableFileName } from "../db/manifest.ts";
import type { NewFile } from "../db/version_edit.ts";
import type { TableCache } from "../table/table_cache.ts";
import { openCachedTable, type TableReader } from "../table/table_reader.ts";
import type { FileMeta } from "./directory.ts";
import { LiveTable, Version } from "./compaction/version.ts";
import { named } from "./errors.ts";

/** One table file of the store: as the MANIFEST records it, and its reader. */
export interface TableFile {
  meta: FileMeta;
  reader: TableReader;
}

/** What a compaction installs: the files it replaced and the ones it wrote (opened). */
export interface CompactionResult {
  deleted: readonly LiveTable[];
  added: readonly TableFile[];
}

/** A store's table files (see the module notes). */
export class TableFiles {
  readonly dir: string;
  /** The bound on open table descriptors, shared by every file of the store. */
  readonly tables: TableCache;
  readonly db: DbDirectory;
  /** Bits per key of the bloom filters of the files written from now on (0: none). */
  readonly bloomBitsPerKey: number;
  #current: Version;

  /** `opened`: the MANIFEST's files (this object closes them from now on). */
  constructor(
    dir: string,
    tables: TableCache,
    db: DbDirectory,
    opened: TableFile[],
    bloomBitsPerKey: number,
  ) {
    this.dir = dir;
    this.bloomBitsPerKey = bloomBitsPerKey;
    this.tables = tables;
    this.db = db;
    const levels: LiveTable[][] = [];
    for (const f of opened) (levels[f.meta.level] ??= []).push(this.#live(f));
    this.#current = new Version(Array.from(levels, (l) => l ?? []));
  }

  #live(f: TableFile): LiveTable {
    return new LiveTable(f.meta, f.reader, join(this.dir, tableFileName(f.meta.number)));
  }

  /** The current Version (no reference taken: hold one with `ref()` across awaits). */
  get current(): Version {
    return this.#current;
  }

  get count(): number {
    return this.#current.count;
  }

  /** The files' descriptions, oldest first (copies). */
  metas(): FileMeta[] {
    return this.#current.files().map((f) => ({ ...f.meta })).reverse();
  }

  /** The readers, newest first. */
  readers(): TableReader[] {
    return this.#current.readers();
  }

  /** The number and path of the next flush's file (each number is given out once). */
  next(): { number: number; path: string } {
    const number = this.db.newFileNumber();
    return { number, path: join(this.dir, tableFileName(number)) };
  }

  /** Makes `levels` the current Version; the previous one loses the reference it held. */
  #replace(levels: LiveTable[][]): void {
    const old = this.#current;
    this.#current = new Version(levels);
    old.unref();
  }

  /**
   * Adds the files a flush installed (`installed`, oldest first, as the MemTableList hands
   * them out: earlier flushes' results may come with this one's); `reader` is file `number`'s.
   * Each is recorded with `logNumber` (logs below it hold nothing unflushed) and
   * `lastSequence`.
   */
  install(
    installed: readonly FileMeta[],
    number: number,
    reader: TableReader,
    logNumber: number,
    lastSequence: number,
  ): void {
    for (const m of installed) {
      const r = m.number === number
        ? reader
        : openCachedTable(join(this.dir, tableFileName(m.number)), this.tables);
      // Readable first: the memtables it came from are released already. Should the edit
      // fail, the logs still hold its writes (the log number did not advance).
      const levels = this.#current.levels.map((l) => [...l]);
      levels[0] = [this.#live({ meta: m, reader: r }), ...(levels[0] ?? [])];
      this.#replace(levels);
      this.db.recordFlush(newFileOf(m), logNumber, lastSequence);
    }
  }

  /**
   * Installs a compaction with one synced MANIFEST edit: `deleted` leave their levels, `added`
   * join theirs. The replaced files are deleted from disk once no Version lists them. A failed
   * edit installs nothing (and leaves the MANIFEST taking no more edits: database.ts).
   */
  installCompaction(result: CompactionResult, lastSequence: number): void {
    const gone = new Set(result.deleted);
    this.db.recordCompaction(
      result.deleted.map((f) => ({ level: f.meta.level, number: f.meta.number })),
      result.added.map((f) => newFileOf(f.meta)),
      lastSequence,
    );
    const levels = this.#current.levels.map((l) => l.filter((f) => !gone.has(f)));
    for (const f of result.added) (levels[f.meta.level] ??= []).push(this.#live(f));
    // A file moved to another level (a trivial move) is added under its own number: kept.
    const kept = new Set(result.added.map((f) => f.meta.number));
    for (const f of result.deleted) f.obsolete = !kept.has(f.meta.number);
    this.#replace(Array.from(levels, (l) => l ?? []));
  }

  /** Records `lastSequence` and the log number from which logs are needed. */
  recordSequence(lastSequence: number, logNumber: number): void {
    this.db.recordSequence(lastSequence, logNumber);
  }

  /** Releases the current Version (files still held by views close as those are released). */
  close(): void {
    this.#current.unref();
    this.db.close();
  }
}

/** What a MANIFEST records of `m`. */
export function newFileOf(m: FileMeta): NewFile {
  return {
    level: m.level,
    number: m.number,
    fileSize: m.size,
    smallest: m.smallest,
    largest: m.largest,
    smallestSeqno: BigInt(m.smallestSeq),
    largestSeqno: BigInt(m.largestSeq),
  };
}

/** `f` as the store describes its files. */
export function metaOf(f: NewFile): FileMeta {
  return {
    number: f.number,
    level: f.level,
    smallestSeq: Number(f.smallestSeqno),
    largestSeq: Number(f.largestSeqno),
    size: f.fileSize,
    smallest: f.smallest,
    largest: f.largest,
  };
}

/** The FileMeta of a table just written as file `number` (its bounds read from `reader`). */
export function flushedMeta(number: number, reader: TableReader, seqs: [number, number]): FileMeta {
  const bounds = reader.bounds();
  const empty = new Uint8Array(8);
  return {
    number,
    level: 0,
    smallestSeq: seqs[0],
    largestSeq: seqs[1],
    size: reader.size,
    smallest: bounds?.smallest ?? empty,
    largest: bounds?.largest ?? empty,
  };
}

/**
 * Opens the table files a MANIFEST lists, checking that each is there and of the size the
 * MANIFEST records; on any failure closes what it opened and throws a `CorruptionError`
 * naming the file.
 */
export function openTableFiles(
  dir: string,
  manifestName: string,
  files: readonly NewFile[],
  tables: TableCache,
): TableFile[] {
  const what = "Store.open()";
  const opened: TableFile[] = [];
  try {
    for (const f of files) {
      const name = tableFileName(f.number);
      const path = join(dir, name);
      let reader: TableReader;
      try {
        reader = openCachedTable(path, tables);
      } catch (e) {
        if ((e as { code?: unknown }).code === "ENOENT") {
          throw new CorruptionError(
            `${what}: ${join(dir, manifestName)} lists ${name} (level ${f.level}), which is ` +
              `missing from ${dir}`,
            { cause: e },
          );
        }
        throw named(e, what);
      }
      opened.push({ meta: metaOf(f), reader });
      if (reader.size !== f.fileSize) {
        throw new CorruptionError(
          `${what}: ${path} is ${reader.size} bytes; ${manifestName} records ${f.fileSize}`,
        );
      }
    }
  } catch (e) {
    for (const o of opened) o.reader.close();
    throw e;
  }
  return opened;
}

/** The sequence number in an internal key's trailer. */
export function sequenceOf(ikey: Uint8Array): number {
  const at = ikey.length - 8;
  return Number(sequenceFromTrailer(decodeFixed32(ikey, at + 4), decodeFixed32(ikey, at)));
}

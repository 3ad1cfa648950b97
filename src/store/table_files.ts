/**
 * The SST files of a Store, newest first, with their readers (opened through the store's table
 * cache), the number the next file takes, and the manifest that records them. A flush takes a
 * number (`next`), installs what it wrote (`install`) and the manifest is written (atomically,
 * `writeFileDurably`) after every change.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { CorruptionError } from "../errors.ts";
import { writeFileDurably } from "../table/file.ts";
import type { TableCache } from "../table/table_cache.ts";
import { openCachedTable, type TableReader } from "../table/table_reader.ts";
import { withDescriptors } from "./descriptors.ts";
import {
  encodeManifest,
  type FileMeta,
  fileName,
  type Manifest,
  manifestName,
} from "./directory.ts";
import { named } from "./errors.ts";

/** One SST file of the store: as the manifest records it, and its reader. */
export interface TableFile {
  meta: FileMeta;
  reader: TableReader;
}

/** A store's SST files (see the module notes). */
export class TableFiles {
  readonly dir: string;
  /** The bound on open SST descriptors, shared by every file of the store. */
  readonly tables: TableCache;
  /** Newest first. */
  #files: TableFile[];
  #nextFile: number;

  /** `opened`: the manifest's files, oldest first (this object closes them from now on). */
  constructor(dir: string, tables: TableCache, opened: TableFile[], nextFileNumber: number) {
    this.dir = dir;
    this.tables = tables;
    this.#files = opened.slice().reverse();
    this.#nextFile = nextFileNumber;
  }

  get count(): number {
    return this.#files.length;
  }

  /** The files' descriptions, oldest first (copies). */
  metas(): FileMeta[] {
    return this.#files.map((f) => ({ ...f.meta })).reverse();
  }

  /** The readers, newest first. */
  readers(): TableReader[] {
    return this.#files.map((f) => f.reader);
  }

  /** The number and path of the next flush's file (each number is given out once). */
  next(): { number: number; path: string } {
    const number = this.#nextFile++;
    return { number, path: join(this.dir, fileName(number)) };
  }

  /**
   * Adds the files a flush installed (`installed`, oldest first, as the MemTableList hands
   * them out: earlier flushes' results may come with this one's); `reader` is file `number`'s.
   */
  install(installed: readonly FileMeta[], number: number, reader: TableReader): void {
    for (const m of installed) {
      const r = m.number === number
        ? reader
        : openCachedTable(join(this.dir, fileName(m.number)), this.tables);
      this.#files.unshift({ meta: m, reader: r });
    }
  }

  /** Records the files, `lastSequence` and the next file number in the manifest. */
  writeManifest(lastSequence: number): void {
    const manifest: Manifest = {
      version: 1,
      files: this.#files.map((f) => f.meta).reverse(),
      lastSequence,
      nextFileNumber: this.#nextFile,
    };
    const bytes = encodeManifest(manifest);
    withDescriptors(this.tables, () => writeFileDurably(join(this.dir, manifestName), bytes));
  }

  close(): void {
    for (const f of this.#files) f.reader.close();
  }
}

/**
 * Opens the tables `manifest` lists (oldest first), checking that each is there, inside `dir`,
 * of the size the manifest records and readable; on any failure closes what it opened and
 * throws a `CorruptionError` naming the file (and the manifest field).
 */
export function openTableFiles(
  dir: string,
  manifestPath: string,
  manifest: Manifest,
  tables: TableCache,
): TableFile[] {
  const what = "Store.open()";
  const opened: TableFile[] = [];
  try {
    manifest.files.forEach((meta, i) => {
      const name = fileName(meta.number);
      const path = join(dir, name);
      if (dirname(resolve(path)) !== resolve(dir)) { // the manifest's numbers are integers
        throw new CorruptionError(`${what}: ${manifestPath}: files[${i}] names ${path}`);
      }
      let reader: TableReader;
      try {
        reader = openCachedTable(path, tables);
      } catch (e) {
        if ((e as { code?: unknown }).code === "ENOENT") {
          throw new CorruptionError(
            `${what}: ${manifestPath} lists ${name} (files[${i}]), which is missing from ${dir}`,
            { cause: e },
          );
        }
        throw named(e, what);
      }
      opened.push({ meta, reader });
      if (reader.size !== meta.size) {
        throw new CorruptionError(
          `${what}: ${path} is ${reader.size} bytes; ${manifestPath} files[${i}].size says ` +
            `${meta.size}`,
        );
      }
    });
  } catch (e) {
    for (const o of opened) o.reader.close();
    throw e;
  }
  return opened;
}

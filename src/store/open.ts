/**
 * Opening a store's directory: created when missing, its `LOCK` taken before anything in it is
 * read or changed (one store per directory, across processes), its manifest read and checked,
 * its files sorted (directory.ts: the store's own, its leftovers, anything else — which refuses
 * the directory), its SST files opened and its leftovers removed. A refused directory is left as
 * it was: without the LOCK file this open made, and unlocked.
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { StoreError } from "../errors.ts";
import { FileLock } from "../ffi/file_lock.ts";
import { writeFileDurably } from "../table/file.ts";
import { descriptorAdvice, TableCache } from "../table/table_cache.ts";
import { fsStep, withDescriptors } from "./descriptors.ts";
import {
  emptyManifest,
  encodeManifest,
  foreignFilesMessage,
  lockName,
  manifestName,
  readManifest,
  sortDirectory,
} from "./directory.ts";
import type { StoreOptions } from "./options.ts";
import { openTableFiles, TableFiles } from "./table_files.ts";

/** A store directory, opened and locked. */
export interface OpenedDirectory {
  lock: FileLock;
  files: TableFiles;
  lastSequence: number;
}

const what = "Store.open()";

/**
 * Opens `options.dir` (see the module notes) and hands it to `make`; when anything fails,
 * `make` included, undoes what it did (files closed, lock released) and throws.
 */
export function openDirectory<T>(options: StoreOptions, make: (d: OpenedDirectory) => T): T {
  const dir = options.dir;
  fsStep(what, `cannot open the directory ${dir}`, () => {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    else if (!statSync(dir).isDirectory()) {
      throw new StoreError(`${what}: ${dir} is not a directory`);
    }
  });
  // One store per directory, across processes: before anything in it is read or changed.
  const lockPath = join(dir, lockName);
  const lockExisted = existsSync(lockPath);
  const lock = lockDirectory(dir);
  try {
    return openLocked(options, lock, make);
  } catch (e) {
    // A refused directory is left as it was: without the LOCK file this call made.
    if (!lockExisted) rmSync(lockPath, { force: true });
    lock.release();
    throw e;
  }
}

function openLocked<T>(
  options: StoreOptions,
  lock: FileLock,
  make: (d: OpenedDirectory) => T,
): T {
  const dir = options.dir;
  const names = fsStep(what, `cannot open the directory ${dir}`, () => readdirSync(dir));
  const path = join(dir, manifestName);
  const found = names.includes(manifestName) ? readManifest(path, what) : undefined;
  const { leftovers, foreign } = sortDirectory(names, found);
  if (foreign.length > 0) throw new StoreError(foreignFilesMessage(what, dir, foreign));
  const manifest = found ?? emptyManifest();
  const tables = new TableCache(options.maxOpenFiles);
  const files = new TableFiles(
    dir,
    tables,
    openTableFiles(dir, path, manifest, tables),
    manifest.nextFileNumber,
  );
  try {
    fsStep(what, `cannot set up ${dir}`, () => {
      // A new store records itself at once: a directory with files and no manifest is not ours.
      if (found === undefined) {
        withDescriptors(tables, () => writeFileDurably(path, encodeManifest(manifest)));
      }
      for (const f of leftovers) rmSync(join(dir, f), { force: true });
    });
    return make({ lock, files, lastSequence: manifest.lastSequence });
  } catch (e) {
    files.close();
    throw e;
  }
}

/**
 * Locks `dir`'s `LOCK` file (RocksDB's name) for the store being opened, or throws the
 * `StoreError` that says why it cannot be opened.
 */
function lockDirectory(dir: string): FileLock {
  const path = join(dir, lockName);
  const lock = FileLock.acquire(path);
  if (lock instanceof FileLock) return lock;
  if (lock.reason === "held") {
    throw new StoreError(
      `${what}: ${dir} is in use: its ${lockName} file is locked by another open store ` +
        `(in this process or another; close that one first). Nothing was changed`,
    );
  }
  if (lock.reason === "io" && (lock.code === "EMFILE" || lock.code === "ENFILE")) {
    throw new StoreError(`${what}: cannot lock ${path}: ${lock.code}: ${descriptorAdvice()}`);
  }
  const cause = lock.reason === "io" ? ` (${lock.code ?? `error ${lock.osError}`})` : "";
  throw new StoreError(`${what}: cannot lock ${path}${cause}`);
}

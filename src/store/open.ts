/**
 * Opening a store's directory, a RocksDB database (src/db/database.ts): created when missing,
 * its `LOCK` taken before anything in it is read or changed (one store per directory, across
 * processes), its files sorted (directory.ts), then — in this order, so that a refused
 * directory is left exactly as it was — its MANIFEST read, its table files opened and checked,
 * its live logs replayed (recovery.ts); only then is anything written: a new MANIFEST holding
 * the state, `CURRENT`, an OPTIONS file, `IDENTITY`, and the new log that takes the writes; and
 * what earlier writes left (temporaries, unrecorded table files) is removed.
 *
 * A store of the earlier format (`MANIFEST.json`) is converted: its files become level 0 of a
 * new database whose MANIFEST records them (with their bounds, read from the files), and
 * `MANIFEST.json` is removed once `CURRENT` names the new MANIFEST.
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { DbDirectory, type InitialState, type PendingOpen } from "../db/database.ts";
import { logFileName, tableFileName } from "../db/manifest.ts";
import type { NewFile } from "../db/version_edit.ts";
import { openLog } from "../db/native_wal.ts";
import type { Log } from "../db/wal.ts";
import { CorruptionError, StoreError } from "../errors.ts";
import { FileLock } from "../ffi/file_lock.ts";
import { descriptorAdvice, TableCache } from "../table/table_cache.ts";
import { openCachedTable } from "../table/table_reader.ts";
import { fsStep, withDescriptors } from "./descriptors.ts";
import { named } from "./errors.ts";
import {
  classifyDirectory,
  foreignFilesMessage,
  lockName,
  obsoleteTables,
  unrecordedTables,
} from "./directory.ts";
import { manifestName as legacyName, readManifest, sortDirectory } from "./legacy_manifest.ts";
import { optionsFileFields, type StoreOptions } from "./options.ts";
import { type Replayed, replayLogs } from "./recovery.ts";
import { openTableFiles, TableFiles } from "./table_files.ts";

/** A store directory, opened and locked, its logs replayed, a new log open. */
export interface OpenedDirectory {
  lock: FileLock;
  files: TableFiles;
  /** What the logs replayed (memtables not yet flushed; the caller owns them). */
  replayed: Replayed;
  /** The log the store writes from now on. */
  wal: Log;
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

/** What a directory's sorting decided: how to read it, and what to remove once it is open. */
interface Plan {
  pending: PendingOpen;
  leftovers: string[];
  /** A converted store's `MANIFEST.json`, removed once the new MANIFEST is current. */
  legacy: boolean;
}

function planOpen(dir: string, names: string[], tables: TableCache): Plan {
  const sorted = classifyDirectory(dir, names);
  switch (sorted.kind) {
    case "foreign":
      throw new StoreError(foreignFilesMessage(what, dir, sorted.foreign));
    case "legacy": {
      const { initial, leftovers } = convertLegacy(dir, names, tables);
      return { pending: DbDirectory.read(dir, initial), leftovers, legacy: true };
    }
    case "new":
      return { pending: DbDirectory.read(dir), leftovers: sorted.leftovers, legacy: false };
    case "database": {
      const pending = DbDirectory.read(dir);
      const unrecorded = unrecordedTables(names, pending.recordedNextFileNumber);
      const obsolete = obsoleteTables(names, pending.recordedNextFileNumber, pending.files);
      return {
        pending,
        leftovers: [...sorted.leftovers, ...unrecorded, ...obsolete],
        legacy: false,
      };
    }
  }
}

function openLocked<T>(
  options: StoreOptions,
  lock: FileLock,
  make: (d: OpenedDirectory) => T,
): T {
  const dir = options.dir;
  const names = fsStep(what, `cannot open the directory ${dir}`, () => readdirSync(dir));
  const tables = new TableCache(options.maxOpenFiles, options.blockCacheSize);
  const plan = fsStep(
    what,
    `cannot read ${dir}`,
    () => withDescriptors(tables, () => planOpen(dir, names, tables)),
  );
  const { pending } = plan;
  const lastSequence = Number(pending.lastSequence);
  if (!Number.isSafeInteger(lastSequence)) {
    throw new CorruptionError(
      `${what}: ${join(dir, pending.manifestName)} records the last sequence number ` +
        `${pending.lastSequence}, beyond what a Store counts to (2^53 - 1)`,
    );
  }
  const opened = openTableFiles(dir, pending.manifestName, pending.files, tables);
  let replayed: Replayed | undefined;
  let files: TableFiles | undefined;
  let wal: Log | undefined;
  try {
    replayed = replayLogs(dir, pending.logs, options, lastSequence);
    const db = fsStep(what, `cannot set up ${dir}`, () => {
      // Leftovers first: an interrupted open's MANIFEST must not stand where the new one goes.
      for (const f of plan.leftovers) rmSync(join(dir, f), { force: true });
      const db = withDescriptors(tables, () => pending.start(optionsFileFields(options)));
      if (plan.legacy) rmSync(join(dir, legacyName), { force: true });
      return db;
    });
    files = new TableFiles(dir, tables, db, opened);
    const number = db.newLogNumber();
    wal = fsStep(
      what,
      `cannot create its log`,
      () => withDescriptors(tables, () => openLog(join(dir, logFileName(number)), number)),
    );
    return make({ lock, files, replayed, wal });
  } catch (e) {
    wal?.close();
    for (const m of replayed?.memtables ?? []) m.close();
    if (files !== undefined) files.close();
    else for (const o of opened) o.reader.close();
    throw e;
  }
}

/**
 * A store of the earlier format as the state of a new database: its files at level 0 with
 * their bounds; its leftovers, and what an interrupted conversion wrote before `CURRENT`.
 * Refuses (changing nothing) what `sortDirectory` cannot prove the store's own.
 */
function convertLegacy(
  dir: string,
  names: readonly string[],
  tables: TableCache,
): { initial: InitialState; leftovers: string[] } {
  const path = join(dir, legacyName);
  const manifest = readManifest(path, what);
  const converting = /^(?:MANIFEST-\d{6,}|OPTIONS-\d{6,}|IDENTITY|\d{6,}\.dbtmp)$/;
  const interrupted = names.filter((n) => converting.test(n));
  const rest = names.filter((n) => !converting.test(n));
  const { leftovers, foreign } = sortDirectory(rest, manifest);
  if (foreign.length > 0) throw new StoreError(foreignFilesMessage(what, dir, foreign));
  const files: NewFile[] = manifest.files.map((f, i) => {
    const name = tableFileName(f.number);
    const table = join(dir, name);
    let reader;
    try {
      reader = openCachedTable(table, tables);
    } catch (e) {
      if ((e as { code?: unknown }).code === "ENOENT") {
        throw new CorruptionError(
          `${what}: ${path} lists ${name} (files[${i}]), which is missing from ${dir}`,
          { cause: e },
        );
      }
      throw named(e, what);
    }
    try {
      if (reader.size !== f.size) {
        throw new CorruptionError(
          `${what}: ${table} is ${reader.size} bytes; ${path} files[${i}].size says ${f.size}`,
        );
      }
      const bounds = reader.bounds() ?? { smallest: new Uint8Array(8), largest: new Uint8Array(8) };
      return {
        level: 0,
        number: f.number,
        fileSize: f.size,
        smallest: bounds.smallest,
        largest: bounds.largest,
        smallestSeqno: BigInt(f.smallestSeq),
        largestSeqno: BigInt(f.largestSeq),
      };
    } finally {
      reader.close();
    }
  });
  return {
    initial: {
      files,
      lastSequence: BigInt(manifest.lastSequence),
      nextFileNumber: manifest.nextFileNumber,
    },
    leftovers: [...leftovers, ...interrupted],
  };
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

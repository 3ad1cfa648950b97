/**
 * A RocksDB database directory as a store keeps it: `CURRENT` names the live MANIFEST, whose
 * edits list the table files per level and the numbers; write-ahead logs (`NNNNNN.log`) hold
 * the writes no table file holds yet; `OPTIONS-NNNNNN` and `IDENTITY` describe the database.
 * Every file is numbered from one counter, the MANIFEST's next file number, as RocksDB numbers
 * them.
 *
 * `DbDirectory.open` reads what is there (or starts a new database in an empty directory),
 * names the logs still to replay, and starts a new MANIFEST holding a snapshot of the state —
 * as every read-write open of RocksDB does — so that an earlier, longer MANIFEST goes away.
 * After that, every change is one synced edit: a flush's new table file with the log number
 * from which logs are still needed (older logs are then deleted), a new log number, the last
 * sequence number. A crash between any two steps leaves a directory that opens: the new
 * MANIFEST is named by `CURRENT` only once it is whole, and a file is deleted only after the
 * edit that makes it obsolete is synced.
 *
 * Contract: the caller holds the directory's `LOCK` (one writer per directory).
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { SequenceNumber } from "../coding/sequence.ts";
import { StoreError } from "../errors.ts";
import { writeFileDurably } from "../table/file.ts";
import {
  comparatorName,
  type DbState,
  defaultNumLevels,
  logFileName,
  manifestFileName,
  ManifestWriter,
  numbered,
  readCurrent,
  readManifest,
  writeCurrent,
} from "./manifest.ts";
import { type OptionsFileFields, optionsFileText } from "./options_file.ts";
import type { NewFile, VersionEdit } from "./version_edit.ts";

/** A MANIFEST this size or larger is replaced by a new one holding a snapshot (RocksDB: 1 GiB). */
const manifestSizeMax = 64 << 20;

/** What `DbDirectory.open` found. */
export interface Opened extends Omit<PendingOpen, "start"> {
  db: DbDirectory;
}

/** A database read by `DbDirectory.read`, not yet changed. */
export interface PendingOpen {
  /** The logs to replay, in order: numbers at or above the MANIFEST's log number. */
  logs: number[];
  /** Whether the directory was empty (a new database). */
  created: boolean;
  /** The next file number as the MANIFEST recorded it (table files at or above it are
   * unrecorded flushes). */
  recordedNextFileNumber: number;
  /** The live table files, with their levels. */
  files: NewFile[];
  lastSequence: SequenceNumber;
  /** The MANIFEST read (or, for a new database, the one to be written), for messages. */
  manifestName: string;
  /** Writes the new MANIFEST and the rest; the database is open from then on. */
  start(optionsFile: OptionsFileFields): DbDirectory;
}

/** What a new database starts with (a store converted from an earlier format). */
export interface InitialState {
  files: NewFile[];
  lastSequence: SequenceNumber;
  nextFileNumber: number;
}

export class DbDirectory {
  readonly dir: string;
  #state: DbState;
  #manifest: ManifestWriter;
  #optionsFile: OptionsFileFields;
  /** The logs in the directory, as far as this object knows (those it found and made). */
  readonly #logs: Set<number>;

  private constructor(
    dir: string,
    state: DbState,
    manifest: ManifestWriter,
    o: OptionsFileFields,
    logs: Iterable<number>,
  ) {
    this.dir = dir;
    this.#logs = new Set(logs);
    this.#state = state;
    this.#manifest = manifest;
    this.#optionsFile = o;
  }

  /**
   * Opens the database in `dir` (RocksDB's or this library's), or makes a new one when `dir`
   * holds no `CURRENT`: the caller has checked that it holds nothing else of value.
   * `read` and `start` in one step.
   */
  static open(dir: string, optionsFile: OptionsFileFields, initial?: InitialState): Opened {
    const read = DbDirectory.read(dir, initial);
    return { ...read, db: read.start(optionsFile) };
  }

  /**
   * Reads the database in `dir` without changing anything: its state (or a new database's,
   * `initial` when given, when `dir` holds no `CURRENT`) and the logs to replay. Its `start`
   * then writes the new MANIFEST, `CURRENT`, an OPTIONS file and `IDENTITY` (see the notes).
   */
  static read(dir: string, initial?: InitialState): PendingOpen {
    const created = !existsSync(join(dir, "CURRENT"));
    let state: DbState;
    let oldManifest: string | undefined;
    if (created) {
      state = {
        comparator: comparatorName,
        logNumber: 0,
        prevLogNumber: 0,
        nextFileNumber: 1,
        lastSequence: 0,
        minLogNumberToKeep: 0,
        levels: Array.from({ length: defaultNumLevels }, () => new Map<number, NewFile>()),
        edits: 0,
      };
      if (initial !== undefined) {
        for (const f of initial.files) state.levels[f.level]!.set(f.number, f);
        state.lastSequence = initial.lastSequence;
        state.nextFileNumber = initial.nextFileNumber;
      }
    } else {
      oldManifest = readCurrent(dir);
      state = readManifest(dir, oldManifest);
    }
    const recordedNextFileNumber = state.nextFileNumber;
    const from = Math.max(state.logNumber, state.minLogNumberToKeep);
    const present = logNumbersIn(dir);
    const logs = present.filter((n) => n >= from);
    const files = state.levels.flatMap((l) => [...l.values()]);
    const start = (optionsFile: OptionsFileFields): DbDirectory => {
      // Numbers in use must stay below the counter (a log newer than the MANIFEST knew of).
      for (const n of logs) state.nextFileNumber = Math.max(state.nextFileNumber, n + 1);
      const number = state.nextFileNumber++;
      // A MANIFEST of this number is what an earlier open wrote before it died, never the live
      // one (that one's number is below the next file number it records).
      rmSync(join(dir, manifestFileName(number)), { force: true });
      const manifest = ManifestWriter.create(dir, number, snapshotEdits(state));
      writeCurrent(dir, number);
      const db = new DbDirectory(dir, state, manifest, optionsFile, present);
      if (oldManifest !== undefined && oldManifest !== manifestFileName(number)) {
        rmSync(join(dir, oldManifest), { force: true });
      }
      db.#writeOptions();
      const identity = join(dir, "IDENTITY");
      if (!existsSync(identity)) writeFileDurably(identity, new TextEncoder().encode(randomUUID()));
      return db;
    };
    return {
      logs,
      created,
      recordedNextFileNumber,
      files,
      lastSequence: state.lastSequence,
      manifestName: oldManifest ?? manifestFileName(state.nextFileNumber),
      start,
    };
  }

  /** A new file number (for a table file, an OPTIONS file). */
  newFileNumber(): number {
    return this.#state.nextFileNumber++;
  }

  /** A new file number for a log the caller creates (deleted once it is obsolete). */
  newLogNumber(): number {
    const n = this.newFileNumber();
    this.#logs.add(n);
    return n;
  }

  /** The logs from this number on are still needed (their writes are in no table file). */
  get logNumber(): number {
    return this.#state.logNumber;
  }

  get lastSequence(): SequenceNumber {
    return this.#state.lastSequence;
  }

  /** The table files of `level`, by file number. */
  files(level: number): readonly NewFile[] {
    return [...(this.#state.levels[level]?.values() ?? [])];
  }

  /** Every live table file, with its level. */
  allFiles(): readonly NewFile[] {
    return this.#state.levels.flatMap((l) => [...l.values()]);
  }

  /**
   * Records a flush: `file` joins level 0; logs below `logNumber` hold nothing unflushed any
   * more and are deleted once the edit is synced. `lastSequence` is the store's.
   */
  recordFlush(file: NewFile, logNumber: number, lastSequence: SequenceNumber): void {
    this.#apply({
      logNumber,
      prevLogNumber: 0,
      nextFileNumber: this.#state.nextFileNumber,
      lastSequence,
      newFiles: [{ ...file, level: 0 }],
    });
    this.#state.levels[0]!.set(file.number, { ...file, level: 0 });
    this.#state.lastSequence = lastSequence;
    this.#logsFrom(logNumber);
  }

  /**
   * Records a compaction in one synced edit (RocksDB's: PrevLogNumber, NextFileNumber,
   * LastSequence, the deleted files, the new ones with their levels; no LogNumber). A file
   * may be deleted from one level and added to another (a move).
   */
  recordCompaction(
    deleted: readonly { level: number; number: number }[],
    added: readonly NewFile[],
    lastSequence: SequenceNumber,
  ): void {
    const levels = this.#state.levels;
    for (const d of deleted) {
      if (levels[d.level]?.has(d.number) !== true) {
        throw new StoreError(
          `DbDirectory.recordCompaction(): level ${d.level} does not hold table file ${d.number}`,
        );
      }
    }
    this.#apply({
      prevLogNumber: 0,
      nextFileNumber: this.#state.nextFileNumber,
      lastSequence,
      deletedFiles: deleted.map((d) => ({ level: d.level, number: d.number })),
      newFiles: [...added],
    });
    for (const d of deleted) levels[d.level]!.delete(d.number);
    for (const f of added) (levels[f.level] ??= new Map()).set(f.number, f);
    this.#state.lastSequence = lastSequence;
  }

  /**
   * Records the last sequence number, and that logs from `logNumber` on are needed (older
   * ones are deleted once the edit is synced).
   */
  recordSequence(lastSequence: SequenceNumber, logNumber = this.#state.logNumber): void {
    this.#apply({ logNumber, nextFileNumber: this.#state.nextFileNumber, lastSequence });
    this.#state.lastSequence = lastSequence;
    this.#logsFrom(logNumber);
  }

  /** Logs below `logNumber` are obsolete from now on: deleted. */
  #logsFrom(logNumber: number): void {
    this.#state.logNumber = logNumber;
    for (const n of this.#logs) {
      if (n >= logNumber) continue;
      rmSync(join(this.dir, logFileName(n)), { force: true });
      this.#logs.delete(n);
    }
  }

  /**
   * Why the MANIFEST takes no more edits (one failed), once it does not: nothing is recorded
   * after a failed edit, so no log is ever deleted past what the MANIFEST holds; the logs keep
   * every write for the next open (RocksDB's background error).
   */
  get broken(): Error | undefined {
    return this.#broken;
  }

  #broken: Error | undefined;

  #apply(edit: VersionEdit): void {
    if (this.#broken !== undefined) {
      throw new StoreError(
        `${this.#manifest.path} takes no more edits since one failed (${this.#broken.message}); ` +
          `the logs keep every write for the next open`,
        { cause: this.#broken },
      );
    }
    try {
      if (this.#manifest.size >= manifestSizeMax) this.#rollManifest();
      this.#manifest.append(edit);
    } catch (e) {
      this.#broken = e instanceof Error ? e : new Error(String(e));
      throw e;
    }
    this.#state.edits++;
  }

  /** Starts a new MANIFEST holding a snapshot, and drops the old one. */
  #rollManifest(): void {
    const old = this.#manifest;
    const number = this.#state.nextFileNumber++;
    this.#manifest = ManifestWriter.create(this.dir, number, snapshotEdits(this.#state));
    writeCurrent(this.dir, number);
    old.close();
    rmSync(old.path, { force: true });
  }

  /** Writes a new OPTIONS file and removes all but the newest two (as RocksDB keeps them). */
  #writeOptions(): void {
    const number = this.newFileNumber();
    writeFileDurably(
      join(this.dir, `OPTIONS-${numbered(number, "")}`),
      new TextEncoder().encode(optionsFileText(this.#optionsFile)),
    );
    const options = readdirSync(this.dir)
      .map((f) => /^OPTIONS-(\d{6,})$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    for (const n of options.slice(2)) rmSync(join(this.dir, `OPTIONS-${numbered(n, "")}`));
  }

  close(): void {
    this.#manifest.close();
  }
}

/** The edits that give a new MANIFEST the state `s`. */
function snapshotEdits(s: DbState): VersionEdit[] {
  return [
    { comparator: comparatorName },
    {
      logNumber: s.logNumber,
      prevLogNumber: 0,
      nextFileNumber: s.nextFileNumber,
      lastSequence: s.lastSequence,
      newFiles: s.levels.flatMap((l) => [...l.values()]),
    },
  ];
}

/** The numbers of the logs in `dir`, ascending. */
export function logNumbersIn(dir: string): number[] {
  return readdirSync(dir)
    .map((f) => /^(\d{6,})\.log$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

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
export interface Opened {
  db: DbDirectory;
  /** The logs to replay, in order: numbers at or above the MANIFEST's log number. */
  logs: number[];
  /** Whether the directory was empty (a new database). */
  created: boolean;
}

export class DbDirectory {
  readonly dir: string;
  #state: DbState;
  #manifest: ManifestWriter;
  #optionsFile: OptionsFileFields;

  private constructor(dir: string, state: DbState, manifest: ManifestWriter, o: OptionsFileFields) {
    this.dir = dir;
    this.#state = state;
    this.#manifest = manifest;
    this.#optionsFile = o;
  }

  /**
   * Opens the database in `dir` (RocksDB's or this library's), or makes a new one when `dir`
   * holds no `CURRENT`: the caller has checked that it holds nothing else of value.
   */
  static open(dir: string, optionsFile: OptionsFileFields): Opened {
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
    } else {
      oldManifest = readCurrent(dir);
      state = readManifest(dir, oldManifest);
    }
    const from = Math.max(state.logNumber, state.minLogNumberToKeep);
    const logs = logNumbersIn(dir).filter((n) => n >= from);
    // Numbers in use must stay below the counter (a log newer than the MANIFEST knew of).
    for (const n of logs) state.nextFileNumber = Math.max(state.nextFileNumber, n + 1);
    const number = state.nextFileNumber++;
    const manifest = ManifestWriter.create(dir, number, snapshotEdits(state));
    writeCurrent(dir, number);
    const db = new DbDirectory(dir, state, manifest, optionsFile);
    if (oldManifest !== undefined && oldManifest !== manifestFileName(number)) {
      rmSync(join(dir, oldManifest), { force: true });
    }
    db.#writeOptions();
    const identity = join(dir, "IDENTITY");
    if (!existsSync(identity)) writeFileDurably(identity, new TextEncoder().encode(randomUUID()));
    return { db, logs, created };
  }

  /** A new file number (for a table file, a log, an OPTIONS file). */
  newFileNumber(): number {
    return this.#state.nextFileNumber++;
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
    const old = this.#state.logNumber;
    this.#apply({
      logNumber,
      prevLogNumber: 0,
      nextFileNumber: this.#state.nextFileNumber,
      lastSequence,
      newFiles: [{ ...file, level: 0 }],
    });
    this.#state.levels[0]!.set(file.number, { ...file, level: 0 });
    this.#state.logNumber = logNumber;
    this.#state.lastSequence = lastSequence;
    for (const n of logNumbersIn(this.dir)) {
      if (n >= old && n < logNumber) rmSync(join(this.dir, logFileName(n)), { force: true });
    }
  }

  /** Records the last sequence number (and that logs from `logNumber` on are needed). */
  recordSequence(lastSequence: SequenceNumber, logNumber = this.#state.logNumber): void {
    this.#apply({ logNumber, nextFileNumber: this.#state.nextFileNumber, lastSequence });
    this.#state.lastSequence = lastSequence;
    this.#state.logNumber = logNumber;
  }

  #apply(edit: VersionEdit): void {
    if (this.#manifest.size >= manifestSizeMax) this.#rollManifest();
    this.#manifest.append(edit);
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

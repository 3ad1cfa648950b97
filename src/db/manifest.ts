/**
 * A RocksDB database's MANIFEST, read and written: `CURRENT` names the live `MANIFEST-NNNNNN`,
 * a log (log_format.ts) of VersionEdits (version_edit.ts). Replaying the edits in order gives
 * the database's state: the table files of each level, the WAL number from which logs are
 * still live, the next file number and the last sequence number.
 *
 * Replay applies RocksDB's checks (a file deleted that is not in its level, a file added
 * twice, an edit for another column family, a missing LogNumber/NextFileNumber/LastSequence)
 * and reports each as a `CorruptionError` that names the file and the edit. A torn last record
 * of the MANIFEST is dropped, as RocksDB drops it; any other damage is corruption.
 *
 * @module
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { CorruptionError } from "../errors.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import { syncDirectory } from "../table/file.ts";
import { LogWriter, readLog } from "./log_format.ts";
import {
  decodeVersionEdit,
  encodeVersionEdit,
  type NewFile,
  type VersionEdit,
} from "./version_edit.ts";

/** The comparator this library orders keys with (RocksDB's default). */
export const comparatorName = "leveldb.BytewiseComparator";

/** RocksDB's level count by default (`num_levels`). */
export const defaultNumLevels = 7;

/** `NNNNNN` as RocksDB names numbered files. */
export function numbered(n: number, suffix: string): string {
  return `${String(n).padStart(6, "0")}${suffix}`;
}

export const manifestFileName = (n: number): string => `MANIFEST-${numbered(n, "")}`;
export const logFileName = (n: number): string => numbered(n, ".log");
export const tableFileName = (n: number): string => numbered(n, ".sst");

/** A database's state after its MANIFEST's edits. */
export interface DbState {
  comparator: string | undefined;
  logNumber: number;
  prevLogNumber: number;
  nextFileNumber: number;
  lastSequence: SequenceNumber;
  minLogNumberToKeep: number;
  /** The table files of each level, by file number. */
  levels: Map<number, NewFile>[];
  /** How many edits the MANIFEST holds. */
  edits: number;
}

/** Applies `edits` (a MANIFEST's, in order) to an empty database. `where` names the file. */
export function replayEdits(
  edits: VersionEdit[],
  where: string,
  numLevels = defaultNumLevels,
): DbState {
  const state: Partial<DbState> & { levels: Map<number, NewFile>[] } = {
    comparator: undefined,
    prevLogNumber: 0,
    minLogNumberToKeep: 0,
    levels: [],
    edits: edits.length,
  };
  const fail = (i: number, what: string): never => {
    throw new CorruptionError(`${where}: edit ${i}: ${what}`);
  };
  edits.forEach((e, i) => {
    if ((e.columnFamily ?? 0) !== 0 || e.columnFamilyAdd !== undefined || e.columnFamilyDrop) {
      fail(i, `column family ${e.columnFamily ?? e.columnFamilyAdd}: only "default" is supported`);
    }
    if (e.comparator !== undefined) {
      if (e.comparator !== comparatorName) {
        fail(i, `comparator "${e.comparator}" does not match ${comparatorName}`);
      }
      state.comparator = e.comparator;
    }
    if (e.logNumber !== undefined) state.logNumber = e.logNumber;
    if (e.prevLogNumber !== undefined) state.prevLogNumber = e.prevLogNumber;
    if (e.nextFileNumber !== undefined) state.nextFileNumber = e.nextFileNumber;
    if (e.lastSequence !== undefined) state.lastSequence = e.lastSequence;
    if (e.minLogNumberToKeep !== undefined) state.minLogNumberToKeep = e.minLogNumberToKeep;
    for (const d of e.deletedFiles ?? []) {
      if (!state.levels[d.level]?.delete(d.number)) {
        fail(i, `deletes table file ${d.number} from level ${d.level}, which does not hold it`);
      }
    }
    for (const f of e.newFiles ?? []) {
      if (f.level >= Math.max(numLevels, 64)) {
        fail(i, `adds table file ${f.number} to level ${f.level}`);
      }
      if (state.levels.some((l) => l?.has(f.number))) fail(i, `adds table file ${f.number} twice`);
      (state.levels[f.level] ??= new Map()).set(f.number, f);
    }
  });
  for (const field of ["logNumber", "nextFileNumber", "lastSequence"] as const) {
    if (state[field] === undefined) {
      throw new CorruptionError(`${where}: no ${field} in any edit (RocksDB needs one)`);
    }
  }
  const levels = Math.max(numLevels, state.levels.length);
  for (let l = 0; l < levels; l++) state.levels[l] ??= new Map();
  for (const level of state.levels) {
    for (const f of level.values()) {
      if (f.number >= state.nextFileNumber!) {
        throw new CorruptionError(
          `${where}: table file ${f.number} is not below the next file number ${state.nextFileNumber}`,
        );
      }
      if (BigInt(f.smallestSeqno) > BigInt(f.largestSeqno)) {
        throw new CorruptionError(
          `${where}: table file ${f.number}'s smallest sequence number ${f.smallestSeqno} is ` +
            `above its largest ${f.largestSeqno}`,
        );
      }
      if (BigInt(f.largestSeqno) > BigInt(state.lastSequence!)) {
        throw new CorruptionError(
          `${where}: the last sequence number ${state.lastSequence} is below table file ` +
            `${f.number}'s largest ${f.largestSeqno}: later writes would reuse its numbers`,
        );
      }
    }
  }
  return state as DbState;
}

/** Reads `CURRENT` in `dir`: the live MANIFEST's file name (RocksDB's rules). */
export function readCurrent(dir: string): string {
  const path = join(dir, "CURRENT");
  const text = readFileSync(path, "utf8");
  if (!text.endsWith("\n")) throw new CorruptionError(`${path} does not end with a newline`);
  const name = text.slice(0, -1);
  if (!/^MANIFEST-\d{6,}$/.test(name)) {
    throw new CorruptionError(`${path} does not name a MANIFEST file: ${JSON.stringify(name)}`);
  }
  return name;
}

/** Reads and replays the MANIFEST `name` in `dir`. */
export function readManifest(dir: string, name: string): DbState {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    throw new CorruptionError(`${join(dir, "CURRENT")} names ${name}, which is missing`, {
      cause: e,
    });
  }
  const { records, end } = readLog(bytes);
  if (end.kind === "corrupt") {
    throw new CorruptionError(`${path}: record at byte ${end.offset}: ${end.reason}`);
  }
  const edits = records.map((r, i) => decodeVersionEdit(r.payload, `${path}: edit ${i}`));
  return replayEdits(edits, path);
}

/** Writes `CURRENT` to name MANIFEST number `n`, atomically (a temporary file, then rename). */
export function writeCurrent(dir: string, n: number): void {
  const tmp = join(dir, numbered(n, ".dbtmp"));
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, `${manifestFileName(n)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, join(dir, "CURRENT"));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectory(dir);
}

/**
 * An open MANIFEST being appended to: each edit is one record, synced before `append`
 * returns (an edit records flushed files: it must survive what it describes).
 */
export class ManifestWriter {
  readonly path: string;
  readonly number: number;
  readonly #fd: number;
  readonly #log: LogWriter;
  #size: number;

  private constructor(path: string, number: number, fd: number) {
    this.path = path;
    this.number = number;
    this.#fd = fd;
    this.#log = new LogWriter(0);
    this.#size = 0;
  }

  /**
   * Creates MANIFEST number `n` in `dir` holding `edits` (a snapshot of the state), synced;
   * `CURRENT` is left to the caller (`writeCurrent`), so a crash before it keeps the old one.
   */
  static create(dir: string, n: number, edits: VersionEdit[]): ManifestWriter {
    const path = join(dir, manifestFileName(n));
    const fd = openSync(path, "wx");
    const w = new ManifestWriter(path, n, fd);
    try {
      for (const e of edits) w.#write(e);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw e;
    }
    syncDirectory(dir);
    return w;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  #write(edit: VersionEdit): void {
    const bytes = this.#log.frame(encodeVersionEdit(edit));
    let at = 0;
    while (at < bytes.length) at += writeSync(this.#fd, bytes, at, bytes.length - at);
    this.#size += bytes.length;
  }

  /** Appends `edit` and syncs it. */
  append(edit: VersionEdit): void {
    this.#write(edit);
    fsyncSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

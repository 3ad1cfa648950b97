/**
 * A store directory (a RocksDB database) read without changing it: `CURRENT`, the MANIFEST it
 * names replayed (src/db/manifest.ts), the table files it lists opened read-only, and the live
 * write-ahead logs replayed into memtables (src/store/recovery.ts, `pointInTime`: a torn or
 * damaged tail ends the replay, as a read-write open would). No `LOCK` is taken and nothing is
 * written, so it reads a directory no store holds — and one a store holds, as of the moment it
 * reads (a store writing meanwhile may leave a log's last record torn: it is left out; a store
 * that replaced its MANIFEST meanwhile makes `readConsistently` read again).
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type DbState,
  logFileName,
  readCurrent,
  readManifest,
  tableFileName,
} from "../db/manifest.ts";
import { logNumbersIn } from "../db/database.ts";
import { CorruptionError } from "../errors.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { type MergeOperator, mergeOperators } from "../memtable/merge.ts";
import { TableCache } from "../table/table_cache.ts";
import { openCachedTable } from "../table/table_reader.ts";
import { LiveTable, Version } from "../store/compaction/version.ts";
import { getFrom, type PointSources, type StoreEntry } from "../store/read.ts";
import { type CursorView, ViewCursor } from "../store/cursor.ts";
import { type RecoveryReport, replayLogs } from "../store/recovery.ts";
import { metaOf } from "../store/table_files.ts";
import { UsageError } from "./args.ts";

/** A directory's MANIFEST state and the files around it, before any table file is opened. */
export interface DatabaseFiles {
  dir: string;
  /** What `CURRENT` names. */
  current: string;
  state: DbState;
  /** The MANIFEST's size in bytes. */
  manifestSize: number;
  /** Every log in the directory, ascending, with its size and whether it is still live. */
  logs: { number: number; size: number; live: boolean }[];
  /** The OPTIONS files, ascending (RocksDB reads the last one). */
  optionsFiles: string[];
  /** Every other entry of the directory. */
  others: string[];
}

/** How often a read is tried again after a store in the directory replaced its MANIFEST. */
const attemptsMax = 3;

/**
 * `read(files)` of `dir`'s database (see `readDatabaseFiles`), tried again when it fails after
 * `CURRENT` came to name another MANIFEST: a store open on the directory wrote a new one (an
 * open, or a flush or compaction that removed the files the old one listed) meanwhile.
 */
export function readConsistently<T>(
  command: string,
  dir: string,
  read: (files: DatabaseFiles) => T,
): T {
  for (let attempt = 1;; attempt++) {
    const files = readDatabaseFiles(command, dir);
    try {
      return read(files);
    } catch (e) {
      let moved = false;
      try {
        moved = readCurrent(dir) !== files.current;
      } catch {
        moved = true; // CURRENT is being replaced
      }
      if (!moved || attempt >= attemptsMax) throw e;
    }
  }
}

/** Reads `dir`'s CURRENT and MANIFEST (a UsageError when it is no database directory). */
export function readDatabaseFiles(command: string, dir: string): DatabaseFiles {
  if (!existsSync(dir)) throw new UsageError(command, `${dir} does not exist`);
  if (!statSync(dir).isDirectory()) {
    throw new UsageError(command, `${dir} is not a directory (for an SST file, use dump or props)`);
  }
  const names = readdirSync(dir).sort();
  if (!names.includes("CURRENT")) {
    const why = names.includes("MANIFEST.json")
      ? "it is a store of this library's earlier format (MANIFEST.json): Store.open() converts it"
      : "it has no CURRENT file";
    throw new UsageError(command, `${dir} is not a database directory: ${why}`);
  }
  const current = readCurrent(dir);
  const state = readManifest(dir, current);
  const from = Math.max(state.logNumber, state.minLogNumberToKeep);
  const logs = logNumbersIn(dir).flatMap((n) => {
    const stat = statSync(join(dir, logFileName(n)), { throwIfNoEntry: false });
    // A log gone since the listing was obsolete: a store deleted it.
    return stat === undefined ? [] : [{ number: n, size: stat.size, live: n >= from }];
  });
  const optionsFiles = names.filter((n) => /^OPTIONS-\d{6,}$/.test(n));
  const listed = new Set<string>([
    "CURRENT",
    current,
    ...optionsFiles,
    ...logs.map((l) => logFileName(l.number)),
    ...state.levels.flatMap((l) => [...l.keys()].map(tableFileName)),
  ]);
  return {
    dir,
    current,
    state,
    manifestSize: statSync(join(dir, current)).size,
    logs,
    optionsFiles,
    others: names.filter((n) => !listed.has(n)),
  };
}

/** The `key=value` lines of the last OPTIONS file's default column family, if there is one. */
export function readOptionsFile(files: DatabaseFiles): Map<string, string> {
  const out = new Map<string, string>();
  const last = files.optionsFiles.at(-1);
  if (last === undefined) return out;
  let section = "";
  for (const line of readFileSync(join(files.dir, last), "utf8").split("\n")) {
    const t = line.trim();
    if (t.startsWith("[")) section = t;
    else if (section === '[CFOptions "default"]' || section.startsWith("[TableOptions/")) {
      const eq = t.indexOf("=");
      if (eq > 0) out.set(t.slice(0, eq).trim(), t.slice(eq + 1).trim());
    }
  }
  return out;
}

/** The built-in merge operators by their command-line names and by RocksDB's names. */
const operatorNames: Record<string, () => MergeOperator> = {
  uint64add: () => mergeOperators.uint64Add,
  UInt64AddOperator: () => mergeOperators.uint64Add,
  stringappend: () => mergeOperators.stringAppend(","),
  StringAppendOperator: () => mergeOperators.stringAppend(","),
  max: () => mergeOperators.max,
  MaxOperator: () => mergeOperators.max,
  put: () => mergeOperators.put,
  PutOperator: () => mergeOperators.put,
};

/** The names `--merge-operator` takes. */
export const mergeOperatorChoices = ["uint64add", "stringappend", "max", "put"];

/** The built-in operator `--merge-operator` names (undefined when not given). */
export function mergeOperatorOption(
  command: string,
  given: string | undefined,
): MergeOperator | undefined {
  if (given === undefined) return undefined;
  const make = Object.hasOwn(operatorNames, given) ? operatorNames[given] : undefined;
  if (make === undefined) {
    throw new UsageError(
      command,
      `--merge-operator ${JSON.stringify(given)} is not a built-in operator (one of ` +
        `${mergeOperatorChoices.join(", ")})`,
    );
  }
  return make();
}

/**
 * The merge operator reads fold operands with: `given` (`--merge-operator`), else the one the
 * OPTIONS file names when it is a built-in one, else none (a read meeting Merge entries fails).
 */
export function mergeOperatorFor(
  files: DatabaseFiles,
  given: MergeOperator | undefined,
): MergeOperator | undefined {
  if (given !== undefined) return given;
  const recorded = readOptionsFile(files).get("merge_operator");
  return recorded !== undefined && Object.hasOwn(operatorNames, recorded)
    ? operatorNames[recorded]!()
    : undefined;
}

/** A directory opened for reads: its table files and replayed logs. Close it. */
export class DatabaseView implements Disposable {
  readonly files: DatabaseFiles;
  readonly version: Version;
  /** The replayed logs' memtables, newest first. */
  readonly memtables: MemTable[];
  readonly recovery: RecoveryReport;
  /** The sequence number reads see: the MANIFEST's last, or the logs' last write. */
  readonly lastSequence: number;
  readonly mergeOperator: MergeOperator | undefined;
  #closed = false;

  constructor(files: DatabaseFiles, mergeOperator: MergeOperator | undefined) {
    this.files = files;
    this.mergeOperator = mergeOperator;
    const { dir, state } = files;
    const cache = new TableCache();
    const levels: LiveTable[][] = state.levels.map(() => []);
    const opened: LiveTable[] = [];
    try {
      state.levels.forEach((level, l) => {
        for (const f of level.values()) {
          const path = join(dir, tableFileName(f.number));
          if (!existsSync(path)) {
            throw new CorruptionError(
              `${join(dir, files.current)} lists ${tableFileName(f.number)} (level ${l}), ` +
                `which is missing from ${dir}`,
            );
          }
          const live = new LiveTable(metaOf(f), openCachedTable(path, cache), path);
          opened.push(live);
          levels[l]!.push(live);
        }
      });
      this.version = new Version(levels);
    } catch (e) {
      for (const t of opened) t.reader.close();
      throw e;
    }
    const from = Number(state.lastSequence);
    try {
      const replayed = replayLogs(
        dir,
        files.logs.filter((l) => l.live).map((l) => l.number),
        {
          dir,
          writeBufferSize: 1 << 30,
          walRecoveryMode: "pointInTime",
          ...(mergeOperator ? { mergeOperator } : {}),
        },
        from,
      );
      this.memtables = replayed.memtables.reverse();
      this.recovery = replayed.report;
      this.lastSequence = replayed.lastSequence;
    } catch (e) {
      this.version.unref();
      throw e;
    }
  }

  /** The value of `key` now (undefined: it has none). */
  get(key: Uint8Array): Uint8Array | undefined {
    const version = this.version;
    const sources: PointSources = {
      snapshot: this.lastSequence,
      memtables: this.memtables,
      filesFor: (k) => version.readersFor(k),
    };
    return getFrom(sources, key, this.mergeOperator);
  }

  /** The pairs in [lower, upper), in key order (descending with `reverse`). */
  *scan(
    lower: Uint8Array | undefined,
    upper: Uint8Array | undefined,
    reverse = false,
  ): Generator<StoreEntry> {
    const v = this.version;
    // The view stays this object's: releasing the cursor's view releases nothing of it.
    let onRelease: (() => void) | undefined;
    let released = false;
    const view: CursorView = {
      snapshot: this.lastSequence,
      memtables: this.memtables,
      files: v.readers(),
      levels: v.levels,
      get released() {
        return released;
      },
      closing: (close) => onRelease = close,
      release: () => {
        if (released) return;
        released = true;
        onRelease?.();
      },
    };
    const cursor = new ViewCursor(view, { lower, upper }, this.mergeOperator, "memtable scan");
    try {
      if (reverse) cursor.seekToLast();
      else cursor.seekToFirst();
      while (cursor.valid) {
        yield { key: cursor.key!, value: cursor.value! };
        if (reverse) cursor.prev();
        else cursor.next();
      }
    } finally {
      cursor.close();
    }
  }

  /** Releases the memtables and the table files. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.memtables) m.close();
    this.version.unref();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

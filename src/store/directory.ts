/**
 * What a store directory holds, sorted before anything in it changes. A store directory is a
 * RocksDB database (`CURRENT` → `MANIFEST-NNNNNN`, `NNNNNN.sst`, `NNNNNN.log`, `OPTIONS-NNNNNN`,
 * `IDENTITY`, `LOCK`), written by this library or by RocksDB; or a store of the earlier format
 * (`MANIFEST.json`, converted on open); or empty, to become a new database.
 *
 * The store never deletes a file it did not write. What it may remove is what a store's own
 * writes left when a process died: temporaries of its names (`<name>.<pid>.<n>.tmp`,
 * `NNNNNN.dbtmp`), table files numbered at or above the MANIFEST's next file number (a flush
 * renames its file into place before the edit that records it; RocksDB removes those too),
 * table files below that number the MANIFEST no longer lists (a compaction's inputs), and
 * in a directory without `CURRENT` the empty beginnings of a database whose creation was cut
 * short (a MANIFEST that lists no file, an OPTIONS or IDENTITY file, an empty log). A directory
 * without `CURRENT` or `MANIFEST.json` that holds anything else is refused with a `StoreError`
 * naming the files; a database directory's files of other names are left alone.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readLog } from "../db/log_format.ts";
import { decodeVersionEdit } from "../db/version_edit.ts";
import { lockName, manifestName } from "./legacy_manifest.ts";

export { lockName };

/** One table file of the store, as its MANIFEST records it. */
export interface FileMeta {
  /** The file number (`NNNNNN.sst`). */
  number: number;
  /** Its level in the LSM tree (0 for flushed files). */
  level: number;
  /** The smallest sequence number in the file. */
  smallestSeq: number;
  /** The largest sequence number in the file. */
  largestSeq: number;
  /** The file's size in bytes. */
  size: number;
  /** Its smallest and largest internal keys (`user_key ‖ fixed64 trailer`). */
  smallest: Uint8Array;
  /** See `smallest`. */
  largest: Uint8Array;
}

/** What the store's own writes leave before renaming into place (file.ts, manifest.ts). */
export const temporaryName = /^(?:[A-Z]+(?:-\d{6,})?|MANIFEST\.json|\d{6,}\.sst)\.\d+\.\d+\.tmp$/;
const dbtmpName = /^\d{6,}\.dbtmp$/;
const tableName = /^(\d{6,})\.sst$/;
const logName = /^\d{6,}\.log$/;

/** How a directory's entries sort. */
export type DirectoryKind =
  /** A RocksDB database (`CURRENT` names its MANIFEST). */
  | { kind: "database"; leftovers: string[] }
  /** A store of the earlier format (`MANIFEST.json`). */
  | { kind: "legacy" }
  /** Nothing of value: a new database goes here. */
  | { kind: "new"; leftovers: string[] }
  /** Files this library cannot prove its own: the directory is refused. */
  | { kind: "foreign"; foreign: string[] };

/**
 * Sorts the entries `names` of `dir` (see the module notes). `nextFileNumber` is only known
 * after the MANIFEST is read: table files at or above it are listed by `unrecordedTables`.
 */
export function classifyDirectory(dir: string, names: readonly string[]): DirectoryKind {
  const sorted = [...names].sort();
  if (sorted.includes("CURRENT")) {
    // MANIFEST.json beside CURRENT: a conversion cut short after its new MANIFEST was current.
    const leftovers = sorted.filter((n) => isTemporary(n) || n === manifestName);
    return { kind: "database", leftovers };
  }
  if (sorted.includes(manifestName)) return { kind: "legacy" };
  const leftovers: string[] = [];
  const foreign: string[] = [];
  for (const name of sorted) {
    if (name === lockName) continue;
    if (isTemporary(name) || isEmptyBeginning(dir, name)) leftovers.push(name);
    else foreign.push(name);
  }
  return foreign.length > 0 ? { kind: "foreign", foreign } : { kind: "new", leftovers };
}

function isTemporary(name: string): boolean {
  return temporaryName.test(name) || dbtmpName.test(name);
}

/** A file a database's creation writes before `CURRENT`, holding no data (see the notes). */
function isEmptyBeginning(dir: string, name: string): boolean {
  if (name === "IDENTITY" || /^OPTIONS-\d{6,}$/.test(name)) return true;
  const path = join(dir, name);
  try {
    if (logName.test(name)) return statSync(path).size === 0;
    if (!/^MANIFEST-\d{6,}$/.test(name)) return false;
    const { records } = readLog(new Uint8Array(readFileSync(path)));
    return records.every((r) => {
      const e = decodeVersionEdit(r.payload, path);
      return (e.newFiles ?? []).length === 0 && Number(e.lastSequence ?? 0) === 0;
    });
  } catch {
    return false; // unreadable: not provably empty
  }
}

/** The table files among `names` numbered at or above `nextFileNumber`: unrecorded flushes. */
export function unrecordedTables(names: readonly string[], nextFileNumber: number): string[] {
  return names.filter((n) => {
    const m = tableName.exec(n);
    return m !== null && Number(m[1]) >= nextFileNumber;
  });
}

/**
 * The table files among `names` numbered below `nextFileNumber` that the MANIFEST does not
 * list (`listed`): a compaction's inputs, replaced by an edit before a process died and not yet
 * deleted (RocksDB deletes such obsolete files on open too).
 */
export function obsoleteTables(
  names: readonly string[],
  nextFileNumber: number,
  listed: readonly { number: number }[],
): string[] {
  const live = new Set(listed.map((f) => f.number));
  return names.filter((n) => {
    const m = tableName.exec(n);
    if (m === null || m[1] !== String(Number(m[1])).padStart(6, "0")) return false; // not ours
    return Number(m[1]) < nextFileNumber && !live.has(Number(m[1]));
  });
}

/** The message of a directory refused for `foreign` files. */
export function foreignFilesMessage(what: string, dir: string, foreign: readonly string[]): string {
  const shownMax = 8;
  const list = foreign.slice(0, shownMax).join(", ") +
    (foreign.length > shownMax ? `, … (${foreign.length} in all)` : "");
  const rocksdb = foreign.some((f) => f.startsWith("MANIFEST-") || logName.test(f))
    ? " It looks like a RocksDB database without its CURRENT file."
    : "";
  return `${what}: ${dir} holds files this library did not write: ${list}. A store opens a ` +
    `RocksDB database directory, a store of its own, or an empty directory, and never deletes ` +
    `a file it did not write.${rocksdb} Nothing was changed.`;
}

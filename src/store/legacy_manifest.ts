/**
 * The directory format of stores before they became RocksDB databases: `MANIFEST.json` (which
 * SST files hold the store's data, oldest first, the last sequence number and the next file
 * number), the SST files it lists, `NNNNNN.sst`, a `LOCK` file, and the temporaries
 * `writeFileDurably` writes before it renames (`<name>.<pid>.<n>.tmp`). `Store.open` converts
 * such a directory (open.ts); this module reads it, as untrusted input.
 *
 * Converting such a directory never deletes a file the store did not write. What it may remove
 * is what its own writes left when a process died: temporaries of its names, and SST files
 * numbered at or above the manifest's `nextFileNumber` (a flush renamed its file into place
 * before the manifest recorded it). Any other file — an unlisted SST file below
 * `nextFileNumber`, anything of another name — is not provably the store's, and the directory
 * is refused.
 *
 * The manifest is read as untrusted input: every field is checked (integers in range, file
 * numbers ascending and below `nextFileNumber`, `lastSequence` at or above every file's
 * sequence numbers), so a damaged or hand-edited manifest is a `CorruptionError` naming the file
 * and the field, never a path outside the directory or a sequence number that breaks later
 * writes. File names are made from checked integers only.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { shown } from "../arguments.ts";
import { CorruptionError, StoreError } from "../errors.ts";

/** One SST file of the store, as `MANIFEST.json` records it. */
export interface LegacyFile {
  number: number;
  smallestSeq: number;
  largestSeq: number;
  size: number;
}

/** What `MANIFEST.json` holds. */
export interface LegacyManifest {
  version: 1;
  /** Oldest first. */
  files: LegacyFile[];
  lastSequence: number;
  nextFileNumber: number;
}

/** The manifest's name in the store directory. */
export const manifestName = "MANIFEST.json";

/** The name of SST file `n`: six digits at least, as RocksDB names its files. */
export const fileName = (n: number): string => `${String(n).padStart(6, "0")}.sst`;

/** The lock file's name (RocksDB's). */
export const lockName = "LOCK";

/** A temporary of `writeFileDurably` for one of the store's files. */
const temporaryName = /^(?:MANIFEST\.json|\d{6,}\.sst)\.\d+\.\d+\.tmp$/;
const sstName = /^\d{6,}\.sst$/;

/** How the entries of a store directory sort (see the module notes). */
export interface DirectoryContents {
  /** What the store's own writes left behind: removable. */
  leftovers: string[];
  /** Files the store did not provably write, with why, in name order. */
  foreign: string[];
}

/**
 * Sorts the entry `names` of a store directory whose manifest is `manifest` (undefined when
 * it has none) into the store's own files, its leftovers and the rest.
 */
export function sortDirectory(
  names: readonly string[],
  manifest: LegacyManifest | undefined,
): DirectoryContents {
  const listed = new Set(manifest?.files.map((f) => fileName(f.number)) ?? []);
  const leftovers: string[] = [];
  const foreign: string[] = [];
  for (const name of [...names].sort()) {
    if (name === lockName || name === manifestName || listed.has(name)) continue;
    if (manifest === undefined) {
      if (name.startsWith(`${manifestName}.`) && temporaryName.test(name)) leftovers.push(name);
      else foreign.push(name);
      continue;
    }
    if (temporaryName.test(name)) {
      leftovers.push(name);
      continue;
    }
    const n = sstName.test(name) ? Number(name.slice(0, -4)) : -1;
    if (n < 0 || fileName(n) !== name) foreign.push(name);
    else if (n >= manifest.nextFileNumber) leftovers.push(name);
    else foreign.push(`${name} (not in the manifest, numbered below its nextFileNumber)`);
  }
  return { leftovers, foreign };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Reads and checks the manifest at `path`. An unreadable file is a `StoreError`, one that is
 * not this library's (another `version`) too; malformed contents are a `CorruptionError`
 * whose message names the file and the field (`files[2].number must be a positive integer`).
 */
export function readManifest(path: string, what: string): LegacyManifest {
  const where = `${what}: ${path}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new StoreError(`${where} cannot be read: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CorruptionError(`${where} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return checkManifest(json, where);
}

/** `json` as a Manifest, every field checked (see the module notes). */
export function checkManifest(json: unknown, where: string): LegacyManifest {
  const corrupt = (message: string) => new CorruptionError(`${where}: ${message}`);
  if (!isRecord(json)) throw corrupt(`must hold a JSON object, got ${shown(json)}`);
  if (json.version !== 1) {
    throw new StoreError(
      `${where} is not a manifest of this library: version must be 1, got ${shown(json.version)}`,
    );
  }
  const integer = (value: unknown, field: string, min: 0 | 1): number => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
      const kind = min === 0 ? "a non-negative integer" : "a positive integer";
      throw corrupt(`${field} must be ${kind}, got ${shown(value)}`);
    }
    return value;
  };
  if (!Array.isArray(json.files)) throw corrupt(`files must be an array, got ${shown(json.files)}`);
  const files: LegacyFile[] = [];
  let largestSeq = 0;
  let largestAt = "";
  json.files.forEach((f: unknown, i) => {
    const at = `files[${i}]`;
    if (!isRecord(f)) throw corrupt(`${at} must be an object, got ${shown(f)}`);
    const meta: LegacyFile = {
      number: integer(f.number, `${at}.number`, 1),
      smallestSeq: integer(f.smallestSeq, `${at}.smallestSeq`, 0),
      largestSeq: integer(f.largestSeq, `${at}.largestSeq`, 0),
      size: integer(f.size, `${at}.size`, 0),
    };
    if (meta.smallestSeq > meta.largestSeq) {
      throw corrupt(
        `${at}.smallestSeq ${meta.smallestSeq} is above its largestSeq ${meta.largestSeq}`,
      );
    }
    const previous = files[i - 1];
    if (previous !== undefined && meta.number <= previous.number) {
      throw corrupt(
        `${at}.number ${meta.number} must be above files[${i - 1}].number ${previous.number} ` +
          `(files are listed oldest first, each once)`,
      );
    }
    if (meta.largestSeq >= largestSeq) {
      largestSeq = meta.largestSeq;
      largestAt = `${at}.largestSeq`;
    }
    files.push(meta);
  });
  const lastSequence = integer(json.lastSequence, "lastSequence", 0);
  if (lastSequence < largestSeq) {
    throw corrupt(
      `lastSequence ${lastSequence} is below ${largestAt} ${largestSeq}: later writes would ` +
        `reuse sequence numbers the files hold`,
    );
  }
  const nextFileNumber = integer(json.nextFileNumber, "nextFileNumber", 1);
  const last = files.at(-1);
  if (last !== undefined && nextFileNumber <= last.number) {
    throw corrupt(
      `nextFileNumber ${nextFileNumber} must be above files[${files.length - 1}].number ` +
        `${last.number}`,
    );
  }
  return { version: 1, files, lastSequence, nextFileNumber };
}

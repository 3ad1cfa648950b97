/**
 * Writing a file so that it is either whole or absent: to a temporary name in the same
 * directory, synced, renamed into place, and the directory synced. A failure removes the
 * temporary file and leaves nothing at the destination.
 *
 * @module
 */
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import process from "node:process";

let counter = 0;

/**
 * A hook for tests: called with each step's name ("write", "sync", "rename") before it runs;
 * a throw fails the write there (as a full disk would).
 */
export type FileFaultHook = (step: "write" | "sync" | "rename", path: string) => void;

/**
 * The key under which a test's {@linkcode FileFaultHook} rides on an options object (of
 * `Store.open`, `flushMemTables`, `flushMemTablesNative`; set by `withFileFault` in the tests'
 * hooks, src/testing.ts): a symbol, so no public option type shows it and no user names it by
 * accident.
 */
export const fileFault: unique symbol = Symbol("memtable.fileFault");

/** The fault hook on `options` (see {@linkcode fileFault}), checked to be a function. */
export function fileFaultOf(options: object, what: string): FileFaultHook | undefined {
  const hook = (options as { [fileFault]?: unknown })[fileFault];
  if (hook !== undefined && typeof hook !== "function") {
    throw new TypeError(`${what}: the file fault hook must be a function, got ${typeof hook}`);
  }
  return hook as FileFaultHook | undefined;
}

/**
 * Writes `bytes` to a new file at `path` (it must not exist) and syncs it; `fault` is called
 * with `name` before each step. No rename: the caller names the file into place.
 */
export function writeFileSynced(
  path: string,
  bytes: Uint8Array,
  fault?: FileFaultHook,
  name = path,
): void {
  const fd = openSync(path, "wx");
  try {
    let at = 0;
    while (at < bytes.length) {
      fault?.("write", name);
      at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 20));
    }
    fault?.("sync", name);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `bytes` to `path` durably and atomically (see the module notes). */
export function writeFileDurably(path: string, bytes: Uint8Array, fault?: FileFaultHook): void {
  const tmp = `${path}.${process.pid}.${counter++}.tmp`;
  try {
    writeFileSynced(tmp, bytes, fault, path);
    fault?.("rename", path);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectory(dirname(path));
}

/** Syncs a directory's entries (a rename in it) where the platform allows opening one. */
export function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch (e) {
    // Out of descriptors, the rename would go unsynced without a word: report it.
    const code = (e as { code?: unknown }).code;
    if (code === "EMFILE" || code === "ENFILE") throw e;
    return; // not supported here (Windows): the rename stands on its own
  }
  try {
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the rename is still done
  } finally {
    closeSync(fd);
  }
}

/** fdatasync of the file at `path` (written by someone else, perhaps not yet synced). */
export function syncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

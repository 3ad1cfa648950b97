/**
 * The native library for a module imported from an http(s) URL (Deno): the binary for this
 * OS/arch is downloaded once from `<base>/prebuilt/`, checked against the sha256 in
 * `<base>/prebuilt/manifest.json`, and kept in a per-version cache directory, which serves it
 * from then on, also without the network.
 *
 * Cache directory: the one given (`prepareLibrary({ cacheDir })`), else `MEMTABLE_CACHE_DIR`,
 * else `$XDG_CACHE_HOME/memtable`, else `$HOME/.cache/memtable`; inside it
 * `<version>/<os>-<arch>/`. A variable this process may not read is not skipped: its value
 * cannot be known, so the lookup stops there with an error that names `--allow-env`.
 *
 * Nothing is written to the cache until the library is verified; then the library and the
 * manifest it was verified against are written under temporary names and renamed. A failure
 * (a download, a checksum mismatch, a missing permission, a write) leaves nothing behind: no
 * file and no directory this call created. Permissions (Deno): `--allow-net` for the host,
 * `--allow-read` and `--allow-write` for the cache directory (checked before anything is
 * touched), `--allow-env` unless the cache directory is given, `--allow-ffi`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, resolve } from "node:path";
import process from "node:process";
import { NativeLibraryError } from "../errors.ts";
import { lookupEnv } from "./env.ts";
import { packageVersion } from "./layout.ts";

/** Environment variable naming the cache directory for downloaded libraries. */
export const cacheDirEnv = "MEMTABLE_CACHE_DIR";

interface Manifest {
  version: string;
  libraries: Record<string, { file: string; bytes: number; sha256: string }>;
}

function fail(message: string, cause?: unknown): never {
  const reason = cause === undefined ? "" : `: ${(cause as Error).message ?? String(cause)}`;
  throw new NativeLibraryError(`${message}${reason}`);
}

/**
 * The cache root when none is given: the first of these variables that is set, in order.
 * Throws when one of them cannot be read (before a later one would be consulted) or none is
 * set: the working directory is no place to guess.
 */
function defaultCacheRoot(): string {
  const places: [variable: string, root: (value: string) => string][] = [
    [cacheDirEnv, (v) => v],
    ["XDG_CACHE_HOME", (v) => `${v}/memtable`],
    ["HOME", (v) => `${v}/.cache/memtable`],
    ["USERPROFILE", (v) => `${v}/.cache/memtable`],
  ];
  const instead = `give the directory: prepareLibrary({ cacheDir }) or ${cacheDirEnv}`;
  for (const [variable, root] of places) {
    const found = lookupEnv(variable);
    if ("denied" in found) {
      fail(
        `Cannot choose the native library cache directory: reading ${variable} is not ` +
          `allowed. Deno needs --allow-env (or --allow-env=${variable}), or ` +
          (variable === cacheDirEnv
            ? "give the directory: prepareLibrary({ cacheDir })"
            : `${instead} (with --allow-env=${cacheDirEnv})`),
      );
    }
    if (found.value !== undefined) return root(found.value);
  }
  fail(
    `Cannot choose the native library cache directory: none of ` +
      `${places.map(([v]) => v).join(", ")} is set; ${instead}`,
  );
}

type PermissionState = "granted" | "prompt" | "denied";
interface DenoPermissions {
  querySync(d: { name: "read" | "write"; path: string }): { state: PermissionState };
  requestSync(d: { name: "read" | "write"; path: string }): { state: PermissionState };
}

/**
 * On Deno, makes sure this process may read and write `dir` before anything is read or
 * written there (a terminal is asked, as Deno asks; without one a missing grant is refused),
 * so a missing permission is reported by name instead of failing half-way through a write.
 */
function requireCacheAccess(root: string, dir: string): void {
  const permissions = (globalThis as unknown as { Deno?: { permissions?: DenoPermissions } })
    .Deno?.permissions;
  if (permissions === undefined) return;
  const missing = (["read", "write"] as const).filter((name) => {
    const d = { name, path: dir };
    const state = permissions.querySync(d).state;
    return (state === "prompt" ? permissions.requestSync(d).state : state) !== "granted";
  });
  if (missing.length > 0) {
    fail(
      `Cannot use the native library cache ${dir}: Deno needs ` +
        `${missing.map((name) => `--allow-${name}=${root}`).join(" and ")} (or a grant that ` +
        `covers it), or another cache directory: prepareLibrary({ cacheDir })`,
    );
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Writes `bytes` to `path` through a temporary file and a rename. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}

/** Removes `dir` and its parents up to `first` (the first directory a mkdir created), if empty. */
function removeCreatedDirectories(dir: string, first: string | undefined): void {
  if (first === undefined) return;
  const top = resolve(first);
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d); // fails when not empty: another process keeps its files here
    } catch {
      return;
    }
    if (d === top) return;
  }
}

async function download(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

function parseManifest(bytes: Uint8Array, where: string): Manifest {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    fail(`The manifest ${where} is not valid JSON`, e);
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Returns the path of a verified copy of the library for `platform`, downloading it from
 * `<moduleBase>/prebuilt/` when the cache does not hold one.
 */
export async function remoteLibrary(
  moduleBase: URL,
  platform: string,
  cacheRoot?: string,
): Promise<string> {
  const root = resolve(cacheRoot ?? defaultCacheRoot());
  const dir = resolve(root, packageVersion, platform);
  requireCacheAccess(root, dir);
  const manifestUrl = new URL("prebuilt/manifest.json", moduleBase);
  const manifestPath = `${dir}/manifest.json`;
  // The manifest as downloaded now: cached only with the library it verified.
  let downloaded: Uint8Array | undefined;
  let manifest: Manifest;
  try {
    downloaded = await download(manifestUrl);
    manifest = parseManifest(downloaded, manifestUrl.href);
  } catch (e) {
    downloaded = undefined;
    if (!existsSync(manifestPath)) fail(`Cannot download ${manifestUrl}`, e);
    manifest = parseManifest(readFileSync(manifestPath), manifestPath); // offline: the cached copy
  }
  if (manifest?.version !== packageVersion) {
    fail(`${manifestUrl} is for memtable ${manifest?.version}, this module is ${packageVersion}`);
  }
  const entry = manifest.libraries?.[platform];
  if (!entry) fail(`${manifestUrl} has no library for ${platform}`);
  const target = `${dir}/${basename(entry.file)}`;
  if (existsSync(target) && sha256(readFileSync(target)) === entry.sha256) {
    if (
      downloaded !== undefined &&
      !(existsSync(manifestPath) && sameBytes(readFileSync(manifestPath), downloaded))
    ) {
      try {
        writeAtomically(manifestPath, downloaded);
      } catch (e) {
        fail(`Cannot write the native library cache ${manifestPath}`, e);
      }
    }
    return target;
  }
  const libraryUrl = new URL(`prebuilt/${entry.file}`, moduleBase);
  let bytes: Uint8Array;
  try {
    bytes = await download(libraryUrl);
  } catch (e) {
    fail(`Cannot download the native library ${libraryUrl}`, e);
  }
  const actual = sha256(bytes);
  if (actual !== entry.sha256) {
    fail(
      `The native library ${libraryUrl} does not match its manifest: sha256 ${actual}, expected ${entry.sha256}`,
    );
  }
  let created: string | undefined;
  let written = false;
  try {
    created = mkdirSync(dir, { recursive: true });
    writeAtomically(target, bytes);
    written = true;
    if (downloaded !== undefined) writeAtomically(manifestPath, downloaded);
  } catch (e) {
    if (written) rmSync(target, { force: true });
    removeCreatedDirectories(dir, created);
    fail(`Cannot write the native library cache ${dir}`, e);
  }
  return target;
}

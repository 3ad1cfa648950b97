/**
 * The native library for a module imported from an http(s) URL (Deno): the binary for this
 * OS/arch is downloaded once from `<base>/prebuilt/`, checked against the sha256 in
 * `<base>/prebuilt/manifest.json`, and kept in a per-version cache directory, which serves it
 * from then on, also without the network.
 *
 * Cache directory: `MEMTABLE_CACHE_DIR`, else `$XDG_CACHE_HOME/memtable`, else
 * `$HOME/.cache/memtable`; inside it `<version>/<os>-<arch>/`. Files are written under a
 * temporary name and renamed, so a failed download or a checksum mismatch leaves nothing
 * behind. Permissions (Deno): `--allow-net` for the host, `--allow-read` and `--allow-write`
 * for the cache directory, `--allow-env`, `--allow-ffi`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import { NativeLibraryError } from "../errors.ts";
import { readEnv as env } from "./env.ts";
import { packageVersion } from "./layout.ts";

/** Environment variable naming the cache directory for downloaded libraries. */
export const cacheDirEnv = "MEMTABLE_CACHE_DIR";

interface Manifest {
  version: string;
  libraries: Record<string, { file: string; bytes: number; sha256: string }>;
}

/** The cache directory for this version and platform, under `root` when given. */
export function cacheDirectory(platform: string, root?: string): string {
  root ??= env(cacheDirEnv) ??
    (env("XDG_CACHE_HOME") ?? (env("HOME") ?? env("USERPROFILE") ?? ".") + "/.cache") + "/memtable";
  return `${root}/${packageVersion}/${platform}`;
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

async function download(url: URL): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

function fail(message: string, cause?: unknown): never {
  const reason = cause === undefined ? "" : `: ${(cause as Error).message ?? String(cause)}`;
  throw new NativeLibraryError(`${message}${reason}`);
}

/**
 * Returns the path of a verified copy of the library for `platform`, downloading it from
 * `<moduleBase>/prebuilt/` when the cache does not hold one.
 */
export async function remoteLibrary(
  moduleBase: URL,
  platform: string,
  cacheRoot?: string,
): Promise<string> {
  const dir = cacheDirectory(platform, cacheRoot);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail(
      `Cannot create the native library cache ${dir} (Deno needs --allow-read and --allow-write for it)`,
      e,
    );
  }
  const manifestUrl = new URL("prebuilt/manifest.json", moduleBase);
  const manifestPath = `${dir}/manifest.json`;
  let manifest: Manifest;
  try {
    const bytes = await download(manifestUrl);
    manifest = JSON.parse(new TextDecoder().decode(bytes));
    writeAtomically(manifestPath, bytes);
  } catch (e) {
    if (!existsSync(manifestPath)) fail(`Cannot download ${manifestUrl}`, e);
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")); // offline: the cached copy serves
  }
  if (manifest.version !== packageVersion) {
    fail(`${manifestUrl} is for memtable ${manifest.version}, this module is ${packageVersion}`);
  }
  const entry = manifest.libraries?.[platform];
  if (!entry) fail(`${manifestUrl} has no library for ${platform}`);
  const target = `${dir}/${entry.file.split("/").pop()}`;
  if (existsSync(target) && sha256(readFileSync(target)) === entry.sha256) return target;
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
  try {
    writeAtomically(target, bytes);
  } catch (e) {
    fail(`Cannot write the native library cache ${target}`, e);
  }
  return target;
}

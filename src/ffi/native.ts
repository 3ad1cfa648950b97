/**
 * Loads the native library once per realm (main thread or Worker), checks that its layout
 * matches this code, and hands out the typed functions, scratch buffers and status mapping
 * that the rest of the library uses. Pointers never leave `src/ffi/`: callers see `Handle`.
 *
 * Lookup order: an explicit path (`loadLibrary({ path })` or `MEMTABLE_LIBRARY_PATH`) is used
 * alone: if it fails, nothing else is tried. Otherwise the package's prebuilt binary
 * (`prebuilt/<os>-<arch>/`, made by `scripts/prebuild.sh`) and a local build
 * (`native/zig-out/lib/`) are candidates, and the newer file wins, so rebuilding from source
 * takes effect in a checkout that also holds prebuilt binaries.
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { NativeLibraryError } from "../errors.ts";
import { readEnv } from "./env.ts";
import { layoutWords } from "./layout.ts";
import type { Binding, BufArg, NativeFunctions, OpenLibrary } from "./symbols.ts";

export type { BufArg, Handle, NativeFunctions } from "./symbols.ts";

const runtime: "bun" | "deno" | undefined = "Bun" in globalThis
  ? "bun"
  : "Deno" in globalThis
  ? "deno"
  : undefined;

async function importBinding(): Promise<Binding | undefined> {
  if (runtime === "bun") return (await import("./bun.ts")).binding;
  if (runtime === "deno") return (await import("./deno.ts")).binding;
  return undefined;
}
const binding = await importBinding();

/** Environment variable naming the native library to load (an absolute path). */
export const libraryPathEnv = "MEMTABLE_LIBRARY_PATH";

/**
 * Imported from an http(s) URL: the library comes from the download cache (src/ffi/remote.ts),
 * fetched now, at import, unless an explicit path is set. A failure is kept and reported by
 * the first use, where an explicit `loadLibrary({ path })` can still avoid it.
 */
const isRemote = /^https?:$/.test(new URL(import.meta.url).protocol);
let remote: string | Error | undefined = isRemote && readEnv(libraryPathEnv) === undefined
  ? await fetchRemote(undefined)
  : undefined;

function fetchRemote(cacheDir: string | undefined): Promise<string | Error> {
  return import("./remote.ts")
    .then((m) =>
      m.remoteLibrary(
        new URL("../../", import.meta.url),
        `${process.platform}-${process.arch}`,
        cacheDir,
      )
    )
    .catch((e: Error) => e);
}

/** Options of {@linkcode prepareLibrary}. */
export interface PrepareLibraryOptions {
  /**
   * Where downloaded libraries are kept (default: `MEMTABLE_CACHE_DIR`, then the user cache);
   * relative to the working directory when not absolute. Given, no environment variable is
   * read for it (Deno needs no `--allow-env`).
   */
  cacheDir?: string;
}

/**
 * For a module imported from a URL: downloads (or finds in `cacheDir`) the verified library
 * before first use. Importing already tried the default cache directory; call this to use
 * another one. From a local checkout or a package it does nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, prepareLibrary } from "../../mod.ts";
 * await prepareLibrary({ cacheDir: "/tmp/memtable-cache" });
 * using mt = new MemTable(); // the library is ready
 * assert.equal(mt.numEntries, 0);
 * ```
 */
export async function prepareLibrary(options: PrepareLibraryOptions = {}): Promise<void> {
  if (options.cacheDir !== undefined && typeof options.cacheDir !== "string") {
    throw new TypeError(
      `prepareLibrary(): cacheDir must be a string, got ${typeof options.cacheDir}`,
    );
  }
  if (!isRemote || loaded) return;
  const result = await fetchRemote(options.cacheDir);
  if (result instanceof Error) throw result;
  remote = result;
}

function libraryFileName(): string {
  switch (process.platform) {
    case "darwin":
      return "libmemtable.dylib";
    case "win32":
      return "memtable.dll";
    default:
      return "libmemtable.so";
  }
}

function localPath(relative: string): string | undefined {
  const url = new URL(relative, import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : undefined;
}

/** Where the library is looked for, in order, when no explicit path is given. */
export function defaultLibraryPaths(): string[] {
  const file = libraryFileName();
  const platform = `${process.platform}-${process.arch}`;
  return [
    localPath(`../../prebuilt/${platform}/${file}`),
    localPath(`../../native/zig-out/lib/${file}`),
  ].filter((p): p is string => p !== undefined);
}

function fileExists(path: string): boolean {
  try {
    return existsSync(path);
  } catch (e) {
    throw new NativeLibraryError(
      `Cannot look for the native library at ${path}: ${(e as Error).message}` +
        (runtime === "deno" ? " (Deno needs --allow-read for the package directory)" : ""),
    );
  }
}

/** The most recently modified of `paths` (the first when times are equal). */
function newest(paths: string[]): string | undefined {
  let best: string | undefined;
  let bestTime = -Infinity;
  for (const p of paths) {
    const t = statSync(p).mtimeMs;
    if (t > bestTime) [best, bestTime] = [p, t];
  }
  return best;
}

/** The loaded library: its functions and where it came from. */
export interface NativeLibrary {
  readonly path: string;
  readonly fn: NativeFunctions;
  readonly bufArg: (bytes: Uint8Array) => BufArg;
}

let loaded: (NativeLibrary & { lib: OpenLibrary }) | undefined;

/** Options of {@linkcode loadLibrary}. */
export interface LoadLibraryOptions {
  /** Absolute path of the native library; wins over every other place. */
  path?: string;
}

/**
 * Loads the native library now (it is otherwise loaded by the first memtable). Calling it
 * again returns the library already loaded; asking for a different path then throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isAbsolute } from "node:path";
 * import { loadLibrary } from "../../mod.ts";
 * const lib = loadLibrary();
 * assert(isAbsolute(lib.path)); // loaded by absolute path
 * assert.equal(loadLibrary().path, lib.path); // and only once
 * ```
 */
export function loadLibrary(options: LoadLibraryOptions = {}): { readonly path: string } {
  if (options.path !== undefined && typeof options.path !== "string") {
    throw new TypeError(`loadLibrary(): path must be a string, got ${typeof options.path}`);
  }
  if (loaded) {
    if (options.path !== undefined && options.path !== loaded.path) {
      throw new NativeLibraryError(
        `The native library is already loaded from ${loaded.path}; cannot switch to ${options.path}`,
      );
    }
    return { path: loaded.path };
  }
  if (!binding) {
    throw new NativeLibraryError("memtable runs on Bun or Deno; this runtime is neither");
  }
  const path = libraryPath(options.path);
  const lib = openChecked(binding, path);
  loaded = { path, fn: lib.functions, bufArg: lib.bufArg, lib };
  return { path };
}

/**
 * Where the library is: the path given to `loadLibrary()` or in `MEMTABLE_LIBRARY_PATH` (which
 * must exist), else the copy a remote import downloaded, else the newest local build.
 */
function libraryPath(given: string | undefined): string {
  const explicit = given ?? readEnv(libraryPathEnv);
  if (explicit !== undefined) {
    if (!fileExists(explicit)) {
      throw new NativeLibraryError(
        `The native library given ${
          given !== undefined ? "to loadLibrary()" : `in ${libraryPathEnv}`
        } does not exist: ${explicit}`,
      );
    }
    return explicit;
  }
  if (remote !== undefined) {
    if (remote instanceof Error) throw remote;
    return remote;
  }
  const tried = defaultLibraryPaths();
  const path = newest(tried.filter(fileExists));
  if (path === undefined) {
    throw new NativeLibraryError(
      `The memtable native library was not found. Looked in:\n  ${tried.join("\n  ")}\n` +
        `Build it with \`bash scripts/setup.sh\` (installs Zig and builds native/), or set ` +
        `${libraryPathEnv} to the library's absolute path.`,
    );
  }
  return path;
}

/**
 * Opens the library at `path` and checks that its layout words are the ones this version
 * expects (a stale build fails here, loudly, naming what differs); closes it when they are not.
 */
function openChecked(from: Binding, path: string): OpenLibrary {
  let lib: OpenLibrary;
  try {
    lib = from.open(path);
  } catch (e) {
    const message = (e as Error).message;
    const hint = runtime === "deno" && /ffi|permission|capable/i.test(message)
      ? " (Deno needs --allow-ffi)"
      : "";
    throw new NativeLibraryError(`Cannot open the native library ${path}: ${message}${hint}`);
  }
  const probe = new Uint8Array(1024);
  const words = lib.functions.memtable_layout(lib.bufArg(probe), probe.length);
  const view = new DataView(probe.buffer);
  const reported = Array.from(
    { length: Math.max(words, 0) },
    (_, i) => view.getUint32(i * 4, true),
  );
  const differ = layoutWords
    .map(([name, want], i) => [name, want, reported[i]] as const)
    .filter(([, want, got]) => got !== want)
    .map(([name, want, got]) => `${name} ${got ?? "missing"} (expected ${want})`);
  if (reported.length > layoutWords.length) {
    differ.push(`${reported.length} words (expected ${layoutWords.length})`);
  }
  if (differ.length > 0) {
    lib.close();
    throw new NativeLibraryError(
      `The native library ${path} does not match this version of memtable (${
        differ.slice(0, 5).join("; ")
      }${differ.length > 5 ? `; and ${differ.length - 5} more` : ""}): rebuild it ` +
        `with \`bash scripts/setup.sh\``,
    );
  }
  return lib;
}

/**
 * Makes sure this realm (thread) uses the library file at `path`: loads it when none is
 * loaded, throws when another file is. Native objects shared between Workers live in one
 * copy of the library: a second copy (another file) has its own memory and handles.
 */
export function useLibraryOf(path: string, what: string): void {
  if (loaded === undefined) {
    loadLibrary({ path });
    return;
  }
  if (loaded.path !== path) {
    throw new NativeLibraryError(
      `${what}: the shared object lives in the native library ${path}, but this Worker ` +
        `loaded ${loaded.path}; load the same file in every Worker (loadLibrary({ path }) or ` +
        `${libraryPathEnv})`,
    );
  }
}

export function native(): NativeLibrary {
  if (!loaded) loadLibrary();
  return loaded!;
}

/**
 * Bytes of native memory held right now by every memtable and iterator of this realm's
 * process (all threads).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, nativeMemoryBytes } from "../../mod.ts";
 * const before = nativeMemoryBytes();
 * const mt = new MemTable();
 * assert(nativeMemoryBytes() > before);
 * mt.close();
 * assert.equal(nativeMemoryBytes(), before);
 * ```
 */
export function nativeMemoryBytes(): number {
  return native().fn.memtable_native_bytes();
}

/** Whether the loaded library was built with Zig's safety checks (Debug/ReleaseSafe). */
export function nativeSafetyChecked(): boolean {
  return native().fn.memtable_safety_checked() === 1;
}

/**
 * A reusable buffer that carries keys and values to native code and results back. Growing it
 * replaces `bytes`, `view` and `arg`; read them again after `reserve`.
 */
export class Scratch {
  bytes: Uint8Array;
  view: DataView;
  arg: BufArg;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.arg = native().bufArg(this.bytes);
  }

  get capacity(): number {
    return this.bytes.length;
  }

  /** Makes room for at least `size` bytes (contents are not kept). */
  reserve(size: number): void {
    if (size <= this.bytes.length) return;
    let capacity = this.bytes.length;
    while (capacity < size) capacity *= 2;
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
    this.arg = native().bufArg(this.bytes);
  }
}

export { statusError } from "./status.ts";

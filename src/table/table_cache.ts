/**
 * TableCache: a bound on the file descriptors a store's SST files hold open (RocksDB's table
 * cache and `max_open_files`). A TableReader keeps its index, properties and range tombstones in
 * memory and reads data blocks through a descriptor; opened through a TableCache, that
 * descriptor is one of at most `maxOpenFiles` the cache keeps open — the least recently used is
 * closed first — and it is opened again (and checked to be the same file) when the table is
 * read again.
 *
 * When the process runs out of descriptors anyway (EMFILE or ENFILE: other code holds them, or
 * the bound is above the process's limit), the cache closes its least recently used
 * descriptors, halves its bound and tries again; when it has none of its own left to close it
 * throws a `StoreError` that says what to do. `shed()` does the same for the store's other
 * files (a flush's output, the manifest).
 *
 * Contract: one realm, synchronous use. A descriptor handed out by `CachedFile.descriptor()`
 * stays open until the caller's next call into the cache, so a read that uses it at once is
 * safe.
 *
 * @module
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { CorruptionError, StoreError } from "../errors.ts";
import { openFilesLimit } from "../ffi/file_lock.ts";
import { BlockCache } from "./block_cache.ts";
import { type FilterCounters, newFilterCounters } from "./filter_block.ts";

/** The most descriptors a default bound takes (LevelDB's default `max_open_files`). */
export const maxOpenFilesCap = 1000;
/** The fewest a default bound takes, whatever the process's limit. */
export const maxOpenFilesFloor = 16;
/**
 * The default bound where the process's limit cannot be read (Windows, or no limit): small
 * enough for a low limit such as `ulimit -n 64`, where Deno itself holds about 24 descriptors
 * and each Worker it starts about 6 more (a Deno Worker that cannot get them aborts the
 * process). Pass `maxOpenFiles` for more.
 */
export const maxOpenFilesFallback = 16;

/**
 * The process's soft limit on open files (RLIMIT_NOFILE, read natively: no permission needed),
 * or undefined where there is none or it cannot be read (Windows).
 */
export function openFileLimit(): number | undefined {
  return openFilesLimit();
}

/**
 * The bound `maxOpenFiles: -1` stands for: a quarter of the process's open-file limit (the
 * rest is left to the runtime, the flush Worker, the manifest and the application), within
 * [{@linkcode maxOpenFilesFloor}, {@linkcode maxOpenFilesCap}]; {@linkcode maxOpenFilesFallback}
 * where the limit cannot be read. RocksDB's −1 means no bound at all; here a store with more
 * files than the bound reopens them on demand.
 */
export function defaultMaxOpenFiles(): number {
  const limit = openFileLimit();
  if (limit === undefined) return maxOpenFilesFallback;
  return Math.min(maxOpenFilesCap, Math.max(maxOpenFilesFloor, Math.floor(limit / 4)));
}

/** Whether `e` says the process (EMFILE) or the system (ENFILE) is out of file descriptors. */
export function isOutOfDescriptors(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return e instanceof Error && /\bE[MN]FILE\b/.test(e.message); // errors from the flush Worker
}

/** What to do about running out of descriptors, for error messages. */
export function descriptorAdvice(bound?: number): string {
  const now = bound === undefined ? "" : ` (the bound now: ${bound})`;
  return `raise the process's open-file limit (ulimit -n), give Store.open() a lower ` +
    `maxOpenFiles${now}, or close files elsewhere in the process`;
}

/** A table file whose descriptor the cache opens and closes. From `TableCache.add()`. */
export class CachedFile {
  readonly path: string;
  /** The file's size when it was first opened. */
  readonly size: number;
  readonly #cache: TableCache;
  readonly #ino: number;
  #fd = -1;
  #closed = false;

  /** Not for direct use: files come from `TableCache.add()`. */
  constructor(cache: TableCache, path: string, fd: number) {
    this.#cache = cache;
    this.path = path;
    this.#fd = fd;
    const st = fstatSync(fd);
    this.size = st.size;
    this.#ino = st.ino;
  }

  /** The open descriptor (opened again, the least recently used of others closed for it). */
  descriptor(): number {
    if (this.#closed) throw new TypeError(`CachedFile: ${this.path} is closed`);
    if (this.#fd >= 0) {
      this.#cache.touch(this);
      return this.#fd;
    }
    const fd = this.#cache.openFor(this);
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.#ino || st.size !== this.size) {
        throw new CorruptionError(
          `${this.path} was replaced while the store had it open (now ${st.size} bytes, ` +
            `was ${this.size})`,
        );
      }
    } catch (e) {
      this.#cache.closed(this, fd);
      throw e;
    }
    this.#fd = fd;
    return fd;
  }

  /** @internal The cache closes the descriptor (it is reopened on the next read). */
  release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeSync(fd);
  }

  /** Closes the descriptor for good; the cache forgets the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.forget(this);
    this.release();
  }
}

/**
 * Fresh byte arrays for block reads, cut from shared buffers of `size` bytes: one allocation
 * per buffer instead of one per block (a typed array of its own costs Deno several
 * microseconds). A buffer is freed once no array cut from it is referenced (a block cache
 * charges it whole: see block_cache.ts); reads above a quarter of `size` get their own.
 */
export class ByteSlab {
  readonly size: number;
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #used = 0;

  constructor(size: number) {
    this.size = size;
  }

  /** `n` zeroed bytes nobody else holds. */
  take(n: number): Uint8Array<ArrayBuffer> {
    if (n > this.size / 4) return new Uint8Array(n);
    if (this.#used + n > this.#buffer.length) {
      this.#buffer = new Uint8Array(this.size);
      this.#used = 0;
    }
    const out = this.#buffer.subarray(this.#used, this.#used + n);
    this.#used += (n + 7) & ~7;
    return out;
  }
}

/**
 * At most `maxOpenFiles` open descriptors for the files added to it, least recently used
 * closed first (see the module notes).
 */
export class TableCache {
  /** The bound asked for (−1: {@linkcode defaultMaxOpenFiles}), resolved. */
  readonly maxOpenFiles: number;
  #bound: number;
  /** Descriptors of the bound lent out (`lend`): this cache keeps `#bound - #lent` open. */
  #lent = 0;
  /** Files with an open descriptor, least recently used first (a Map keeps insertion order). */
  readonly #open = new Map<CachedFile, true>();
  /** What the filters of the tables opened through this cache did (the store's figures). */
  readonly filterCounters: FilterCounters = newFilterCounters();

  /** Where its tables' block reads get their bytes. */
  readonly slab: ByteSlab;
  /** The data blocks its tables' reads keep (none when `blockCacheSize` is 0). */
  readonly blocks: BlockCache | undefined;

  constructor(maxOpenFiles = -1, blockCacheSize = 0) {
    this.maxOpenFiles = maxOpenFiles === -1 ? defaultMaxOpenFiles() : maxOpenFiles;
    this.#bound = this.maxOpenFiles;
    this.blocks = blockCacheSize > 0 ? new BlockCache(blockCacheSize) : undefined;
    // Buffers of 64 KiB, or a sixteenth of a small cache (so a buffer never holds it all).
    this.slab = new ByteSlab(
      blockCacheSize > 0 ? Math.min(64 << 10, Math.max(4 << 10, blockCacheSize >> 4)) : 64 << 10,
    );
  }

  /** The bound in force: `maxOpenFiles`, or lower after the process ran out of descriptors. */
  get bound(): number {
    return this.#bound;
  }

  /**
   * Lends up to `n` descriptors of the bound to a reader outside this cache (a compaction
   * Worker's own cache) while it runs, so the two together stay within the bound: closes the
   * least recently used descriptors down to what remains. Keeps at least one for the store's
   * own reads, so it lends at most `bound - 1`. Returns how many it lent and the function that
   * gives them back (idempotent).
   */
  lend(n: number): { lent: number; giveBack: () => void } {
    const lent = Math.max(0, Math.min(n, this.#bound - this.#lent - 1));
    this.#lent += lent;
    this.#evictTo(this.#bound - this.#lent);
    let back = false;
    return {
      lent,
      giveBack: () => {
        if (back) return;
        back = true;
        this.#lent -= lent;
      },
    };
  }

  /** Descriptors open now. */
  get openFiles(): number {
    return this.#open.size;
  }

  /** Opens `path` (read-only) as a file of this cache. */
  add(path: string): CachedFile {
    let file: CachedFile | undefined;
    const fd = this.#openDescriptor(path);
    try {
      file = new CachedFile(this, path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.#open.set(file, true);
    return file;
  }

  /** @internal A descriptor for `file`, which has none; `file` becomes the most recent. */
  openFor(file: CachedFile): number {
    const fd = this.#openDescriptor(file.path);
    this.#open.set(file, true);
    return fd;
  }

  /** @internal `file` was just used: it becomes the most recently used. */
  touch(file: CachedFile): void {
    this.#open.delete(file);
    this.#open.set(file, true);
  }

  /** @internal A descriptor `openFor` gave out was not kept: close it. */
  closed(file: CachedFile, fd: number): void {
    this.#open.delete(file);
    closeSync(fd);
  }

  /** @internal `file` was closed for good. */
  forget(file: CachedFile): void {
    this.#open.delete(file);
  }

  /**
   * The process ran out of descriptors elsewhere: halves the bound and closes the least
   * recently used descriptors down to it. Returns how many it closed (0: none to give).
   */
  shed(): number {
    const before = this.#open.size;
    this.#bound = Math.max(1, Math.floor(before / 2));
    this.#evictTo(Math.max(1, this.#bound - this.#lent));
    return before - this.#open.size;
  }

  /** Closes every descriptor (files stay usable: they reopen on demand). */
  releaseAll(): void {
    this.#evictTo(0);
  }

  #evictTo(n: number): void {
    for (const file of this.#open.keys()) {
      if (this.#open.size <= n) break;
      this.#open.delete(file);
      file.release();
    }
  }

  /** Opens `path`, first making room under the bound; out of descriptors, sheds and retries. */
  #openDescriptor(path: string): number {
    for (;;) {
      this.#evictTo(Math.max(1, this.#bound - this.#lent) - 1);
      try {
        return openSync(path, "r");
      } catch (e) {
        if (!isOutOfDescriptors(e)) throw e;
        if (this.#open.size === 0) {
          throw new StoreError(
            `too many open files (${(e as { code?: string }).code ?? "EMFILE"}) opening ` +
              `${path}, and no table file of this store is open to close for it: ` +
              descriptorAdvice(this.#bound),
            { cause: e },
          );
        }
        this.shed();
      }
    }
  }
}

/**
 * A Store's write-ahead logs: the current one (the mutable memtable's writes go to it) and the
 * older ones, kept open until their memtables are flushed (a sync covers them all, oldest
 * first); and the store's failure for writes — once a log (or the MANIFEST) could not be
 * written, the store takes no more writes, and every later write says why.
 *
 * @module
 */
import { join } from "node:path";
import { StoreError } from "../errors.ts";
import { logFileName } from "../db/manifest.ts";
import { openLog } from "../db/native_wal.ts";
import type { Log } from "../db/wal.ts";
import type { TableCache } from "../table/table_cache.ts";
import { withDescriptors } from "./descriptors.ts";

/** `e` as an Error. */
const errorOf = (e: unknown): Error => e instanceof Error ? e : new Error(String(e));

/** The logs of a store and its failure for writes (see the module notes). */
export class StoreLogs {
  /** The log the mutable memtable's writes go to. */
  current: Log;
  /** The logs of the immutable memtables, open until those are flushed. */
  #old: Log[] = [];
  /** Why the store takes no more writes (a log or the MANIFEST failed), once it does not. */
  failed: Error | undefined;

  constructor(first: Log) {
    this.current = first;
  }

  /** Every open log, oldest first. */
  get all(): Log[] {
    return [...this.#old, this.current];
  }

  /** The store takes no more writes from here on (the first cause is kept). */
  fail(cause: unknown): void {
    this.failed ??= errorOf(cause);
  }

  /** Throws unless the store takes writes: a `StoreError` naming `Store.what()`. */
  checkWritable(what: string): void {
    if (this.failed === undefined) return;
    throw new StoreError(
      `Store.${what}(): the store takes no more writes since its log failed ` +
        `(${this.failed.message}); close() it, which flushes what it holds, and open it again`,
      { cause: this.failed },
    );
  }

  /** The store takes no more writes from here on: the error for the call that found out. */
  failure(what: string, cause: unknown): StoreError {
    this.fail(cause);
    return new StoreError(
      `Store.${what}(): the write is applied in memory but its log ${this.current.path} could ` +
        `not be written or synced (${(cause as Error)?.message ?? cause}): it is not durable, ` +
        `and the store takes no more writes; close() it, which flushes what it holds`,
      { cause },
    );
  }

  /** Appends `record` to the current log; a failure fails the store. */
  add(what: string, record: () => Uint8Array): void {
    try {
      this.current.add(record());
    } catch (e) {
      throw this.failure(what, e);
    }
  }

  /** Syncs the logs of the immutable memtables that have writes not yet synced. */
  syncOld(): void {
    for (const old of this.#old) if (old.syncedSize < old.size) old.sync();
  }

  /** Syncs every log with writes not yet synced: older logs first, then the current one. */
  sync(what: string): void {
    try {
      this.syncOld();
      if (this.current.syncedSize < this.current.size) this.current.sync();
    } catch (e) {
      throw this.failure(what, e);
    }
  }

  /** `sync`, the current log's fdatasync shared with concurrent callers (group commit). */
  async syncAsync(what: string): Promise<void> {
    const current = this.current;
    try {
      this.syncOld();
      await current.syncAsync();
    } catch (e) {
      throw this.failure(what, e);
    }
  }

  /**
   * Starts log `number` in `dir` for the next memtable (the current one joins the old ones),
   * unless the store failed. A log that cannot be created fails the store for writes: the
   * error is returned, for the caller to throw once the memtable switch is done.
   */
  next(dir: string, tables: TableCache, number: number): StoreError | undefined {
    if (this.failed !== undefined) return undefined;
    let log: Log;
    try {
      log = withDescriptors(tables, () => openLog(join(dir, logFileName(number)), number));
    } catch (e) {
      this.fail(e);
      return new StoreError(
        `Store: cannot create the log ${logFileName(number)} for the next memtable ` +
          `(${(e as Error).message}); the write itself was applied and logged, and the store ` +
          `takes no more writes`,
        { cause: e },
      );
    }
    this.#old.push(this.current);
    this.current = log;
    return undefined;
  }

  /** Closes the old logs numbered below `live` (after syncs in flight: their writes are flushed). */
  closeBefore(live: number): void {
    this.#old = this.#old.filter((w) => {
      if (w.number >= live) return true;
      w.closeAsync().catch(() => {});
      return false;
    });
  }

  /** Closes every log. */
  async close(): Promise<void> {
    for (const w of this.#old) await w.closeAsync();
    await this.current.closeAsync();
  }
}

/**
 * WriteBufferManager: one memory budget for the memtables of any number of stores (or column
 * families), as RocksDB's. Memtables report what their arenas hold: `reserve` when they grow,
 * `scheduleFree` when one becomes immutable (its memory is on its way out), `free` when a
 * flushed one is released. `shouldFlush()` applies RocksDB's rule; with `allowStall`, writers
 * wait in `whenWritable()` while usage is over the budget, until flushes bring it down.
 *
 * @module
 */
import { describe } from "../coding/value_type.ts";

/** Options of {@linkcode WriteBufferManager}. */
export interface WriteBufferManagerOptions {
  /** The budget in bytes; 0 disables the manager (it still counts). */
  bufferSize: number;
  /** Writers wait (`whenWritable()`) while usage is at or over the budget. Default false. */
  allowStall?: boolean;
}

/** The manager's figures, for monitoring. */
export interface WriteBufferManagerStats {
  /** The budget in bytes (0: no budget, only accounting). */
  bufferSize: number;
  /** Bytes reserved by every memtable that counts against the budget. */
  memoryUsage: number;
  /** The part of `memoryUsage` held by mutable memtables (not scheduled to be freed). */
  mutableMemtableMemoryUsage: number;
  /** Writers that had to wait, and for how long in total (ms). */
  stalls: number;
  /** Milliseconds writers have spent waiting in `whenWritable()`, in total. */
  stallTimeMs: number;
  /** Writers waiting now. */
  waiting: number;
}

function bytes(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(
      `WriteBufferManager.${what}: expected a byte count ≥ 0, got ${describe(n)}`,
    );
  }
  return n;
}

/**
 * A shared memtable memory budget.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WriteBufferManager } from "../../mod.ts";
 * const wbm = new WriteBufferManager({ bufferSize: 64 << 20 });
 * wbm.reserve(60 << 20); // a mutable memtable grew
 * assert(wbm.shouldFlush()); // over 7/8 of the budget is mutable
 * wbm.scheduleFree(60 << 20); // it became immutable and is being flushed
 * assert(!wbm.shouldFlush());
 * wbm.free(60 << 20); // flushed and released
 * ```
 */
export class WriteBufferManager {
  #bufferSize: number;
  /** Whether writers wait (`whenWritable()`) while usage is at or over the budget. */
  readonly allowStall: boolean;
  #used = 0;
  #active = 0;
  #waiters: { resolve: () => void; since: number }[] = [];
  #stalls = 0;
  #stallTime = 0;

  /** A manager of `bufferSize` bytes; bad options throw TypeError/RangeError. */
  constructor(options: WriteBufferManagerOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `WriteBufferManager: options must be an object, got ${describe(options)}`,
      );
    }
    this.#bufferSize = bytes(options.bufferSize, "bufferSize");
    const stall = options.allowStall ?? false;
    if (typeof stall !== "boolean") {
      throw new TypeError(
        `WriteBufferManager: allowStall must be a boolean, got ${describe(stall)}`,
      );
    }
    this.allowStall = stall;
  }

  /** False when the budget is 0: nothing is ever flushed or stalled for it. */
  get enabled(): boolean {
    return this.#bufferSize > 0;
  }

  /** The budget in bytes (0: no budget). */
  get bufferSize(): number {
    return this.#bufferSize;
  }

  /** Bytes held by all memtables counted here, mutable and immutable. */
  get memoryUsage(): number {
    return this.#used;
  }

  /** Bytes held by mutable memtables (not yet scheduled to be freed). */
  get mutableMemtableMemoryUsage(): number {
    return this.#active;
  }

  /** Changes the budget (wakes writers when it now fits). */
  setBufferSize(n: number): void {
    this.#bufferSize = bytes(n, "setBufferSize()");
    this.#wake();
  }

  /** A mutable memtable grew by `n` bytes. */
  reserve(n: number): void {
    bytes(n, "reserve()");
    this.#used += n;
    this.#active += n;
  }

  /** A memtable of `n` bytes became immutable: it no longer counts as mutable. */
  scheduleFree(n: number): void {
    bytes(n, "scheduleFree()");
    this.#active = Math.max(0, this.#active - n);
  }

  /** A memtable of `n` bytes was released. */
  free(n: number): void {
    bytes(n, "free()");
    this.#used = Math.max(0, this.#used - n);
    this.#wake();
  }

  /**
   * RocksDB's rule: flush when mutable memory is over 7/8 of the budget, or when all memory is
   * at or over the budget and at least half of it is mutable (flushing then frees something).
   */
  shouldFlush(): boolean {
    if (!this.enabled) return false;
    if (this.#active > (this.#bufferSize * 7) / 8) return true;
    return this.#used >= this.#bufferSize && this.#active >= this.#bufferSize / 2;
  }

  /** With `allowStall`: usage is at or over the budget, so writers should wait. */
  shouldStall(): boolean {
    return this.allowStall && this.enabled && this.#used >= this.#bufferSize;
  }

  /** Resolves at once unless writers must stall; then when usage is back under the budget. */
  whenWritable(): Promise<void> {
    if (!this.shouldStall()) return Promise.resolve();
    this.#stalls++;
    return new Promise((resolve) => this.#waiters.push({ resolve, since: performance.now() }));
  }

  #wake(): void {
    if (this.shouldStall() || this.#waiters.length === 0) return;
    const now = performance.now();
    for (const w of this.#waiters.splice(0)) {
      this.#stallTime += now - w.since;
      w.resolve();
    }
  }

  /** The manager's figures now. */
  stats(): WriteBufferManagerStats {
    return {
      bufferSize: this.#bufferSize,
      memoryUsage: this.#used,
      mutableMemtableMemoryUsage: this.#active,
      stalls: this.#stalls,
      stallTimeMs: this.#stallTime,
      waiting: this.#waiters.length,
    };
  }
}

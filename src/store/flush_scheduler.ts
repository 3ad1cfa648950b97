/**
 * A Store's flushes: when a memtable is switched out, a flush is scheduled; it picks the oldest
 * immutable memtables, writes them to the next SST file — in the flush Worker (off the writer's
 * thread) or, with `flushInWorker: false` or a test's file fault hook, on this one — opens the file,
 * installs it (MemTableList order) and records it in the MANIFEST (with the first log still
 * needed: the Store's `install`). One flush runs at a time;
 * a failed one rolls its memtables back (still readable, picked again by the next flush),
 * removes its file and is reported to the next `drain()` or `untilWritable()`.
 *
 * The native flush runs unless a merge operator of the caller's own is to fold merge runs on
 * this thread (the TypeScript flush runs its functions; in the Worker its operands are kept).
 *
 * @module
 */
import { rmSync } from "node:fs";
import { flushMemTables, type FlushStats } from "../flush/flush_job.ts";
import { FlushWorkerClient } from "../flush/flush_worker_client.ts";
import { flushMemTablesNative } from "../flush/native_flush.ts";
import { MemTable } from "../memtable/memtable.ts";
import { builtinSpecOf } from "../memtable/merge.ts";
import { fileFault, fileFaultOf } from "../table/file.ts";
import { openCachedTable, type TableReader } from "../table/table_reader.ts";
import type { MemTableList } from "../write/memtable_list.ts";
import { withDescriptorsAsync } from "./descriptors.ts";
import type { FileMeta } from "./directory.ts";
import { bloomBitsOf, type StoreOptions } from "./options.ts";
import { flushedMeta, type TableFiles } from "./table_files.ts";
import { yieldToEventLoop } from "../event_loop.ts";

/** What flushes work on: the Store's, read when a flush runs. */
export interface FlushContext {
  readonly options: StoreOptions;
  readonly imm: MemTableList<FileMeta>;
  readonly files: TableFiles;
  /** The live snapshots' sequence numbers. */
  snapshots(): number[];
  /** Installs what a flush wrote (`installed`: as the MemTableList hands it out) and records
   * it in the MANIFEST; `reader` is file `number`'s. */
  install(installed: readonly FileMeta[], number: number, reader: TableReader): void;
}

/** The figures of a store's flushes. */
export interface FlushFigures {
  /** Flushes completed. */
  flushes: number;
  /** Flushes that ran in the flush Worker (the rest ran on the calling thread). */
  flushesInWorker: number;
  /** Bytes of SST written, and the time flushes took from start to install. */
  flushedBytes: number;
  /** See `flushedBytes`. */
  flushMs: number;
}

/** Schedules and runs a Store's flushes (see the module notes). */
export class FlushScheduler {
  readonly #ctx: FlushContext;
  #flushing: Promise<void> | undefined;
  #error: unknown;
  #worker: FlushWorkerClient | undefined;
  readonly #figures: FlushFigures = { flushes: 0, flushesInWorker: 0, flushedBytes: 0, flushMs: 0 };

  constructor(ctx: FlushContext) {
    this.#ctx = ctx;
  }

  get figures(): Readonly<FlushFigures> {
    return { ...this.#figures };
  }

  /** Starts flushing the pending memtables unless a flush is running. */
  schedule(): void {
    if (this.#flushing !== undefined) return;
    this.#flushing = (async () => {
      try {
        while (this.#ctx.imm.isFlushPending()) {
          // A flush in the Worker starts now (the request is posted before the first await);
          // one on this thread waits for the writer to yield, so `put` returns first.
          if (!this.#inWorker()) await yieldToEventLoop();
          await this.#flushOnce();
        }
      } catch (e) {
        this.#error = e;
      } finally {
        this.#flushing = undefined;
      }
    })();
  }

  /**
   * Flushes every immutable memtable; rejects with (and forgets) the first flush error, after
   * which the memtables stay readable and the next call tries again.
   */
  async drain(): Promise<void> {
    this.#error = undefined;
    while (this.#ctx.imm.numNotFlushed > 0) {
      this.schedule();
      await this.#flushing;
      if (this.#error !== undefined) {
        const e = this.#error;
        this.#error = undefined;
        throw e;
      }
    }
  }

  /**
   * Resolves once flushes bring the memtables under `maxWriteBufferNumber` (at once when they
   * are), rejecting with a flush's error; lets a running Worker flush's reply in.
   */
  async untilWritable(): Promise<void> {
    const imm = this.#ctx.imm;
    while (imm.shouldStallWrites() && imm.numNotFlushed > 0) {
      this.schedule();
      await this.#flushing;
      if (this.#error !== undefined) throw this.#error;
    }
    // While a flush runs in the Worker, let its reply in (a macrotask): a writer that never
    // yields to the event loop would otherwise hold finished flushes uninstalled.
    if (this.#flushing !== undefined) await yieldToEventLoop();
  }

  /** Ends the flush Worker; flushes waiting on it reject. */
  terminate(): void {
    this.#worker?.terminate();
  }

  #inWorker(): boolean {
    const o = this.#ctx.options;
    return (o.flushInWorker ?? true) && fileFaultOf(o, "Store") === undefined;
  }

  /** One flush: the oldest immutable memtables to a new file, recorded in the manifest. */
  async #flushOnce(): Promise<void> {
    const { imm, files } = this.#ctx;
    const picked = imm.pickMemtablesToFlush(); // oldest first
    if (picked.length === 0) return;
    const { number, path } = files.next();
    const started = performance.now();
    const inWorker = this.#inWorker();
    let meta: FileMeta;
    let reader: TableReader;
    try {
      const newestFirst = [...picked].reverse();
      const stats = await withDescriptorsAsync(files.tables, () => this.#run(path, newestFirst));
      reader = openCachedTable(path, files.tables); // a file it cannot open is not installed
      try {
        meta = flushedMeta(number, reader, [Number(stats.smallestSeq), Number(stats.largestSeq)]);
      } catch (e) {
        reader.close();
        throw e;
      }
    } catch (e) {
      imm.rollbackFlush(picked); // still readable, picked again by the next flush
      // Written (or renamed into place before a later step failed) but never recorded, the
      // file is the store's to remove: left in place, its number (below the next manifest's
      // nextFileNumber) would make the directory not provably the store's at the next open.
      try {
        rmSync(path, { force: true });
      } catch {
        // then the next open names the file as one it cannot prove its own
      }
      throw e;
    }
    const f = this.#figures;
    f.flushes++;
    if (inWorker) f.flushesInWorker++;
    f.flushedBytes += meta.size;
    f.flushMs += performance.now() - started;
    this.#ctx.install(imm.installFlushResult(picked, meta), number, reader);
  }

  /** Writes `memtables` (newest first) to `path`: in the flush Worker, or here. */
  #run(path: string, memtables: MemTable[]): Promise<FlushStats> | FlushStats {
    const o = this.#ctx.options;
    const snapshots = this.#ctx.snapshots();
    const op = o.mergeOperator;
    const spec = op === undefined ? undefined : builtinSpecOf(op);
    if (!this.#inWorker()) {
      const input = { memtables, snapshots, ...(op ? { mergeOperator: op } : {}) };
      const options = {
        ...(o.blockSize ? { blockSize: o.blockSize } : {}),
        bloomBitsPerKey: bloomBitsOf(o),
        [fileFault]: fileFaultOf(o, "Store"),
      };
      // Natively, unless an operator of the caller's own is to fold merge runs.
      return op !== undefined && spec === undefined
        ? flushMemTables(path, input, options)
        : flushMemTablesNative(path, input, options);
    }
    this.#worker ??= new FlushWorkerClient();
    const tokens = memtables.map((m) => m.share());
    return this.#worker.run({
      path,
      tokens,
      snapshots,
      merge: spec,
      mergeName: spec === undefined ? op?.name : undefined,
      blockSize: o.blockSize,
      bloomBitsPerKey: bloomBitsOf(o),
    })
      .finally(() => {
        for (const t of tokens) MemTable.discardToken(t); // those the Worker never attached
      });
  }
}

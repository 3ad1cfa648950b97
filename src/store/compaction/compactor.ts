/**
 * A Store's compactions: after each flush the scores are computed (picker.ts) and, while one
 * is ≥ 1, a compaction runs (job.ts); `compactRange` runs RocksDB's manual compaction. One
 * compaction runs at a time. Each takes a reference on the Version it picked from (so its
 * inputs stay open), writes its outputs as temporaries, then — in one synchronous step —
 * renames them to fresh file numbers, opens them and installs them with one synced MANIFEST
 * edit (`TableFiles.installCompaction`); the inputs leave the disk when the last Version
 * listing them is released (version.ts).
 *
 * A process killed at any point leaves a directory that opens to the same data: before the
 * edit, the outputs are temporaries or numbered at or above the MANIFEST's next file number
 * (the numbers are taken in the install step, after every earlier edit), both removed by the
 * next open; after it, the inputs are obsolete files the next open removes.
 *
 * The job runs in a Worker of its own, off the writer's thread, which opens the input files by
 * path: natively (flush/native_compaction.ts) when it reads them all — uncompressed, as a store
 * writes them — else in TypeScript (flush/compaction_job.ts), with the same outputs. With
 * `flushInWorker: false`, or a merge operator of the caller's own (only this thread can call
 * it), the TypeScript job runs on the store's thread in slices that yield to the event loop, so
 * writes, reads and flushes go on meanwhile.
 *
 * @module
 */
import { readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { numbered, tableFileName } from "../../db/manifest.ts";
import { FlushWorkerClient } from "../../flush/flush_worker_client.ts";
import { builtinSpecOf, type MergeOperator } from "../../memtable/merge.ts";
import { StoreError } from "../../errors.ts";
import { syncDirectory } from "../../table/file.ts";
import { openCachedTable } from "../../table/table_reader.ts";
import type { FileMeta } from "../directory.ts";
import type { TableFile, TableFiles } from "../table_files.ts";
import { type JobResult, runCompactionJob } from "../../flush/compaction_job.ts";
import { nativeCompactionReads, runNativeCompactionJob } from "../../flush/native_compaction.ts";
import {
  type CompactionOptions,
  type CompactionPick,
  levelBytes,
  pickCompaction,
  pickRange,
} from "./picker.ts";
import type { LiveTable } from "./version.ts";
import { yieldToEventLoop } from "../../event_loop.ts";

/** What compactions work on: the Store's, read when one runs. */
export interface CompactionContext {
  readonly options: Required<CompactionOptions>;
  readonly files: TableFiles;
  readonly mergeOperator: MergeOperator | undefined;
  readonly blockSize: number | undefined;
  /** Run jobs in a Worker of their own (unless a merge operator of the caller's is to run). */
  readonly inWorker: boolean;
  /** The live snapshots' sequence numbers. */
  snapshots(): number[];
  lastSequence(): number;
  /** Bytes written by the store's callers so far (what a slowdown paces). */
  userBytes(): number;
  /** Called when an install fails (the MANIFEST takes no more edits): the store fails. */
  failed(e: unknown): void;
}

/** The figures of a store's compactions. */
export interface CompactionFigures {
  /** Compactions finished since the store opened (trivial moves included). */
  compactions: number;
  /** Compactions whose job ran in the compaction Worker (the rest: on the store's thread). */
  compactionsInWorker: number;
  /**
   * Compactions whose merge ran natively, in the Worker or on the store's thread (the rest, in
   * TypeScript: a merge operator of the caller's own, or inputs with compressed blocks).
   */
  nativeCompactions: number;
  /** Compactions that moved a file to the next level without rewriting it. */
  trivialMoves: number;
  /** Bytes of input table files the compactions read. */
  compactionBytesRead: number;
  /** Bytes of output table files the compactions wrote. */
  compactionBytesWritten: number;
  /** Milliseconds the compactions' jobs took, from start to install. */
  compactionMs: number;
  /** Time `whenWritable()` spent slowed or stopped by level 0's file count. */
  stallMs: number;
}

/** Bytes per second writers are slowed to at `level0SlowdownWritesTrigger` (RocksDB's
 * `delayed_write_rate` default, 16 MiB/s). */
const delayedWriteRate = 16 << 20;

/** One level of the tree. */
export interface LevelFigures {
  /** The level's number, 0 to `numLevels` − 1. */
  level: number;
  /** Table files on the level. */
  files: number;
  /** Bytes of those files. */
  bytes: number;
}

/** Schedules and runs a Store's compactions (see the module notes). */
export class Compactor {
  readonly #ctx: CompactionContext;
  #running: Promise<void> | undefined;
  #worker: FlushWorkerClient | undefined;
  /** The job number of the last job sent to the Worker (names its temporaries). */
  #jobNumber: number | undefined;
  /** `userBytes()` when `untilWritable` last paced the writer. */
  #pacedBytes = 0;
  #manual = 0;
  #error: unknown;
  #stopped = false;
  readonly #signal = { aborted: false };
  readonly #figures: CompactionFigures = {
    compactions: 0,
    compactionsInWorker: 0,
    nativeCompactions: 0,
    trivialMoves: 0,
    compactionBytesRead: 0,
    compactionBytesWritten: 0,
    compactionMs: 0,
    stallMs: 0,
  };

  constructor(ctx: CompactionContext) {
    this.#ctx = ctx;
  }

  get figures(): Readonly<CompactionFigures> {
    return { ...this.#figures };
  }

  /** Files and bytes per level, 0 to numLevels − 1. */
  levels(): LevelFigures[] {
    const v = this.#ctx.files.current;
    return Array.from(
      { length: Math.max(this.#ctx.options.numLevels, v.levels.length) },
      (_, level) => ({
        level,
        files: v.levels[level]?.length ?? 0,
        bytes: levelBytes(v, level),
      }),
    );
  }

  /** Starts automatic compactions while a score is ≥ 1 (unless disabled or one runs). */
  schedule(): void {
    const o = this.#ctx.options;
    if (o.disableAutoCompactions || this.#stopped || this.#running || this.#manual > 0) return;
    if (pickCompaction(this.#ctx.files.current, o) === undefined) return;
    this.#running = (async () => {
      try {
        while (!this.#stopped && this.#manual === 0) {
          const ran = await this.#runPicked(() => pickCompaction(this.#ctx.files.current, o));
          if (!ran) break;
        }
      } catch (e) {
        if (!this.#stopped) this.#error = e;
      } finally {
        this.#running = undefined;
      }
    })();
  }

  /** Rejects with (and forgets) a background compaction's error, if one failed. */
  #rethrow(): void {
    if (this.#error === undefined) return;
    const e = this.#error;
    this.#error = undefined;
    throw e;
  }

  /**
   * RocksDB's `CompactRange`: every level from the first holding a file that overlaps
   * [lo, hi] is compacted into the next, down to the last such level (a file only in level 0
   * goes to level 1); the last level is not compacted into itself.
   */
  async compactRange(lo: Uint8Array | undefined, hi: Uint8Array | undefined): Promise<void> {
    this.#manual++;
    try {
      while (this.#running) await this.#running;
      this.#rethrow();
      const v = this.#ctx.files.current;
      const touched = v.levels.map((_, l) => v.overlapping(l, lo, hi).length > 0);
      const first = touched.indexOf(true);
      const last = touched.lastIndexOf(true);
      if (first < 0) return;
      // The last level is not compacted into itself, unless it is level 0.
      for (let level = first; level <= (last === 0 ? 0 : last - 1); level++) {
        await this.#runPicked(() => pickRange(this.#ctx.files.current, level, level + 1, lo, hi));
      }
    } finally {
      this.#manual--;
    }
    this.schedule();
  }

  /**
   * Resolves once level 0 is below `level0StopWritesTrigger` (running compactions until it is)
   * — after a pause when it is at `level0SlowdownWritesTrigger` or above that paces the bytes
   * written since the last call to 16 MiB/s (RocksDB's write slowdown), after one turn of the
   * event loop while a compaction runs otherwise (its slice here, or its Worker's reply) —
   * rejecting with a compaction's error.
   */
  async untilWritable(): Promise<void> {
    const o = this.#ctx.options;
    const l0 = () => this.#ctx.files.current.levels[0]?.length ?? 0;
    if (l0() < o.level0SlowdownWritesTrigger) {
      // The job runs on this thread between the writer's yields: a writer that never yields to
      // the event loop would never let it run, so a running compaction gets a slice here.
      if (this.#running !== undefined) await yieldToEventLoop();
      return this.#rethrow();
    }
    const started = performance.now();
    this.#pacedBytes = Math.max(this.#pacedBytes, this.#ctx.userBytes() - delayedWriteRate);
    try {
      while (l0() >= o.level0StopWritesTrigger && !this.#stopped) {
        this.schedule();
        if (this.#running === undefined) break; // nothing to pick (auto compactions disabled)
        await this.#running;
        this.#rethrow();
      }
      // Slowed: the writes since the last call are paced to RocksDB's delayed_write_rate.
      const bytes = this.#ctx.userBytes();
      const ms = Math.min(1000, ((bytes - this.#pacedBytes) / delayedWriteRate) * 1000);
      await new Promise((r) => setTimeout(r, Math.max(1, ms)));
    } finally {
      this.#figures.stallMs += performance.now() - started;
      this.#pacedBytes = this.#ctx.userBytes();
    }
    this.#rethrow();
  }

  /** Stops compactions: a running job ends at its next slice, removing what it wrote. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#signal.aborted = true;
    // A job in the Worker stops at its next yield and removes what it wrote; then the Worker
    // ends (terminated at once, it could still be writing a file after close() returned).
    await this.#worker?.stop();
    while (this.#running) await this.#running.catch(() => {});
    if (this.#jobNumber === undefined) return;
    const prefix = `${numbered(this.#jobNumber, ".sst")}.${process.pid}.`;
    const dir = this.#ctx.files.dir;
    for (const f of readdirSync(dir)) {
      if (f.startsWith(prefix)) rmSync(join(dir, f), { force: true });
    }
  }

  /** Runs the compaction `pick()` chooses, if any; returns whether one ran. */
  async #runPicked(pick: () => CompactionPick | undefined): Promise<boolean> {
    const files = this.#ctx.files;
    const version = files.current;
    const p = pick();
    if (p === undefined) return false;
    const started = performance.now();
    version.ref(); // the inputs stay open while the job reads them
    try {
      if (p.trivialMove) this.#install(p, moved(files, p.inputs[0]!, p.outputLevel));
      else {
        const closed = (cause?: unknown) =>
          new StoreError("Store: the store was closed during a compaction", { cause });
        const result = await this.#job(p).catch((e: unknown) => {
          throw this.#signal.aborted ? closed(e) : e;
        });
        if (this.#signal.aborted) {
          for (const o of result.outputs) rmSync(o.path, { force: true });
          throw closed();
        }
        this.#install(p, this.#outputsOf(p, result));
        if (result.native) this.#figures.nativeCompactions++;
        this.#figures.compactionBytesRead += result.bytesRead;
        this.#figures.compactionBytesWritten += result.bytesWritten;
      }
    } finally {
      version.unref();
    }
    this.#figures.compactions++;
    if (p.trivialMove) this.#figures.trivialMoves++;
    this.#figures.compactionMs += performance.now() - started;
    return true;
  }

  /**
   * Runs the pick's job: in the compaction Worker (the files opened there by path), or here
   * (`flushInWorker: false`, or a merge operator of the caller's own: only this thread can call
   * it) — natively where the Worker would.
   */
  async #job(p: CompactionPick): Promise<JobResult> {
    const ctx = this.#ctx;
    const runs: LiveTable[][] = p.level === 0 ? p.inputs.map((f) => [f]) : [p.inputs];
    if (p.outputInputs.length > 0) runs.push(p.outputInputs);
    const op = ctx.mergeOperator;
    const spec = op === undefined ? undefined : builtinSpecOf(op);
    const common = {
      dir: ctx.files.dir,
      jobNumber: Math.min(...p.inputs.map((f) => f.meta.number)),
      snapshots: ctx.snapshots(),
      bottommost: p.bottommost,
      targetFileSize: ctx.options.targetFileSizeBase,
      ...(ctx.blockSize ? { blockSize: ctx.blockSize } : {}),
      bloomBitsPerKey: ctx.files.bloomBitsPerKey,
    };
    // The Worker opens its inputs through a cache of its own, with descriptors lent from the
    // store's bound, so the two stay within maxOpenFiles; with none to lend, the job runs here.
    const loan = ctx.inWorker && (op === undefined || spec !== undefined)
      ? ctx.files.tables.lend(runs.flat().length)
      : undefined;
    if (loan !== undefined && loan.lent > 0) {
      try {
        this.#worker ??= new FlushWorkerClient("compaction");
        const paths = runs.map((run) => run.map((f) => f.path));
        this.#jobNumber = common.jobNumber;
        const result = await this.#worker.run({
          compaction: { ...common, runs: paths, merge: spec, maxOpenFiles: loan.lent },
        });
        this.#figures.compactionsInWorker++;
        return result;
      } finally {
        loan.giveBack();
      }
    }
    loan?.giveBack();
    // Here: natively when the operator is built in and the inputs are files the native job
    // reads (it holds one descriptor at a time, lent as above); the TypeScript job otherwise.
    if (
      (op === undefined || spec !== undefined) &&
      runs.flat().every((f) => nativeCompactionReads(f.reader))
    ) {
      const one = ctx.files.tables.lend(1);
      try {
        if (one.lent === 1) {
          return await runNativeCompactionJob({
            ...common,
            runs: runs.map((run) => run.map((f) => f.path)),
            ...(spec ? { merge: spec } : {}),
            signal: this.#signal,
          });
        }
      } finally {
        one.giveBack();
      }
    }
    return runCompactionJob({
      ...common,
      runs: runs.map((run) => run.map((f) => f.reader)),
      ...(op ? { mergeOperator: op } : {}),
      signal: this.#signal,
    });
  }

  /** The job's temporaries renamed to new numbers and opened; on failure, all removed. */
  #outputsOf(p: CompactionPick, result: JobResult): TableFile[] {
    const files = this.#ctx.files;
    const added: TableFile[] = [];
    try {
      for (const o of result.outputs) {
        const { number, path } = files.next();
        renameSync(o.path, path);
        const meta: FileMeta = {
          number,
          level: p.outputLevel,
          smallestSeq: o.smallestSeq,
          largestSeq: o.largestSeq,
          size: o.size,
          smallest: o.smallest,
          largest: o.largest,
        };
        added.push({ meta, reader: openCachedTable(path, files.tables) });
      }
      syncDirectory(files.dir);
    } catch (e) {
      for (const a of added) {
        a.reader.close();
        rmSync(join(files.dir, tableFileName(a.meta.number)), { force: true });
      }
      for (const o of result.outputs) rmSync(o.path, { force: true });
      throw e;
    }
    return added;
  }

  /** Installs `added` in place of the pick's inputs (one edit). */
  #install(p: CompactionPick, added: TableFile[]): void {
    try {
      this.#ctx.files.installCompaction(
        { deleted: [...p.inputs, ...p.outputInputs], added },
        this.#ctx.lastSequence(),
      );
    } catch (e) {
      for (const a of added) a.reader.close(); // left on disk: the next open sorts them out
      this.#ctx.failed(e);
      throw e;
    }
  }
}

/** File `f` as a file of `level` (its own reader: the old entry's closes with its Version). */
function moved(files: TableFiles, f: LiveTable, level: number): TableFile[] {
  return [{ meta: { ...f.meta, level }, reader: openCachedTable(f.path, files.tables) }];
}

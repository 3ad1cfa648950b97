/**
 * The Worker a Store's flushes run in, off the writer's thread: it attaches the immutable
 * memtables (their native memory is shared, not copied), runs the native flush — which folds
 * merge runs with a built-in merge operator, and keeps them as they are with an operator of the
 * caller's own (a function cannot be sent to a Worker; reads fold them) — and writes the file,
 * while the writer goes on filling the next memtable.
 *
 * The Worker's entry is a `data:` module ({@linkcode flushWorkerUrl}) that imports this file
 * and calls `serveFlushes()`; importing the file does nothing else. The Store imports it
 * statically, so it belongs to `mod.ts`'s import graph: imported from a URL, Deno caches it
 * with `mod.ts` on the first run, and the Worker starts offline too (a Worker's own modules
 * are otherwise fetched when it starts). Nothing global decides whether a thread is the flush
 * Worker, so a user's Worker that imports `mod.ts` is left alone.
 *
 * Protocol: on start it posts `{ listening: true }` (a message sent to a Worker before its
 * handler exists may be lost); the first message in is `{ library }`, the native library file
 * the main thread uses, answered `{ ready: true }`; then each `FlushRequest` is answered with a
 * `FlushReply` carrying the same `id`. A request with a `compaction` field is a compaction job
 * instead (`CompactionRequest`: the files it names opened here, then the native job of
 * native_compaction.ts when it reads them all — uncompressed files, as a Store writes them —
 * and compaction_job.ts otherwise, e.g. for RocksDB-written files with Snappy blocks), answered
 * with its `JobResult` as `stats`; a Store runs its compactions in a Worker of their own.
 *
 * @module
 */
import { loadLibrary } from "../ffi/native.ts";
import { MemTable, type MemTableShareToken } from "../memtable/memtable.ts";
import { type BuiltinSpec, operatorFromSpec } from "../memtable/merge.ts";
import type { FlushStats } from "./flush_job.ts";
import { flushMemTablesNative } from "./native_flush.ts";
import { type JobInput, type JobResult, runCompactionJob } from "./compaction_job.ts";
import { nativeCompactionReads, runNativeCompactionJob } from "./native_compaction.ts";
import { openCachedTable, type TableReader } from "../table/table_reader.ts";
import { TableCache } from "../table/table_cache.ts";

export interface FlushRequest {
  id: number;
  path: string;
  /** The memtables, newest first. */
  tokens: MemTableShareToken[];
  snapshots: number[];
  /** A built-in merge operator to fold operands with. */
  merge: BuiltinSpec | undefined;
  /**
   * The name of the memtables' own merge operator when it is not a built-in one: the flush
   * keeps their operands as they are (reads fold them), and only attaching needs the name.
   */
  mergeName: string | undefined;
  blockSize: number | undefined;
  /** Bits per key of the file's bloom filter (0: none). */
  bloomBitsPerKey: number;
}

/** A compaction job for the Worker: the job's input, its files named by path. */
export interface CompactionRequest {
  id: number;
  compaction: Omit<JobInput, "runs" | "mergeOperator" | "signal"> & {
    /** The input files' paths, as the job's sorted runs. */
    runs: string[][];
    merge: BuiltinSpec | undefined;
    /** The descriptors the job may hold open (lent from the store's `maxOpenFiles`). */
    maxOpenFiles: number;
  };
}

export type FlushReply =
  | { id: number; ok: true; stats: FlushStats | JobResult }
  | { id: number; ok: false; error: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

/**
 * The URL a Store starts its flush Worker from: a `data:` module that imports this file by
 * its own URL (file or http(s)) and serves flushes.
 */
export function flushWorkerUrl(): string {
  const source = `import { serveFlushes } from ${JSON.stringify(import.meta.url)};\n` +
    `serveFlushes();\n`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** Makes this Worker the flush Worker: answers the messages of the protocol above. */
export function serveFlushes(): void {
  const scope = globalThis as unknown as WorkerScope;
  let ready = false;
  /** The running compactions' stop signals: `{ abort: true }` sets them all. */
  const running = new Set<{ aborted: boolean }>();
  scope.onmessage = (e: MessageEvent) => {
    if ((e.data as { abort?: boolean }).abort === true) {
      for (const signal of running) signal.aborted = true;
      return;
    }
    if (!ready) {
      loadLibrary({ path: (e.data as { library: string }).library });
      ready = true;
      scope.postMessage({ ready: true });
      return;
    }
    if ((e.data as Partial<CompactionRequest>).compaction !== undefined) {
      const signal = { aborted: false };
      running.add(signal);
      void compactOne(scope, e.data as CompactionRequest, signal).finally(() =>
        running.delete(signal)
      );
    } else flushOne(scope, e.data as FlushRequest);
  };
  scope.postMessage({ listening: true });
}

function flushOne(scope: WorkerScope, req: FlushRequest): void {
  // The reply goes out after the Worker's references are dropped: once the Store installs the
  // flush, the memtables are the readers' alone (an iterator's end frees them at once).
  let reply: FlushReply;
  const attached: MemTable[] = [];
  try {
    const mergeOperator = req.merge === undefined ? undefined : operatorFromSpec(req.merge);
    const standIn = req.mergeName === undefined ? undefined : {
      name: req.mergeName,
      fullMerge(): Uint8Array {
        throw new Error("the flush Worker cannot run this merge operator");
      },
    };
    for (const t of req.tokens) {
      const op = mergeOperator ?? standIn;
      attached.push(MemTable.attach(t, op ? { mergeOperator: op } : {}));
    }
    const options = {
      ...(req.blockSize === undefined ? {} : { blockSize: req.blockSize }),
      bloomBitsPerKey: req.bloomBitsPerKey,
    };
    const stats = flushMemTablesNative(req.path, {
      memtables: attached,
      snapshots: req.snapshots,
      ...(mergeOperator ? { mergeOperator } : {}),
    }, options);
    reply = { id: req.id, ok: true, stats };
  } catch (err) {
    reply = { id: req.id, ok: false, error: String(err) };
  } finally {
    for (const m of attached) m.close();
  }
  scope.postMessage(reply);
}

async function compactOne(
  scope: WorkerScope,
  req: CompactionRequest,
  signal: { aborted: boolean },
): Promise<void> {
  let reply: FlushReply;
  const readers: TableReader[] = [];
  try {
    const { merge, runs, maxOpenFiles, ...rest } = req.compaction;
    const mergeOperator = merge === undefined ? undefined : operatorFromSpec(merge);
    const cache = new TableCache(maxOpenFiles);
    const opened = runs.map((run) =>
      run.map((path) => {
        const r = openCachedTable(path, cache);
        readers.push(r);
        return r;
      })
    );
    let stats: JobResult;
    if (readers.every(nativeCompactionReads)) {
      // The native job reads the files by path itself, holding no descriptor between reads.
      for (const r of readers.splice(0)) r.close();
      stats = await runNativeCompactionJob({
        ...rest,
        runs,
        ...(merge ? { merge } : {}),
        signal,
      });
    } else {
      stats = await runCompactionJob({
        ...rest,
        runs: opened,
        ...(mergeOperator ? { mergeOperator } : {}),
        signal,
      });
    }
    reply = { id: req.id, ok: true, stats };
  } catch (err) {
    reply = { id: req.id, ok: false, error: String(err) };
  } finally {
    for (const r of readers) r.close();
  }
  scope.postMessage(reply);
}

/**
 * The main thread's end of the flush Worker (`flush_worker.ts` holds the protocol and the
 * Worker's end): starts the Worker from `flushWorkerUrl()`, hands it the native library the
 * main thread uses, and turns each flush (or compaction) request into a promise of its stats. A Worker that
 * fails rejects every flush waiting on it; `terminate()` rejects the rest.
 *
 * @module
 */
import { StoreError } from "../errors.ts";
import { native } from "../ffi/native.ts";
import type { FlushStats } from "./flush_job.ts";
import type { JobResult } from "./compaction_job.ts";
import {
  type CompactionRequest,
  type FlushReply,
  type FlushRequest,
  flushWorkerUrl,
} from "./flush_worker.ts";

/** The Store's flush Worker (see flush_worker.ts for its protocol). */
export class FlushWorkerClient {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  /** Resolves `stop()`'s wait once no request is pending. */
  #drained: (() => void) | undefined;
  readonly #pending = new Map<
    number,
    { resolve: (s: FlushStats & JobResult) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  #failed: Error | undefined;
  /** Rejects a start still under way (`terminate()` before the Worker was ready). */
  #stopReady: (e: Error) => void = () => {};

  readonly #what: string;

  /** `what`: the Worker's jobs, for messages ("flush", "compaction"). */
  constructor(what = "flush") {
    this.#what = what;
    this.#worker = new Worker(flushWorkerUrl(), { type: "module", name: `memtable-${what}` });
    this.#ready = new Promise((resolve, reject) => {
      this.#stopReady = reject;
      this.#worker.onmessage = (e: MessageEvent) => {
        const d = e.data as { listening?: boolean; ready?: boolean };
        if (d.listening) this.#worker.postMessage({ library: native().path });
        else if (d.ready) {
          this.#worker.onmessage = (ev: MessageEvent) => this.#reply(ev.data as FlushReply);
          resolve();
        }
      };
      this.#worker.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        this.#failed = new StoreError(`Store: the ${what} Worker failed: ${e.message}`);
        reject(this.#failed);
        for (const p of this.#pending.values()) p.reject(this.#failed);
        this.#pending.clear();
      };
    });
    this.#ready.catch(() => {}); // reported to the flush that waits for it
  }

  run(req: Omit<FlushRequest, "id">): Promise<FlushStats>;
  run(req: Omit<CompactionRequest, "id">): Promise<JobResult>;
  async run(
    req: Omit<FlushRequest, "id"> | Omit<CompactionRequest, "id">,
  ): Promise<FlushStats | JobResult> {
    await this.#ready;
    if (this.#failed) throw this.#failed;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id });
    });
  }

  #reply(r: FlushReply): void {
    const p = this.#pending.get(r.id);
    if (p === undefined) return;
    this.#pending.delete(r.id);
    if (this.#pending.size === 0) this.#drained?.();
    if (r.ok) p.resolve(r.stats as FlushStats & JobResult);
    else p.reject(new StoreError(`Store: ${this.#what} failed: ${r.error}`));
  }

  /**
   * Asks the running compactions to stop at their next yield (each removes what it wrote and
   * answers), waits for their answers up to `timeoutMs`, then terminates the Worker: a Worker
   * terminated mid-job could still be writing a file after the store closed.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#pending.size > 0 && this.#failed === undefined) {
      const answered = new Promise<void>((resolve) => this.#drained = resolve);
      this.#worker.postMessage({ abort: true });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        answered,
        new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
      ]);
      clearTimeout(timer);
    }
    this.terminate();
  }

  terminate(): void {
    this.#worker.terminate();
    const e = new StoreError(`Store: the store was closed during a ${this.#what}`);
    this.#failed ??= e;
    this.#stopReady(e);
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}

/**
 * The main thread's end of the flush Worker (`flush_worker.ts` holds the protocol and the
 * Worker's end): starts the Worker from `flushWorkerUrl()`, hands it the native library the
 * main thread uses, and turns each flush request into a promise of its stats. A Worker that
 * fails rejects every flush waiting on it; `terminate()` rejects the rest.
 *
 * @module
 */
import { StoreError } from "../errors.ts";
import { native } from "../ffi/native.ts";
import type { FlushStats } from "./flush_job.ts";
import { type FlushReply, type FlushRequest, flushWorkerUrl } from "./flush_worker.ts";

/** The Store's flush Worker (see flush_worker.ts for its protocol). */
export class FlushWorkerClient {
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<
    number,
    { resolve: (s: FlushStats) => void; reject: (e: Error) => void }
  >();
  #next = 1;
  #failed: Error | undefined;

  constructor() {
    this.#worker = new Worker(flushWorkerUrl(), { type: "module", name: "memtable-flush" });
    this.#ready = new Promise((resolve, reject) => {
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
        this.#failed = new StoreError(`Store: the flush Worker failed: ${e.message}`);
        reject(this.#failed);
        for (const p of this.#pending.values()) p.reject(this.#failed);
        this.#pending.clear();
      };
    });
    this.#ready.catch(() => {}); // reported to the flush that waits for it
  }

  async run(req: Omit<FlushRequest, "id">): Promise<FlushStats> {
    await this.#ready;
    if (this.#failed) throw this.#failed;
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id } satisfies FlushRequest);
    });
  }

  #reply(r: FlushReply): void {
    const p = this.#pending.get(r.id);
    if (p === undefined) return;
    this.#pending.delete(r.id);
    if (r.ok) p.resolve(r.stats);
    else p.reject(new StoreError(`Store: flush failed: ${r.error}`));
  }

  terminate(): void {
    this.#worker.terminate();
    const e = new StoreError("Store: the store was closed during a flush");
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }
}

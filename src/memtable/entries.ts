/**
 * `MemTable.entries()`: every version in internal-key order, read in batches of up to 1024
 * entries per native call through a cursor the iterator owns.
 *
 * @module
 */
import { type Handle, Scratch } from "../ffi/native.ts";
import { batchViews, type Bytes, type Entry, keepAttached, readEntry } from "./bytes.ts";
import { internalToken, MemTableIterator } from "./iterator.ts";

const batchScratchSize = 64 * 1024;
const batchEntriesMax = 1024;

/**
 * `entries()`: reads entries in batches through a native cursor it owns. On Deno each entry's
 * key and value are views into that batch's own buffer (copies of native memory, never reused,
 * untransferable); on Bun they are copies of their own and one buffer serves every batch.
 */
export class EntryBatches implements IterableIterator<Entry> {
  #it: MemTableIterator | null;
  #batchSize = batchScratchSize;
  #reused: Scratch | undefined;
  #pending: Entry[] = [];
  #index = 0;
  #started = false;

  constructor(h: Handle, snapHigh: number, snapLow: number, flags: number, prefix?: Bytes) {
    this.#it = new MemTableIterator(internalToken, h, snapHigh, snapLow, flags, prefix);
  }

  [Symbol.iterator](): IterableIterator<Entry> {
    return this;
  }

  next(): IteratorResult<Entry> {
    if (this.#index < this.#pending.length) {
      return { value: this.#pending[this.#index++]!, done: false };
    }
    const it = this.#it;
    if (it === null) return { value: undefined, done: true };
    if (!this.#started) {
      this.#started = true;
      it.seekToFirst();
    }
    // Deno: a fresh buffer per batch, since the entries handed out are views into it (one
    // allocation per batch instead of two per entry); it is never written again.
    let s: Scratch;
    if (batchViews) {
      s = new Scratch(this.#batchSize);
      keepAttached(s.bytes.buffer);
    } else {
      s = this.#reused ??= new Scratch(this.#batchSize);
    }
    const n = it.readBatch(s, batchEntriesMax);
    this.#batchSize = Math.max(this.#batchSize, s.capacity);
    if (n === 0) return this.return();
    const pending: Entry[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const [entry, next] = readEntry(s, at);
      pending.push(entry);
      at = next;
    }
    this.#pending = pending;
    this.#index = 1;
    return { value: pending[0]!, done: false };
  }

  return(): IteratorResult<Entry> {
    this.#it?.close();
    this.#it = null;
    this.#pending = [];
    this.#reused = undefined;
    return { value: undefined, done: true };
  }
}

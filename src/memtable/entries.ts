/**
 * `MemTable.entries()`: every version in internal-key order, read in batches of up to 1024
 * entries per native call (`batches.ts`).
 *
 * @module
 */
import type { Handle } from "../ffi/native.ts";
import { sequenceFromTrailer } from "../coding/sequence.ts";
import type { ValueType } from "../coding/value_type.ts";
import { BatchArea, BatchReader, keyRoom, metaSize } from "./batches.ts";
import { batchViews, type Bytes, type Entry, keepAttached } from "./bytes.ts";

const batchEntriesMax = 1024;
const batchDataSize = 128 * 1024;

/**
 * `entries()`: reads entries in batches through a native iterator it owns. On Deno each entry's
 * key and value are views into that batch's own buffer (copies of native memory, never reused,
 * untransferable); on Bun they are copies of their own and one buffer serves every batch.
 */
export class EntryBatches implements IterableIterator<Entry> {
  #reader: BatchReader | null;
  #area: BatchArea;
  #size: number;
  #pending: Entry[] = [];
  #index = 0;

  constructor(h: Handle, snapHigh: number, snapLow: number, flags: number, prefix?: Bytes) {
    const what = "MemTable.entries()";
    this.#size = Math.max(metaSize(batchEntriesMax) + batchDataSize, keyRoom(prefix, what));
    this.#area = new BatchArea(this.#size);
    this.#reader = new BatchReader(h, { snapHigh, snapLow, flags, prefix }, this.#area, what);
  }

  [Symbol.iterator](): IterableIterator<Entry> {
    return this;
  }

  next(): IteratorResult<Entry> {
    if (this.#index < this.#pending.length) {
      return { value: this.#pending[this.#index++]!, done: false };
    }
    const reader = this.#reader;
    if (reader === null || !reader.open) return this.return(); // the end, or after an error
    // Deno: a fresh buffer per batch, since the entries handed out are views into it (one
    // allocation per batch instead of two per entry); it is never written again.
    let area = this.#area;
    if (batchViews && this.#pending.length > 0) {
      area = this.#area = new BatchArea(this.#size);
    }
    const n = reader.read(area, batchEntriesMax, (size) => {
      this.#size = Math.max(this.#size * 2, size);
      return area = this.#area = new BatchArea(this.#size);
    });
    if (n === 0) return this.return();
    if (batchViews) keepAttached(area.buffer);
    const w = area.words;
    const buffer = area.buffer;
    const pending: Entry[] = new Array(n);
    for (let i = 0, m = 0; i < n; i++, m += 4) {
      const low = w[m]!;
      const k = w[m + 2]!;
      const v = w[m + 3]!;
      const end = w[m + 6]!;
      pending[i] = {
        key: batchViews ? new Uint8Array(buffer, k, v - k) : area.bytes.slice(k, v),
        seq: sequenceFromTrailer(w[m + 1]!, low),
        type: (low & 0xff) as ValueType,
        value: batchViews ? new Uint8Array(buffer, v, end - v) : area.bytes.slice(v, end),
      };
    }
    this.#pending = pending;
    this.#index = 1;
    return { value: pending[0]!, done: false };
  }

  return(): IteratorResult<Entry> {
    this.#reader?.close();
    this.#reader = null;
    this.#pending = [];
    return { value: undefined, done: true };
  }
}

/**
 * Versions of keys from several sources (memtables, tables), each in internal-key order, merged
 * into one stream in that order (RocksDB's MergingIterator): `mergeVersions`, forward only, what
 * flushes and compactions read; and `MergingCursor`, seekable both ways, what the Store's
 * iterators and cursors read.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { SequenceNumber } from "../coding/sequence.ts";
import type { TableEntry } from "./table_reader.ts";
import type { VersionCursor } from "./table_cursor.ts";

/** A version of a key: what memtables and tables list. */
export type Versioned = { key: Uint8Array; seq: SequenceNumber; type: number };

/** Internal-key order of two versions: user key ascending, seq descending, type descending. */
export function compareVersions(a: Versioned, b: Versioned): number {
  const c = compareUserKeys(a.key, b.key);
  if (c !== 0) return c;
  if (a.seq !== b.seq) return a.seq > b.seq ? -1 : 1;
  return b.type - a.type;
}

/**
 * The versions of several sources, each in internal-key order, merged in that order (for equal
 * versions, the earlier source's first). A handful of sources: a linear pick beats a heap.
 * Stopped early or not, every source is ended (memtable cursors free their native side).
 */
export function* mergeVersions<T extends Versioned>(sources: Iterator<T>[]): Generator<T> {
  try {
    const heads = sources.map((s) => s.next());
    while (true) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]!;
        if (h.done) continue;
        if (best < 0 || compareVersions(h.value, heads[best]!.value as T) < 0) best = i;
      }
      if (best < 0) return;
      const e = heads[best]!.value as T;
      heads[best] = sources[best]!.next();
      yield e;
    }
  } finally {
    for (const s of sources) s.return?.();
  }
}

/**
 * Several `VersionCursor`s (newest source first) read as one, in internal-key order; for equal
 * versions the earlier source's comes first going forward, last going backward, so a backward
 * walk meets exactly the forward walk's entries in reverse. It moves one way at a time: the
 * forward seeks (`seekToFirst`, `seek`, `seekAfter`) allow `next()`, the backward ones
 * (`seekToLast`, `seekForPrev`, `seekBefore`) allow `prev()`; a change of direction is a seek
 * (the Store's cursor seeks from its current key, as RocksDB's DB iterator does).
 * A handful of sources: a linear pick of the current one beats a heap.
 */
export class MergingCursor {
  readonly #sources: readonly VersionCursor[];
  #forward = true;
  /** The source the current entry is from (-1: none, the cursor is not valid). */
  #current = -1;

  constructor(sources: readonly VersionCursor[]) {
    this.#sources = sources;
  }

  valid(): boolean {
    return this.#current >= 0;
  }

  /** The current entry. REQUIRES: `valid()`. */
  entry(): TableEntry {
    if (this.#current < 0) throw new Error("MergingCursor.entry(): the cursor is not on an entry");
    return this.#sources[this.#current]!.entry();
  }

  /** Picks the smallest (forward) or largest (backward) head. */
  #pick(forward: boolean): void {
    this.#forward = forward;
    let best = -1;
    let bestEntry: TableEntry | undefined;
    for (let i = 0; i < this.#sources.length; i++) {
      const s = this.#sources[i]!;
      if (!s.valid()) continue;
      const e = s.entry();
      if (bestEntry === undefined) {
        best = i;
        bestEntry = e;
        continue;
      }
      const c = compareVersions(e, bestEntry);
      // Ties: the earlier source is first going forward, so last going backward.
      if (forward ? c < 0 : c >= 0) {
        best = i;
        bestEntry = e;
      }
    }
    this.#current = best;
  }

  /** The newest version of the first user key. */
  seekToFirst(): void {
    for (const s of this.#sources) s.seekToFirst();
    this.#pick(true);
  }

  /** The newest version of the first user key ≥ `key`. */
  seek(key: Uint8Array): void {
    for (const s of this.#sources) s.seek(key);
    this.#pick(true);
  }

  /** The newest version of the first user key > `key`. */
  seekAfter(key: Uint8Array): void {
    for (const s of this.#sources) {
      s.seekForPrev(key);
      if (s.valid()) s.next();
      else s.seekToFirst();
    }
    this.#pick(true);
  }

  /** The oldest version of the last user key. */
  seekToLast(): void {
    for (const s of this.#sources) s.seekToLast();
    this.#pick(false);
  }

  /** The oldest version of the last user key ≤ `key`. */
  seekForPrev(key: Uint8Array): void {
    for (const s of this.#sources) s.seekForPrev(key);
    this.#pick(false);
  }

  /** The oldest version of the last user key < `key`. */
  seekBefore(key: Uint8Array): void {
    for (const s of this.#sources) {
      s.seek(key);
      if (s.valid()) s.prev();
      else s.seekToLast();
    }
    this.#pick(false);
  }

  /** The next entry. REQUIRES: `valid()`, after a forward seek. */
  next(): void {
    this.#step(true);
  }

  /** The previous entry. REQUIRES: `valid()`, after a backward seek. */
  prev(): void {
    this.#step(false);
  }

  #step(forward: boolean): void {
    if (this.#current < 0 || this.#forward !== forward) {
      throw new Error(
        `MergingCursor.${forward ? "next" : "prev"}(): ${
          this.#current < 0 ? "the cursor is not on an entry" : "the cursor moves the other way"
        }`,
      );
    }
    const s = this.#sources[this.#current]!;
    if (forward) s.next();
    else s.prev();
    this.#pick(forward);
  }

  /** Closes every source. */
  close(): void {
    this.#current = -1;
    for (const s of this.#sources) s.close();
  }
}

/**
 * MemTableIterator: a cursor over a memtable's versions in internal-key order (RocksDB's
 * memtable iterator). It holds a native reference to the memtable's memory, so it stays valid
 * after the memtable is closed, until the iterator itself is closed (or garbage-collected).
 *
 * The current entry is copied into the iterator's own buffer on every move; `key()` and
 * `value()` return fresh copies of it.
 *
 * @module
 */
import { MemTableClosedError, MemTableError } from "../errors.ts";
import { entryOutHeaderSize, Status } from "../ffi/layout.ts";
import { type Handle, native, Scratch, statusError } from "../ffi/native.ts";
import { sequenceFromTrailer, type SequenceNumber } from "../coding/sequence.ts";
import type { ValueType } from "../coding/value_type.ts";
import { type Bytes, copyOut, corruptionReport, reserveFor, writeKey } from "./bytes.ts";

export { IteratorFlags, type ReadOptions } from "./read_options.ts";

const iteratorFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_iter_free(h);
});

const iteratorScratchSize = 4096;

/** Proof that a constructor call comes from this package (`MemTable.iterator()`), not a user. */
export const internalToken: unique symbol = Symbol("MemTableIterator.internal");

/**
 * A cursor with RocksDB's iterator movements. Obtain one from `MemTable.iterator()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * using mt = new MemTable();
 * mt.add(1, ValueType.Value, "a", "1");
 * mt.add(2, ValueType.Value, "b", "2");
 * using it = mt.iterator();
 * const seen: string[] = [];
 * for (it.seekToLast(); it.valid(); it.prev()) seen.push(new TextDecoder().decode(it.key()));
 * assert.equal(seen.join(), "b,a");
 * ```
 */
export class MemTableIterator implements Disposable {
  #h: Handle | null;
  #s: Scratch;
  #valid = false;

  /** Not for direct use: iterators come from `MemTable.iterator()`. */
  constructor(
    token: typeof internalToken,
    memtable: Handle,
    snapHigh: number,
    snapLow: number,
    flags = 0,
    prefix?: Bytes,
  ) {
    if (token !== internalToken) {
      throw new TypeError("MemTableIterator: create iterators with MemTable.iterator()");
    }
    const h = native().fn.memtable_iter_new(memtable, snapHigh, snapLow, flags);
    if (h === null) throw statusError(Status.outOfMemory, "MemTable.iterator()");
    this.#h = h;
    this.#s = new Scratch(iteratorScratchSize);
    iteratorFinalizer.register(this, h, this);
    if (prefix !== undefined) {
      try {
        reserveFor(this.#s, prefix, undefined, "MemTable.iterator(): prefix");
        const length = writeKey(this.#s, prefix, "MemTable.iterator(): prefix");
        const rc = native().fn.memtable_iter_set_prefix(h, this.#s.arg, this.#s.capacity, length);
        if (rc !== 0) throw statusError(rc, "MemTable.iterator()");
      } catch (e) {
        this.close();
        throw e;
      }
    }
  }

  #live(what: string): Handle {
    if (this.#h === null) {
      throw new MemTableClosedError(`MemTableIterator.${what}(): iterator is closed`);
    }
    return this.#h;
  }

  #settle(rc: number, what: string): void {
    if (rc === Status.bufferTooSmall) {
      this.#s.reserve(this.#s.view.getUint32(0, true));
      rc = native().fn.memtable_iter_read(this.#h!, this.#s.arg, this.#s.capacity);
    }
    if (rc === Status.corruption) throw corruptionReport(this.#s, `MemTableIterator.${what}()`);
    if (rc < 0) throw statusError(rc, `MemTableIterator.${what}()`);
    this.#valid = rc === 1;
  }

  #current(what: string): Scratch {
    this.#live(what);
    if (!this.#valid) {
      throw new MemTableError(
        `MemTableIterator.${what}(): the iterator is not positioned on an entry`,
      );
    }
    return this.#s;
  }

  /** Whether the iterator is positioned on an entry. */
  valid(): boolean {
    this.#live("valid");
    return this.#valid;
  }

  /** Positions at the first entry (the smallest key, its newest version). */
  seekToFirst(): void {
    const h = this.#live("seekToFirst");
    this.#settle(
      native().fn.memtable_iter_seek_to_first(h, this.#s.arg, this.#s.capacity),
      "seekToFirst",
    );
  }

  /** Positions at the last entry (the largest key, its oldest version). */
  seekToLast(): void {
    const h = this.#live("seekToLast");
    this.#settle(
      native().fn.memtable_iter_seek_to_last(h, this.#s.arg, this.#s.capacity),
      "seekToLast",
    );
  }

  /** Positions at the first entry whose user key is ≥ `key` (its newest visible version). */
  seek(key: Bytes): void {
    const h = this.#live("seek");
    reserveFor(this.#s, key, undefined, "MemTableIterator.seek()");
    const keyLength = writeKey(this.#s, key, "MemTableIterator.seek()");
    this.#settle(
      native().fn.memtable_iter_seek(h, this.#s.arg, this.#s.capacity, keyLength),
      "seek",
    );
  }

  /** Positions at the last entry whose user key is ≤ `key` (its oldest visible version). */
  seekForPrev(key: Bytes): void {
    const h = this.#live("seekForPrev");
    reserveFor(this.#s, key, undefined, "MemTableIterator.seekForPrev()");
    const keyLength = writeKey(this.#s, key, "MemTableIterator.seekForPrev()");
    this.#settle(
      native().fn.memtable_iter_seek_for_prev(h, this.#s.arg, this.#s.capacity, keyLength),
      "seekForPrev",
    );
  }

  /** Moves to the next entry. REQUIRES: `valid()`. */
  next(): void {
    this.#current("next");
    this.#settle(native().fn.memtable_iter_next(this.#h!, this.#s.arg, this.#s.capacity), "next");
  }

  /** Moves to the previous entry. REQUIRES: `valid()`. */
  prev(): void {
    this.#current("prev");
    this.#settle(native().fn.memtable_iter_prev(this.#h!, this.#s.arg, this.#s.capacity), "prev");
  }

  /** The current user key (a copy). */
  key(): Uint8Array {
    const s = this.#current("key");
    return copyOut(s.bytes, entryOutHeaderSize, entryOutHeaderSize + s.view.getUint32(8, true));
  }

  /** The current value (a copy; empty for deletions). */
  value(): Uint8Array {
    const s = this.#current("value");
    const at = entryOutHeaderSize + s.view.getUint32(8, true);
    return copyOut(s.bytes, at, at + s.view.getUint32(12, true));
  }

  /** The current entry's sequence number. */
  seq(): SequenceNumber {
    const s = this.#current("seq");
    return sequenceFromTrailer(s.view.getUint32(4, true), s.view.getUint32(0, true));
  }

  /** The current entry's value type. */
  type(): ValueType {
    return (this.#current("type").view.getUint32(0, true) & 0xff) as ValueType;
  }

  /** Releases the cursor (idempotent). */
  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    this.#valid = false;
    iteratorFinalizer.unregister(this);
    native().fn.memtable_iter_free(h);
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

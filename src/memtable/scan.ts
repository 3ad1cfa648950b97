/**
 * `MemTable.scan()`: a memtable's versions in batches whose keys and values are views into one
 * buffer filled by a single native call, valid until the scan moves on.
 *
 * @module
 */
import { MemTableError } from "../errors.ts";
import type { Handle } from "../ffi/native.ts";
import { sequenceFromTrailer, type SequenceNumber } from "../coding/sequence.ts";
import { describe, type ValueType } from "../coding/value_type.ts";
import { IteratorFlags } from "../ffi/layout.ts";
import { BatchArea, BatchReader, giveBack, keyRoom, metaSize, takeArea } from "./batches.ts";
import type { Bytes } from "./bytes.ts";
import { type ReadOptions, snapshotParts } from "./read_options.ts";

/** Options of `MemTable.scan()`: the read options that apply to a walk, and its range. */
export interface ScanOptions
  extends Pick<ReadOptions, "snapshot" | "ignoreRangeDeletions" | "prefix"> {
  /** Only user keys ≥ these bytes (RocksDB's `iterate_lower_bound`). Default: no bound. */
  lowerBound?: Bytes;
  /** Only user keys < these bytes (RocksDB's `iterate_upper_bound`). Default: no bound. */
  upperBound?: Bytes;
  /** Walk backward: user keys descending, each key's oldest version first. Default false. */
  reverse?: boolean;
  /** At most this many entries in all (a positive integer). Default: no limit. */
  limit?: number;
}

/** Entries per batch: the first batch is small (a short range scan copies little), then 4× each. */
const firstBatch = 64;
const batchMax = 1024;
const dataSize = 128 * 1024;

/**
 * One batch of a scan: `length` entries whose `key(i)` and `value(i)` are views into the
 * batch's buffer (no copy). They are valid until the scan reads its next batch or closes: the
 * buffer is then detached, so a view kept from an earlier batch reads as empty (length 0)
 * instead of another batch's bytes, and the batch's methods throw. Copy (`slice()`) what must
 * outlive the batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * using mt = new MemTable();
 * mt.add(1, ValueType.Value, "k", "old");
 * mt.add(2, ValueType.Value, "k", "new");
 * using scan = mt.scan();
 * const batch = scan.next().value!;
 * assert.deepEqual([batch.length, batch.seq(0), batch.valueLength(1)], [2, 2, 3]);
 * const kept = batch.value(0).slice(); // a copy outlives the batch
 * const view = batch.value(0);
 * scan.close();
 * assert.equal(view.length, 0); // the view is detached
 * assert.throws(() => batch.key(0)); // and the batch expired
 * assert.equal(new TextDecoder().decode(kept), "new");
 * ```
 */
export class ScanBatch {
  /** Entries in this batch. */
  readonly length: number;
  readonly #scan: MemTableScan;
  readonly #generation: number;
  readonly #area: BatchArea;
  readonly #buffer: ArrayBuffer;
  readonly #words: Uint32Array;

  /** Not for direct use: batches come from `MemTable.scan()`. */
  constructor(scan: MemTableScan, generation: number, area: BatchArea, length: number) {
    this.#scan = scan;
    this.#generation = generation;
    this.#area = area;
    this.#buffer = area.buffer;
    this.#words = area.words;
    this.length = length;
  }

  /** Entry `i`'s first meta word, after the checks (one compare each on the common path). */
  #at(i: number, what: string): number {
    if (this.#scan.generation === this.#generation && (i >>> 0) === i && i < this.length) {
      return 4 * i;
    }
    return this.#fail(i, what);
  }

  #fail(i: number, what: string): never {
    if (this.#scan.generation !== this.#generation) {
      throw new MemTableError(
        `ScanBatch.${what}(): the batch is no longer current (the scan read on or closed)`,
      );
    }
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(
        `ScanBatch.${what}(): index must be an integer in [0, ${this.length}), got ${
          typeof i === "number" ? i : describe(i)
        }`,
      );
    }
    throw new RangeError(`ScanBatch.${what}(): index ${i} is out of range`);
  }

  /** Entry `i`'s user key: a view, valid while this batch is current. */
  key(i: number): Uint8Array {
    const m = this.#at(i, "key");
    const w = this.#words;
    this.#area.lent = true;
    return new Uint8Array(this.#buffer, w[m + 2]!, w[m + 3]! - w[m + 2]!);
  }

  /** Entry `i`'s value (empty for deletions): a view, valid while this batch is current. */
  value(i: number): Uint8Array {
    const m = this.#at(i, "value");
    const w = this.#words;
    this.#area.lent = true;
    return new Uint8Array(this.#buffer, w[m + 3]!, w[m + 6]! - w[m + 3]!);
  }

  /** Entry `i`'s key length in bytes (no view made). */
  keyLength(i: number): number {
    const m = this.#at(i, "keyLength");
    const w = this.#words;
    return w[m + 3]! - w[m + 2]!;
  }

  /** Entry `i`'s value length in bytes (no view made). */
  valueLength(i: number): number {
    const m = this.#at(i, "valueLength");
    const w = this.#words;
    return w[m + 6]! - w[m + 3]!;
  }

  /** Entry `i`'s sequence number. */
  seq(i: number): SequenceNumber {
    const m = this.#at(i, "seq");
    const w = this.#words;
    return sequenceFromTrailer(w[m + 1]!, w[m]!);
  }

  /** Entry `i`'s value type. */
  type(i: number): ValueType {
    return (this.#words[this.#at(i, "type")]! & 0xff) as ValueType;
  }
}

/**
 * A scan in progress: an iterator of `ScanBatch`es (`for (const batch of mt.scan())`), closed
 * at its end, by `break` or by `close()`/`using`. It holds the memtable's memory until then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * using mt = new MemTable();
 * for (let i = 0; i < 100; i++) mt.add(i + 1, ValueType.Value, `k${i}`.padStart(4, "0"), "v");
 * let seen = 0;
 * for (const batch of mt.scan({ reverse: true, upperBound: "0k50", limit: 30 })) {
 *   seen += batch.length;
 * }
 * assert.equal(seen, 30);
 * ```
 */
export class MemTableScan implements IterableIterator<ScanBatch>, Disposable {
  #reader: BatchReader | null;
  #area: BatchArea;
  #batch = firstBatch;
  #left: number;
  /** @internal Counts the batches read; a batch is current while it equals the batch's. */
  generation = 0;

  /** Not for direct use: scans come from `MemTable.scan()`. */
  constructor(memtable: Handle, options: ScanOptions | undefined) {
    const what = "MemTable.scan()";
    const [snapHigh, snapLow, readFlags] = snapshotParts(options, what);
    const o = options ?? {};
    if ((readFlags & ~IteratorFlags.ignoreRangeDeletions) !== 0) {
      throw new TypeError(
        `${what}: prefixSameAsStart and totalOrderSeek are seek options; a scan takes lowerBound and upperBound`,
      );
    }
    const reverse = o.reverse ?? false;
    if (typeof reverse !== "boolean") {
      throw new TypeError(`${what}: reverse must be a boolean, got ${describe(reverse)}`);
    }
    const limit = o.limit ?? Infinity;
    if (limit !== Infinity && (!Number.isSafeInteger(limit) || limit < 1)) {
      const got = typeof limit === "number" ? limit : describe(limit);
      throw new RangeError(`${what}: limit must be a positive integer, got ${got}`);
    }
    this.#left = limit;
    // A scan that says how far it goes reads it in one batch when it can.
    if (limit <= batchMax) this.#batch = limit;
    const room = keyRoom(o.prefix, `${what}: prefix`) +
      keyRoom(o.lowerBound, `${what}: lowerBound`) + keyRoom(o.upperBound, `${what}: upperBound`);
    this.#area = takeArea(Math.max(metaSize(batchMax) + dataSize, room));
    let reader: BatchReader;
    try {
      reader = new BatchReader(
        memtable,
        {
          snapHigh,
          snapLow,
          flags: readFlags,
          prefix: o.prefix,
          lowerBound: o.lowerBound,
          upperBound: o.upperBound,
          reverse,
        },
        this.#area,
        what,
      );
    } catch (e) {
      giveBack(this.#area);
      throw e;
    }
    this.#reader = reader;
  }

  /** The scan itself: it is its own iterator (one pass). */
  [Symbol.iterator](): IterableIterator<ScanBatch> {
    return this;
  }

  /** The next batch (at least one entry), or done at the end. The previous batch expires. */
  next(): IteratorResult<ScanBatch> {
    const reader = this.#reader;
    if (reader === null || !reader.open) return this.return();
    if (this.generation > 0) this.#area = this.#area.recycled();
    this.generation++;
    const max = Math.min(this.#batch, this.#left);
    this.#batch = Math.min(this.#batch * 4, batchMax);
    const n = reader.read(this.#area, max, (size) => {
      return this.#area = new BatchArea(Math.max(this.#area.capacity * 2, size));
    });
    if (n === 0) return this.return();
    this.#left -= n;
    if (this.#left === 0) reader.close();
    return { value: new ScanBatch(this, this.generation, this.#area, n), done: false };
  }

  /** Ends the scan (idempotent): releases the native iterator; the last batch expires. */
  return(): IteratorResult<ScanBatch> {
    this.close();
    return { value: undefined, done: true };
  }

  /** Ends the scan (idempotent), as `return()`. */
  close(): void {
    this.#reader?.close();
    if (this.#reader !== null || this.generation > 0) {
      this.#reader = null;
      this.generation = -1;
      this.#area = this.#area.recycled();
      giveBack(this.#area);
    }
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

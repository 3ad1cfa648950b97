/**
 * Reading a memtable in batches (`memtable_iter_scan`, native/src/memtable/scan.zig): a native
 * iterator that copies many entries per call into one buffer, laid out as
 *
 *     words 4i..4i+3: trailer low, trailer high, key offset, value offset (entry i);
 *     word 4n+2: the end of the last value; key ‖ value bytes from byte 16·(max+1) on.
 *
 * What `MemTable.entries()` and `MemTable.scan()` share.
 *
 * @module
 */
import { MemTableClosedError } from "../errors.ts";
import { Status } from "../ffi/layout.ts";
import { type BufArg, type Handle, native, statusError } from "../ffi/native.ts";
import { type Bytes, corruptionReport, encodedSizeBound, writeKey } from "./bytes.ts";

const readerFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_iter_free(h);
});

/** Bytes of meta words before the data of a batch of up to `max` entries. */
export function metaSize(max: number): number {
  return 16 * (max + 1);
}

/** A batch buffer: its bytes, its 32-bit words (the meta) and the native call's argument. */
export class BatchArea {
  buffer: ArrayBuffer;
  bytes: Uint8Array<ArrayBuffer>;
  words: Uint32Array<ArrayBuffer>;
  view: DataView<ArrayBuffer>;
  arg: BufArg;
  /**
   * Whether a view into the buffer went to a user (a batch's `key(i)` or `value(i)`): the
   * buffer is then detached before it is written again (`recycled`). Without one, nothing
   * outside the library reaches it, and the detach (about 1.7 µs on Bun, a third of a
   * 10-entry scan) is skipped.
   */
  lent = false;
  /**
   * Bytes from the start that may have been written (keys, batches, a size or a report), all
   * zeroed when the area is handed back for another scan (`giveBack`). A short range scan
   * writes a small part of a large area.
   */
  used = 0;

  constructor(capacity: number, buffer: ArrayBuffer = new ArrayBuffer(capacity)) {
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    this.view = new DataView(buffer);
    this.arg = native().bufArg(this.bytes);
  }

  get capacity(): number {
    return this.bytes.length;
  }

  /**
   * A fresh area over the same memory, this one's buffer detached (`ArrayBuffer.transfer`):
   * every view into the old buffer then has length 0, so nothing handed out can read what the
   * next batch writes. When the buffer was detached by someone else, a new one.
   */
  moved(): BatchArea {
    if (this.buffer.detached) return new BatchArea(this.bytes.length || 1 << 16);
    const moved = new BatchArea(0, this.buffer.transfer());
    moved.used = this.used; // the same bytes
    return moved;
  }

  /** Notes that the first `end` bytes may have been written. */
  wrote(end: number): void {
    if (end > this.used) this.used = end;
  }

  /** This area again, for the next batch or scan: `moved()` when a view of it was lent. */
  recycled(): BatchArea {
    return this.lent || this.buffer.detached ? this.moved() : this;
  }
}

/** Spare areas up to this size are kept for the next scan. */
const spareSizeMax = 1 << 20;
/**
 * The realm's spare batch area: a scan that ends hands its area back (moved, so no view of the
 * scan's reaches it) and the next scan starts in it instead of allocating; short range scans
 * would otherwise pay an allocation each. Holds no data: it is zeroed when handed back.
 */
let spare: BatchArea | undefined;

/** An area of at least `size` bytes: the spare one when it fits, else a new one. */
export function takeArea(size: number): BatchArea {
  const s = spare;
  if (s !== undefined && s.capacity >= size && !s.buffer.detached) {
    spare = undefined;
    return s;
  }
  return new BatchArea(size);
}

/**
 * Keeps `area` (whose contents no one holds a view of) as the spare, when not too large —
 * the bytes it `used` zeroed first: the next scan may be of another memtable, snapshot or
 * range, and any view it hands out reaches the whole area through `.buffer`.
 */
export function giveBack(area: BatchArea): void {
  if (area.capacity > spareSizeMax) return;
  area.bytes.fill(0, 0, area.used);
  area.used = 0;
  spare = area;
}

/** Where a reader starts, its snapshot and bounds: the arguments `memtable_iter_new` and the
 * range calls take (checked by the caller). */
export interface ReaderSpec {
  snapHigh: number;
  snapLow: number;
  flags: number;
  prefix?: Bytes | undefined;
  lowerBound?: Bytes | undefined;
  upperBound?: Bytes | undefined;
  reverse?: boolean;
}

/** A native iterator read in batches; closes itself at the end. */
export class BatchReader {
  #h: Handle | null;
  #started = false;
  readonly #reverse: boolean;
  readonly #what: string;

  constructor(memtable: Handle, spec: ReaderSpec, area: BatchArea, what: string) {
    this.#what = what;
    this.#reverse = spec.reverse ?? false;
    const fn = native().fn;
    const h = fn.memtable_iter_new(memtable, spec.snapHigh, spec.snapLow, spec.flags);
    if (h === null) throw statusError(Status.outOfMemory, what);
    this.#h = h;
    readerFinalizer.register(this, h, this);
    try {
      if (spec.prefix !== undefined) {
        const length = writeKey(area, spec.prefix, `${what}: prefix`);
        area.wrote(length);
        const rc = fn.memtable_iter_set_prefix(h, area.arg, area.capacity, length);
        if (rc !== 0) throw statusError(rc, what);
      }
      const lower = spec.lowerBound;
      const upper = spec.upperBound;
      if (lower !== undefined || upper !== undefined) {
        const lowerLength = lower === undefined ? 0 : writeKey(area, lower, `${what}: lowerBound`);
        const upperLength = upper === undefined
          ? 0
          : writeKey(area, upper, `${what}: upperBound`, lowerLength);
        area.wrote(lowerLength + upperLength);
        const which = (lower === undefined ? 0 : 1) | (upper === undefined ? 0 : 2);
        const rc = fn.memtable_iter_set_range(
          h,
          area.arg,
          area.capacity,
          lowerLength,
          upperLength,
          which,
        );
        if (rc !== 0) throw statusError(rc, what);
      }
    } catch (e) {
      area.wrote(area.capacity); // a key that failed its check may lie partly written
      this.close();
      throw e;
    }
  }

  /** Whether the reader is still open (not at its end, not closed). */
  get open(): boolean {
    return this.#h !== null;
  }

  /**
   * Reads up to `max` entries into `area` (grown, as a new area returned through `grow`, when
   * one entry does not fit); returns how many (0: the end, and the reader is closed). A read
   * that fails closes the reader, then throws.
   */
  read(area: BatchArea, max: number, grow: (size: number) => BatchArea): number {
    const h = this.#h;
    if (h === null) throw new MemTableClosedError(`${this.#what}: the scan is closed`);
    const fn = native().fn;
    const flags = (this.#reverse ? 1 : 0) | (this.#started ? 0 : 2);
    let n = fn.memtable_iter_scan(h, area.arg, area.capacity, max, flags);
    this.#started = true;
    if (n === Status.bufferTooSmall) {
      area.wrote(4); // the size it needs
      area = grow(area.view.getUint32(0, true));
      n = fn.memtable_iter_scan(h, area.arg, area.capacity, max, flags & 1);
    }
    if (n < 0) {
      area.wrote(area.capacity); // a report, or anything a failed call left
      // A failed read ends the scan here: `for…of` and spreading never call `return()` when
      // `next()` throws, so the native iterator (and the memtable it pins) would otherwise
      // stay held until the garbage collector finds the reader.
      const error = n === Status.corruption
        ? corruptionReport(area, this.#what)
        : statusError(n, this.#what);
      this.close();
      throw error;
    }
    // The end of the last value (word 4n+2), or the meta header of an empty read.
    area.wrote(n > 0 ? area.words[4 * n + 2]! : metaSize(0));
    if (n === 0) this.close();
    return n;
  }

  /** Releases the native iterator (idempotent). */
  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    readerFinalizer.unregister(this);
    native().fn.memtable_iter_free(h);
  }
}

/** The bytes `key` needs in a batch area (type and size checked), for sizing the first area. */
export function keyRoom(key: unknown, what: string): number {
  return key === undefined ? 0 : encodedSizeBound(key, what, "key");
}

/**
 * The write-ahead log: `NNNNNN.log` files of WriteBatch records in the log format
 * (log_format.ts), as RocksDB writes them. A `Log` appends a record so that when the call
 * returns it is in the operating system's hands (it survives the process): `NativeLog`
 * (native_wal.ts, Linux) copies it into a memory-mapped window of the file, `WalWriter` here
 * writes it with one system call. `sync()` (fdatasync) makes it survive power loss;
 * `syncAsync()` shares one fdatasync among the writers waiting (`GroupSync`). `readWal`
 * replays a log for recovery under one of RocksDB's four `wal_recovery_mode`s.
 *
 * @module
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  openSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { setImmediate } from "node:timers";
import { CorruptionError } from "../errors.ts";
import { ValueType } from "../coding/value_type.ts";
import type { Bytes } from "../memtable/bytes.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { WriteBatch } from "../write/write_batch.ts";
import { type LogEnd, LogWriter, readLog } from "./log_format.ts";

/** RocksDB's `wal_recovery_mode`s, by its names. */
export type WalRecoveryMode =
  | "tolerateCorruptedTailRecords"
  | "absoluteConsistency"
  | "pointInTime"
  | "skipAnyCorruptedRecords";

export const walRecoveryModes: readonly WalRecoveryMode[] = [
  "tolerateCorruptedTailRecords",
  "absoluteConsistency",
  "pointInTime",
  "skipAnyCorruptedRecords",
];

/** A log failed after the memtable took the write: the write is applied and not logged. */
export class LogWriteError extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = "LogWriteError";
  }
}

/** A log being appended to, as the Store uses one (WalWriter here, NativeLog natively). */
export interface Log {
  readonly path: string;
  readonly number: number;
  /** Bytes in the log; of them synced; fdatasync calls made. */
  readonly size: number;
  readonly syncedSize: number;
  readonly syncs: number;
  /** Appends one record holding `payload` (a WriteBatch's bytes). */
  add(payload: Uint8Array): void;
  /**
   * Applies one write to `mt` (`type` RangeDeletion: `key` the start, `value` the end), then
   * logs it. An error of the memtable's means nothing changed; a `LogWriteError`, that the
   * memtable holds the write and the log does not.
   */
  applyAndLog(mt: MemTable, seq: number, type: ValueType, key: Bytes, value?: Bytes): void;
  sync(): void;
  /** Resolves once every record appended before the call survives power loss (group commit). */
  syncAsync(): Promise<void>;
  close(): void;
  /** Waits for syncs in flight, then closes. */
  closeAsync(): Promise<void>;
}

/**
 * fdatasync calls shared by the writers that wait for them (RocksDB's write group): a writer
 * asks for the log's size at its call to be synced; calls that arrive while a sync runs share
 * the next one. Runs on the runtime's file-system pool, off the thread.
 */
export class GroupSync {
  readonly #fd: number;
  #synced = 0;
  #syncs = 0;
  #running: Promise<void> | undefined;
  #scheduled = false;
  #error: Error | undefined;
  #waiting: { upTo: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Bytes known to be synced. */
  get synced(): number {
    return this.#synced;
  }

  get syncs(): number {
    return this.#syncs;
  }

  /** Records a sync made elsewhere (synchronously) of the first `size` bytes. */
  syncedUpTo(size: number): void {
    this.#syncs++;
    this.#synced = Math.max(this.#synced, size);
  }

  /** Resolves once the first `upTo` bytes are synced. */
  sync(upTo: number): Promise<void> {
    if (this.#synced >= upTo) return Promise.resolve();
    // After a failed fdatasync the kernel may report the next one clean although the pages it
    // could not write are gone: no later sync vouches for them.
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ upTo, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Starts a sync once the writers that can join it have: after the current microtasks (the
   * writers a finished sync resolved write again in them), so that one sync takes them all.
   */
  #schedule(): void {
    if (this.#running !== undefined || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running === undefined && this.#waiting.length > 0) this.#start();
    });
  }

  #start(): void {
    let upTo = 0;
    for (const w of this.#waiting) upTo = Math.max(upTo, w.upTo);
    this.#syncs++;
    this.#running = new Promise<void>((done) => {
      fdatasync(this.#fd, (err) => {
        this.#running = undefined;
        const covered = this.#waiting.filter((w) => w.upTo <= upTo);
        this.#waiting = this.#waiting.filter((w) => w.upTo > upTo);
        if (err) {
          this.#error = err;
          for (const w of [...covered, ...this.#waiting]) w.reject(err);
          this.#waiting = [];
        } else {
          this.#synced = Math.max(this.#synced, upTo);
          for (const w of covered) w.resolve();
        }
        if (this.#waiting.length > 0) this.#schedule();
        done();
      });
    });
  }

  /** Resolves when no sync is running. */
  async idle(): Promise<void> {
    while (this.#running !== undefined || this.#scheduled) {
      await (this.#running ?? new Promise((r) => setImmediate(r)));
    }
  }
}

/** An open log being appended to with one write system call per record. */
export class WalWriter implements Log {
  readonly path: string;
  readonly number: number;
  #fd: number;
  readonly #log: LogWriter;
  #size: number;
  readonly #group: GroupSync;
  readonly #encoder = new RecordEncoder();

  private constructor(path: string, number: number, fd: number, size: number) {
    this.path = path;
    this.number = number;
    this.#fd = fd;
    this.#size = size;
    this.#log = new LogWriter(size);
    this.#group = new GroupSync(fd);
  }

  /** Creates (or reopens, appending after what it holds) the log `number` at `path`. */
  static open(path: string, number: number): WalWriter {
    const fd = openSync(path, "a");
    try {
      return new WalWriter(path, number, fd, fstatSync(fd).size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Bytes in the log. */
  get size(): number {
    return this.#size;
  }

  /** Bytes known to survive power loss (synced). */
  get syncedSize(): number {
    return this.#group.synced;
  }

  /** fdatasync calls made on this log. */
  get syncs(): number {
    return this.#group.syncs;
  }

  /**
   * Appends one record holding `payload` (a WriteBatch's bytes) with one write: when this
   * returns, the record is in the operating system's hands. A failed write leaves at most a
   * torn record at the end, which recovery drops.
   */
  add(payload: Uint8Array): void {
    const bytes = this.#log.frame(payload);
    let at = 0;
    while (at < bytes.length) at += writeSync(this.#fd, bytes, at, bytes.length - at);
    this.#size += bytes.length;
  }

  applyAndLog(mt: MemTable, seq: number, type: ValueType, key: Bytes, value?: Bytes): void {
    applyThenLog(this, this.#encoder, mt, seq, type, key, value);
  }

  /** Makes every record appended so far survive power loss (fdatasync). */
  sync(): void {
    fdatasyncSync(this.#fd);
    this.#group.syncedUpTo(this.#size);
  }

  syncAsync(): Promise<void> {
    return this.#group.sync(this.#size);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  async closeAsync(): Promise<void> {
    await this.#group.idle();
    this.close();
  }
}

/**
 * `Log.applyAndLog` in two steps: the write applied to `mt` (its checks, its errors), then its
 * record (from `encoder`) appended to `log` — a failure there is a `LogWriteError`.
 */
export function applyThenLog(
  log: Log,
  encoder: RecordEncoder,
  mt: MemTable,
  seq: number,
  type: ValueType,
  key: Bytes,
  value?: Bytes,
): void {
  if (type === ValueType.RangeDeletion) mt.addRangeDeletion(seq, key, value!);
  else mt.add(seq, type, key, value);
  try {
    // The batch tag of each of these types is the type's number (RocksDB's default family).
    log.add(encoder.single(seq, type, key, value));
  } catch (e) {
    throw new LogWriteError(e);
  }
}

const encoder = new TextEncoder();

/**
 * Builds the WAL record of one write without a WriteBatch object: RocksDB's batch
 * representation (`fixed64 seq ‖ fixed32 count ‖ tag ‖ varint key ‖ [varint value]`) in a
 * buffer reused from call to call (the record is framed and written before the next call).
 */
export class RecordEncoder {
  #bytes = new Uint8Array(4096);
  #view = new DataView(this.#bytes.buffer);

  #room(n: number): void {
    if (n <= this.#bytes.length) return;
    let size = this.#bytes.length;
    while (size < n) size *= 2;
    this.#bytes = new Uint8Array(size);
    this.#view = new DataView(this.#bytes.buffer);
  }

  #varint(at: number, v: number): number {
    while (v >= 0x80) {
      this.#bytes[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#bytes[at++] = v;
    return at;
  }

  #slice(at: number, data: Uint8Array | string): number {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    at = this.#varint(at, bytes.length);
    this.#bytes.set(bytes, at);
    return at + bytes.length;
  }

  #sequence(seq: number): void {
    this.#view.setUint32(0, seq >>> 0, true);
    this.#view.setUint32(4, Math.floor(seq / 2 ** 32), true);
  }

  /** One record (`tag`: RocksDB's batch tag) at `seq`; `value` for puts, merges, ranges. */
  single(
    seq: number,
    tag: number,
    key: Uint8Array | string,
    value?: Uint8Array | string,
  ): Uint8Array {
    // A string takes at most 3 bytes per UTF-16 unit; each length at most 5 varint bytes.
    const keyBound = typeof key === "string" ? key.length * 3 : key.length;
    const valueBound = value === undefined
      ? 0
      : typeof value === "string"
      ? value.length * 3
      : value.length;
    this.#room(12 + 1 + 5 + keyBound + 5 + valueBound);
    this.#sequence(seq);
    this.#view.setUint32(8, 1, true);
    this.#bytes[12] = tag;
    let at = this.#slice(13, key);
    if (value !== undefined) at = this.#slice(at, value);
    return this.#bytes.subarray(0, at);
  }

  /** A batch's bytes with its first sequence number set to `seq` (the batch itself unchanged). */
  batch(rep: Uint8Array, seq: number): Uint8Array {
    this.#room(rep.length);
    this.#bytes.set(rep);
    this.#sequence(seq);
    return this.#bytes.subarray(0, rep.length);
  }
}

/** What replaying one log found. */
export interface WalReplay {
  /** The batches, in log order. */
  batches: WriteBatch[];
  /** Where each batch's record starts in the file. */
  offsets: number[];
  /** How reading ended (`clean`, a torn tail that was dropped, or damage). */
  end: LogEnd;
  /** Damaged records skipped (`skipAnyCorruptedRecords` only). */
  skipped: number;
  /** Whether replay must stop after this log (damage in `pointInTime` mode). */
  stop: boolean;
}

/**
 * Reads the log at `path` for recovery under `mode`: the batches to apply, or a
 * `CorruptionError` where the mode says the database cannot open (RocksDB's rules: a torn last
 * record is dropped except under `absoluteConsistency`; damage before the end fails
 * `absoluteConsistency` and `tolerateCorruptedTailRecords`, ends replay under `pointInTime`
 * and is skipped under `skipAnyCorruptedRecords`).
 */
export function readWal(path: string, mode: WalRecoveryMode): WalReplay {
  const bytes = new Uint8Array(readFileSync(path));
  const { records, end, skipped } = readLog(bytes, {
    skipCorrupt: mode === "skipAnyCorruptedRecords",
  });
  if (end.kind === "truncated" && mode === "absoluteConsistency") {
    throw new CorruptionError(
      `${path}: the last record is torn at byte ${end.offset} (absoluteConsistency)`,
    );
  }
  if (
    end.kind === "corrupt" &&
    (mode === "absoluteConsistency" || mode === "tolerateCorruptedTailRecords")
  ) {
    throw new CorruptionError(`${path}: record at byte ${end.offset}: ${end.reason} (${mode})`);
  }
  const batches: WriteBatch[] = [];
  const offsets: number[] = [];
  let skippedBatches = 0;
  for (const r of records) {
    try {
      batches.push(WriteBatch.from(r.payload));
      offsets.push(r.offset);
    } catch (e) {
      // A record whose checksum holds but that is not a batch: skipped or the end of replay
      // where the mode says so for damage, else the open fails.
      const reason = `record at byte ${r.offset} is not a write batch: ${(e as Error).message}`;
      if (mode === "skipAnyCorruptedRecords") {
        skippedBatches++;
        continue;
      }
      if (mode === "pointInTime") {
        const at: LogEnd = { kind: "corrupt", offset: r.offset, reason };
        return { batches, offsets, end: at, skipped, stop: true };
      }
      throw new CorruptionError(`${path}: ${reason} (${mode})`);
    }
  }
  return {
    batches,
    offsets,
    end,
    skipped: skipped + skippedBatches,
    stop: end.kind === "corrupt" && mode === "pointInTime",
  };
}

/**
 * The write-ahead log: `NNNNNN.log` files of WriteBatch records in the log format
 * (log_format.ts), as RocksDB writes them. `WalWriter` appends a batch with one `write` system
 * call, so when it returns the record is in the operating system's hands (it survives the
 * process); `sync()` (fdatasync) makes it survive power loss. `readWal` replays a log for
 * recovery under one of RocksDB's four `wal_recovery_mode`s.
 *
 * @module
 */
import { closeSync, fdatasyncSync, fstatSync, openSync, readFileSync, writeSync } from "node:fs";
import { CorruptionError } from "../errors.ts";
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

/** An open log being appended to. */
export class WalWriter {
  readonly path: string;
  readonly number: number;
  #fd: number;
  readonly #log: LogWriter;
  #size: number;

  private constructor(path: string, number: number, fd: number, size: number) {
    this.path = path;
    this.number = number;
    this.#fd = fd;
    this.#size = size;
    this.#log = new LogWriter(size);
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

  /** Makes every record appended so far survive power loss (fdatasync). */
  sync(): void {
    fdatasyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** What replaying one log found. */
export interface WalReplay {
  /** The batches, in log order. */
  batches: WriteBatch[];
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
  for (const r of records) {
    try {
      batches.push(WriteBatch.from(r.payload));
    } catch (e) {
      // A record whose checksum holds but that is not a batch: the log is not RocksDB's WAL.
      throw new CorruptionError(
        `${path}: record at byte ${r.offset} is not a write batch: ${(e as Error).message}`,
      );
    }
  }
  return { batches, end, skipped, stop: end.kind === "corrupt" && mode === "pointInTime" };
}

/**
 * Recovery: replaying a store's live write-ahead logs into memtables when it opens, in log
 * order, each batch at the sequence number it was written with, under the store's
 * `walRecoveryMode` (RocksDB's four: a torn last record is dropped except under
 * `absoluteConsistency`; damage before the end fails the open under `absoluteConsistency` and
 * `tolerateCorruptedTailRecords`, ends replay under `pointInTime` — later logs are not applied
 * after a gap — and is skipped under `skipAnyCorruptedRecords`).
 *
 * What was replayed is then flushed to a table file on this thread before `Store.open`
 * returns, and the logs it came from are deleted once the MANIFEST edit that records the file
 * is synced — RocksDB's read-write open. With `avoidFlushDuringRecovery` the replayed memtables
 * are kept instead (immutable, flushed later like any other) and their logs with them, unless
 * replay stopped at damage: then they are flushed all the same, so that later writes never sit
 * behind a log that replay cannot get past.
 *
 * @module
 */
import { join } from "node:path";
import { logFileName } from "../db/manifest.ts";
import { readWal, type WalRecoveryMode } from "../db/wal.ts";
import { CorruptionError } from "../errors.ts";
import { flushMemTables } from "../flush/flush_job.ts";
import { flushMemTablesNative } from "../flush/native_flush.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { builtinSpecOf } from "../memtable/merge.ts";
import { syncFile } from "../table/file.ts";
import { openCachedTable } from "../table/table_reader.ts";
import { named } from "./errors.ts";
import { bloomBitsOf, memTableFor, type StoreOptions } from "./options.ts";
import { flushedMeta, type TableFiles } from "./table_files.ts";

/** What replay found, for `stats().recovery`. */
export interface RecoveryReport {
  /** The logs replayed, in order. */
  logs: number[];
  /** Write batches applied from them. */
  batches: number;
  /** Damaged records skipped (`skipAnyCorruptedRecords`). */
  skippedRecords: number;
  /** Where replay stopped at damage (`pointInTime`): the log, the byte, what was wrong. */
  stoppedAt: { log: number; offset: number; reason: string } | undefined;
  /** Whether the last record of the last log replayed was torn (and dropped). */
  tornTail: boolean;
  /** Whether what was replayed was flushed during the open. */
  flushed: boolean;
}

/** The replayed memtables (oldest first, immutable) and the sequence number after them. */
export interface Replayed {
  memtables: MemTable[];
  lastSequence: number;
  report: RecoveryReport;
}

/** Replays `logs` (see the module notes) on top of a state whose last sequence is `from`. */
export function replayLogs(
  dir: string,
  logs: readonly number[],
  options: StoreOptions,
  from: number,
): Replayed {
  const mode: WalRecoveryMode = options.walRecoveryMode ?? "pointInTime";
  const report: RecoveryReport = {
    logs: [],
    batches: 0,
    skippedRecords: 0,
    stoppedAt: undefined,
    tornTail: false,
    flushed: false,
  };
  const memtables: MemTable[] = [];
  let mt: MemTable | undefined;
  let lastSequence = from;
  try {
    for (const log of logs) {
      const path = join(dir, logFileName(log));
      const replay = readWal(path, mode);
      report.logs.push(log);
      report.skippedRecords += replay.skipped;
      report.tornTail = replay.end.kind === "truncated";
      let stopped = false;
      for (const [i, batch] of replay.batches.entries()) {
        if (batch.count === 0) continue;
        mt ??= memTableFor(options);
        const seq = Number(batch.sequence);
        const offset = replay.offsets[i]!;
        try {
          if (!Number.isSafeInteger(seq + batch.count)) {
            throw new Error(`its sequence numbers pass what a Store counts to (2^53 - 1)`);
          }
          mt.write(batch, seq); // all or nothing
        } catch (e) {
          // Damage whose checksum holds: as the mode says for damage.
          const reason = `the batch at sequence ${batch.sequence} cannot be applied: ` +
            (e as Error).message;
          if (mode === "skipAnyCorruptedRecords") {
            report.skippedRecords++;
            continue;
          }
          if (mode === "pointInTime") {
            report.stoppedAt = { log, offset, reason };
            stopped = true;
            break;
          }
          throw new CorruptionError(`${path}: record at byte ${offset}: ${reason} (${mode})`, {
            cause: e,
          });
        }
        report.batches++;
        lastSequence = Math.max(lastSequence, seq + batch.count - 1);
        if (mt.shouldFlush()) {
          memtables.push(mt);
          mt = undefined;
        }
      }
      if (stopped) break;
      if (replay.stop) {
        const end = replay.end as { offset: number; reason: string };
        report.stoppedAt = { log, offset: end.offset, reason: end.reason };
        break;
      }
    }
  } catch (e) {
    for (const m of [...memtables, ...(mt ? [mt] : [])]) m.close();
    throw named(e, "Store.open()");
  }
  if (mt !== undefined) memtables.push(mt);
  for (const m of memtables) m.markImmutable();
  return { memtables, lastSequence, report };
}

/**
 * What the logs replayed, on open: flushed now into one table file (RocksDB's default), or —
 * with `avoidFlushDuringRecovery`, unless replay stopped at damage — returned, to be kept as
 * immutable memtables (their logs with them) for the flushes to come; those logs are their
 * only durable copy, and a process that died left them perhaps unsynced: synced once now, as
 * `sync: true` would have. With nothing replayed from logs that were there, the last sequence
 * number is recorded (`at.logNumber`: the new log's).
 */
export function settleReplayed(
  memtables: MemTable[],
  files: TableFiles,
  o: StoreOptions,
  report: RecoveryReport,
  at: { logNumber: number; lastSequence: number },
): MemTable[] {
  if (memtables.length > 0 && (!o.avoidFlushDuringRecovery || report.stoppedAt !== undefined)) {
    flushReplayed(memtables, files, o, at.logNumber, at.lastSequence);
    report.flushed = true;
    return [];
  }
  if (memtables.length > 0) {
    for (const n of report.logs) syncFile(join(files.dir, logFileName(n)));
    return memtables;
  }
  if (report.logs.length > 0) files.recordSequence(at.lastSequence, at.logNumber);
  return [];
}

/**
 * Flushes the replayed `memtables` (oldest first) into one table file on this thread and
 * records it, with `logNumber` — the new log's — as the first log still needed (so the
 * replayed logs are deleted). The memtables are closed.
 */
export function flushReplayed(
  memtables: MemTable[],
  files: TableFiles,
  options: StoreOptions,
  logNumber: number,
  lastSequence: number,
): void {
  try {
    const { number, path } = files.next();
    const op = options.mergeOperator;
    const input = {
      memtables: [...memtables].reverse(),
      snapshots: [],
      ...(op ? { mergeOperator: op } : {}),
    };
    const o = {
      ...(options.blockSize ? { blockSize: options.blockSize } : {}),
      bloomBitsPerKey: bloomBitsOf(options),
    };
    const stats = op !== undefined && builtinSpecOf(op) === undefined
      ? flushMemTables(path, input, o)
      : flushMemTablesNative(path, input, o);
    const reader = openCachedTable(path, files.tables);
    const meta = flushedMeta(number, reader, [Number(stats.smallestSeq), Number(stats.largestSeq)]);
    files.install([meta], number, reader, logNumber, lastSequence);
  } finally {
    for (const m of memtables) m.close();
  }
}

/**
 * The command line's store directory commands: `ls` (CURRENT, the MANIFEST's files per level,
 * the logs, OPTIONS), the directory case of `verify` (every table file the MANIFEST lists and
 * every live log, with progress on standard error), `get` and `scan`. All of them only read
 * (database_view.ts).
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sequenceFromTrailer } from "../coding/sequence.ts";
import { valueTypeName } from "../coding/value_type.ts";
import { decodeFixed32 } from "../coding/varint.ts";
import { readLog } from "../db/log_format.ts";
import { logFileName, tableFileName } from "../db/manifest.ts";
import { readWal } from "../db/wal.ts";
import { CorruptionError, MemTableError, NativeLibraryError } from "../errors.ts";
import { TableReader } from "../table/table_reader.ts";
import type { StoreEntry } from "../store/read.ts";
import { WriteBatch } from "../write/write_batch.ts";
import { type DatabaseFiles, type DatabaseView, readOptionsFile } from "./database_view.ts";
import { type LineWriter, type Show, showBytes, size, toHex, writeError } from "./output.ts";

/** An internal key of a MANIFEST's bounds, shown: `'key' @seq Type`. */
function internalKey(ikey: Uint8Array, show: Show): string {
  if (ikey.length < 8) return show(ikey);
  const at = ikey.length - 8;
  const low = decodeFixed32(ikey, at);
  const seq = sequenceFromTrailer(decodeFixed32(ikey, at + 4), low);
  return `${show(ikey.subarray(0, at))} @${seq} ${valueTypeName(low & 0xff)}`;
}

/** What a live log holds: its write batches and their sequence numbers. */
function logSummary(
  path: string,
): { batches: number; first?: number; last?: number; note?: string } {
  const replay = readWal(path, "pointInTime");
  let first: number | undefined;
  let last: number | undefined;
  for (const b of replay.batches) {
    if (b.count === 0) continue;
    const seq = Number(b.sequence);
    first ??= seq;
    last = seq + b.count - 1;
  }
  const note = replay.end.kind === "truncated"
    ? "its last record is torn (left out)"
    : replay.end.kind === "corrupt"
    ? `damaged at byte ${replay.end.offset}: ${replay.end.reason} (replay stops there)`
    : undefined;
  return {
    batches: replay.batches.length,
    ...(first !== undefined ? { first, last } : {}),
    ...(note ? { note } : {}),
  };
}

/** Writes what `files` describes (see the module notes), as text or one JSON object. */
export function listDatabase(
  files: DatabaseFiles,
  o: { hex: boolean; json: boolean },
  out: LineWriter,
): void {
  const { state, dir } = files;
  const show = showBytes(o.hex);
  const options = readOptionsFile(files);
  const logs = files.logs.map((l) => ({
    ...l,
    name: logFileName(l.number),
    ...(l.live ? logSummary(join(dir, logFileName(l.number))) : {}),
  }));
  const levels = state.levels.map((level, l) => ({
    level: l,
    files: [...level.values()].sort((a, b) => a.number - b.number),
  }));
  if (o.json) {
    out.line(JSON.stringify({
      dir,
      current: files.current,
      manifest: { name: files.current, size: files.manifestSize, edits: state.edits },
      nextFileNumber: state.nextFileNumber,
      lastSequence: Number(state.lastSequence),
      logNumber: state.logNumber,
      levels: levels.map(({ level, files }) => ({
        level,
        files: files.map((f) => ({
          number: f.number,
          name: tableFileName(f.number),
          size: f.fileSize,
          smallestSeq: Number(f.smallestSeqno),
          largestSeq: Number(f.largestSeqno),
          smallest: toHex(f.smallest).toLowerCase(),
          largest: toHex(f.largest).toLowerCase(),
        })),
      })),
      logs,
      options: {
        name: files.optionsFiles.at(-1) ?? null,
        fields: Object.fromEntries(options),
      },
      others: files.others,
    }));
    return;
  }
  out.line(`database  ${dir}`);
  out.line(
    `CURRENT   ${files.current} (${state.edits} edits, ${files.manifestSize} bytes)`,
  );
  const shownOptions = [
    "write_buffer_size",
    "merge_operator",
    "prefix_extractor",
    "compression",
    "num_levels",
  ]
    .filter((k) => options.has(k)).map((k) => `${k}=${options.get(k)}`);
  out.line(
    `OPTIONS   ${files.optionsFiles.at(-1) ?? "none"}` +
      (shownOptions.length > 0 ? ` (${shownOptions.join(", ")})` : ""),
  );
  out.line(
    `MANIFEST  next file number ${state.nextFileNumber}, last sequence ${state.lastSequence}, ` +
      `log number ${state.logNumber}`,
  );
  for (const { level, files: level_files } of levels) {
    if (level_files.length === 0) continue;
    const bytes = level_files.reduce((n, f) => n + f.fileSize, 0);
    out.line(
      `level ${level}   ${level_files.length} file${level_files.length === 1 ? "" : "s"}, ${
        size(bytes)
      }`,
    );
    for (const f of level_files) {
      out.line(
        `  ${
          tableFileName(f.number)
        }  ${f.fileSize} bytes  seq ${f.smallestSeqno}..${f.largestSeqno}  ` +
          `${internalKey(f.smallest, show)} .. ${internalKey(f.largest, show)}`,
      );
    }
  }
  if (levels.every((l) => l.files.length === 0)) out.line("levels    no table files");
  out.line(
    `WAL       ${
      logs.length === 0 ? "no logs" : `logs numbered ${state.logNumber} and up are live`
    }`,
  );
  for (const l of logs) {
    const what = !l.live
      ? "obsolete (its writes are in table files)"
      : `live, ${l.batches} batch${l.batches === 1 ? "" : "es"}` +
        (l.first !== undefined ? `, seq ${l.first}..${l.last}` : "") +
        (l.note ? `; ${l.note}` : "");
    out.line(`  ${l.name}  ${l.size} bytes  ${what}`);
  }
  if (files.others.length > 0) out.line(`other     ${files.others.join(", ")}`);
}

/** How `verify` of a directory reports progress (see `verifyDatabase`). */
export interface Progress {
  /** File `index` (from 1) of `count`, `name`, is next; `done` of `total` bytes are checked. */
  start(name: string, index: number, count: number, done: number, total: number): void;
  /** Clears what a terminal shows before a line goes to standard output. */
  clear(): void;
  /** Everything is checked. */
  finish(count: number, total: number): void;
}

/**
 * Progress on standard error: on a terminal one line, rewritten for each file and cleared
 * before each result line; elsewhere (`--progress`) a line per file and a last one at 100%.
 */
export function stderrProgress(tty: boolean): Progress {
  let shown = false;
  const show = (text: string) => {
    writeError(tty ? `\r\x1b[K${text}` : `${text}\n`);
    shown = tty;
  };
  return {
    start(name, index, count, done, total) {
      const pct = total === 0 ? 0 : Math.floor((done / total) * 100);
      show(`verify: ${String(pct).padStart(3)}% ${index}/${count} files, checking ${name}`);
    },
    clear() {
      if (shown) writeError("\r\x1b[K");
      shown = false;
    },
    finish(count, total) {
      if (tty) this.clear();
      else show(`verify: 100% ${count}/${count} files (${size(total)})`);
    },
  };
}

/**
 * Checks every table file the MANIFEST lists (present, of the recorded size, every block's
 * checksum and the key order) and every live log (every record's checksum, each one a write
 * batch); writes a line per file and a summary. Returns the number of problems found.
 */
export function verifyDatabase(
  files: DatabaseFiles,
  out: LineWriter,
  progress: Progress | undefined,
): number {
  const { dir, state } = files;
  const tables = state.levels.flatMap((level, l) =>
    [...level.values()].sort((a, b) => a.number - b.number).map((f) => ({ f, level: l }))
  );
  const logs = files.logs.filter((l) => l.live);
  const total = tables.reduce((n, t) => n + t.f.fileSize, 0) + logs.reduce((n, l) => n + l.size, 0);
  const count = tables.length + logs.length;
  let done = 0;
  let index = 0;
  let problems = 0;
  let entries = 0;
  /** Checks one file: `check` returns its result line or throws what is wrong with it. */
  const each = (name: string, bytes: number, label: string, check: () => string) => {
    progress?.start(name, ++index, count, done, total);
    let line: string;
    try {
      line = `${name}  ${label}  ${check()}`;
    } catch (e) {
      // Damage is reported and the rest checked; anything else (a permission, the library)
      // stops the command.
      progress?.clear();
      if (!(e instanceof MemTableError) || e instanceof NativeLibraryError) throw e;
      problems++;
      line = `${name}  ${label}  FAILED: ${e.message}`;
    }
    progress?.clear();
    out.line(line);
    out.flush();
    done += bytes;
  };
  for (const { f, level } of tables) {
    const name = tableFileName(f.number);
    const path = join(dir, name);
    each(name, f.fileSize, `level ${level}`, () => {
      if (!existsSync(path)) throw new CorruptionError(`missing (${files.current} lists it)`);
      using t = TableReader.open(path);
      if (t.size !== f.fileSize) {
        throw new CorruptionError(
          `${path} is ${t.size} bytes; ${files.current} records ${f.fileSize}`,
        );
      }
      const n = t.verify();
      entries += n;
      return `${n} entries  ok`;
    });
  }
  for (const l of logs) {
    const name = logFileName(l.number);
    each(name, l.size, "log", () => {
      const r = verifyLog(join(dir, name));
      if (r.error !== undefined) throw new CorruptionError(r.error);
      return `${r.batches} batches  ok${r.note ? ` (${r.note})` : ""}`;
    });
  }
  progress?.finish(count, total);
  out.line(
    `verified ${tables.length} table file${
      tables.length === 1 ? "" : "s"
    } (${entries} entries) and ` +
      `${logs.length} live log${logs.length === 1 ? "" : "s"}: ` +
      (problems === 0 ? "ok" : `${problems} problem${problems === 1 ? "" : "s"}`),
  );
  return problems;
}

/** A live log's records checked: damage before its end is an error; a torn last record is not. */
function verifyLog(path: string): { batches: number; error?: string; note?: string } {
  const { records, end } = readLog(new Uint8Array(readFileSync(path)));
  for (const r of records) {
    try {
      WriteBatch.from(r.payload);
    } catch (e) {
      return {
        batches: 0,
        error: `${path}: record at byte ${r.offset} is not a write batch: ${(e as Error).message}`,
      };
    }
  }
  if (end.kind === "corrupt") {
    return {
      batches: records.length,
      error: `${path}: record at byte ${end.offset}: ${end.reason}`,
    };
  }
  return {
    batches: records.length,
    ...(end.kind === "truncated"
      ? {
        note: `the last record is torn at byte ${end.offset}, as a crash mid-write leaves ` +
          `it; recovery drops it`,
      }
      : {}),
  };
}

/** What `scan` shows. */
export interface ScanOptions {
  hex: boolean;
  json: boolean;
  from: Uint8Array | undefined;
  to: Uint8Array | undefined;
  limit: number | undefined;
  reverse: boolean;
}

/** One pair as `scan` shows it: `ldb scan`'s `key : value`. */
function pairLine(e: StoreEntry, show: Show, json: boolean): string {
  return json
    ? JSON.stringify({ key: toHex(e.key).toLowerCase(), value: toHex(e.value).toLowerCase() })
    : `${show(e.key)} : ${show(e.value)}`;
}

/** Writes the pairs of `view` in [from, to) (see `ScanOptions`); returns how many. */
export function scanDatabase(view: DatabaseView, o: ScanOptions, out: LineWriter): number {
  const show = showBytes(o.hex);
  const limit = o.limit ?? Infinity;
  if (limit === 0) return 0;
  let n = 0;
  for (const e of view.scan(o.from, o.to, o.reverse)) {
    out.line(pairLine(e, show, o.json));
    if (++n >= limit) break;
  }
  return n;
}

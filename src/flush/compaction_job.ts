/**
 * The compaction job: the entries of its input files merged in internal-key order, each user
 * key's versions collapsed by the flush's rules (`FlushRules` of flush/flush_job.ts: the newest
 * version of each live-snapshot stripe, what a tombstone of its stripe covers dropped, merge
 * operands folded, and at the bottommost level the oldest stripe's deletions dropped), written
 * to output files cut at the target size — between user keys, so a key's versions stay in one
 * file and the outputs do not overlap.
 *
 * Range tombstones go to every output whose key range they meet, cut to it (RocksDB's
 * truncation: a piece ends at the next output's first key, which makes that file's largest key
 * the sentinel `end@2^56-1`, below the next file's smallest). At the bottommost level a
 * tombstone of the oldest stripe is dropped: what it covered is gone, and nothing lies below.
 *
 * The outputs are written as synced temporaries (`NNNNNN.sst.<pid>.<i>.tmp`, names a store
 * removes on open); the caller renames them to their numbers and records them. The job yields
 * to the event loop every few milliseconds, so writes and reads go on while it runs; it only
 * reads its inputs (held by the caller's Version reference) and is stopped by `signal`, which
 * removes what it wrote.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { compareUserKeys } from "../coding/internal_key.ts";
import { compareSequence, type SequenceNumber } from "../coding/sequence.ts";
import type { ValueType } from "../coding/value_type.ts";
import { FlushRules } from "./flush_job.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import { writeFileSynced } from "../table/file.ts";
import { compareVersions, mergeVersions } from "../table/merging_iterator.ts";
import { TableBuilder } from "../table/table_builder.ts";
import { type TableEntry, TableReader, type TableTombstone } from "../table/table_reader.ts";
import { numbered } from "../db/manifest.ts";
import { yieldToEventLoop } from "../event_loop.ts";

/** What a compaction job reads and how it writes. */
export interface JobInput {
  dir: string;
  /** A number of one of the inputs: names the job's temporaries. */
  jobNumber: number;
  /**
   * The input files as sorted runs, newest first: each level-0 file a run of its own, then
   * each deeper level's files (in key order, not overlapping) one run.
   */
  runs: readonly (readonly TableReader[])[];
  snapshots: readonly SequenceNumber[];
  mergeOperator?: MergeOperator;
  bottommost: boolean;
  targetFileSize: number;
  blockSize?: number;
  /** Bits per key of the outputs' bloom filters (0 or absent: none). */
  bloomBitsPerKey?: number;
  /** Set to stop the job at its next yield: it removes its temporaries and rejects. */
  signal?: { aborted: boolean };
}

/** One output file, written to `path` (a temporary). */
export interface JobOutput {
  path: string;
  size: number;
  /** Its smallest and largest internal keys (from the file itself). */
  smallest: Uint8Array;
  largest: Uint8Array;
  smallestSeq: number;
  largestSeq: number;
}

/** What a job did. */
export interface JobResult {
  outputs: JobOutput[];
  inputEntries: number;
  outputEntries: number;
  bytesRead: number;
  bytesWritten: number;
  /** The merge ran natively (native_compaction.ts), not in TypeScript. */
  native?: boolean;
}

/** How long the job runs between yields to the event loop. */
const sliceMs = 4;

/** Thrown when the job's signal stops it. */
export class CompactionAborted extends Error {}

/** One output being written: its builder, the key it starts at and its sequence range. */
interface Output {
  builder: TableBuilder;
  lower: Uint8Array | undefined;
  minSeq: number | undefined;
  maxSeq: number;
}

/** Runs a compaction job (see the module notes). */
export async function runCompactionJob(input: JobInput): Promise<JobResult> {
  const result: JobResult = {
    outputs: [],
    inputEntries: 0,
    outputEntries: 0,
    bytesRead: input.runs.flat().reduce((n, r) => n + r.size, 0),
    bytesWritten: 0,
  };
  try {
    await collapse(input, result);
  } catch (e) {
    for (const o of result.outputs) rmSync(o.path, { force: true });
    throw e;
  }
  return result;
}

async function collapse(input: JobInput, result: JobResult): Promise<void> {
  const tombstones = tombstonesOf(input.runs.flat());
  const snapshots = [...input.snapshots].sort(compareSequence);
  // A tombstone older than every snapshot does nothing at the bottom once applied.
  const kept = input.bottommost
    ? tombstones.filter((t) => snapshots.some((s) => s < t.seq))
    : tombstones;
  let out = newOutput(input, undefined);
  const sink = {
    add(key: Uint8Array, seq: SequenceNumber, type: ValueType, value: Uint8Array) {
      out.builder.add(key, seq, type, value);
      note(out, Number(seq));
    },
  };
  const rules = new FlushRules({
    snapshots,
    ...(input.mergeOperator ? { mergeOperator: input.mergeOperator } : {}),
    tombstones,
    bottommost: input.bottommost,
  }, sink);
  let group: TableEntry[] = [];
  let last: TableEntry | undefined;
  let sliceStart = performance.now();
  let sinceCheck = 0;
  for (const e of mergeVersions(input.runs.map(entriesOfRun))) {
    if (last !== undefined && compareVersions(last, e) === 0) continue; // a moved copy
    last = e;
    result.inputEntries++;
    if (group.length > 0 && compareUserKeys(group[0]!.key, e.key) !== 0) {
      rules.flushKey(group);
      group = [];
      if (out.builder.fileSize >= input.targetFileSize) {
        finishOutput(input, out, kept, e.key, result);
        out = newOutput(input, e.key);
      }
      if (++sinceCheck >= 256) {
        sinceCheck = 0;
        if (performance.now() - sliceStart >= sliceMs) {
          await yieldToEventLoop();
          if (input.signal?.aborted) throw new CompactionAborted("the compaction was stopped");
          sliceStart = performance.now();
        }
      }
    }
    group.push(e);
  }
  if (group.length > 0) rules.flushKey(group);
  finishOutput(input, out, kept, undefined, result);
  result.outputEntries = rules.finish().outputEntries;
}

/** The entries of a run's files, one after the other. */
function* entriesOfRun(run: readonly TableReader[]): Generator<TableEntry> {
  for (const r of run) yield* r.entries();
}

function newOutput(input: JobInput, lower: Uint8Array | undefined): Output {
  const builder = new TableBuilder({
    ...(input.blockSize ? { blockSize: input.blockSize } : {}),
    ...(input.bloomBitsPerKey ? { bloomBitsPerKey: input.bloomBitsPerKey } : {}),
  });
  return { builder, lower, minSeq: undefined, maxSeq: 0 };
}

function note(out: Output, seq: number): void {
  if (out.minSeq === undefined || seq < out.minSeq) out.minSeq = seq;
  if (seq > out.maxSeq) out.maxSeq = seq;
}

/**
 * Ends `out`, the output for keys in [out.lower, upper): the tombstones meeting that range, cut
 * to it, join it; it is written unless it holds nothing.
 */
function finishOutput(
  input: JobInput,
  out: Output,
  tombstones: readonly TableTombstone[],
  upper: Uint8Array | undefined,
  result: JobResult,
): void {
  for (const t of tombstones) {
    const start = out.lower !== undefined && compareUserKeys(t.start, out.lower) < 0
      ? out.lower
      : t.start;
    const end = upper !== undefined && compareUserKeys(upper, t.end) < 0 ? upper : t.end;
    if (compareUserKeys(start, end) >= 0) continue; // not in this output's range
    out.builder.addRangeTombstone(start, end, t.seq);
    note(out, Number(t.seq));
  }
  if (out.builder.numEntries === 0) return;
  writeJobOutput(input, out.builder.finish(), out.minSeq ?? 0, out.maxSeq, result);
}

/**
 * Writes a finished output's `bytes` as the job's next synced temporary and records it in
 * `result` (its bounds read back from the bytes); the native job writes its outputs here too.
 */
export function writeJobOutput(
  input: Pick<JobInput, "dir" | "jobNumber">,
  bytes: Uint8Array,
  smallestSeq: number,
  largestSeq: number,
  result: JobResult,
): void {
  const name = `${numbered(input.jobNumber, ".sst")}.${process.pid}.${result.outputs.length}.tmp`;
  const path = join(input.dir, name);
  rmSync(path, { force: true }); // an earlier process of the same id died here
  const table = tableOf(bytes, path);
  writeFileSynced(path, bytes);
  result.outputs.push({
    path,
    size: bytes.length,
    smallest: table.smallest,
    largest: table.largest,
    smallestSeq,
    largestSeq,
  });
  result.bytesWritten += bytes.length;
}

/** The bounds of the table in `bytes` (read back: what the MANIFEST will record). */
function tableOf(bytes: Uint8Array, name: string): { smallest: Uint8Array; largest: Uint8Array } {
  using reader = TableReader.fromBytes(bytes, name);
  const b = reader.bounds();
  if (b === undefined) throw new Error(`compaction: ${name} has no keys`);
  return b;
}

/**
 * Every input's range tombstones, the pieces of one tombstone (the same sequence number: one
 * write) joined again where they meet or overlap.
 */
function tombstonesOf(inputs: readonly TableReader[]): TableTombstone[] {
  const all = inputs.flatMap((r) => r.rangeTombstones()).sort((a, b) =>
    compareSequence(a.seq, b.seq) || compareUserKeys(a.start, b.start)
  );
  const out: TableTombstone[] = [];
  for (const t of all) {
    const prev = out.at(-1);
    if (prev !== undefined && prev.seq === t.seq && compareUserKeys(t.start, prev.end) <= 0) {
      if (compareUserKeys(t.end, prev.end) > 0) prev.end = t.end;
      continue;
    }
    out.push({ ...t });
  }
  return out;
}

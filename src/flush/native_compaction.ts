/**
 * The compaction job done natively (`native/src/compaction.zig`): the input files are read,
 * merged and collapsed, and the outputs built, without passing entries through JavaScript.
 * Its rules, cuts and bytes are those of the TypeScript job (compaction_job.ts), which a
 * Store keeps for what the native reader does not read — compressed blocks (RocksDB-written
 * files with Snappy), XXH3 checksums, delta-encoded or user-key indexes, ingested files — and
 * for a merge operator of the caller's own ({@linkcode nativeCompactionReads} says which
 * inputs the native job takes).
 *
 * This module only marshals: the inputs, snapshots and operator in; each finished output out,
 * written here as the job's synced temporary (`writeJobOutput`, as the TypeScript job writes
 * them) before the next is built, with a yield to the event loop between outputs. The native
 * job holds no descriptor between reads, so it needs none of the store's `maxOpenFiles`. On a
 * failure or `signal`, what it wrote is removed; a terminated Worker writes nothing more (the
 * outputs are written from JavaScript) and its native job is freed when its thread ends.
 *
 * @module
 */
import { rmSync, statSync } from "node:fs";
import { checkSequence } from "../coding/sequence.ts";
import { CorruptionError } from "../errors.ts";
import { Status } from "../ffi/layout.ts";
import { native, Scratch, statusError } from "../ffi/native.ts";
import type { Handle } from "../ffi/symbols.ts";
import type { BuiltinSpec } from "../memtable/merge.ts";
import { checkBloomBitsPerKey, millibitsPerKey } from "../table/filter_block.ts";
import type { TableReader } from "../table/table_reader.ts";
import {
  CompactionAborted,
  type JobInput,
  type JobResult,
  writeJobOutput,
} from "./compaction_job.ts";
import { yieldToEventLoop } from "../event_loop.ts";

/** The operator codes of `native/src/merge_operator.zig` (`Kind`); they cross the boundary. */
const operatorKind: Record<BuiltinSpec["builtin"], number> = {
  uint64Add: 1,
  stringAppend: 2,
  max: 3,
  put: 4,
};

/** What the native job reads: the TypeScript job's input, its files by path. */
export interface NativeJobInput extends Omit<JobInput, "runs" | "mergeOperator"> {
  /** The input files' paths as sorted runs, newest first (see `JobInput.runs`). */
  runs: readonly (readonly string[])[];
  /** A built-in merge operator to fold operands with (none: operands are kept). */
  merge?: BuiltinSpec;
  /** A full key every this many entries in data blocks (default 16). */
  restartInterval?: number;
}

/**
 * Whether the native job reads `table`: format version 1–5, uncompressed, CRC32c checksums, a
 * binary-search index of internal keys and plain block handles, not an ingested file. Files a Store flushes or compacts are;
 * RocksDB's with Snappy blocks are not.
 */
export function nativeCompactionReads(table: TableReader): boolean {
  const p = table.properties;
  const compression = p.raw.get("rocksdb.compression");
  // The binary-search index (type 0, fixed32 little-endian), what sst_reader.zig reads.
  const indexType = p.raw.get("rocksdb.block.based.table.index.type");
  const version = table.footer.formatVersion;
  return compression !== undefined &&
    new TextDecoder().decode(compression) === "NoCompression" &&
    table.footer.checksumType === 1 &&
    version >= 1 && version <= 5 &&
    (indexType === undefined ||
      (indexType.length === 4 && indexType.every((b) => b === 0))) &&
    !p.indexKeyIsUserKey &&
    !p.indexValueIsDeltaEncoded &&
    p.externalSstFileVersion === undefined;
}

/** Runs the compaction natively (see the module notes); the same result as the TS job's. */
export async function runNativeCompactionJob(input: NativeJobInput): Promise<JobResult> {
  const what = "compaction (native)";
  const fn = native().fn;
  const result: JobResult = {
    outputs: [],
    inputEntries: 0,
    outputEntries: 0,
    bytesRead: input.runs.flat().reduce((n, p) => n + statSync(p).size, 0),
    bytesWritten: 0,
    native: true,
  };
  const bits = checkBloomBitsPerKey(input.bloomBitsPerKey, what, 0);
  const job = fn.memtable_compaction_new(
    input.blockSize ?? 4096,
    input.restartInterval ?? 16,
    input.targetFileSize,
    input.bottommost ? 1 : 0,
    bits === 0 ? 0 : millibitsPerKey(bits),
  );
  if (job === null) {
    throw new RangeError(
      `${what}: blockSize, restartInterval and targetFileSize must be integers ≥ 1`,
    );
  }
  const s = new Scratch(64 * 1024);
  try {
    addInputs(job, input, s, what);
    while (true) {
      const more = fn.memtable_compaction_next(job, s.arg, s.capacity);
      if (more < 0) throw failure(more, s, `${what} of ${input.runs.flat().join(", ")}`);
      if (more === 0) break;
      const [size, smallestSeq, largestSeq] = outputFigures(job, s, what);
      writeJobOutput(input, readOutput(job, size, what), smallestSeq, largestSeq, result);
      await yieldToEventLoop();
      if (input.signal?.aborted) throw new CompactionAborted("the compaction was stopped");
    }
    const n = fn.memtable_compaction_stats(job, s.arg, s.capacity);
    if (n < 0) throw statusError(n, what);
    result.inputEntries = Number(s.view.getBigUint64(0, true));
    result.outputEntries = Number(s.view.getBigUint64(8, true));
  } catch (e) {
    for (const o of result.outputs) rmSync(o.path, { force: true });
    throw e;
  } finally {
    fn.memtable_compaction_free(job);
  }
  return result;
}

/** Hands the input files, the snapshots and the operator to the job. */
function addInputs(job: Handle, input: NativeJobInput, s: Scratch, what: string): void {
  const fn = native().fn;
  const encoder = new TextEncoder();
  for (const run of input.runs) {
    run.forEach((path, i) => {
      const bytes = encoder.encode(path);
      s.reserve(bytes.length);
      s.bytes.set(bytes);
      const rc = fn.memtable_compaction_add_file(
        job,
        i === 0 ? 1 : 0,
        s.arg,
        s.capacity,
        bytes.length,
      );
      if (rc === Status.invalidArgument) {
        throw new TypeError(`${what}: ${path} is not a file the native job reads`);
      }
      if (rc < 0) throw failure(rc, s, `${what}: ${path}`);
    });
  }
  const snaps = input.snapshots;
  s.reserve(snaps.length * 8);
  snaps.forEach((q, i) =>
    s.view.setBigUint64(i * 8, BigInt(checkSequence(q, `${what}: snapshot`)), true)
  );
  const added = fn.memtable_compaction_add_snapshots(job, s.arg, s.capacity, snaps.length);
  if (added < 0) throw statusError(added, `${what}: snapshots`);
  const spec = input.merge;
  if (spec === undefined) return;
  const delimiter = spec.builtin === "stringAppend" ? spec.delimiter : [];
  s.reserve(delimiter.length);
  s.bytes.set(delimiter);
  const set = fn.memtable_compaction_set_merge_operator(
    job,
    operatorKind[spec.builtin],
    s.arg,
    s.capacity,
    delimiter.length,
  );
  if (set < 0) throw statusError(set, `${what}: merge`);
}

/**
 * The error of a failed call: a damaged input is a CorruptionError, an I/O failure names the
 * OS error the job reported.
 */
function failure(status: number, s: Scratch, what: string): Error {
  if (status === Status.corruption) {
    return new CorruptionError(
      `${what}: an input file is damaged (a block's checksum or layout does not check out)`,
    );
  }
  if (status !== Status.ioError) return statusError(status, what);
  return statusError(status, `${what} (OS error ${s.view.getUint32(0, true)})`);
}

/** The ready output's size and sequence range (`memtable_compaction_output`). */
function outputFigures(job: Handle, s: Scratch, what: string): [number, number, number] {
  const n = native().fn.memtable_compaction_output(job, s.arg, s.capacity);
  if (n < 0) throw statusError(n, what);
  const w = (i: number) => Number(s.view.getBigUint64(i * 8, true));
  return [w(0), w(1), w(2)];
}

/** The ready output's `size` bytes, copied by the library straight into a new array. */
function readOutput(job: Handle, size: number, what: string): Uint8Array {
  const fn = native().fn;
  const file = new Uint8Array(size);
  for (let at = 0; at < size;) {
    const piece = file.subarray(at, Math.min(size, at + (1 << 30)));
    const got = fn.memtable_compaction_read(job, native().bufArg(piece), piece.length, at);
    if (got <= 0) throw statusError(got, what);
    at += got;
  }
  return file;
}

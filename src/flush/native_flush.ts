/**
 * The flush done natively (`native/src/sst.zig`, the reference for the flush rules): entries go
 * from the skiplist nodes into the data blocks without passing through JavaScript, and merge
 * runs are folded by the built-in operators natively (`native/src/merge_operator.zig`). This
 * module only marshals: memtables, snapshots and the operator in, the file's bytes and the
 * figures out. Every call makes its own buffers; nothing is kept between calls.
 *
 * @module
 */
import { checkSequence } from "../coding/sequence.ts";
import { Status } from "../ffi/layout.ts";
import { native, Scratch, statusError } from "../ffi/native.ts";
import type { Handle } from "../ffi/symbols.ts";
import { nativeHandleOf } from "../memtable/memtable.ts";
import { type BuiltinSpec, builtinSpecOf } from "../memtable/merge.ts";
import { fileFaultOf, writeFileDurably } from "../table/file.ts";
import { checkBloomBitsPerKey, millibitsPerKey } from "../table/filter_block.ts";
import type { FlushInput, FlushStats } from "./flush_job.ts";

/** The operator codes of `native/src/merge_operator.zig` (`Kind`); they cross the boundary. */
const operatorKind: Record<BuiltinSpec["builtin"], number> = {
  uint64Add: 1,
  stringAppend: 2,
  max: 3,
  put: 4,
};

/** Options of {@linkcode flushMemTablesNative}. */
export interface NativeFlushOptions {
  /** Data blocks are cut once they reach this many bytes (default 4096). */
  blockSize?: number;
  /** A full key every this many entries in data blocks (default 16). */
  restartInterval?: number;
  /** Bits per key of the file's bloom filter, as TableBuilder's (default 0: no filter). */
  bloomBitsPerKey?: number;
}

/** The figures words of `memtable_sst_stats`, then the two keys. */
const statsWords = 8;

/**
 * The flush done natively: the same rules and the same bytes as `flushMemTables`, several times
 * faster. `mergeOperator` must be one of the built-in operators (`uint64Add`, `stringAppend(…)`,
 * `max`, `put`), which fold merge runs natively; without one, operands are kept as they are
 * (reads fold them). A merge operator of your own runs only in `flushMemTables`. The memtables
 * must be immutable (`markImmutable()`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, uint64Add, ValueType } from "../../mod.ts";
 * import { flushMemTablesNative } from "../../flush.ts";
 * import { TableReader } from "../../table.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * using mt = new MemTable({ mergeOperator: uint64Add });
 * mt.add(1, ValueType.Value, "hits", uint64Add.operand(10));
 * mt.add(2, ValueType.Merge, "hits", uint64Add.operand(5));
 * mt.markImmutable();
 * const dir = mkdtempSync(join(tmpdir(), "flush-"));
 * const kept = flushMemTablesNative(join(dir, "000001.sst"), { memtables: [mt] });
 * assert.equal(kept.outputEntries, 2); // no operator: the operand and the value below it
 * const folded = flushMemTablesNative(join(dir, "000002.sst"), {
 *   memtables: [mt],
 *   mergeOperator: uint64Add,
 * });
 * assert.equal(folded.outputEntries, 1); // folded into one Value at seq 2
 * using t = TableReader.open(join(dir, "000002.sst"));
 * assert.equal(uint64Add.decode(t.get(new TextEncoder().encode("hits"))?.value), 15n);
 * ```
 */
export function flushMemTablesNative(
  path: string,
  input: FlushInput,
  options: NativeFlushOptions = {},
): FlushStats {
  const what = "flushMemTablesNative()";
  const fn = native().fn;
  const spec = input.mergeOperator === undefined ? undefined : builtinSpecOf(input.mergeOperator);
  if (input.mergeOperator !== undefined && spec === undefined) {
    throw new TypeError(
      `${what}: mergeOperator "${input.mergeOperator.name}" is not a built-in operator ` +
        `(uint64Add, stringAppend, max, put); flushMemTables() runs operators of your own`,
    );
  }
  const bits = checkBloomBitsPerKey(options.bloomBitsPerKey, what, 0);
  const s = new Scratch(64 * 1024);
  const b = fn.memtable_sst_new(
    options.blockSize ?? 4096,
    options.restartInterval ?? 16,
    bits === 0 ? 0 : millibitsPerKey(bits),
  );
  if (b === null) throw new RangeError(`${what}: blockSize and restartInterval must be ≥ 1`);
  try {
    addInputs(b, input, spec, s, what);
    const built = fn.memtable_sst_build(b);
    if (built < 0) throw statusError(built, what);
    const stats = readStats(b, s, what);
    writeFileDurably(path, readFile(b, stats.fileSize, s, what), fileFaultOf(options, what));
    return stats;
  } finally {
    fn.memtable_sst_free(b);
  }
}

/** Hands the memtables, the snapshots and the operator to the builder `b`. */
function addInputs(
  b: Handle,
  input: FlushInput,
  spec: BuiltinSpec | undefined,
  s: Scratch,
  what: string,
): void {
  const fn = native().fn;
  for (const m of input.memtables) {
    const rc = fn.memtable_sst_add_memtable(b, nativeHandleOf(m));
    if (rc < 0) {
      throw rc === Status.invalidArgument
        ? new TypeError(`${what}: memtable ${m.id} is not immutable (call markImmutable())`)
        : statusError(rc, what);
    }
  }
  const snaps = input.snapshots ?? [];
  s.reserve(snaps.length * 8);
  snaps.forEach((q, i) =>
    s.view.setBigUint64(i * 8, BigInt(checkSequence(q, `${what}: snapshot`)), true)
  );
  const added = fn.memtable_sst_add_snapshots(b, s.arg, s.capacity, snaps.length);
  if (added < 0) throw statusError(added, `${what}: snapshots`);
  if (spec === undefined) return;
  const delimiter = spec.builtin === "stringAppend" ? spec.delimiter : [];
  s.reserve(delimiter.length);
  s.bytes.set(delimiter);
  const set = fn.memtable_sst_set_merge_operator(
    b,
    operatorKind[spec.builtin],
    s.arg,
    s.capacity,
    delimiter.length,
  );
  if (set < 0) throw statusError(set, `${what}: mergeOperator`);
}

/** The figures of a built flush (`memtable_sst_stats`). */
function readStats(b: Handle, s: Scratch, what: string): FlushStats {
  const fn = native().fn;
  let n = fn.memtable_sst_stats(b, s.arg, s.capacity);
  if (n === Status.bufferTooSmall) {
    s.reserve(s.view.getUint32(0, true));
    n = fn.memtable_sst_stats(b, s.arg, s.capacity);
  }
  if (n < 0) throw statusError(n, what);
  const w = (i: number) => Number(s.view.getBigUint64(i * 8, true));
  const keys = statsWords * 8;
  const smallLen = w(6);
  const largeLen = w(7);
  const written = w(2) > 0;
  return {
    inputEntries: w(1),
    outputEntries: w(2),
    rangeTombstones: w(3),
    droppedEntries: w(1) - w(2),
    smallestSeq: w(4),
    largestSeq: w(5),
    smallestKey: written ? s.bytes.slice(keys, keys + smallLen) : undefined,
    largestKey: written ? s.bytes.slice(keys + smallLen, keys + smallLen + largeLen) : undefined,
    fileSize: w(0),
  };
}

/** The `size` bytes of a built flush's file, copied out in pieces of at most 1 MiB. */
function readFile(b: Handle, size: number, s: Scratch, what: string): Uint8Array {
  const fn = native().fn;
  const file = new Uint8Array(size);
  s.reserve(Math.min(size, 1 << 20));
  for (let at = 0; at < size;) {
    const got = fn.memtable_sst_read(b, s.arg, s.capacity, at);
    if (got <= 0) throw statusError(got, what);
    file.set(s.bytes.subarray(0, got), at);
    at += got;
  }
  return file;
}

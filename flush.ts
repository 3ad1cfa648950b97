/**
 * The flush machinery a `Store` runs for you, for building your own write path: a
 * {@linkcode MemTableList} of immutable memtables (which to flush, installing results in
 * order), and the flush job that writes memtables to one SST file, in TypeScript
 * ({@linkcode flushMemTables}) or natively ({@linkcode flushMemTablesNative}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { flushMemTables } from "./flush.ts";
 * import { TableReader } from "./table.ts";
 * import { MemTable, ValueType } from "./mod.ts";
 *
 * const dir = mkdtempSync(`${tmpdir()}/memtable-flush-`);
 * try {
 *   using mt = new MemTable();
 *   mt.add(1, ValueType.Value, "a", "1");
 *   mt.add(2, ValueType.Deletion, "a");
 *   mt.markImmutable();
 *   const stats = flushMemTables(`${dir}/000001.sst`, { memtables: [mt] });
 *   assert.equal(stats.inputEntries, 2);
 *   using t = TableReader.open(`${dir}/000001.sst`);
 *   assert.equal(t.get(new TextEncoder().encode("a"))?.type, ValueType.Deletion);
 * } finally {
 *   rmSync(dir, { recursive: true, force: true });
 * }
 * ```
 *
 * @module
 */
export {
  type FlushInput,
  flushInto,
  flushMemTables,
  type FlushOptions,
  type FlushStats,
} from "./src/flush/flush_job.ts";
export { flushMemTablesNative, type NativeFlushOptions } from "./src/flush/native_flush.ts";
export {
  MemTableList,
  type MemTableListOptions,
  MemTableVersion,
} from "./src/write/memtable_list.ts";

/**
 * SST files in RocksDB's block-based table format: write them ({@linkcode SstFileWriter} for
 * files RocksDB ingests, {@linkcode TableBuilder} for the bytes), read them
 * ({@linkcode TableReader}, this library's files and RocksDB's). The `Store` uses these for
 * its flushed files; use them directly to produce or inspect SST files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { SstFileWriter, TableReader } from "./table.ts";
 *
 * const dir = mkdtempSync(`${tmpdir()}/memtable-table-`);
 * try {
 *   const w = new SstFileWriter(`${dir}/bulk.sst`);
 *   w.put("a", "1");
 *   w.put("b", "2");
 *   assert.equal(w.finish().numEntries, 2);
 *   using t = TableReader.open(`${dir}/bulk.sst`);
 *   const hit = t.get(new TextEncoder().encode("b"));
 *   assert.equal(new TextDecoder().decode(hit?.value), "2");
 * } finally {
 *   rmSync(dir, { recursive: true, force: true });
 * }
 * ```
 *
 * @module
 */
export { TableBuilder, type TableBuilderOptions } from "./src/table/table_builder.ts";
export {
  type TableEntry,
  type TableProperties,
  TableReader,
  type TableTombstone,
} from "./src/table/table_reader.ts";
export { type BlockHandle, type Footer } from "./src/table/format.ts";
export { type FilterCounters } from "./src/table/filter_block.ts";
export { type ExternalSstFileInfo, SstFileWriter } from "./src/table/sst_file_writer.ts";

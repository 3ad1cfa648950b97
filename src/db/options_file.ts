/**
 * RocksDB's `OPTIONS-NNNNNN` file: the options a database was last opened with, in the INI-like
 * form RocksDB writes and `ldb` loads (it reads the highest-numbered one). Written here with
 * the sections RocksDB 7.8 requires — `[Version]`, `[DBOptions]`, `[CFOptions "default"]` —
 * and the table options, naming only options this library sets (RocksDB takes the defaults for
 * the rest, and refuses names it does not know).
 *
 * @module
 */

/** What the OPTIONS file records of a store. */
export interface OptionsFileFields {
  writeBufferSize: number;
  maxWriteBufferNumber: number;
  minWriteBufferNumberToMerge: number;
  /** RocksDB's name of the merge operator (e.g. `StringAppendOperator`), if any. */
  mergeOperatorName: string | undefined;
  /** The prefix extractor's RocksDB name (`rocksdb.FixedPrefix.4`), if any. */
  prefixExtractorName: string | undefined;
  blockSize: number;
  /** Bits per key of the table files' bloom filters; 0: no filters. */
  bloomBitsPerKey: number;
  /** Levels of the LSM tree (RocksDB's `num_levels`); 7 when left out. */
  numLevels?: number;
}

/** The text of an OPTIONS file recording `f`. */
export function optionsFileText(f: OptionsFileFields): string {
  const filter = f.bloomBitsPerKey > 0 ? `bloomfilter:${f.bloomBitsPerKey}:false` : "nullptr";
  return [
    "# RocksDB option file (written by memtable).",
    "",
    "[Version]",
    "  rocksdb_version=7.8.3",
    "  options_file_version=1.1",
    "",
    "[DBOptions]",
    "  create_if_missing=true",
    "",
    '[CFOptions "default"]',
    "  comparator=leveldb.BytewiseComparator",
    `  write_buffer_size=${f.writeBufferSize}`,
    `  max_write_buffer_number=${f.maxWriteBufferNumber}`,
    `  min_write_buffer_number_to_merge=${f.minWriteBufferNumberToMerge}`,
    `  merge_operator=${f.mergeOperatorName ?? "nullptr"}`,
    `  prefix_extractor=${f.prefixExtractorName ?? "nullptr"}`,
    "  compression=kNoCompression",
    `  num_levels=${f.numLevels ?? 7}`,
    "",
    '[TableOptions/BlockBasedTable "default"]',
    `  block_size=${f.blockSize}`,
    `  filter_policy=${filter}`,
    "  format_version=5",
    "  checksum=kCRC32c",
    "",
  ].join("\n");
}

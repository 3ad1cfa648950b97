/**
 * A table's properties block, decoded (RocksDB's `TableProperties`).
 *
 * @module
 */
import { decodeFixed32 as readFixed32, decodeFixed64 as readFixed64 } from "../coding/varint.ts";
import { CorruptionError } from "../errors.ts";
import { type BlockEntry, readVarint } from "./format.ts";

const decoder = new TextDecoder();

/** The properties RocksDB records in every table (and the raw ones, by name). */
export interface TableProperties {
  /** Point entries in the table. */
  numEntries: number;
  /** Deletion and SingleDeletion entries among them. */
  deletedKeys: number;
  /** Merge operands among them. */
  mergeOperands: number;
  /** Range tombstones. */
  numRangeDeletions: number;
  /** Bytes of the internal keys, before any compression. */
  rawKeySize: number;
  /** Bytes of the values, before any compression. */
  rawValueSize: number;
  /** Bytes of the data blocks. */
  dataSize: number;
  /** Bytes of the index block. */
  indexSize: number;
  /** Data blocks in the table. */
  numDataBlocks: number;
  /** The name of the comparator the keys are ordered by. */
  comparator: string;
  /** The column family the table was written for, when recorded. */
  columnFamilyName: string | undefined;
  /**
   * Whether index entries hold user keys (RocksDB's format_version 3 and later) rather than
   * internal keys.
   */
  indexKeyIsUserKey: boolean;
  /** Whether index entries are delta-encoded block handles. */
  indexValueIsDeltaEncoded: boolean;
  /** Set in files written for ingestion (RocksDB's SstFileWriter): 2. */
  externalSstFileVersion: number | undefined;
  /** The sequence number every entry of an ingested file takes (0 until ingested). */
  globalSeqno: bigint | undefined;
  /** Every property as stored, by name. */
  raw: Map<string, Uint8Array>;
}

/** The properties block's entries decoded; `name` names the table in errors. */
export function parseProperties(entries: BlockEntry[], name: string): TableProperties {
  const raw = new Map<string, Uint8Array>();
  for (const e of entries) raw.set(decoder.decode(e.key), e.value);
  const num = (k: string): number => {
    const v = raw.get(k);
    if (v === undefined) return 0;
    return readVarint(v, 0, `${name}: property ${k}`)[0];
  };
  const str = (k: string) => {
    const v = raw.get(k);
    return v === undefined ? undefined : decoder.decode(v);
  };
  const version = raw.get("rocksdb.external_sst_file.version");
  const global = raw.get("rocksdb.external_sst_file.global_seqno");
  if (
    (version !== undefined && version.length !== 4) || (global !== undefined && global.length !== 8)
  ) {
    throw new CorruptionError(`${name}: a rocksdb.external_sst_file property has a bad size`);
  }
  return {
    numEntries: num("rocksdb.num.entries"),
    deletedKeys: num("rocksdb.deleted.keys"),
    mergeOperands: num("rocksdb.merge.operands"),
    numRangeDeletions: num("rocksdb.num.range-deletions"),
    rawKeySize: num("rocksdb.raw.key.size"),
    rawValueSize: num("rocksdb.raw.value.size"),
    dataSize: num("rocksdb.data.size"),
    indexSize: num("rocksdb.index.size"),
    numDataBlocks: num("rocksdb.num.data.blocks"),
    comparator: str("rocksdb.comparator") ?? "",
    columnFamilyName: str("rocksdb.column.family.name"),
    indexKeyIsUserKey: num("rocksdb.index.key.is.user.key") === 1,
    indexValueIsDeltaEncoded: num("rocksdb.index.value.is.delta.encoded") === 1,
    externalSstFileVersion: version === undefined ? undefined : readFixed32(version, 0),
    globalSeqno: global === undefined ? undefined : readFixed64(global, 0),
    raw,
  };
}

/**
 * The command line's SST file commands: `dump` (the point entries and range tombstones of a
 * file, in order), `props` (its footer and properties) and the file case of `verify` (every
 * block's checksum and the key order, as `sst_dump --command=verify` checks). Files are only
 * read.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import { ValueType, valueTypeName } from "../coding/value_type.ts";
import { decodeVarint64 } from "../coding/varint.ts";
import { type TableEntry, TableReader } from "../table/table_reader.ts";
import { type LineWriter, type Show, showBytes, size, toHex } from "./output.ts";

/** What `dump` shows of a file, and how. */
export interface DumpOptions {
  hex: boolean;
  json: boolean;
  /** The first user key shown (inclusive). */
  from: Uint8Array | undefined;
  /** The user key the dump stops before (exclusive). */
  to: Uint8Array | undefined;
  /** The most lines (point entries, then range tombstones) shown. */
  limit: number | undefined;
}

/** One point entry as `dump` shows it: RocksDB's `sst_dump --command=scan` layout, type named. */
export function entryLine(e: TableEntry, show: Show): string {
  const head = `${show(e.key)} seq:${e.seq}, type:${valueTypeName(e.type)}`;
  return e.type === ValueType.Deletion || e.type === ValueType.SingleDeletion
    ? head
    : `${head} => ${show(e.value)}`;
}

/** One entry as a JSON line: bytes as lower-case hex. */
export function entryJson(
  e: { key: Uint8Array; seq: number | bigint; type: number; value: Uint8Array },
): string {
  return JSON.stringify({
    key: toHex(e.key).toLowerCase(),
    seq: Number(e.seq),
    type: valueTypeName(e.type),
    value: toHex(e.value).toLowerCase(),
  });
}

/** Writes the entries of the file at `path` (see `DumpOptions`); returns how many. */
export function dumpFile(path: string, o: DumpOptions, out: LineWriter): number {
  using t = TableReader.open(path);
  const show = showBytes(o.hex);
  const limit = o.limit ?? Infinity;
  let shown = 0;
  for (const e of t.entries(o.from)) {
    if (shown >= limit) return shown;
    if (o.to !== undefined && compareUserKeys(e.key, o.to) >= 0) break;
    out.line(o.json ? entryJson(e) : entryLine(e, show));
    shown++;
  }
  for (const r of t.rangeTombstones()) {
    if (shown >= limit) return shown;
    if (o.to !== undefined && compareUserKeys(r.start, o.to) >= 0) continue;
    if (o.from !== undefined && compareUserKeys(r.end, o.from) <= 0) continue;
    const e = { key: r.start, seq: r.seq, type: ValueType.RangeDeletion, value: r.end };
    out.line(
      o.json ? entryJson(e) : `${show(r.start)} seq:${r.seq}, type:RangeDeletion => ${show(r.end)}`,
    );
    shown++;
  }
  return shown;
}

/** RocksDB's properties stored as varints (table/table_properties.cc), shown as numbers. */
const numericProperties = new Set([
  "rocksdb.data.size",
  "rocksdb.index.size",
  "rocksdb.index.partitions",
  "rocksdb.top-level.index.size",
  "rocksdb.index.key.is.user.key",
  "rocksdb.index.value.is.delta.encoded",
  "rocksdb.filter.size",
  "rocksdb.raw.key.size",
  "rocksdb.raw.value.size",
  "rocksdb.num.data.blocks",
  "rocksdb.num.entries",
  "rocksdb.num.filter_entries",
  "rocksdb.deleted.keys",
  "rocksdb.merge.operands",
  "rocksdb.num.range-deletions",
  "rocksdb.format.version",
  "rocksdb.fixed.key.length",
  "rocksdb.column.family.id",
  "rocksdb.creation.time",
  "rocksdb.oldest.key.time",
  "rocksdb.file.creation.time",
  "rocksdb.sample.for.compression",
  "rocksdb.slow.compression.estimated.data.size",
  "rocksdb.fast.compression.estimated.data.size",
  "rocksdb.original.file.number",
  "rocksdb.tail.start.offset",
]);

/** A stored property's value as `props` shows it: a number, printable text, or hex. */
function propertyValue(name: string, v: Uint8Array): string {
  if (numericProperties.has(name)) {
    try {
      const [n, end] = decodeVarint64(v, 0);
      if (end === v.length) return String(n);
    } catch {
      // Not a varint after all: shown as bytes.
    }
  }
  const printable = v.every((b) => b >= 0x20 && b < 0x7f);
  return printable ? v.length === 0 ? "''" : new TextDecoder().decode(v) : `0x${toHex(v)}`;
}

const checksumNames: Record<number, string> = { 1: "CRC32c", 4: "XXH3" };

/** Writes the footer and properties of the file at `path` (as text or one JSON object). */
export function showProperties(path: string, json: boolean, out: LineWriter): void {
  using t = TableReader.open(path);
  const p = t.properties;
  const raw = [...p.raw].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (json) {
    out.line(JSON.stringify({
      file: path,
      size: t.size,
      formatVersion: t.footer.formatVersion,
      checksum: checksumNames[t.footer.checksumType] ?? t.footer.checksumType,
      numEntries: p.numEntries,
      deletedKeys: p.deletedKeys,
      mergeOperands: p.mergeOperands,
      numRangeDeletions: p.numRangeDeletions,
      numDataBlocks: p.numDataBlocks,
      dataSize: p.dataSize,
      indexSize: p.indexSize,
      rawKeySize: p.rawKeySize,
      rawValueSize: p.rawValueSize,
      comparator: p.comparator,
      columnFamilyName: p.columnFamilyName ?? null,
      indexKeyIsUserKey: p.indexKeyIsUserKey,
      indexValueIsDeltaEncoded: p.indexValueIsDeltaEncoded,
      externalSstFileVersion: p.externalSstFileVersion ?? null,
      globalSeqno: p.globalSeqno === undefined ? null : Number(p.globalSeqno),
      properties: Object.fromEntries(raw.map(([k, v]) => [k, propertyValue(k, v)])),
    }));
    return;
  }
  const yesNo = (b: boolean) => (b ? "yes" : "no");
  const rows: [string, string][] = [
    ["file", `${path} (${t.size} bytes, ${size(t.size)})`],
    [
      "format",
      `block-based, format_version ${t.footer.formatVersion}, checksum ` +
      (checksumNames[t.footer.checksumType] ?? `type ${t.footer.checksumType}`),
    ],
    [
      "entries",
      `${p.numEntries} (deletions ${p.deletedKeys}, merge operands ${p.mergeOperands}, ` +
      `range deletions ${p.numRangeDeletions})`,
    ],
    ["data blocks", `${p.numDataBlocks}, ${p.dataSize} bytes`],
    [
      "index block",
      `${p.indexSize} bytes (user keys: ${yesNo(p.indexKeyIsUserKey)}, delta-encoded ` +
      `handles: ${yesNo(p.indexValueIsDeltaEncoded)})`,
    ],
    ["raw key size", `${p.rawKeySize} bytes`],
    ["raw value size", `${p.rawValueSize} bytes`],
    ["comparator", p.comparator],
    ["column family", p.columnFamilyName ?? "N/A"],
  ];
  if (p.externalSstFileVersion !== undefined) {
    rows.push([
      "external file",
      `version ${p.externalSstFileVersion}, global seqno ${p.globalSeqno ?? "N/A"}`,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  for (const [k, v] of rows) out.line(`${k.padEnd(width)}${v}`);
  out.line("properties as stored:");
  for (const [k, v] of raw) out.line(`  ${k} = ${propertyValue(k, v)}`);
}

/** Checks every block of the file at `path` (a CorruptionError if one is damaged). */
export function verifyFile(path: string): { entries: number; size: number } {
  using t = TableReader.open(path);
  return { entries: t.verify(), size: t.size };
}

/**
 * RocksDB's VersionEdit: one record of a MANIFEST, a list of `varint32 tag ‖ value` fields
 * (numbers varint64, strings varint32-length-prefixed, internal keys length-prefixed). A
 * MANIFEST is a log (log_format.ts) of these edits; replayed in order they give the database's
 * files per level, its log number, next file number and last sequence number.
 *
 * Written: the fields this library needs, as RocksDB 7.8 writes them. Read: everything RocksDB
 * 7.8 writes for the default column family; an unknown tag is skipped when its bit 8192 says it
 * may be ("safe to ignore", its value length-prefixed) and is corruption otherwise, as in
 * RocksDB. A NewFile4 custom field below 64 is skipped, from 64 on refused, as RocksDB does.
 *
 * @module
 */
import { CorruptionError } from "../errors.ts";
import { decodeVarint32, decodeVarint64, encodeVarint64 } from "../coding/varint.ts";
import type { SequenceNumber } from "../coding/sequence.ts";

/** Field tags. Do not change: they are part of the MANIFEST format. */
export const EditTag = {
  comparator: 1,
  logNumber: 2,
  nextFileNumber: 3,
  lastSequence: 4,
  compactCursor: 5,
  deletedFile: 6,
  prevLogNumber: 9,
  minLogNumberToKeep: 10,
  newFile4: 103,
  columnFamily: 200,
  columnFamilyAdd: 201,
  columnFamilyDrop: 202,
  maxColumnFamily: 203,
  inAtomicGroup: 300,
  /** Tags with this bit set may be skipped by a reader that does not know them. */
  safeIgnoreMask: 1 << 13,
} as const;

/** NewFile4 custom field tags (those written or read here). */
const FileTag = {
  terminate: 1,
  needCompaction: 2,
  minLogNumberToKeepHack: 3,
  oldestBlobFileNumber: 4,
  oldestAncesterTime: 5,
  fileCreationTime: 6,
  fileChecksum: 7,
  fileChecksumFuncName: 8,
  /** From here on a custom field must be understood (RocksDB refuses it otherwise). */
  mustUnderstand: 64,
} as const;

/** A table file added to a level. Keys are internal keys (`user_key ‖ fixed64 trailer`). */
export interface NewFile {
  level: number;
  number: number;
  fileSize: number;
  smallest: Uint8Array;
  largest: Uint8Array;
  smallestSeqno: SequenceNumber;
  largestSeqno: SequenceNumber;
  /** Seconds since the epoch (0: unknown). */
  oldestAncesterTime?: number;
  fileCreationTime?: number;
}

/** The fields of one edit; absent ones are not in it. */
export interface VersionEdit {
  comparator?: string;
  logNumber?: number;
  prevLogNumber?: number;
  nextFileNumber?: number;
  lastSequence?: SequenceNumber;
  minLogNumberToKeep?: number;
  /** The column family the edit is about (absent: the default, 0). */
  columnFamily?: number;
  columnFamilyAdd?: string;
  columnFamilyDrop?: boolean;
  maxColumnFamily?: number;
  deletedFiles?: { level: number; number: number }[];
  newFiles?: NewFile[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A growable byte buffer for encoding edits. */
class Out {
  bytes = new Uint8Array(256);
  size = 0;
  #room(n: number): void {
    if (this.size + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.size + n));
    next.set(this.bytes.subarray(0, this.size));
    this.bytes = next;
  }
  varint(v: number | bigint): void {
    this.#room(10);
    this.size = encodeVarint64(this.bytes, this.size, v);
  }
  slice(b: Uint8Array): void {
    this.varint(b.length);
    this.#room(b.length);
    this.bytes.set(b, this.size);
    this.size += b.length;
  }
}

/** The bytes of `edit` (one MANIFEST record). */
export function encodeVersionEdit(edit: VersionEdit): Uint8Array {
  const o = new Out();
  const num = (tag: number, v: number | bigint | undefined) => {
    if (v === undefined) return;
    o.varint(tag);
    o.varint(v);
  };
  if (edit.comparator !== undefined) {
    o.varint(EditTag.comparator);
    o.slice(encoder.encode(edit.comparator));
  }
  num(EditTag.logNumber, edit.logNumber);
  num(EditTag.prevLogNumber, edit.prevLogNumber);
  num(EditTag.nextFileNumber, edit.nextFileNumber);
  num(EditTag.maxColumnFamily, edit.maxColumnFamily);
  num(EditTag.minLogNumberToKeep, edit.minLogNumberToKeep);
  num(EditTag.lastSequence, edit.lastSequence);
  for (const d of edit.deletedFiles ?? []) {
    o.varint(EditTag.deletedFile);
    o.varint(d.level);
    o.varint(d.number);
  }
  for (const f of edit.newFiles ?? []) {
    o.varint(EditTag.newFile4);
    o.varint(f.level);
    o.varint(f.number);
    o.varint(f.fileSize);
    o.slice(f.smallest);
    o.slice(f.largest);
    o.varint(f.smallestSeqno);
    o.varint(f.largestSeqno);
    for (
      const [tag, v] of [
        [FileTag.oldestAncesterTime, f.oldestAncesterTime],
        [FileTag.fileCreationTime, f.fileCreationTime],
      ] as const
    ) {
      if (v === undefined) continue;
      const field = new Out();
      field.varint(v);
      o.varint(tag);
      o.slice(field.bytes.subarray(0, field.size));
    }
    o.varint(FileTag.terminate);
  }
  num(EditTag.columnFamily, edit.columnFamily);
  if (edit.columnFamilyAdd !== undefined) {
    o.varint(EditTag.columnFamilyAdd);
    o.slice(encoder.encode(edit.columnFamilyAdd));
  }
  if (edit.columnFamilyDrop) o.varint(EditTag.columnFamilyDrop);
  return o.bytes.slice(0, o.size);
}

/** Reads fields of an edit's bytes, reporting damage as a CorruptionError naming `where`. */
class In {
  at = 0;
  constructor(readonly bytes: Uint8Array, readonly where: string) {}
  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  fail(what: string): never {
    throw new CorruptionError(`${this.where}: VersionEdit at byte ${this.at}: ${what}`);
  }
  varint32(what: string): number {
    try {
      const [v, next] = decodeVarint32(this.bytes, this.at);
      this.at = next;
      return v;
    } catch {
      this.fail(`bad ${what}`);
    }
  }
  varint64(what: string): bigint {
    try {
      const [v, next] = decodeVarint64(this.bytes, this.at);
      this.at = next;
      return v;
    } catch {
      this.fail(`bad ${what}`);
    }
  }
  /** A varint64 that must be a safe integer (file numbers, sizes, log numbers). */
  number(what: string): number {
    const v = this.varint64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`);
    return Number(v);
  }
  sequence(what: string): SequenceNumber {
    const v = this.varint64(what);
    if (v >= 1n << 56n) this.fail(`${what} ${v} is above 2^56 - 1`);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  slice(what: string): Uint8Array {
    const n = this.varint32(`${what} length`);
    if (this.at + n > this.bytes.length) this.fail(`${what} runs past the edit`);
    const out = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  text(what: string): string {
    try {
      return decoder.decode(this.slice(what));
    } catch (e) {
      if (e instanceof CorruptionError) throw e;
      this.fail(`${what} is not UTF-8`);
    }
  }
}

/** Decodes one MANIFEST record. `where` names the file for error messages. */
export function decodeVersionEdit(bytes: Uint8Array, where: string): VersionEdit {
  const r = new In(bytes, where);
  const edit: VersionEdit = {};
  while (!r.done) {
    const tag = r.varint32("tag");
    switch (tag) {
      case EditTag.comparator:
        edit.comparator = r.text("comparator");
        break;
      case EditTag.logNumber:
        edit.logNumber = r.number("log number");
        break;
      case EditTag.prevLogNumber:
        edit.prevLogNumber = r.number("previous log number");
        break;
      case EditTag.nextFileNumber:
        edit.nextFileNumber = r.number("next file number");
        break;
      case EditTag.lastSequence:
        edit.lastSequence = r.sequence("last sequence");
        break;
      case EditTag.minLogNumberToKeep:
        edit.minLogNumberToKeep = r.number("min log number to keep");
        break;
      case EditTag.maxColumnFamily:
        edit.maxColumnFamily = r.varint32("max column family");
        break;
      case EditTag.columnFamily:
        edit.columnFamily = r.varint32("column family");
        break;
      case EditTag.columnFamilyAdd:
        edit.columnFamilyAdd = r.text("column family name");
        break;
      case EditTag.columnFamilyDrop:
        edit.columnFamilyDrop = true;
        break;
      case EditTag.compactCursor:
        r.varint32("compact cursor level");
        r.slice("compact cursor key");
        break;
      case EditTag.inAtomicGroup:
        r.varint32("atomic group size");
        break;
      case EditTag.deletedFile:
        (edit.deletedFiles ??= []).push({
          level: r.varint32("deleted file level"),
          number: r.number("deleted file number"),
        });
        break;
      case EditTag.newFile4:
        (edit.newFiles ??= []).push(newFile4(r));
        break;
      default:
        if ((tag & EditTag.safeIgnoreMask) === 0) r.fail(`unknown tag ${tag}`);
        r.slice(`field ${tag}`);
    }
  }
  return edit;
}

function newFile4(r: In): NewFile {
  const f: NewFile = {
    level: r.varint32("new file level"),
    number: r.number("new file number"),
    fileSize: r.number("new file size"),
    smallest: r.slice("smallest key"),
    largest: r.slice("largest key"),
    smallestSeqno: r.sequence("smallest seqno"),
    largestSeqno: r.sequence("largest seqno"),
  };
  for (;;) {
    const tag = r.varint32("new file field tag");
    if (tag === FileTag.terminate) return f;
    if (tag >= FileTag.mustUnderstand) r.fail(`new file field ${tag} is not supported`);
    const field = r.slice(`new file field ${tag}`);
    if (tag === FileTag.oldestAncesterTime || tag === FileTag.fileCreationTime) {
      const [v] = decodeVarint64(field, 0);
      if (tag === FileTag.oldestAncesterTime) f.oldestAncesterTime = Number(v);
      else f.fileCreationTime = Number(v);
    }
  }
}

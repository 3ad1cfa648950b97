/**
 * RocksDB's block-based table format, the parts every SST file shares: block handles, block
 * trailers with masked CRC32c checksums, the format-version-5 footer, and blocks of
 * prefix-compressed entries with restart points (writer and reader).
 *
 * ```
 * file    = data_block* index_block [range_del_block] properties_block metaindex_block footer
 * block   = contents ‖ u8 compression (0) ‖ u32le mask(crc32c(contents ‖ compression))
 * entry   = varint32 shared ‖ varint32 non_shared ‖ varint32 value_len ‖ key[shared..] ‖ value
 * footer  = u8 checksum type (1) ‖ metaindex handle ‖ index handle ‖ padding to 40 bytes ‖
 *           u32le format version (5) ‖ u64le magic
 * ```
 *
 * @module
 */
import { CorruptionError } from "../errors.ts";
import { native, Scratch } from "../ffi/native.ts";
import { decodeFixed32 as readFixed32, decodeFixed64 as readFixed64 } from "../coding/varint.ts";

export const tableMagic = 0x88e241b785f4cff7n;
export const footerSize = 53;
export const blockTrailerSize = 5;
export const formatVersion = 5;
/** Checksum type CRC32c: what this library writes (and reads). */
export const checksumCrc32c = 1;
/** Checksum type XXH3: RocksDB 7.8's default, read here (RocksDB's own files). */
export const checksumXxh3 = 4;

const maskDelta = 0xa282ead8;

/** RocksDB's masked CRC (`crc32c::Mask`): a CRC stored next to the data it covers. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + maskDelta) >>> 0;
}

let scratch: Scratch | undefined;
/** Checksummed data up to this size is copied into one kept buffer; larger into its own. */
const scratchRetainMax = 1 << 20;

/** `bytes ‖ suffix` in a native call's buffer (kept up to 1 MiB, else one of its own). */
function staged(bytes: Uint8Array, suffix: Uint8Array | undefined): [Scratch, number] {
  const n = bytes.length + (suffix?.length ?? 0);
  let s = scratch ??= new Scratch(64 * 1024);
  if (n > s.capacity) {
    if (n <= scratchRetainMax) s.reserve(n);
    else s = new Scratch(n);
  }
  s.bytes.set(bytes, 0);
  if (suffix !== undefined) s.bytes.set(suffix, bytes.length);
  return [s, n];
}

/** CRC32c (Castagnoli) of `bytes` followed by the bytes of `suffix`, computed natively. */
export function crc32c(bytes: Uint8Array, suffix?: Uint8Array): number {
  const [s, n] = staged(bytes, suffix);
  return native().fn.memtable_crc32c(s.arg, s.capacity, n) >>> 0;
}

/**
 * A block's stored checksum as RocksDB computes it for `type` over the block's contents and
 * its compression byte: masked CRC32c over both (type 1), or the low 32 bits of XXH3-64 over
 * the contents, mixed with the compression byte (type 4, RocksDB's
 * `ModifyChecksumForLastByte`).
 */
export function blockChecksum(type: number, contents: Uint8Array, compression: number): number {
  if (type === checksumCrc32c) return maskCrc(crc32c(contents, new Uint8Array([compression])));
  const [s, n] = staged(contents, undefined);
  const low = native().fn.memtable_xxh3_low32(s.arg, s.capacity, n) >>> 0;
  return (low ^ Math.imul(compression, 0x6b9083d9)) >>> 0;
}

const noCompression = new Uint8Array([0]);

/** Where a block is: `varint64 offset ‖ varint64 size` (size without the trailer). */
export interface BlockHandle {
  /** The block's offset in the file. */
  offset: number;
  /** The block's size in bytes, without its 5-byte trailer. */
  size: number;
}

/** A growable byte buffer with the encodings blocks need. */
export class ByteWriter {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(capacity);
  }

  #room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let c = this.bytes.length * 2;
    while (c < this.length + n) c *= 2;
    const grown = new Uint8Array(c);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(b: number): void {
    this.#room(1);
    this.bytes[this.length++] = b;
  }

  /** A varint of a non-negative safe integer (varint32 and varint64 share the encoding). */
  varint(v: number): void {
    this.#room(10);
    while (v >= 0x80) {
      this.bytes[this.length++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.length++] = v;
  }

  fixed32(v: number): void {
    this.#room(4);
    const b = this.bytes;
    const o = this.length;
    b[o] = v;
    b[o + 1] = v >>> 8;
    b[o + 2] = v >>> 16;
    b[o + 3] = v >>> 24;
    this.length += 4;
  }

  fixed64(v: bigint): void {
    this.fixed32(Number(v & 0xffff_ffffn));
    this.fixed32(Number(v >> 32n));
  }

  /** Appends data[from..]. Short runs are copied byte by byte (cheaper than `set` there). */
  put(data: Uint8Array, from = 0): void {
    const n = data.length - from;
    this.#room(n);
    if (n <= 32) {
      const b = this.bytes;
      let o = this.length;
      for (let i = from; i < data.length; i++) b[o++] = data[i]!;
    } else this.bytes.set(from === 0 ? data : data.subarray(from), this.length);
    this.length += n;
  }

  handle(h: BlockHandle): void {
    this.varint(h.offset);
    this.varint(h.size);
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** Reads a varint as a safe integer; throws CorruptionError (naming `what`) when it is bad. */
export function readVarint(src: Uint8Array, at: number, what: string): [number, number] {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (at + i >= src.length) throw new CorruptionError(`${what}: a varint runs past the end`);
    const b = src[at + i]!;
    v += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(v)) throw new CorruptionError(`${what}: a varint is too large`);
      return [v, at + i + 1];
    }
    scale *= 128;
  }
  throw new CorruptionError(`${what}: a varint is longer than 10 bytes`);
}

export function readHandle(src: Uint8Array, at: number, what: string): [BlockHandle, number] {
  const [offset, a] = readVarint(src, at, what);
  const [size, b] = readVarint(src, a, what);
  return [{ offset, size }, b];
}

/** The trailer of `contents` (uncompressed): compression byte 0 and the masked checksum. */
export function blockTrailer(contents: Uint8Array): Uint8Array {
  const t = new Uint8Array(blockTrailerSize);
  const crc = maskCrc(crc32c(contents, noCompression));
  t[0] = 0;
  t[1] = crc;
  t[2] = crc >>> 8;
  t[3] = crc >>> 16;
  t[4] = crc >>> 24;
  return t;
}

/** The 53-byte footer of format version 5 with CRC32c checksums. */
export function encodeFooter(metaindex: BlockHandle, index: BlockHandle): Uint8Array {
  const w = new ByteWriter(footerSize);
  w.byte(checksumCrc32c);
  w.handle(metaindex);
  w.handle(index);
  while (w.length < 41) w.byte(0);
  w.fixed32(formatVersion);
  w.fixed64(tableMagic);
  return w.view().slice();
}

/** The fixed-size footer at the end of a table file (RocksDB's format). */
export interface Footer {
  /** The block checksum type (1: crc32c). */
  checksumType: number;
  /** Where the metaindex block is. */
  metaindex: BlockHandle;
  /** Where the index block is. */
  index: BlockHandle;
  /** RocksDB's `format_version` the table was written with. */
  formatVersion: number;
}

/** Parses the footer at the end of a file of `fileSize` bytes (`tail` = its last 53 bytes). */
export function decodeFooter(tail: Uint8Array, fileSize: number, what: string): Footer {
  if (tail.length < footerSize) {
    throw new CorruptionError(`${what}: the file is ${fileSize} bytes, too short for a footer`);
  }
  const at = tail.length - footerSize;
  if (readFixed64(tail, at + 45) !== tableMagic) {
    throw new CorruptionError(`${what}: no block-based table magic number at the end of the file`);
  }
  const version = readFixed32(tail, at + 41);
  if (version < 1 || version > 5) {
    throw new CorruptionError(`${what}: format version ${version} is not supported (1 to 5 are)`);
  }
  const checksumType = tail[at]!;
  if (checksumType !== checksumCrc32c && checksumType !== checksumXxh3) {
    throw new CorruptionError(
      `${what}: checksum type ${checksumType} is not supported (CRC32c, type 1, and XXH3, ` +
        `type 4, are)`,
    );
  }
  const [metaindex, a] = readHandle(tail, at + 1, `${what}: footer`);
  const [index] = readHandle(tail, a, `${what}: footer`);
  for (const [name, h] of [["metaindex", metaindex], ["index", index]] as const) {
    if (h.offset + h.size + blockTrailerSize > fileSize - footerSize) {
      throw new CorruptionError(`${what}: the footer's ${name} handle points past the data`);
    }
  }
  return { checksumType, metaindex, index, formatVersion: version };
}

/**
 * Builds a block: entries with keys prefix-compressed against the previous key, a restart
 * point (full key) every `restartInterval` entries, then the restart offsets and their count.
 */
export class BlockBuilder {
  readonly #w = new ByteWriter();
  #restarts: number[] = [0];
  #counter = 0;
  #last: Uint8Array = new Uint8Array(0);
  #entries = 0;

  constructor(readonly restartInterval: number) {}

  get empty(): boolean {
    return this.#entries === 0;
  }

  get entries(): number {
    return this.#entries;
  }

  /** Size of the finished block (without trailer) if it ended now. */
  estimate(): number {
    return this.#w.length + 4 * this.#restarts.length + 4;
  }

  /** Adds an entry; keys must come in the block's order (the caller checks it). */
  add(key: Uint8Array, value: Uint8Array, withValueLength = true): void {
    let shared = 0;
    if (this.#counter < this.restartInterval) {
      const n = Math.min(this.#last.length, key.length);
      while (shared < n && this.#last[shared] === key[shared]) shared++;
    } else {
      this.#restarts.push(this.#w.length);
      this.#counter = 0;
    }
    const w = this.#w;
    w.varint(shared);
    w.varint(key.length - shared);
    if (withValueLength) w.varint(value.length);
    w.put(key, shared);
    w.put(value);
    this.#last = key;
    this.#counter++;
    this.#entries++;
  }

  /** The block's contents; the builder is reset. */
  finish(): Uint8Array {
    for (const r of this.#restarts) this.#w.fixed32(r);
    this.#w.fixed32(this.#restarts.length);
    const out = this.#w.view().slice();
    this.#w.clear();
    this.#restarts = [0];
    this.#counter = 0;
    this.#last = new Uint8Array(0);
    this.#entries = 0;
    return out;
  }
}

/** One entry of a block, as `readBlock` returns it. */
export interface BlockEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * Decodes every entry of a block's contents. `deltaHandles`: the block is an index whose
 * values are delta-encoded handles (no value length; a full handle at each restart, a zigzag
 * size delta otherwise): values come back as full encoded handles.
 */
export function readBlock(contents: Uint8Array, what: string, deltaHandles = false): BlockEntry[] {
  if (contents.length < 4) throw new CorruptionError(`${what}: the block is too short`);
  const restarts = readFixed32(contents, contents.length - 4) & 0x7fff_ffff;
  const limit = contents.length - 4 - 4 * restarts;
  if (restarts < 1 || limit < 0) {
    throw new CorruptionError(`${what}: the block's restart array is damaged`);
  }
  const restartAt = new Set<number>();
  for (let i = 0; i < restarts; i++) restartAt.add(readFixed32(contents, limit + 4 * i));
  const out: BlockEntry[] = [];
  let last: Uint8Array = new Uint8Array(0);
  let prevHandle: BlockHandle | undefined;
  let at = 0;
  while (at < limit) {
    const start = at;
    const [shared, a] = readVarint(contents, at, what);
    const [nonShared, b] = readVarint(contents, a, what);
    at = b;
    let valueLength = 0;
    if (!deltaHandles) [valueLength, at] = readVarint(contents, at, what);
    if (shared > last.length || at + nonShared > limit) {
      throw new CorruptionError(`${what}: an entry's key runs past the block`);
    }
    const key = new Uint8Array(shared + nonShared);
    key.set(last.subarray(0, shared));
    key.set(contents.subarray(at, at + nonShared), shared);
    at += nonShared;
    let value: Uint8Array;
    if (deltaHandles) {
      let h: BlockHandle;
      if (restartAt.has(start) || prevHandle === undefined) {
        [h, at] = readHandle(contents, at, what);
      } else {
        const [zz, next] = readVarint(contents, at, what);
        at = next;
        const delta = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
        h = {
          offset: prevHandle.offset + prevHandle.size + blockTrailerSize,
          size: prevHandle.size + delta,
        };
      }
      prevHandle = h;
      const w = new ByteWriter(20);
      w.handle(h);
      value = w.view().slice();
    } else {
      if (at + valueLength > limit) {
        throw new CorruptionError(`${what}: a value runs past the block`);
      }
      value = contents.slice(at, at + valueLength);
      at += valueLength;
    }
    out.push({ key, value });
    last = key;
  }
  if (at !== limit) throw new CorruptionError(`${what}: the entries overrun the restart array`);
  return out;
}

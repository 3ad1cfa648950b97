/**
 * Snappy decompression (the raw format RocksDB's default `kSnappyCompression` writes: a varint
 * of the uncompressed length, then literals and back-references), for reading table files
 * RocksDB wrote with its default codec. Every length and offset is checked against the input
 * and the output: malformed input is a `CorruptionError` naming `where`, never a read or write
 * out of bounds.
 *
 * @module
 */
import { CorruptionError } from "../errors.ts";

/** Uncompressed blocks larger than this are refused (RocksDB's blocks are KiBs to MiBs). */
const uncompressedMax = 256 << 20;

/** Decompresses `input` (raw Snappy); `where` names the block in errors. */
export function snappyUncompress(input: Uint8Array, where: string): Uint8Array {
  const fail = (what: string): never => {
    throw new CorruptionError(`${where}: Snappy data is malformed: ${what}`);
  };
  let at = 0;
  let length = 0;
  for (let shift = 0;; shift += 7) {
    if (at >= input.length || shift > 28) fail("bad uncompressed length");
    const b = input[at++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  // No element expands more than 64 bytes from 3 (a 2-byte-offset copy): a longer claim is
  // damage, refused before anything is allocated for it.
  if (length > uncompressedMax || length > (input.length - at) * 22) {
    fail(`uncompressed length ${length} for ${input.length - at} bytes of input`);
  }
  const out = new Uint8Array(length);
  let o = 0;
  while (at < input.length) {
    const tag = input[at++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        if (at + bytes > input.length) fail("literal length runs past the input");
        n = 0;
        for (let i = 0; i < bytes; i++) n += input[at + i]! * 2 ** (8 * i);
        at += bytes;
      }
      n += 1;
      if (at + n > input.length) fail("literal runs past the input");
      if (o + n > length) fail("literal runs past the uncompressed length");
      out.set(input.subarray(at, at + n), o);
      at += n;
      o += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      if (at >= input.length) fail("copy runs past the input");
      n = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | input[at++]!;
    } else {
      const bytes = kind === 2 ? 2 : 4;
      if (at + bytes > input.length) fail("copy runs past the input");
      n = (tag >>> 2) + 1;
      offset = 0;
      for (let i = 0; i < bytes; i++) offset += input[at + i]! * 2 ** (8 * i);
      at += bytes;
    }
    if (offset === 0 || offset > o) fail(`copy offset ${offset} at output byte ${o}`);
    if (o + n > length) fail("copy runs past the uncompressed length");
    // Byte by byte: a copy may overlap what it writes (a run of a repeated pattern).
    for (let i = 0; i < n; i++, o++) out[o] = out[o - offset]!;
  }
  if (o !== length) fail(`${o} bytes decoded, the header says ${length}`);
  return out;
}

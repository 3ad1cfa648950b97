/**
 * Where a TableReader's bytes come from — a buffer, a file of its own, or a file whose descriptor
 * a TableCache opens and closes — and the block codecs it decodes.
 *
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { CorruptionError, MemTableError } from "../errors.ts";
import type { TableCache } from "./table_cache.ts";

/** Where a table's bytes come from: a buffer, or a file read block by block. */
export interface Source {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function bufferSource(bytes: Uint8Array): Source {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close() {},
  };
}

/** `length` bytes of the file open as `fd` from `offset`. */
function readFully(
  fd: number,
  offset: number,
  length: number,
  path: string,
  out = new Uint8Array(length),
): Uint8Array {
  let at = 0;
  while (at < length) {
    const got = readSync(fd, out, at, length - at, offset + at);
    if (got === 0) throw new CorruptionError(`${path}: the file ends early`);
    at += got;
  }
  return out;
}

export function fileSource(path: string): Source {
  const fd = openSync(path, "r");
  let open = true;
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return {
    size,
    read(offset, length) {
      if (!open) throw new CorruptionError(`${path}: the table was closed`);
      return readFully(fd, offset, length, path);
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** A file whose descriptor a TableCache opens and closes (see table_cache.ts). */
export function cachedSource(path: string, cache: TableCache): Source {
  const file = cache.add(path);
  return {
    size: file.size,
    read: (offset, length) =>
      readFully(file.descriptor(), offset, length, path, cache.slab.take(length)),
    close: () => file.close(),
  };
}

/** RocksDB's `CompressionType` codes, by its names. */
const compressionNames: Record<number, string> = {
  1: "Snappy",
  2: "Zlib",
  3: "BZip2",
  4: "LZ4",
  5: "LZ4HC",
  6: "Xpress",
  7: "ZSTD",
};
export const snappyCompression = 1;

export function unsupportedCompression(type: number, label: string): never {
  const name = compressionNames[type];
  throw new MemTableError(
    `${label}: the block is compressed with ${name ?? "an unknown codec"} (compression type ` +
      `${type}), which this reader does not decode: it reads uncompressed and Snappy blocks ` +
      `(write the table with compression_type=none or snappy)`,
  );
}

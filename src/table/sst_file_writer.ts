/**
 * SstFileWriter: RocksDB's bulk-loading writer. Sorted puts, merges, deletes and range
 * deletions become one ingest file (sequence number 0, one entry per key, the
 * `rocksdb.external_sst_file.*` properties) that `ldb ingest_extern_sst` — or any RocksDB's
 * `IngestExternalFile` — adopts.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import { describe, ValueType } from "../coding/value_type.ts";
import { bytesArgument } from "../arguments.ts";
import type { Bytes } from "../memtable/bytes.ts";
import { type FileFaultHook, fileFaultOf, writeFileDurably } from "./file.ts";
import { checkTableBuilderOptions, TableBuilder } from "./table_builder.ts";

/** What {@linkcode SstFileWriter.finish} reports. */
export interface ExternalSstFileInfo {
  /** The file written. */
  path: string;
  /** Point entries (range deletions not included). */
  numEntries: number;
  /** Range deletions written. */
  numRangeDeletions: number;
  /** The file's size in bytes. */
  fileSize: number;
  /** The smallest and largest user keys of the point entries (undefined when none). */
  smallestKey: Uint8Array | undefined;
  /** See `smallestKey`. */
  largestKey: Uint8Array | undefined;
}

/**
 * Writes an SST file for ingestion into RocksDB, keys in strictly ascending order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SstFileWriter, TableReader } from "../../table.ts";
 * import { mkdtempSync } from "node:fs";
 * import { join } from "node:path";
 * import { tmpdir } from "node:os";
 * const path = join(mkdtempSync(join(tmpdir(), "sst-")), "bulk.sst");
 * const w = new SstFileWriter(path);
 * w.put("apple", "red");
 * w.delete("banana");
 * w.merge("cherry", "+1");
 * const info = w.finish(); // then: ldb --db=<db> ingest_extern_sst <path>
 * assert.equal(info.numEntries, 3);
 * using table = TableReader.open(path);
 * assert.equal(table.get(new TextEncoder().encode("apple"))?.seq, 0);
 * ```
 */
export class SstFileWriter {
  /** The file `finish()` writes. */
  readonly path: string;
  readonly #builder: TableBuilder;
  #last: Uint8Array | undefined;
  #first: Uint8Array | undefined;
  #points = 0;
  #done = false;
  #bytes: Uint8Array | undefined;
  readonly #fault: FileFaultHook | undefined;

  /**
   * A writer of the file at `path` (written by `finish()`). `blockSize`, `restartInterval` and
   * `bloomBitsPerKey` are TableBuilder's; anything else is refused with a TypeError.
   */
  constructor(
    path: string,
    options: { blockSize?: number; restartInterval?: number; bloomBitsPerKey?: number } = {},
  ) {
    if (typeof path !== "string" || path === "") {
      throw new TypeError(`SstFileWriter: path must be a non-empty string, got ${describe(path)}`);
    }
    const o = checkTableBuilderOptions(options, "SstFileWriter", [
      "blockSize",
      "restartInterval",
      "bloomBitsPerKey",
    ]);
    this.#fault = fileFaultOf(options, "SstFileWriter");
    this.path = path;
    this.#builder = new TableBuilder({
      blockSize: o.blockSize,
      restartInterval: o.restartInterval,
      bloomBitsPerKey: o.bloomBitsPerKey,
      ingest: true,
    });
  }

  #add(key: Bytes, type: ValueType, value: Bytes | undefined, what: string): void {
    if (this.#done || this.#bytes !== undefined) {
      throw new TypeError(`SstFileWriter.${what}(): the file is finished`);
    }
    const call = `SstFileWriter.${what}()`;
    const k = bytesArgument(key, call, "key");
    const v = value === undefined ? new Uint8Array(0) : bytesArgument(value, call, "value");
    if (this.#last !== undefined && compareUserKeys(this.#last, k) >= 0) {
      throw new RangeError(
        `SstFileWriter.${what}(): keys must be added in strictly ascending order, each once`,
      );
    }
    this.#builder.add(k, 0, type, v);
    this.#first ??= k.slice();
    this.#last = k.slice();
    this.#points++;
  }

  /** Adds a Value; keys must come in strictly ascending order (RangeError otherwise). */
  put(key: Bytes, value: Bytes): void {
    this.#add(key, ValueType.Value, value, "put");
  }

  /** Adds a Merge operand; keys strictly ascending. */
  merge(key: Bytes, operand: Bytes): void {
    this.#add(key, ValueType.Merge, operand, "merge");
  }

  /** Adds a Deletion; keys strictly ascending. */
  delete(key: Bytes): void {
    this.#add(key, ValueType.Deletion, undefined, "delete");
  }

  /** Deletes the keys in [start, end) of the database the file is ingested into. */
  deleteRange(start: Bytes, end: Bytes): void {
    if (this.#done || this.#bytes !== undefined) {
      throw new TypeError("SstFileWriter.deleteRange(): the file is finished");
    }
    const what = "SstFileWriter.deleteRange()";
    const from = bytesArgument(start, what, "start");
    const to = bytesArgument(end, what, "end");
    if (compareUserKeys(from, to) > 0) throw new RangeError(`${what}: end comes before start`);
    this.#builder.addRangeTombstone(from, to, 0);
  }

  /**
   * Writes the file (atomically: complete or absent) and reports what it holds. A file with
   * no entries is refused, as RocksDB refuses it. When writing fails (a full disk), nothing is
   * left at `path` and `finish()` may be called again.
   */
  finish(): ExternalSstFileInfo {
    if (this.#done) throw new TypeError("SstFileWriter.finish(): the file is finished");
    if (this.#builder.numEntries === 0 && this.#bytes === undefined) {
      throw new RangeError("SstFileWriter.finish(): cannot create an SST file with no entries");
    }
    const bytes = this.#bytes ??= this.#builder.finish();
    writeFileDurably(this.path, bytes, this.#fault);
    this.#done = true;
    return {
      path: this.path,
      numEntries: this.#points,
      numRangeDeletions: this.#builder.props.numRangeDeletions,
      fileSize: bytes.length,
      smallestKey: this.#first,
      largestKey: this.#last,
    };
  }
}

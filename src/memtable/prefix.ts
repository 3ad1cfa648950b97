/**
 * Prefix extractors (RocksDB's `SliceTransform`), evaluated natively: they pick the part of a
 * user key the memtable bloom filter and prefix-bounded iteration work on.
 *
 * @module
 */
import { ExtractorKind } from "../ffi/layout.ts";

/** A prefix extractor: plain data, so it can travel to a Worker with a share token. */
export interface PrefixExtractor {
  /** Which of RocksDB's extractors: `fixedPrefix`, `cappedPrefix` or `noopPrefix`. */
  readonly kind: "fixed" | "capped" | "noop";
  /** Prefix length in bytes (0 for `noop`). */
  readonly n: number;
  /** RocksDB's name for it: "rocksdb.FixedPrefix.8", "rocksdb.CappedPrefix.8", "rocksdb.Noop". */
  readonly name: string;
}

function length(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 8 * 1024 * 1024) {
    throw new RangeError(`${what}: the prefix length must be an integer from 1 to 8 MiB, got ${n}`);
  }
  return n;
}

/**
 * The first `n` bytes of a key (RocksDB's NewFixedPrefixTransform). Keys shorter than `n` are
 * outside its domain: they have no prefix, never go into the prefix bloom filter, and lookups
 * of them never consult it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fixedPrefix, MemTable, ValueType } from "../../mod.ts";
 * using mt = new MemTable({ prefixExtractor: fixedPrefix(5), memtablePrefixBloomSizeRatio: 0.1 });
 * mt.add(1, ValueType.Value, "user:1", "ada");
 * assert.equal(mt.get("item:9").kind, "absent"); // ruled out by the bloom filter
 * assert.equal(mt.stats().bloomMisses, 1);
 * ```
 */
export function fixedPrefix(n: number): PrefixExtractor {
  const len = length(n, "fixedPrefix()");
  return Object.freeze({ kind: "fixed", n: len, name: `rocksdb.FixedPrefix.${len}` });
}

/** The first min(n, key length) bytes (RocksDB's NewCappedPrefixTransform): every key has one. */
export function cappedPrefix(n: number): PrefixExtractor {
  const len = length(n, "cappedPrefix()");
  return Object.freeze({ kind: "capped", n: len, name: `rocksdb.CappedPrefix.${len}` });
}

/** The whole key is its prefix (RocksDB's NewNoopTransform). */
export const noopPrefix: PrefixExtractor = Object.freeze({
  kind: "noop",
  n: 0,
  name: "rocksdb.Noop",
});

const kinds = ExtractorKind;

/** The native code of an extractor, checking its shape (it may come from another Worker). */
export function extractorCode(e: unknown, what: string): [kind: number, n: number] {
  const x = e as Partial<PrefixExtractor> | null;
  if (typeof x !== "object" || x === null || !(x.kind! in kinds)) {
    throw new TypeError(
      `${what}: prefixExtractor must come from fixedPrefix(n), cappedPrefix(n) or noopPrefix`,
    );
  }
  if (x.kind === "noop") return [kinds.noop, 0];
  return [kinds[x.kind!], length(x.n, what)];
}

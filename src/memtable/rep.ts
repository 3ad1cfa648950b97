/**
 * Memtable representations (RocksDB's `memtable_factory`): how a memtable keeps its point
 * entries. Every representation gives the same results; they differ in what is fast.
 *
 * - `"skiplist"` (default): one sorted skiplist. Every operation O(log n); the only one with
 *   `pointIndex`, insert hints and concurrent writers that stay sorted.
 * - `hashSkipList`: a skiplist per bucket, the bucket picked by the key's prefix. Point lookups
 *   and `prefixSameAsStart` seeks touch one small list; a total-order iteration (any other
 *   positioning) first sorts all entries into a view: O(n log n) and 8 bytes per entry, per
 *   iterator while the memtable is mutable, once when it is immutable.
 * - `hashLinkList`: a sorted linked list per bucket, rebuilt as a skiplist when it outgrows
 *   `thresholdUseSkiplist` entries; iteration as `hashSkipList`.
 * - `vector`: entries appended unsorted — the fastest insert, for bulk loads — with a hash
 *   chain per user key that finds duplicates and answers `get`. Iterators sort a copy of the
 *   entries (O(n log n)); once the memtable is immutable (`markImmutable()`) the sorted copy is
 *   made once and shared.
 *
 * Iterators of the hash and vector representations walk the entries present when their view
 * was made (their first positioning); skiplist iterators also see later inserts.
 *
 * @module
 */
import { RepCode } from "../ffi/layout.ts";

/** The `rep` option of a memtable. */
export type MemTableRep =
  | "skiplist"
  | "hashSkipList"
  | "hashLinkList"
  | "vector"
  | { readonly type: "skiplist" }
  | {
    readonly type: "hashSkipList";
    /** Buckets (default 1,000,000, as RocksDB; 8 bytes each, allocated up front). */
    readonly bucketCount?: number;
    /** Height of a bucket's skiplist, 1–12 (default 4). */
    readonly height?: number;
    /** Branching factor of a bucket's skiplist, 2–255 (default 4). */
    readonly branching?: number;
  }
  | {
    readonly type: "hashLinkList";
    /** Buckets (default 1,000,000). */
    readonly bucketCount?: number;
    /** A bucket with more entries than this becomes a skiplist (default 256). */
    readonly thresholdUseSkiplist?: number;
  }
  | {
    readonly type: "vector";
    /** Entry slots reserved up front (default 0: grown as needed). */
    readonly reserve?: number;
  };

/** A representation with every field filled in, as a memtable reports it. */
export type ResolvedRep =
  | { readonly type: "skiplist" }
  | {
    readonly type: "hashSkipList";
    readonly bucketCount: number;
    readonly height: number;
    readonly branching: number;
  }
  | {
    readonly type: "hashLinkList";
    readonly bucketCount: number;
    readonly thresholdUseSkiplist: number;
  }
  | { readonly type: "vector"; readonly reserve: number };

const bucketCountMax = 1 << 26;
const fields: Record<string, readonly string[]> = {
  skiplist: ["type"],
  hashSkipList: ["type", "bucketCount", "height", "branching"],
  hashLinkList: ["type", "bucketCount", "thresholdUseSkiplist"],
  vector: ["type", "reserve"],
};

function integer(v: unknown, name: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `MemTable: rep.${name} must be an integer from ${min} to ${max}, got ${String(v)}`,
    );
  }
  return v;
}

/** Checks a `rep` option and fills in its defaults. */
export function resolveRep(rep: unknown): ResolvedRep {
  if (rep === undefined) return { type: "skiplist" };
  const o = typeof rep === "string" ? { type: rep } : rep;
  if (typeof o !== "object" || o === null) {
    throw new TypeError(`MemTable: rep must be a string or an object, got ${typeof rep}`);
  }
  const type = (o as { type?: unknown }).type;
  if (typeof type !== "string" || !(type in fields)) {
    throw new TypeError(
      `MemTable: rep type must be "skiplist", "hashSkipList", "hashLinkList" or "vector", got ${
        JSON.stringify(type) ?? String(type)
      }`,
    );
  }
  const known = fields[type]!;
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new TypeError(`MemTable: rep ${type} has no option "${k}"; known: ${known.join(", ")}`);
    }
  }
  const x = o as Record<string, unknown>;
  switch (type) {
    case "hashSkipList":
      return {
        type,
        bucketCount: integer(x.bucketCount, "bucketCount", 1, bucketCountMax, 1_000_000),
        height: integer(x.height, "height", 1, 12, 4),
        branching: integer(x.branching, "branching", 2, 255, 4),
      };
    case "hashLinkList":
      return {
        type,
        bucketCount: integer(x.bucketCount, "bucketCount", 1, bucketCountMax, 1_000_000),
        thresholdUseSkiplist: integer(
          x.thresholdUseSkiplist,
          "thresholdUseSkiplist",
          1,
          0xffff_ffff,
          256,
        ),
      };
    case "vector":
      return { type, reserve: integer(x.reserve, "reserve", 0, bucketCountMax, 0) };
    default:
      return { type: "skiplist" };
  }
}

/** A representation's fields of `memtable_new`'s options record (layout.ts `OptionsField`). */
export interface RepFields {
  repKind: number;
  repHeight: number;
  repBranching: number;
  repBucketCount: number;
  repThreshold: number;
  repReserve: number;
}

/** How `rep` is encoded in `memtable_new`'s options record. */
export function repFields(rep: ResolvedRep): RepFields {
  const none = { repHeight: 0, repBranching: 0, repBucketCount: 0, repThreshold: 0, repReserve: 0 };
  switch (rep.type) {
    case "hashSkipList":
      return {
        ...none,
        repKind: RepCode.hashSkipList,
        repHeight: rep.height,
        repBranching: rep.branching,
        repBucketCount: rep.bucketCount,
      };
    case "hashLinkList":
      return {
        ...none,
        repKind: RepCode.hashLinkList,
        repBucketCount: rep.bucketCount,
        repThreshold: rep.thresholdUseSkiplist,
      };
    case "vector":
      return { ...none, repKind: RepCode.vector, repReserve: rep.reserve };
    default:
      return { ...none, repKind: RepCode.skiplist };
  }
}

/** Whether entries are bucketed by prefix (these need a prefix extractor). */
export function isHashRep(rep: ResolvedRep): boolean {
  return rep.type === "hashSkipList" || rep.type === "hashLinkList";
}

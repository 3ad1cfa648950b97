/**
 * The options of a Store's range reads (`Store.iterator`, `Store.cursor`) and how they are
 * checked: RocksDB's and LevelDB's (`level`'s) names for the range — `gt`/`gte`/`lt`/`lte`,
 * `lower` (RocksDB's `iterate_lower_bound`, inclusive) and `upper` (`iterate_upper_bound`,
 * exclusive), `prefix` — all brought to one half-open range [lower, upper) of user keys; and the
 * iterator's `reverse` and `limit`.
 *
 * In bytewise order the smallest key after `k` is `k` followed by a zero byte, so `gt: k` is
 * `gte: k + 0x00` and `lte: k` is `lt: k + 0x00`; a prefix's keys are those from the prefix up
 * to its successor (the prefix with its trailing 0xff bytes dropped and its last byte raised;
 * none for a prefix of 0xff bytes only).
 *
 * @module
 */
import { booleanOption, checkOptions } from "../arguments.ts";
import { compareUserKeys } from "../coding/internal_key.ts";
import { keyLabel } from "../coding/key_label.ts";
import { describe } from "../coding/value_type.ts";
import type { Bytes } from "../memtable/bytes.ts";
import { keyOf, snapshotOf, type StoreReadOptions } from "./options.ts";

/** Options of {@linkcode Store.cursor}: the snapshot, and the keys it moves among. */
export interface StoreCursorOptions extends StoreReadOptions {
  /** Only keys greater than this (LevelDB's `gt`). At most one of `gt`, `gte`, `lower`. */
  gt?: Bytes;
  /** Only keys greater than or equal to this (LevelDB's `gte`). */
  gte?: Bytes;
  /** Only keys from this one on, inclusive (RocksDB's `iterate_lower_bound`; `gte`). */
  lower?: Bytes;
  /** Only keys less than this (LevelDB's `lt`). At most one of `lt`, `lte`, `upper`. */
  lt?: Bytes;
  /** Only keys less than or equal to this (LevelDB's `lte`). */
  lte?: Bytes;
  /** Only keys below this one, exclusive (RocksDB's `iterate_upper_bound`; `lt`). */
  upper?: Bytes;
  /** Only keys that start with these bytes (with the bounds above: keys meeting both). */
  prefix?: Bytes;
}

/** Options of {@linkcode Store.iterator}: a cursor's, and the order and number of pairs. */
export interface StoreIteratorOptions extends StoreCursorOptions {
  /** Largest key first. Default false. */
  reverse?: boolean;
  /** At most this many pairs: an integer ≥ 0; Infinity (the default) or -1 (LevelDB's) for all. */
  limit?: number;
}

const rangeOptionNames = ["gt", "gte", "lower", "lt", "lte", "upper", "prefix"] as const;
export const cursorOptionNames: readonly (keyof StoreCursorOptions)[] = [
  "snapshot",
  ...rangeOptionNames,
];
export const iteratorOptionNames: readonly (keyof StoreIteratorOptions)[] = [
  ...cursorOptionNames,
  "reverse",
  "limit",
];

/** A range read's options, checked: its snapshot and the keys in [lower, upper). */
export interface CheckedRange {
  snapshot: number;
  /** The first key (inclusive), if bounded. */
  lower: Uint8Array | undefined;
  /** The key the range stops before (exclusive), if bounded. */
  upper: Uint8Array | undefined;
}

/** A Store iterator's options, checked. */
export interface CheckedIteration extends CheckedRange {
  reverse: boolean;
  limit: number;
}

/** `key` followed by a zero byte: the smallest key after it. */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** The smallest key after every key that starts with `prefix`; undefined when there is none. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  const out = prefix.slice(0, n);
  out[n - 1]!++;
  return out;
}

/** The one of `names` that `o` gives (a TypeError when it gives more), with its key. */
function oneOf(
  o: Partial<StoreCursorOptions>,
  names: readonly ("gt" | "gte" | "lower" | "lt" | "lte" | "upper")[],
  what: string,
): { name: string; key: Uint8Array } | undefined {
  const given = names.filter((n) => o[n] !== undefined);
  if (given.length > 1) {
    const side = names[0] === "gt" ? "from below" : "from above";
    throw new TypeError(
      `${what}: ${given.slice(0, -1).join(", ")} and ${given.at(-1)} ` +
        `${given.length === 2 ? "both" : "all"} bound the range ${side}; give one of ` +
        names.join(", "),
    );
  }
  const name = given[0];
  return name === undefined ? undefined : { name, key: keyOf(o[name], what, name).slice() };
}

/** Checks the range options of `o` (already checked for unknown names). */
function checkRange(o: Partial<StoreCursorOptions>, lastSequence: number, what: string) {
  const snapshot = snapshotOf(o, lastSequence, what);
  const low = oneOf(o, ["gt", "gte", "lower"], what);
  const high = oneOf(o, ["lt", "lte", "upper"], what);
  if (low !== undefined && high !== undefined && compareUserKeys(low.key, high.key) > 0) {
    throw new RangeError(
      `${what}: the range is inverted: ${low.name} ${keyLabel(low.key)} is above ` +
        `${high.name} ${keyLabel(high.key)}`,
    );
  }
  let lower = low === undefined ? undefined : low.name === "gt" ? successor(low.key) : low.key;
  let upper = high === undefined ? undefined : high.name === "lte" ? successor(high.key) : high.key;
  if (o.prefix !== undefined) {
    const prefix = keyOf(o.prefix, what, "prefix").slice();
    if (lower === undefined || compareUserKeys(prefix, lower) > 0) lower = prefix;
    const end = prefixEnd(prefix);
    if (end !== undefined && (upper === undefined || compareUserKeys(end, upper) < 0)) upper = end;
  }
  return { snapshot, lower, upper };
}

/** `Store.cursor()`'s options, checked: a TypeError or RangeError naming `what`. */
export function checkCursorOptions(
  options: StoreCursorOptions | undefined,
  lastSequence: number,
  what: string,
): CheckedRange {
  return checkRange(checkOptions(options, cursorOptionNames, what), lastSequence, what);
}

/** `Store.iterator()`'s options, checked: a TypeError or RangeError naming `what`. */
export function checkIteratorOptions(
  options: StoreIteratorOptions | undefined,
  lastSequence: number,
  what: string,
): CheckedIteration {
  const o = checkOptions(options, iteratorOptionNames, what);
  const range = checkRange(o, lastSequence, what);
  const reverse = booleanOption(o.reverse, "reverse", what, false);
  const limit = o.limit ?? Infinity;
  if (typeof limit !== "number") {
    throw new TypeError(`${what}: limit must be a number, got ${describe(limit)}`);
  }
  if (limit !== Infinity && limit !== -1 && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(
      `${what}: limit must be an integer ≥ 0, or Infinity or -1 for no limit, got ${limit}`,
    );
  }
  return { ...range, reverse, limit: limit === -1 ? Infinity : limit };
}

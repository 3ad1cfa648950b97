/**
 * RocksDB's value types (`db/dbformat.h`). The codes are part of the format of internal keys,
 * write batches and SST files: do not change them.
 *
 * @module
 */

/**
 * The kind of an entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, ValueType } from "../../mod.ts";
 * using mt = new MemTable();
 * mt.add(1, ValueType.Value, "k", "v");
 * mt.add(2, ValueType.Deletion, "k");
 * assert.equal(mt.get("k").kind, "deleted");
 * ```
 */
export const ValueType = {
  /** Deletes every older version of the key. */
  Deletion: 0x0,
  /** A value (RocksDB's Put). */
  Value: 0x1,
  /** An operand for the memtable's merge operator, folded onto the versions below it. */
  Merge: 0x2,
  /**
   * Deletes the one Value below it (RocksDB's SingleDelete). The contract: since the key's
   * previous SingleDeletion (or ever), exactly one Value was written — no second Value, no
   * Deletion, no Merge. RocksDB leaves anything else undefined (a flush or compaction may let
   * an older version reappear). Memtables with `paranoidChecks`, and every memtable of a
   * safety-checked native build, refuse a SingleDeletion that breaks it
   * (`SingleDeleteMisuseError`).
   */
  SingleDeletion: 0x7,
  /** A range tombstone: `MemTable.addRangeDeletion(seq, start, end)` deletes [start, end). */
  RangeDeletion: 0xf,
} as const;

/** One of the {@linkcode ValueType} codes. */
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

const names: ReadonlyMap<number, string> = new Map(
  Object.entries(ValueType).map(([name, code]) => [code, name]),
);

/** Whether `code` is one of RocksDB's value type codes listed in {@linkcode ValueType}. */
export function isValueType(code: unknown): code is ValueType {
  return typeof code === "number" && names.has(code);
}

/** The name of a value type code (`"Value"`), or a description of an unknown one. */
export function valueTypeName(code: number): string {
  return names.get(code) ?? `unknown value type 0x${code.toString(16)}`;
}

/** Throws unless `code` is a known value type. */
export function checkValueType(code: unknown, what: string): ValueType {
  if (typeof code !== "number" || !Number.isInteger(code)) {
    throw new TypeError(`${what}: value type must be a ValueType code, got ${describe(code)}`);
  }
  if (!names.has(code)) {
    throw new RangeError(
      `${what}: unknown value type 0x${code.toString(16)}; known: ` +
        [...names].map(([c, n]) => `${n} (0x${c.toString(16)})`).join(", "),
    );
  }
  return code as ValueType;
}

/** A short description of a value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return (x as object).constructor?.name ?? "object";
  if (typeof x === "string") {
    return `string ${JSON.stringify(x.length > 20 ? x.slice(0, 20) + "…" : x)}`;
  }
  return `${typeof x} ${String(x)}`;
}

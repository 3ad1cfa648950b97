/**
 * Merge operators (RocksDB's `MergeOperator`): read-modify-write without a read on the write
 * path. A Merge entry stores an operand; reads fold the operands onto the value below them.
 *
 * Operand order is oldest first everywhere (as RocksDB's `MergeOperationInput::operand_list`
 * and `MergeContext::GetOperands()`).
 *
 * @module
 */
import { MergeOperatorError } from "../errors.ts";
import { describe } from "../coding/value_type.ts";
import { newBytes } from "./bytes.ts";

/**
 * How a memtable folds Merge operands. `fullMerge` must be deterministic: the same inputs
 * always give the same result (reads, `maxSuccessiveMerges` and a later flush all rely on it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, type MergeOperator, ValueType } from "../../mod.ts";
 * const upper: MergeOperator = {
 *   name: "example.LastUpper",
 *   fullMerge: (_key, _existing, operands) =>
 *     new TextEncoder().encode(new TextDecoder().decode(operands.at(-1)).toUpperCase()),
 * };
 * using mt = new MemTable({ mergeOperator: upper });
 * mt.add(1, ValueType.Merge, "k", "shout");
 * const r = mt.get("k");
 * assert.equal(r.kind, "merge"); // no base in this memtable: the caller looks further
 * ```
 */
export interface MergeOperator {
  /** A stable name (RocksDB records it in SST properties). */
  readonly name: string;
  /**
   * The value after applying `operands` (oldest first) to `existing`, which is undefined when
   * there is no value below them (nothing, or a deletion).
   */
  fullMerge(
    key: Uint8Array,
    existing: Uint8Array | undefined,
    operands: readonly Uint8Array[],
  ): Uint8Array;
  /**
   * One operand equivalent to applying `left` then `right` (left is older), or undefined when
   * the two cannot be combined without the base value.
   */
  partialMerge?(key: Uint8Array, left: Uint8Array, right: Uint8Array): Uint8Array | undefined;
}

const encoder = new TextEncoder();

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readU64(data: Uint8Array | undefined): bigint {
  // RocksDB's UInt64AddOperator treats a missing or wrongly sized value as 0.
  if (data === undefined || data.length !== 8) return 0n;
  return new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
}

const two32 = 0x1_0000_0000;

/** Adds the fixed64 LE in `data` (0 unless 8 bytes) to `acc` = [low, high] as 32-bit halves. */
function addU64(acc: [number, number], data: Uint8Array | undefined): void {
  if (data === undefined || data.length !== 8) return;
  acc[0] += (data[0]! | (data[1]! << 8) | (data[2]! << 16)) + data[3]! * 0x100_0000;
  acc[1] += (data[4]! | (data[5]! << 8) | (data[6]! << 16)) + data[7]! * 0x100_0000;
}

/** The fixed64 LE of [low, high] sums (each below 2^53), wrapped at 2^64. */
function writeHalves(acc: [number, number]): Uint8Array {
  const carry = Math.floor(acc[0] / two32);
  const low = acc[0] - carry * two32;
  const high = (acc[1] + carry) % two32;
  const out = newBytes(8);
  out[0] = low & 0xff;
  out[1] = (low >>> 8) & 0xff;
  out[2] = (low >>> 16) & 0xff;
  out[3] = (low >>> 24) & 0xff;
  out[4] = high & 0xff;
  out[5] = (high >>> 8) & 0xff;
  out[6] = (high >>> 16) & 0xff;
  out[7] = (high >>> 24) & 0xff;
  return out;
}

function writeU64(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return out;
}

/**
 * Counters: values and operands are 8-byte little-endian unsigned integers (RocksDB's
 * `UInt64AddOperator`, name "UInt64AddOperator"); the sum wraps at 2^64. A value or operand of
 * another size counts as 0, as in RocksDB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, uint64Add, ValueType } from "../../mod.ts";
 * using mt = new MemTable({ mergeOperator: uint64Add });
 * mt.add(1, ValueType.Value, "hits", uint64Add.operand(10)); // a counter value is an operand's encoding
 * mt.add(2, ValueType.Merge, "hits", uint64Add.operand(5n));
 * const r = mt.get("hits");
 * assert(r.kind === "value");
 * assert.equal(uint64Add.decode(r.value), 15n);
 * ```
 */
export const uint64Add: MergeOperator & {
  /** The operand that adds `n` (a fixed64 LE; negative numbers wrap, so they subtract). */
  operand(n: number | bigint): Uint8Array;
  /** Reads a counter value (0 for anything not 8 bytes long). */
  decode(value: Uint8Array | undefined): bigint;
} = {
  name: "UInt64AddOperator",
  fullMerge(_key, existing, operands) {
    // Summed as two 32-bit halves in plain numbers (exact for up to 2^21 operands per call):
    // BigInt arithmetic would cost more than the rest of a read.
    const acc: [number, number] = [0, 0];
    addU64(acc, existing);
    for (let i = 0; i < operands.length; i++) {
      addU64(acc, operands[i]);
      if (acc[1] >= 2 ** 52) acc[1] %= two32; // keep both halves exact for any count
      if (acc[0] >= 2 ** 52) {
        const carry = Math.floor(acc[0] / two32);
        acc[0] -= carry * two32;
        acc[1] += carry;
      }
    }
    return writeHalves(acc);
  },
  partialMerge(_key, left, right) {
    const acc: [number, number] = [0, 0];
    addU64(acc, left);
    addU64(acc, right);
    return writeHalves(acc);
  },
  operand(n) {
    return writeU64(BigInt(n));
  },
  decode: readU64,
};

/**
 * Appends operands to the value with `delimiter` between them (RocksDB's
 * `StringAppendOperator`, name "StringAppendOperator"). With no value below, the result is the
 * operands joined by the delimiter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, stringAppend, ValueType } from "../../mod.ts";
 * using mt = new MemTable({ mergeOperator: stringAppend(",") });
 * mt.add(1, ValueType.Value, "tags", "a");
 * mt.add(2, ValueType.Merge, "tags", "b");
 * const r = mt.get("tags");
 * assert(r.kind === "value");
 * assert.equal(new TextDecoder().decode(r.value), "a,b");
 * ```
 */
export function stringAppend(delimiter: Uint8Array | string = ","): MergeOperator {
  if (!(typeof delimiter === "string" || delimiter instanceof Uint8Array)) {
    throw new TypeError(
      `stringAppend(): delimiter must be a string or a Uint8Array, got ${describe(delimiter)}`,
    );
  }
  const delim = bytesOf(delimiter).slice();
  const op: MergeOperator = {
    name: "StringAppendOperator",
    fullMerge(_key, existing, operands) {
      const parts: Uint8Array[] = [];
      if (existing !== undefined) parts.push(existing);
      for (const o of operands) {
        if (parts.length > 0) parts.push(delim);
        parts.push(o);
      }
      return concat(parts);
    },
    partialMerge(_key, left, right) {
      return concat([left, delim, right]);
    },
  };
  specs.set(op, { builtin: "stringAppend", delimiter: [...delim] });
  return op;
}

function bytewiseMax(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]! ? a : b;
  }
  return a.length >= b.length ? a : b;
}

/**
 * Keeps the bytewise largest of the value and every operand (RocksDB's `MaxOperator`, name
 * "MaxOperator").
 */
export const max: MergeOperator = {
  name: "MaxOperator",
  fullMerge(_key, existing, operands) {
    let best = existing ?? new Uint8Array(0);
    for (const o of operands) best = bytewiseMax(best, o);
    return best.slice();
  },
  partialMerge(_key, left, right) {
    return bytewiseMax(left, right).slice();
  },
};

/**
 * The newest operand replaces the value: a Merge behaves as a Put (RocksDB's `PutOperator`,
 * name "PutOperator").
 */
export const put: MergeOperator = {
  name: "PutOperator",
  fullMerge(_key, _existing, operands) {
    return operands[operands.length - 1]!.slice();
  },
  partialMerge(_key, _left, right) {
    return right.slice();
  },
};

/** Throws a TypeError unless `op` has the shape of a MergeOperator. */
export function checkMergeOperator(op: unknown, what: string): MergeOperator {
  const o = op as Partial<MergeOperator> | null;
  if (
    typeof o !== "object" || o === null || typeof o.name !== "string" ||
    typeof o.fullMerge !== "function" ||
    (o.partialMerge !== undefined && typeof o.partialMerge !== "function")
  ) {
    throw new TypeError(
      `${what}: mergeOperator must be an object with a string name, a fullMerge function and ` +
        `optionally a partialMerge function, got ${describe(op)}`,
    );
  }
  return o as MergeOperator;
}

/**
 * How to make a built-in operator again in another Worker (functions cannot be sent there):
 * plain data, from `builtinSpecOf`, back to an operator with `operatorFromSpec`.
 */
export type BuiltinSpec =
  | { builtin: "uint64Add" | "max" | "put" }
  | { builtin: "stringAppend"; delimiter: number[] };

const specs = new WeakMap<MergeOperator, BuiltinSpec>();

/** The spec of a built-in operator; undefined for the caller's own operators. */
export function builtinSpecOf(op: MergeOperator): BuiltinSpec | undefined {
  if (op === uint64Add) return { builtin: "uint64Add" };
  if (op === max) return { builtin: "max" };
  if (op === put) return { builtin: "put" };
  return specs.get(op);
}

/** The operator a spec describes. */
export function operatorFromSpec(spec: BuiltinSpec): MergeOperator {
  switch (spec.builtin) {
    case "uint64Add":
      return uint64Add;
    case "max":
      return max;
    case "put":
      return put;
    case "stringAppend":
      return stringAppend(Uint8Array.from(spec.delimiter));
  }
}

/** fullMerge with the operator's failures and bad results reported as MergeOperatorError. */
export function applyFullMerge(
  op: MergeOperator,
  key: Uint8Array,
  existing: Uint8Array | undefined,
  operands: readonly Uint8Array[],
): Uint8Array {
  let out: unknown;
  try {
    out = op.fullMerge(key, existing, operands);
  } catch (cause) {
    throw new MergeOperatorError(`merge operator "${op.name}" failed in fullMerge`, { cause });
  }
  if (typeof out === "string") return encoder.encode(out);
  if (!(out instanceof Uint8Array)) {
    throw new MergeOperatorError(
      `merge operator "${op.name}": fullMerge returned ${describe(out)}, not a Uint8Array`,
    );
  }
  return out;
}

/**
 * Folds `operands` (oldest first) into one operand with partialMerge, or returns undefined
 * when the operator has none or declines a step.
 */
export function applyPartialMerges(
  op: MergeOperator,
  key: Uint8Array,
  operands: readonly Uint8Array[],
): Uint8Array | undefined {
  if (op.partialMerge === undefined || operands.length === 0) return undefined;
  let acc = operands[0]!;
  for (let i = 1; i < operands.length; i++) {
    let out: unknown;
    try {
      out = op.partialMerge(key, acc, operands[i]!);
    } catch (cause) {
      throw new MergeOperatorError(`merge operator "${op.name}" failed in partialMerge`, {
        cause,
      });
    }
    if (out === undefined) return undefined;
    if (typeof out === "string") out = encoder.encode(out);
    if (!(out instanceof Uint8Array)) {
      throw new MergeOperatorError(
        `merge operator "${op.name}": partialMerge returned ${describe(out)}, not a Uint8Array`,
      );
    }
    acc = out;
  }
  return acc;
}

/**
 * The built-in operators by the names RocksDB users know them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, mergeOperators, ValueType } from "../../mod.ts";
 * using mt = new MemTable({ mergeOperator: mergeOperators.max });
 * mt.add(1, ValueType.Merge, "k", "b");
 * mt.add(2, ValueType.Merge, "k", "a");
 * mt.add(0, ValueType.Deletion, "k");
 * const r = mt.get("k");
 * assert(r.kind === "value");
 * assert.equal(new TextDecoder().decode(r.value), "b");
 * ```
 */
export const mergeOperators: {
  readonly uint64Add: typeof uint64Add;
  readonly stringAppend: typeof stringAppend;
  readonly max: MergeOperator;
  readonly put: MergeOperator;
} = Object.freeze({ uint64Add, stringAppend, max, put });

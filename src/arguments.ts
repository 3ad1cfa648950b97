/**
 * Argument checks shared by the table code and the Store: bytes (a `Uint8Array`, or a string
 * taken as its UTF-8 encoding, as everywhere in this library), options objects with a known set
 * of names, and integers in a range. Each check throws a `TypeError` (wrong kind of value) or a
 * `RangeError` (right kind, out of range) whose message names the call, what was wrong and what
 * was expected: `Store.open(): unknown option "writeBuferSize"; known: dir, writeBufferSize, …`.
 *
 * @module
 */
import { describe } from "./coding/value_type.ts";

const encoder = new TextEncoder();

/** `data` as bytes: a Uint8Array as it is, a string as its UTF-8 encoding; else a TypeError. */
export function bytesArgument(data: unknown, what: string, role: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return encoder.encode(data);
  throw new TypeError(`${what}: ${role} must be a Uint8Array or a string, got ${describe(data)}`);
}

/**
 * Checks that `options` is undefined or a plain object whose own names are all in `known`;
 * returns it (an empty object for undefined).
 */
export function checkOptions<T extends object>(
  options: T | undefined,
  known: readonly string[],
  what: string,
): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new TypeError(`${what}: unknown option "${name}"; known: ${known.join(", ")}`);
    }
  }
  return options;
}

/** An integer option in [min, max] (undefined: `fallback`). */
export function integerOption(
  value: unknown,
  name: string,
  what: string,
  min: number,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`${what}: ${name} must be an integer, got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${what}: ${name} must be an integer ${range}, got ${value}`);
  }
  return value;
}

/** A boolean option (undefined: `fallback`). */
export function booleanOption(
  value: unknown,
  name: string,
  what: string,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(`${what}: ${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

/** A value as an error message shows it: JSON where it has one, cut to 40 characters. */
export function shown(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * What the benchmarks share: the key set (random 16-byte keys in one contiguous buffer, seeded),
 * keys as the binary strings the JS peers are keyed by, the peers' constructors, and a GC call.
 */
import BTreeModule from "sorted-btree";
import { Rng } from "../tests/helpers.ts";

export const keySize = 16;
export const valueSize = 100;

/** The slice of sorted-btree's BTree the benchmarks use. */
export interface SortedBtree {
  set(key: string, value: Uint8Array): boolean;
  get(key: string): Uint8Array | undefined;
  forEachPair(callback: (key: string, value: Uint8Array) => void): unknown;
  entries(lowestKey?: string): IterableIterator<[string, Uint8Array]>;
}

// sorted-btree is CommonJS: Bun's default import is the class, Deno's is `module.exports`.
export const BTree =
  ((BTreeModule as unknown as { default?: unknown }).default ?? BTreeModule) as new () =>
  SortedBtree;

/** Fills `key` with the next random bytes of `rng` (a random write's key, in place). */
export function randomizeKey(rng: Rng, key: Uint8Array): void {
  for (let b = 0; b < key.length; b += 4) {
    const r = rng.u32();
    key[b] = r;
    key[b + 1] = r >>> 8;
    key[b + 2] = r >>> 16;
    key[b + 3] = r >>> 24;
  }
}

/** `count` random keys from `seed`: `key(i)` as a fresh view, `binary(i)` as a string. */
export function makeKeys(count: number, seed: number) {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(count * keySize);
  for (let i = 0; i < bytes.length; i += 4) {
    const r = rng.u32();
    bytes[i] = r;
    bytes[i + 1] = r >>> 8;
    bytes[i + 2] = r >>> 16;
    bytes[i + 3] = r >>> 24;
  }
  return {
    rng,
    /** All keys, back to back. */
    bytes,
    /** Key i, as a fresh view of the contiguous key bytes (Zig's benchmark reads them in place). */
    key: (i: number) => bytes.subarray(i * keySize, (i + 1) * keySize),
    /** Key i as a binary string (one char per byte): order-preserving, what the JS maps get. */
    binary(i: number): string {
      const o = i * keySize;
      const b = bytes;
      return String.fromCharCode(
        b[o]!,
        b[o + 1]!,
        b[o + 2]!,
        b[o + 3]!,
        b[o + 4]!,
        b[o + 5]!,
        b[o + 6]!,
        b[o + 7]!,
        b[o + 8]!,
        b[o + 9]!,
        b[o + 10]!,
        b[o + 11]!,
        b[o + 12]!,
        b[o + 13]!,
        b[o + 14]!,
        b[o + 15]!,
      );
    },
  };
}

/** A full collection (Bun: `Bun.gc`, Deno: `gc()` with `--v8-flags=--expose-gc`). */
export function gc(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

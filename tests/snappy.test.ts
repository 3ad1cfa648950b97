/**
 * Snappy decompression: hand-made inputs of every element kind decode to what they say, and
 * seeded mutations of them either decode or are a CorruptionError — never another error, an
 * out-of-bounds read or a wrong length. (Real RocksDB blocks: store_rocksdb.test.ts.) Replay
 * with MEMTABLE_SNAPPY_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CorruptionError } from "../mod.ts";
import { snappyUncompress } from "../src/table/snappy.ts";
import { Rng, seedFor, text } from "./helpers.ts";

const cases: [string, number[], string][] = [
  ["a literal", [3, 2 << 2, 0x61, 0x62, 0x63], "abc"],
  // "ab", then a 1-byte-offset copy of 6 at offset 2 (overlapping what it writes).
  ["an overlapping copy", [8, 1 << 2, 0x61, 0x62, (2 << 2) | 1, 2], "abababab"],
  // "xyz", then a 2-byte-offset copy of 3 at offset 3.
  ["a 2-byte-offset copy", [6, 2 << 2, 0x78, 0x79, 0x7a, (2 << 2) | 2, 3, 0], "xyzxyz"],
  // A 4-byte-offset copy.
  ["a 4-byte-offset copy", [4, 1 << 2, 0x70, 0x71, (1 << 2) | 3, 2, 0, 0, 0], "pqpq"],
  // A literal whose length takes one more byte (60: 1 byte of length - 1).
  ["a long literal", [61, 60 << 2, 60, ...Array(61).fill(0x41)], "A".repeat(61)],
  ["nothing", [0], ""],
];

test("snappyUncompress decodes every element kind", () => {
  for (const [name, bytes, want] of cases) {
    assert.equal(text(snappyUncompress(new Uint8Array(bytes), name)), want, name);
  }
});

test("snappyUncompress refuses malformed input with a CorruptionError naming the block (seeded)", () => {
  for (
    const bad of [[5, 0x04, 0x61], [4, (1 << 2) | 1, 9], [2, 0x0c, 0x61], [
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x7f,
    ]]
  ) {
    assert.throws(
      () => snappyUncompress(new Uint8Array(bad), "block X"),
      (e: Error) =>
        e instanceof CorruptionError && /^block X: Snappy data is malformed: /.test(e.message),
      `${bad}`,
    );
  }
  const rng = new Rng(seedFor("MEMTABLE_SNAPPY_SEED", "snappy mutations"));
  let refused = 0;
  for (let round = 0; round < 20_000; round++) {
    const base = cases[rng.below(cases.length)]![1];
    const bytes = new Uint8Array(base.slice(0, 1 + rng.below(base.length)));
    for (let flips = rng.below(3); flips >= 0; flips--) {
      bytes[rng.below(bytes.length)] = rng.below(256);
    }
    try {
      const out = snappyUncompress(bytes, "m");
      assert.ok(out instanceof Uint8Array);
    } catch (e) {
      assert.ok(e instanceof CorruptionError, `round ${round}: ${[...bytes]}: ${e}`);
      refused++;
    }
  }
  assert.ok(refused > 1000, `${refused} refused`);
});

/**
 * Insert hints: 1M inserts of 16-byte keys (100-byte values) into a fresh memtable, three ways,
 * in one process:
 *   - random keys;
 *   - 100 interleaved ascending streams (key = 8-byte stream prefix ‖ 8-byte big-endian counter,
 *     streams taken round-robin) with `insertWithHintPrefixExtractor: fixedPrefix(8)`;
 *   - the same streams without hints.
 *
 *     bun bench/hints.ts [n=1000000]
 *     deno run --allow-ffi --allow-read --allow-env bench/hints.ts …
 */
import process from "node:process";
import { fixedPrefix, MemTable, type MemTableOptions, ValueType } from "../mod.ts";
import { Rng } from "../tests/helpers.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const streams = 100;
const runtime = "Bun" in globalThis ? "bun" : "deno";
const value = new Uint8Array(100).fill(0x61);

const rng = new Rng(0x12345678);
const rand = () => rng.u32();
const randomKeys = Array.from({ length: n }, () => {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  for (let i = 0; i < 16; i += 4) v.setUint32(i, rand());
  return k;
});
const streamKeys = Array.from({ length: n }, (_, i) => {
  const k = new Uint8Array(16);
  const v = new DataView(k.buffer);
  const stream = i % streams;
  v.setUint32(0, 0x73747200 + stream); // "str" + stream id
  v.setUint32(4, stream * 7919);
  v.setUint32(12, Math.floor(i / streams)); // ascending within the stream
  return k;
});

function time(keys: Uint8Array[], options: MemTableOptions): number {
  using mt = new MemTable({ writeBufferSize: 2 ** 31, ...options });
  const t = performance.now();
  for (let i = 0; i < keys.length; i++) mt.add(i + 1, ValueType.Value, keys[i]!, value);
  return (performance.now() - t) * 1e6 / keys.length;
}

const random = time(randomKeys, {});
const hinted = time(streamKeys, { insertWithHintPrefixExtractor: fixedPrefix(8) });
const unhinted = time(streamKeys, {});
console.log(
  `${runtime}, ${n.toLocaleString()} inserts: random ${random.toFixed(0)} ns, ${streams} ` +
    `interleaved ascending streams with hints ${hinted.toFixed(0)} ns (${
      (random / hinted).toFixed(1)
    }× faster than random), without hints ${unhinted.toFixed(0)} ns`,
);
console.log(
  JSON.stringify({ runtime, n, randomNs: random, hintedNs: hinted, unhintedNs: unhinted }),
);

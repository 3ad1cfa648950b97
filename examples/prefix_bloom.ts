// A prefix extractor with a memtable bloom filter: lookups of absent keys skip the search, and
// iterators can stay within one prefix.
import assert from "node:assert/strict";
import { fixedPrefix, MemTable, ValueType } from "../mod.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

using mt = new MemTable({
  writeBufferSize: 8 << 20,
  prefixExtractor: fixedPrefix(4), // "user", "item", …
  memtablePrefixBloomSizeRatio: 0.02, // of writeBufferSize, for the filter's bits
  memtableWholeKeyFiltering: true, // whole keys in the filter too, not only prefixes
});
let seq = 1;
for (let i = 0; i < 1000; i++) mt.add(seq++, ValueType.Value, `user${i}`, "u");
for (let i = 0; i < 1000; i++) mt.add(seq++, ValueType.Value, `item${i}`, "i");

// 1000 keys that are not there: the filter turns (nearly) all of them away without a search.
for (let i = 0; i < 1000; i++) assert.equal(mt.get(`user-missing-${i}`).kind, "absent");
const { bloomHits, bloomMisses } = mt.stats();
assert.ok(bloomMisses > 950, `filter turned away ${bloomMisses} of 1000 absent keys`);
assert.equal(bloomHits + bloomMisses, 1000);
// Present keys always get through.
for (let i = 0; i < 1000; i += 97) assert.equal(mt.get(`item${i}`).kind, "value");

// prefixSameAsStart: the iterator ends where the sought prefix ends.
using it = mt.iterator({ prefixSameAsStart: true });
let n = 0;
for (it.seek("item"); it.valid(); it.next()) {
  assert.ok(decode(it.key()).startsWith("item"));
  n++;
}
assert.equal(n, 1000);
// totalOrderSeek ignores the prefix: one ordered walk over everything.
using all = mt.iterator({ totalOrderSeek: true });
let total = 0;
for (all.seekToFirst(); all.valid(); all.next()) total++;
assert.equal(total, 2000);
console.log("prefix_bloom: ok");

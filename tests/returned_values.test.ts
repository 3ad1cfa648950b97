/**
 * What a user may do with the arrays the library returns: transfer them, write to them, keep
 * them. No such use may change another value already returned or break a later call — on
 * Deno, where small results share untransferable 64 KiB slabs, and on Bun, where they are
 * copies of their own. And calls the library refuses (oversized keys and values) leave its
 * buffers as they were, while large calls that succeed do not leave it holding their size.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  keySizeMax,
  MemTable,
  type MergeOperator,
  Store,
  stringAppend,
  valueSizeMax,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import { sharedScratchBytes } from "../src/testing.ts";
import { text, utf8 } from "./helpers.ts";

/** Every way to detach a buffer; whichever the runtime allows for this one. */
function tryToDetach(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer;
  try {
    structuredClone(bytes, { transfer: [buffer] });
  } catch { /* refused: the buffer is shared with other results */ }
  const channel = new MessageChannel();
  try {
    channel.port1.postMessage(bytes, [buffer]);
  } catch { /* refused */ }
  channel.port1.close();
  channel.port2.close();
  try {
    (buffer as ArrayBuffer & { transfer?: () => ArrayBuffer }).transfer?.();
  } catch { /* refused */ }
}

const op: MergeOperator = stringAppend(",");

function filled(): MemTable {
  const mt = new MemTable({ mergeOperator: op });
  for (let i = 0; i < 200; i++) mt.add(i + 1, ValueType.Value, `k${i}`, `value-${i}`);
  mt.add(300, ValueType.Merge, "m", "a");
  mt.add(301, ValueType.Merge, "m", "b");
  mt.add(302, ValueType.Merge, "m", "c");
  return mt;
}

test("MemTable.get() values: detaching or overwriting one changes no other value and breaks no later call", () => {
  using mt = filled();
  const values = Array.from({ length: 50 }, (_, i) => {
    const r = mt.get(`k${i}`);
    assert.equal(r.kind, "value");
    return (r as { value: Uint8Array }).value;
  });
  tryToDetach(values[10]!);
  values[11]!.fill(0x21); // the user's own copy: theirs to change
  for (const [i, v] of values.entries()) {
    if (i === 10 || i === 11) continue;
    assert.equal(text(v), `value-${i}`, `value ${i} after another was detached`);
  }
  // Later reads on this and on other memtables still work and return the right bytes.
  for (let i = 0; i < 200; i++) {
    const r = mt.get(`k${i}`);
    assert.ok(r.kind === "value" && text(r.value) === `value-${i}`);
  }
  using other = filled();
  const r = other.get("k7");
  assert.ok(r.kind === "value" && text(r.value) === "value-7");
});

test("MemTable.get() merge operands: detaching one leaves the others whole", () => {
  using mt = new MemTable({ mergeOperator: op });
  for (const [i, o] of ["x1", "y22", "z333"].entries()) mt.add(i + 1, ValueType.Merge, "m", o);
  const r = mt.get("m");
  assert.equal(r.kind, "merge");
  const operands = (r as { operands: Uint8Array[] }).operands;
  tryToDetach(operands[0]!);
  assert.deepEqual(operands.slice(1).map(text), ["y22", "z333"]);
  const again = mt.get("m");
  assert.deepEqual((again as { operands: Uint8Array[] }).operands.map(text), ["x1", "y22", "z333"]);
});

test("MemTable.entries() and iterators: detaching a returned key or value spoils nothing still to come", () => {
  using mt = filled();
  const seen: string[] = [];
  let n = 0;
  for (const e of mt.entries()) {
    if (n++ % 7 === 0) {
      const [k, v] = [text(e.key), text(e.value)];
      tryToDetach(e.value);
      tryToDetach(e.key);
      seen.push(`${k}=${v}`);
    } else {
      seen.push(`${text(e.key)}=${text(e.value)}`);
    }
  }
  const expected = [...mt.entries()].map((e) => `${text(e.key)}=${text(e.value)}`);
  assert.equal(seen.length, 203);
  assert.deepEqual(seen, expected);
  using it = mt.iterator();
  it.seekToFirst();
  const first = it.value();
  tryToDetach(first);
  it.next();
  assert.equal(text(it.key()), "k1");
  assert.equal(text(it.value()), "value-1");
  const ts = (() => {
    mt.addRangeDeletion(400, "a", "b");
    mt.addRangeDeletion(401, "c", "d");
    return mt.rangeTombstones();
  })();
  tryToDetach(ts[0]!.start);
  assert.equal(text(ts[1]!.start), "c");
  assert.equal(text(ts[1]!.end), "d");
});

test("MemTable.add() of a key or value over its maximum is refused before any buffer grows", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "v");
  const scratch = sharedScratchBytes();
  assert.ok(scratch > 0);
  // 2^32 + 16 bytes: past what a 32-bit length can say (the array is not touched: no copy).
  // Deno makes such an array; Bun's largest typed array is smaller.
  if ("Deno" in globalThis) {
    const huge = new Uint8Array(2 ** 32 + 16);
    assert.throws(
      () => mt.add(2, ValueType.Value, "big", huge),
      /MemTable.add\(\): value is 4294967312 bytes, the maximum is 268435456/,
    );
  }
  assert.throws(
    () => mt.add(2, ValueType.Value, "big", new Uint8Array(valueSizeMax + 1)),
    RangeError,
  );
  assert.throws(
    () => mt.add(2, ValueType.Value, "x".repeat(keySizeMax + 1), "v"),
    new RegExp(`key is ${keySizeMax + 1} bytes, the maximum is ${keySizeMax}`),
  );
  assert.throws(
    () => mt.add(2, ValueType.Value, "x".repeat(4 * keySizeMax + 1), "v"),
    new RegExp(`key is at least ${4 * keySizeMax + 1} bytes`),
  );
  // Two bytes per character: only the exact UTF-8 length says it is too long.
  assert.throws(
    () => mt.add(2, ValueType.Value, "é".repeat(keySizeMax / 2 + 1), "v"),
    new RegExp(`key is ${keySizeMax + 2} bytes, the maximum is ${keySizeMax}`),
  );
  assert.throws(() => mt.addRangeDeletion(2, "a", new Uint8Array(keySizeMax + 1)), RangeError);
  assert.throws(() => mt.get(new Uint8Array(keySizeMax + 1)), RangeError);
  assert.throws(() => mt.getInto(new Uint8Array(keySizeMax + 1), new Uint8Array(1)), RangeError);
  assert.equal(sharedScratchBytes(), scratch, "the refused calls left the shared buffer as it was");
  // Nothing was written, and every later call on every memtable works.
  assert.equal(mt.numEntries, 1);
  mt.add(3, ValueType.Value, "after", "works");
  using other = new MemTable();
  other.add(1, ValueType.Value, "k", "v");
  assert.equal(other.get("k").kind, "value");
  assert.equal(text((mt.get("after") as { value: Uint8Array }).value), "works");
});

test("MemTable: a large value or batch that is accepted does not leave the library holding its size", () => {
  using mt = new MemTable({ writeBufferSize: 64 << 20 });
  mt.add(1, ValueType.Value, "k", "v");
  const scratch = sharedScratchBytes();
  const big = new Uint8Array(8 << 20).fill(7);
  mt.add(2, ValueType.Value, "big", big);
  const r = mt.get("big");
  assert.ok(r.kind === "value" && r.value.length === big.length && r.value[12345] === 7);
  const into = new Uint8Array(big.length);
  assert.equal(mt.getInto("big", into), big.length);
  mt.write(new WriteBatch().put("big2", big).put("small", "s"), 3);
  assert.equal((mt.get("big2") as { value: Uint8Array }).value.length, big.length);
  assert.ok(
    sharedScratchBytes() <= Math.max(scratch, 1 << 20),
    `the shared buffer is ${sharedScratchBytes()} bytes after the calls, ${scratch} before`,
  );
  assert.deepEqual(utf8("s"), (mt.get("small") as { value: Uint8Array }).value);
});

test("Store.get() and Store.iterator() values, from memtables and from files: detaching one spoils nothing", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "returned-")), "db");
  const store = Store.open({ dir, flushInWorker: false, mergeOperator: op });
  for (let i = 0; i < 100; i++) store.put(`f${String(i).padStart(3, "0")}`, `file-${i}`);
  await store.flush();
  for (let i = 0; i < 100; i++) store.put(`m${String(i).padStart(3, "0")}`, `mem-${i}`);
  store.merge("f000", "more");
  const got = ["f001", "f002", "m001", "m002", "f000"].map((k) => store.get(k)!);
  tryToDetach(got[0]!);
  tryToDetach(got[2]!);
  assert.deepEqual([got[1], got[3], got[4]].map((v) => text(v!)), [
    "file-2",
    "mem-2",
    "file-0,more",
  ]);
  const seen: string[] = [];
  let n = 0;
  for (const { key, value } of store.iterator()) {
    const line = `${text(key)}=${text(value)}`;
    if (n++ % 5 === 0) {
      tryToDetach(key);
      tryToDetach(value);
    }
    seen.push(line);
  }
  assert.equal(seen.length, 200);
  assert.deepEqual(seen, [...store.iterator()].map((e) => `${text(e.key)}=${text(e.value)}`));
  assert.equal(text(store.get("m050")!), "mem-50");
  await store.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});

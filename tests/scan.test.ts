/**
 * MemTable.scan(): batches of views, their lifetime (a batch expires and its buffer is detached
 * when the scan moves on), bounds, direction and limits, growth for large entries, protection
 * bytes, the native memory a scan pins, and clear errors for bad options. That a scan yields
 * exactly what entries() does is checked on random data by model.test.ts and reps.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CorruptionError,
  MemTable,
  MemTableClosedError,
  MemTableError,
  nativeMemoryBytes,
  ValueType,
} from "../mod.ts";
import { corruptEntry } from "../src/testing.ts";
import { assertScanAgrees, scanLines, text } from "./helpers.ts";

const pad = (i: number) => `k${String(i).padStart(5, "0")}`;

function numbered(count: number, options = {}): MemTable {
  const mt = new MemTable({ writeBufferSize: 8 << 20, ...options });
  for (let i = 0; i < count; i++) mt.add(i + 1, ValueType.Value, pad(i), `v${i}`);
  return mt;
}

test("scan() reads every version in order, in batches growing from 64 to 1024 entries", () => {
  using mt = numbered(5000);
  mt.add(6000, ValueType.Deletion, pad(7), "");
  const sizes: number[] = [];
  let n = 0;
  for (const b of mt.scan()) {
    sizes.push(b.length);
    for (let i = 0; i < b.length; i++, n++) {
      const k = n < 8 ? n : n - 1; // k00007 has two versions, the deletion first
      assert.equal(text(b.key(i)), pad(k));
      if (n === 7) {
        assert.deepEqual([b.seq(i), b.type(i), b.valueLength(i)], [6000, ValueType.Deletion, 0]);
      } else assert.equal(text(b.value(i)), `v${k}`);
    }
  }
  assert.equal(n, 5001);
  assert.deepEqual(sizes.slice(0, 4), [64, 256, 1024, 1024]);
  assertScanAgrees(mt, {}, "all");
});

test("scan() bounds, direction and limit", () => {
  using mt = numbered(3000);
  const keys = (o: object) => scanLines(mt, o).map((l) => l.split("/")[1]);
  assert.deepEqual(keys({ lowerBound: pad(10), limit: 3 }), ["11", "12", "13"]);
  assert.deepEqual(keys({ upperBound: pad(3) }), ["1", "2", "3"]);
  assert.deepEqual(keys({ upperBound: pad(3), reverse: true }), ["3", "2", "1"]);
  assert.deepEqual(keys({ lowerBound: pad(2998), reverse: true, limit: 5 }), ["3000", "2999"]);
  assert.deepEqual(keys({ lowerBound: pad(5), upperBound: pad(5) }), []);
  assert.deepEqual(keys({ lowerBound: pad(9), upperBound: pad(2) }), []);
  assert.deepEqual(keys({ prefix: "k0000", lowerBound: pad(8) }), ["9", "10"]);
  assert.deepEqual(keys({ prefix: "k0299", reverse: true, limit: 2 }), ["3000", "2999"]);
  assert.deepEqual(keys({ snapshot: 2, reverse: true }), ["2", "1"]);
  for (const reverse of [false, true]) {
    for (const limit of [1, 63, 64, 65, 1500, undefined]) {
      const o = { lowerBound: pad(100), upperBound: pad(2900), reverse, limit };
      assertScanAgrees(mt, o, JSON.stringify(o));
    }
  }
});

test("a batch expires when the scan reads on: its views are detached, its methods throw", () => {
  using mt = numbered(2000);
  using scan = mt.scan();
  const first = scan.next().value!;
  const key = first.key(0);
  const copy = first.value(0).slice();
  assert.equal(text(key), pad(0));
  const second = scan.next().value!;
  assert.equal(key.length, 0, "a view of an expired batch reads as empty");
  assert.equal(key[0], undefined);
  const expired = (e: unknown) =>
    e instanceof MemTableError && /ScanBatch\.value\(\): the batch is no longer current/.test(
      (e as Error).message,
    );
  assert.throws(() => first.value(0), expired);
  assert.throws(() => first.seq(0), MemTableError);
  assert.equal(text(copy), "v0", "a copy outlives its batch");
  assert.equal(text(second.key(0)), pad(64));
  assert.throws(() => second.key(second.length), RangeError);
  assert.throws(() => second.key(-1), RangeError);
  assert.throws(() => second.key(1.5), /index must be an integer in \[0, 256\), got 1.5/);
  assert.throws(() => second.key("0" as never), RangeError);
  scan.close();
  assert.throws(() => second.key(0), MemTableError);
  assert.equal(scan.next().done, true);
  scan.close(); // idempotent
});

test("a batch that lent no view expires too, and a later one's views are still detached", () => {
  using mt = numbered(2000);
  using scan = mt.scan();
  const first = scan.next().value!; // lengths only: no view of it leaves the batch
  assert.equal(first.keyLength(0), pad(0).length);
  const second = scan.next().value!;
  assert.throws(() => first.valueLength(0), MemTableError);
  const view = second.value(0);
  assert.equal(text(view), "v64");
  const third = scan.next().value!;
  assert.equal(view.length, 0, "a view of the second batch reads as empty");
  assert.throws(() => second.value(0), MemTableError);
  const last = third.key(0);
  assert.equal(text(last), pad(320));
  scan.close();
  assert.equal(last.length, 0, "a view of the last batch reads as empty once the scan ends");
  // The next scan starts in the area handed back: it holds no bytes of this one.
  for (const b of mt.scan({ limit: 1 })) {
    const whole = new Uint8Array(b.key(0).buffer);
    assert.equal(text(b.key(0)), pad(0));
    assert.ok(
      !new TextDecoder().decode(whole).includes(pad(320)),
      "an earlier scan's key is there",
    );
  }
});

test("a view's buffer transferred away does not break the scan", () => {
  using mt = numbered(1000);
  let n = 0;
  for (const b of mt.scan()) {
    if (n === 0) {
      const buffer = b.key(0).buffer as ArrayBuffer;
      structuredClone(buffer, { transfer: [buffer] });
      assert.equal(buffer.detached, true);
    }
    n += b.length;
  }
  assert.equal(n, 1000);
});

test("entries larger than the batch buffer grow it", () => {
  using mt = new MemTable();
  const big = new Uint8Array(300_000).fill(7);
  mt.add(1, ValueType.Value, "a", "small");
  mt.add(2, ValueType.Value, "b", big);
  mt.add(3, ValueType.Value, "c", big.subarray(0, 200_000));
  for (const reverse of [false, true]) {
    const seen = scanLines(mt, { reverse }).map((l) => l.split("/")[0]!.length);
    assert.equal(seen.length, 3);
    assertScanAgrees(mt, { reverse }, "big");
  }
  let total = 0;
  for (const b of mt.scan()) for (let i = 0; i < b.length; i++) total += b.valueLength(i);
  assert.equal(total, 5 + 300_000 + 200_000);
});

test("a scan reports a corrupt entry as entries() does", () => {
  using mt = numbered(300, { protectionBytesPerKey: 8 });
  assert.equal(corruptEntry(mt, pad(200), 201, "value"), true);
  const seen: string[] = [];
  assert.throws(() => {
    for (const b of mt.scan()) for (let i = 0; i < b.length; i++) seen.push(text(b.key(i)));
  }, (e: unknown) => e instanceof CorruptionError && /key "k00200" at seq 201/.test(String(e)));
  assert.equal(seen.length, 200, "every entry before it was read");
  assert.throws(() => [...mt.entries()], CorruptionError);
  assert.deepEqual(scanLines(mt, { limit: 2, reverse: true }).length, 2);
});

test("a scan pins the memtable's memory until it ends, and breaking out releases it", () => {
  const before = nativeMemoryBytes();
  const mt = numbered(3000);
  for (const b of mt.scan()) {
    assert.ok(b.length > 0);
    break;
  }
  const scan = mt.scan({ lowerBound: pad(100) });
  mt.close();
  assert.throws(() => mt.scan(), MemTableClosedError);
  let n = 0;
  for (const b of scan) n += b.length;
  assert.equal(n, 2900);
  assert.equal(nativeMemoryBytes(), before, "nothing is left holding the memtable");
});

test("scan() rejects bad options with clear errors", () => {
  using mt = numbered(10);
  const bad: [unknown, RegExp][] = [
    [7, /MemTable\.scan\(\): options must be an object, got number/],
    [{ reverse: 1 }, /reverse must be a boolean, got number/],
    [{ limit: 0 }, /limit must be a positive integer, got 0/],
    [{ limit: 2.5 }, /limit must be a positive integer/],
    [{ limit: "3" }, /limit must be a positive integer/],
    [{ lowerBound: 5 }, /MemTable\.scan\(\): lowerBound: key must be a Uint8Array or a string/],
    [{ upperBound: {} }, /upperBound: key must be a Uint8Array or a string/],
    [{ prefix: [1] }, /prefix: key must be a Uint8Array or a string/],
    [{ lowerBound: new Uint8Array(8 * 1024 * 1024 + 1) }, /lowerBound: key is 8388609 bytes/],
    [{ prefixSameAsStart: true }, /prefixSameAsStart and totalOrderSeek are seek options/],
    [{ snapshot: -1 }, /sequence number must be a non-negative integer/],
  ];
  const before = nativeMemoryBytes();
  for (const [options, message] of bad) {
    assert.throws(() => mt.scan(options as never), message, String(message));
  }
  assert.equal(nativeMemoryBytes(), before, "a rejected scan holds nothing");
  assert.equal(scanLines(mt).length, 10);
});

test("a scan's views reach none of an earlier scan's bounds or batches, however many it read", () => {
  // Batches of 64, 256, then 1024 entries with values of growing length: the largest batch is
  // not the last, and the bounds lie at the start of the area.
  using a = new MemTable();
  for (let i = 0; i < 3000; i++) {
    a.add(
      i + 1,
      ValueType.Value,
      `k${String(i).padStart(5, "0")}`,
      `secret-${"v".repeat(i % 200)}`,
    );
  }
  let seen = 0;
  for (
    const batch of a.scan({ lowerBound: "k00000-secret-lower", upperBound: "k02900secret-upper" })
  ) {
    seen += batch.length;
  }
  assert.equal(seen, 2900);
  using b = new MemTable();
  b.add(1, ValueType.Value, "x", "1");
  for (const batch of b.scan()) {
    const whole = new TextDecoder().decode(new Uint8Array(batch.key(0).buffer));
    assert.ok(!whole.includes("secret"), "an earlier scan's bytes are in this scan's buffer");
    assert.equal(whole.replaceAll("\0", "").length > 0, true);
  }
});

test("a scan's views reach no bytes of an earlier scan (of another memtable, snapshot or range)", () => {
  const secret = "secret-value-of-memtable-a";
  using a = new MemTable();
  a.add(1, ValueType.Value, "secret-key", secret);
  for (const batch of a.scan()) assert.equal(text(batch.value(0)), secret);
  using b = new MemTable();
  b.add(1, ValueType.Value, "x", "1");
  b.add(2, ValueType.Value, "hidden", "newer-than-the-snapshot");
  let batches = 0;
  for (const batch of b.scan({ snapshot: 1 })) {
    batches++;
    assert.equal(batch.length, 1);
    const whole = new TextDecoder().decode(new Uint8Array(batch.key(0).buffer));
    assert.ok(!whole.includes(secret), "memtable a's value is in b's scan buffer");
    assert.ok(!whole.includes("newer-than-the-snapshot"), "a version above the snapshot is");
  }
  assert.equal(batches, 1);
});

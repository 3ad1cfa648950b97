import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MemTable,
  MemTableClosedError,
  MemTableError,
  nativeMemoryBytes,
  ValueType,
} from "../mod.ts";
import { MemTableIterator } from "../mod.ts";
import { text } from "./helpers.ts";

function fill(): MemTable {
  const mt = new MemTable();
  // b@3 b@1 d@2(del) f@4 f@5(merge)
  mt.add(1, ValueType.Value, "b", "b1");
  mt.add(2, ValueType.Deletion, "d");
  mt.add(3, ValueType.Value, "b", "b3");
  mt.add(4, ValueType.Value, "f", "f4");
  mt.add(5, ValueType.Merge, "f", "f5");
  return mt;
}

const at = (it: MemTableIterator) => (it.valid() ? `${text(it.key())}@${it.seq()}` : "end");

test("MemTableIterator walks every version forward and backward", () => {
  using mt = fill();
  using it = mt.iterator();
  const forward: string[] = [];
  for (it.seekToFirst(); it.valid(); it.next()) forward.push(at(it));
  assert.deepEqual(forward, ["b@3", "b@1", "d@2", "f@5", "f@4"]);
  const backward: string[] = [];
  for (it.seekToLast(); it.valid(); it.prev()) backward.push(at(it));
  assert.deepEqual(backward, [...forward].reverse());
});

test("MemTableIterator exposes type and value of the current entry", () => {
  using mt = fill();
  using it = mt.iterator();
  it.seek("d");
  assert.equal(it.type(), ValueType.Deletion);
  assert.equal(it.value().length, 0);
  it.next();
  assert.equal(it.type(), ValueType.Merge);
  assert.equal(text(it.value()), "f5");
  const key = it.key();
  key[0] = 0; // a copy: changing it changes nothing stored
  assert.equal(text(it.key()), "f");
});

test("MemTableIterator.seek() and seekForPrev() land on the right versions", () => {
  using mt = fill();
  using it = mt.iterator();
  const cases: [string, string, string][] = [
    // target, seek, seekForPrev
    ["", "b@3", "end"],
    ["a", "b@3", "end"],
    ["b", "b@3", "b@1"],
    ["c", "d@2", "b@1"],
    ["d", "d@2", "d@2"],
    ["e", "f@5", "d@2"],
    ["f", "f@5", "f@4"],
    ["g", "end", "f@4"],
    ["\u{ffff}", "end", "f@4"],
  ];
  for (const [target, seek, seekForPrev] of cases) {
    it.seek(target);
    assert.equal(at(it), seek, `seek(${JSON.stringify(target)})`);
    it.seekForPrev(target);
    assert.equal(at(it), seekForPrev, `seekForPrev(${JSON.stringify(target)})`);
  }
});

test("MemTableIterator moves correctly at both ends", () => {
  using mt = fill();
  using it = mt.iterator();
  it.seekToFirst();
  it.prev();
  assert.equal(at(it), "end", "prev() from the first entry leaves the iterator invalid");
  it.seekToLast();
  it.next();
  assert.equal(at(it), "end");
  it.seekToLast();
  it.prev();
  assert.equal(at(it), "f@5");
  it.next();
  assert.equal(at(it), "f@4");
  assert.throws(() => {
    it.next();
    it.next();
  }, (e: Error) => e instanceof MemTableError && /not positioned on an entry/.test(e.message));
  for (
    const call of [
      () => it.key(),
      () => it.value(),
      () => it.seq(),
      () => it.type(),
      () => it.prev(),
    ]
  ) {
    assert.throws(call, /MemTableIterator\.\w+\(\): the iterator is not positioned on an entry/);
  }
});

test("MemTableIterator on an empty memtable is never valid", () => {
  using mt = new MemTable();
  using it = mt.iterator();
  assert.equal(it.valid(), false);
  it.seekToFirst();
  assert.equal(it.valid(), false);
  it.seekToLast();
  assert.equal(it.valid(), false);
  it.seek("x");
  assert.equal(it.valid(), false);
  it.seekForPrev("x");
  assert.equal(it.valid(), false);
  assert.deepEqual([...mt.entries()], []);
});

test("MemTableIterator and entries() hide versions above the snapshot", () => {
  using mt = fill();
  using it = mt.iterator({ snapshot: 3 });
  const seen: string[] = [];
  for (it.seekToFirst(); it.valid(); it.next()) seen.push(at(it));
  assert.deepEqual(seen, ["b@3", "b@1", "d@2"]);
  const back: string[] = [];
  for (it.seekToLast(); it.valid(); it.prev()) back.push(at(it));
  assert.deepEqual(back, ["d@2", "b@1", "b@3"]);
  it.seek("e");
  assert.equal(at(it), "end");
  it.seekForPrev("z");
  assert.equal(at(it), "d@2");
  assert.deepEqual([...mt.entries({ snapshot: 1 })].map((e) => `${text(e.key)}@${e.seq}`), ["b@1"]);
  assert.deepEqual([...mt.entries({ snapshot: 0 })], []);
  assert.deepEqual([...mt.entries({ snapshot: 4 })].map((e) => e.seq), [3, 1, 2, 4]);
});

test("an iterator does not see entries added after it was created only if they are above its snapshot", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "a", "1");
  using pinned = mt.iterator({ snapshot: 1 });
  using live = mt.iterator();
  mt.add(2, ValueType.Value, "b", "2");
  pinned.seekToFirst();
  pinned.next();
  assert.equal(pinned.valid(), false);
  live.seekToFirst();
  live.next();
  assert.equal(at(live), "b@2");
});

test("an open iterator keeps working after its memtable is closed, and frees it when closed", () => {
  const before = nativeMemoryBytes();
  const mt = fill();
  const it = mt.iterator();
  mt.close();
  assert.equal(mt.closed, true);
  assert.throws(() => mt.get("b"), MemTableClosedError);
  it.seekToFirst();
  assert.equal(at(it), "b@3");
  assert.ok(nativeMemoryBytes() > before, "the iterator pins the native memory");
  it.close();
  it.close();
  assert.equal(nativeMemoryBytes(), before);
  assert.throws(
    () => it.seekToFirst(),
    (e: Error) =>
      e instanceof MemTableClosedError &&
      e.message === "MemTableIterator.seekToFirst(): iterator is closed",
  );
  assert.throws(() => it.valid(), MemTableClosedError);
});

test("entries() stopped early releases its cursor", () => {
  const before = nativeMemoryBytes();
  const mt = new MemTable({ writeBufferSize: 1 << 20 });
  for (let i = 0; i < 5000; i++) mt.add(i, ValueType.Value, `k${String(i).padStart(5, "0")}`, "v");
  let n = 0;
  for (const e of mt.entries()) {
    assert.equal(text(e.key), `k${String(n).padStart(5, "0")}`);
    if (++n === 1500) break; // crosses a batch boundary first
  }
  assert.equal(n, 1500);
  const all = [...mt.entries()];
  assert.equal(all.length, 5000);
  mt.close();
  assert.equal(nativeMemoryBytes(), before, "no cursor is left holding the memtable");
});

test("MemTableIterator cannot be constructed around a forged handle", () => {
  assert.throws(() => new MemTableIterator(Symbol() as never, 12345 as never, 0, 0), {
    name: "TypeError",
    message: "MemTableIterator: create iterators with MemTable.iterator()",
  });
});

test("MemTableIterator.seek() rejects a bad key", () => {
  using mt = fill();
  using it = mt.iterator();
  assert.throws(
    () => it.seek(7 as never),
    /MemTableIterator\.seek\(\): key must be a Uint8Array or a string/,
  );
  assert.throws(() => it.seekForPrev({} as never), TypeError);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DuplicateEntryError,
  GetStatus,
  keySizeMax,
  MemTable,
  MemTableClosedError,
  mergeOperators,
  nativeMemoryBytes,
  nativeSafetyChecked,
  ValueType,
} from "../mod.ts";
import { newBytes } from "../src/memtable/bytes.ts";
import { env, text, tracingOperator, utf8 } from "./helpers.ts";

test("the loaded native library is the build the run asked for", () => {
  assert.equal(nativeSafetyChecked(), env("MEMTABLE_EXPECT_SAFETY") === "1");
});

test("MemTable.get() returns the newest version at or below the snapshot", () => {
  using mt = new MemTable();
  mt.add(5, ValueType.Value, "k", "v5");
  mt.add(9, ValueType.Value, "k", "v9");
  mt.add(7, ValueType.Value, "k", "v7");
  mt.add(12, ValueType.Deletion, "k");
  mt.add(15, ValueType.Value, "k", "v15");
  const at = (snapshot?: number) => {
    const r = mt.get("k", snapshot === undefined ? undefined : { snapshot });
    return r.kind === "value"
      ? `${text(r.value)}@${r.seq}`
      : r.kind === "deleted"
      ? `deleted@${r.seq}`
      : r.kind;
  };
  assert.equal(at(), "v15@15");
  assert.equal(at(4), "absent");
  assert.equal(at(5), "v5@5");
  assert.equal(at(6), "v5@5");
  assert.equal(at(7), "v7@7");
  assert.equal(at(11), "v9@9");
  assert.equal(at(12), "deleted@12");
  assert.equal(at(14), "deleted@12");
  assert.equal(at(15), "v15@15");
  assert.deepEqual(mt.get("k", { snapshot: 13n }), {
    kind: "deleted",
    seq: 12,
    type: ValueType.Deletion,
  });
});

test("MemTable.get() distinguishes absent keys from neighbours and prefixes", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "abc", "1");
  assert.equal(mt.get("ab").kind, "absent");
  assert.equal(mt.get("abcd").kind, "absent");
  assert.equal(mt.get("abd").kind, "absent");
  assert.equal(mt.get("").kind, "absent");
  assert.equal(mt.get("abc").kind, "value");
});

test("MemTable.get() reports SingleDeletion as deleted with its type", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "v");
  mt.add(2, ValueType.SingleDeletion, "k");
  assert.deepEqual(mt.get("k"), { kind: "deleted", seq: 2, type: ValueType.SingleDeletion });
  assert.equal(mt.numDeletes, 1);
});

test("MemTable.get() folds merge operands onto the version that ends them", () => {
  using mt = new MemTable({ mergeOperator: tracingOperator });
  mt.add(1, ValueType.Value, "k", "base");
  mt.add(2, ValueType.Merge, "k", "m2");
  mt.add(3, ValueType.Merge, "k", "m3");
  mt.add(4, ValueType.Merge, "only", "o4");
  mt.add(5, ValueType.Merge, "only", "o5");
  mt.add(6, ValueType.Deletion, "d");
  mt.add(7, ValueType.Merge, "d", "d7");
  const r = mt.get("k");
  assert.ok(r.kind === "value");
  assert.equal(r.seq, 3);
  assert.equal(text(r.value), "base+m2,m3");
  const only = mt.get("only");
  assert.ok(only.kind === "merge");
  assert.equal(only.seq, 5);
  assert.deepEqual(only.operands.map(text), ["o4", "o5"]);
  const atFour = mt.get("only", { snapshot: 4 });
  assert.ok(atFour.kind === "merge");
  assert.deepEqual(atFour.operands.map(text), ["o4"]);
  const d = mt.get("d");
  assert.ok(d.kind === "value" && text(d.value) === "∅+d7");
  const k2 = mt.get("k", { snapshot: 2 });
  assert.ok(k2.kind === "value" && text(k2.value) === "base+m2");
});

test("MemTable.add() stores empty keys, empty values and binary keys with 0x00 and 0xFF", () => {
  using mt = new MemTable();
  const keys = [
    new Uint8Array(0),
    new Uint8Array([0]),
    new Uint8Array([0, 0]),
    new Uint8Array([0xff]),
    new Uint8Array([0xff, 0xff, 0]),
    new Uint8Array([0x7f, 0x80]),
  ];
  keys.forEach((k, i) => mt.add(i + 1, ValueType.Value, k, new Uint8Array([i])));
  mt.add(100, ValueType.Value, "empty-value", new Uint8Array(0));
  mt.add(101, ValueType.Value, "empty-string", "");
  keys.forEach((k, i) => {
    const r = mt.get(k);
    assert.ok(r.kind === "value", `key ${[...k]}`);
    assert.deepEqual([...r.value], [i]);
  });
  for (const k of ["empty-value", "empty-string"]) {
    const r = mt.get(k);
    assert.ok(r.kind === "value");
    assert.equal(r.value.length, 0);
  }
  const order = [...mt.entries()].map((e) => [...e.key]);
  const expected = [
    [],
    [0],
    [0, 0],
    ...["empty-string", "empty-value"].map((s) => [...utf8(s)]),
    [0x7f, 0x80],
    [0xff],
    [0xff, 0xff, 0],
  ];
  assert.deepEqual(order, expected);
});

test("MemTable stores a 1 MiB value and a large key and returns them intact", () => {
  using mt = new MemTable({ writeBufferSize: 8 << 20, mergeOperator: mergeOperators.put });
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const bigKey = new Uint8Array(200_000).fill(7);
  mt.add(1, ValueType.Value, "big", big);
  mt.add(2, ValueType.Merge, "big", big.subarray(10));
  mt.add(3, ValueType.Value, bigKey, "small");
  const r = mt.get("big", { snapshot: 1 });
  assert.ok(r.kind === "value");
  assert.deepEqual(r.value, big);
  const m = mt.get("big");
  assert.ok(m.kind === "value");
  assert.deepEqual(m.value, big.subarray(10));
  const k = mt.get(bigKey);
  assert.ok(k.kind === "value" && text(k.value) === "small");
  const all = [...mt.entries()];
  assert.equal(all.length, 3);
  assert.deepEqual(all[0]!.key, bigKey);
  assert.deepEqual(all[2]!.value, big);
  using it = mt.iterator();
  it.seek("big");
  assert.deepEqual(it.value(), big.subarray(10));
  it.next();
  assert.deepEqual(it.value(), big);
  assert.ok(mt.approximateMemoryUsage() > 2 * big.length);
});

test("MemTable accepts sequence numbers 0 and 2^56 - 1 and returns large ones as bigint", () => {
  using mt = new MemTable();
  mt.add(0, ValueType.Value, "zero", "z");
  mt.add(2n ** 56n - 1n, ValueType.Value, "top", "t");
  mt.add(2n ** 53n, ValueType.Value, "mid", "m");
  mt.add(2 ** 53 - 1, ValueType.Value, "safe", "s");
  assert.deepEqual(mt.get("zero"), { kind: "value", value: utf8("z"), seq: 0 });
  assert.deepEqual(mt.get("top"), { kind: "value", value: utf8("t"), seq: 2n ** 56n - 1n });
  assert.deepEqual(mt.get("mid"), { kind: "value", value: utf8("m"), seq: 2n ** 53n });
  assert.deepEqual(mt.get("safe"), { kind: "value", value: utf8("s"), seq: 2 ** 53 - 1 });
  assert.equal(mt.get("top", { snapshot: 2n ** 56n - 2n }).kind, "absent");
  assert.equal(mt.get("zero", { snapshot: 0 }).kind, "value");
  assert.equal(mt.firstSeq, 0);
  assert.equal(mt.earliestSeq, 0);
  const seqs = [...mt.entries()].map((e) => e.seq);
  assert.deepEqual(seqs, [2n ** 53n, 2 ** 53 - 1, 2n ** 56n - 1n, 0]);
});

test("values returned by get(), iterators and entries() stay intact after later reads", () => {
  using mt = new MemTable();
  const n = 3000; // enough small values to fill several of Deno's 64 KiB copy slabs
  const expect = (i: number) => `value-${i}-`.repeat(1 + (i % 7));
  for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, `k${i}`, expect(i));
  const got: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = mt.get(`k${i}`);
    assert.ok(r.kind === "value");
    got.push(r.value);
  }
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  {
    using it = mt.iterator();
    for (it.seekToFirst(); it.valid(); it.next()) {
      keys.push(it.key());
      values.push(it.value());
    }
  }
  const listed = [...mt.entries()];
  for (let i = 0; i < 2 * n; i++) mt.get(`k${i % n}`); // more reads reuse every buffer
  got.forEach((v, i) => assert.equal(text(v), expect(i)));
  assert.equal(keys.length, n);
  keys.forEach((k, j) => assert.equal(text(values[j]!), expect(Number(text(k).slice(1)))));
  listed.forEach((e) => assert.equal(text(e.value), expect(Number(text(e.key).slice(1)))));
  got[0]!.fill(0); // writing one copy touches no other
  assert.equal(text(got[1]!), expect(1));
});

test("get() results of every size and kind stay intact, around the 4 KiB and 64 KiB lines", () => {
  // Lookups run in the result slab when the key fits in 4 KiB, and hand values up to 4 KiB out
  // where they lie (Deno); larger keys and results go through the scratch buffer.
  using mt = new MemTable({ mergeOperator: mergeOperators.stringAppend("+") });
  const sizes = [0, 1, 100, 4083, 4084, 4085, 4095, 4096, 4097, 8192, 65_535, 70_000];
  const keyOf = (i: number) => i % 3 === 0 ? `k${i}` : `${"é".repeat(1366 + (i % 2))}${i}`;
  const valueOf = (i: number, size: number) => {
    const v = new Uint8Array(size);
    for (let j = 0; j < size; j++) v[j] = (i * 31 + j) & 0xff;
    return v;
  };
  const big = new Uint8Array(5000).fill(0x61); // a key past 4 KiB
  big[4999] = 0x62;
  const expected: [Uint8Array | string, Uint8Array | string | undefined][] = [];
  const got: ReturnType<MemTable["get"]>[] = [];
  let seq = 1;
  for (let round = 0; round < 3; round++) {
    sizes.forEach((size, i) => {
      const key = `${keyOf(i)}/${round}`;
      const value = valueOf(i + round, size);
      mt.add(seq++, ValueType.Value, key, value);
      expected.push([value, undefined]);
      got.push(mt.get(key));
      const merged = `m${i}/${round}`;
      mt.add(seq++, ValueType.Value, merged, "base");
      mt.add(seq++, ValueType.Merge, merged, `x${size}`);
      expected.push([`base+x${size}`, undefined]);
      got.push(mt.get(merged));
      const gone = `d${i}/${round}`;
      mt.add(seq++, ValueType.Value, gone, value);
      mt.add(seq++, ValueType.Deletion, gone);
      expected.push(["", "deleted"]);
      got.push(mt.get(gone));
    });
    mt.add(seq++, ValueType.Value, big, valueOf(round, 100));
    expected.push([valueOf(round, 100), undefined]);
    got.push(mt.get(big));
    big[0] = 0x61 + round + 1;
  }
  {
    // Merge operands reaching past the memtable come back as a list: they stay intact too.
    using partial = new MemTable({ mergeOperator: mergeOperators.stringAppend() });
    for (let i = 0; i < 50; i++) partial.add(i + 1, ValueType.Merge, "p", valueOf(i, 1000));
    const r = partial.get("p");
    assert.ok(r.kind === "merge");
    for (let i = 0; i < 200; i++) partial.get("p"); // later lookups write into fresh memory
    r.operands.forEach((op, i) => assert.deepEqual(op, valueOf(i, 1000)));
  }
  for (let i = 0; i < 2000; i++) mt.get(`${keyOf(i % sizes.length)}/${i % 3}`);
  assert.equal(got.length, expected.length);
  got.forEach((r, i) => {
    const [value, kind] = expected[i]!;
    if (kind === "deleted") return assert.equal(r.kind, "deleted");
    assert.ok(r.kind === "value", `result ${i}: ${r.kind}`);
    assert.deepEqual(r.value, typeof value === "string" ? utf8(value) : value, `result ${i}`);
  });
});

test("bytes the library builds for results start zeroed, whatever lookups left in the slab", () => {
  using mt = new MemTable();
  mt.add(1, ValueType.Value, "k", new Uint8Array(3000).fill(0xee));
  for (let i = 0; i < 5; i++) {
    mt.get("absent-key-that-leaves-its-bytes"); // lookups write into the slab's free part
    mt.get("k"); // a value handed out
    mt.get("k2");
    assert.deepEqual(newBytes(64), new Uint8Array(64));
  }
});

test("getInto() copies the visible value into the caller's array, or says why there is none", () => {
  using mt = new MemTable({ mergeOperator: mergeOperators.stringAppend(",") });
  mt.add(1, ValueType.Value, "k", "hello");
  mt.add(2, ValueType.Value, "k", "world!");
  mt.add(3, ValueType.Deletion, "d");
  mt.add(4, ValueType.Value, "r", "ranged");
  mt.addRangeDeletion(5, "q", "s");
  mt.add(6, ValueType.Value, "m", "a");
  mt.add(7, ValueType.Merge, "m", "b");
  mt.add(8, ValueType.Merge, "only", "x");
  // Into the middle of a larger buffer: bytes around the view stay as they were.
  const backing = new Uint8Array(20).fill(7);
  const dest = backing.subarray(4, 14);
  assert.equal(mt.getInto("k", dest), 6);
  assert.equal(text(dest.subarray(0, 6)), "world!");
  assert.deepEqual([...backing.subarray(0, 4), ...backing.subarray(14)], new Array(10).fill(7));
  assert.equal(mt.getInto("k", dest, { snapshot: 1 }), 5);
  assert.equal(text(dest.subarray(0, 5)), "hello");
  const short = new Uint8Array(3);
  assert.equal(mt.getInto("k", short), 6); // longer than dest: the first 3 bytes
  assert.equal(text(short), "wor");
  assert.equal(mt.getInto("k", new Uint8Array(0)), 6);
  assert.equal(mt.getInto("d", dest), GetStatus.deleted);
  assert.equal(mt.getInto("r", dest), GetStatus.deleted); // under the range tombstone
  assert.equal(mt.getInto("r", dest, { snapshot: 4 }), 6);
  assert.equal(mt.getInto("absent", dest), GetStatus.absent);
  assert.equal(mt.getInto("k", dest, { snapshot: 0 }), GetStatus.absent);
  assert.equal(mt.getInto("m", dest), 3); // folded as get() folds
  assert.equal(text(dest.subarray(0, 3)), "a,b");
  assert.equal(mt.getInto("only", dest), GetStatus.mergeIncomplete);
  assert.equal(mt.getInto(utf8("k"), dest), 6);
  // Bad input: clear errors, nothing written.
  const before = [...dest];
  assert.throws(
    () => mt.getInto("k", [1, 2] as unknown as Uint8Array),
    /dest must be a Uint8Array/,
  );
  assert.throws(() => mt.getInto(3 as unknown as string, dest), TypeError);
  assert.throws(() => mt.getInto("k", dest, { snapshot: -1 }), RangeError);
  assert.throws(() => mt.getInto(new Uint8Array(keySizeMax + 1), dest), RangeError);
  assert.deepEqual([...dest], before);
  {
    using plain = new MemTable();
    plain.add(1, ValueType.Merge, "m", "x");
    assert.throws(() => plain.getInto("m", dest), /has no mergeOperator/);
  }
  mt.close();
  assert.throws(() => mt.getInto("k", dest), MemTableClosedError);
});

test("MemTable.add() of an existing (key, seq, type) throws and changes nothing", () => {
  using mt = new MemTable();
  mt.add(3, ValueType.Value, "k", "first");
  const usage = mt.approximateMemoryUsage();
  assert.throws(() => mt.add(3, ValueType.Value, "k", "second"), DuplicateEntryError);
  assert.throws(
    () => mt.add(3n, ValueType.Value, utf8("k"), "third"),
    /an entry with key "k", this sequence number and type exists/,
  );
  assert.equal(mt.approximateMemoryUsage(), usage);
  assert.equal(mt.numEntries, 1);
  assert.deepEqual(mt.get("k"), { kind: "value", value: utf8("first"), seq: 3 });
  mt.add(3, ValueType.Merge, "k", "same seq, other type");
  assert.equal(mt.numEntries, 2);
});

test("a rejected add() where the key filter grows a stage allocates nothing", () => {
  using mt = new MemTable({ pointIndex: false }); // the filter is kept without the point index
  // The filter's first stage holds 4096 keys: the next key added starts the second.
  for (let i = 0; i < 4096; i++) mt.add(i, ValueType.Value, `k${i}`, "v");
  const usage = mt.approximateMemoryUsage();
  assert.throws(() => mt.add(0, ValueType.Value, "k0", "again"), DuplicateEntryError);
  assert.equal(mt.approximateMemoryUsage(), usage);
  mt.add(5000, ValueType.Value, "new", "v");
  assert.equal(mt.get("new")?.kind, "value");
  assert.equal(mt.get("absent").kind, "absent");
});

test("the point index grows after a link only: a rejected add() at its boundary allocates nothing", () => {
  using mt = new MemTable(); // indexed by default: 1024 slots, doubled past 768 keys
  for (let i = 0; i < 768; i++) mt.add(i + 1, ValueType.Value, `k${i}`, "v");
  const usage = mt.approximateMemoryUsage();
  assert.throws(() => mt.add(1, ValueType.Value, "k0", "again"), DuplicateEntryError);
  assert.equal(mt.approximateMemoryUsage(), usage);
  // A new version of an indexed key takes no slot: the table stays.
  mt.add(1000, ValueType.Value, "k0", "newer");
  const before = mt.approximateMemoryUsage();
  assert.ok(before - usage < 512, `${before - usage} bytes for one entry`);
  // The 769th key: 2048 slots replace 1024 (the old table freed: no reader is inside a lookup).
  mt.add(1001, ValueType.Value, "k768", "v");
  const grown = mt.approximateMemoryUsage() - before;
  // 4-byte slots: the new table is 1024 × 4 bytes larger (and the entry).
  assert.ok(grown >= 1024 * 4 && grown < 1024 * 4 + 512, `grew by ${grown} bytes`);
  for (let i = 0; i <= 768; i++) assert.equal(mt.get(`k${i}`).kind, "value", `k${i}`);
  assert.deepEqual(mt.get("k0"), { kind: "value", value: utf8("newer"), seq: 1000 });
  assert.equal(mt.get("absent").kind, "absent");
});

test("MemTable.add() rejects bad arguments with clear errors and stores nothing", () => {
  using mt = new MemTable();
  const cases: [() => void, RegExp, string][] = [
    [() => mt.add(-1, ValueType.Value, "k", "v"), /non-negative integer/, "RangeError"],
    [() => mt.add(1.5, ValueType.Value, "k", "v"), /non-negative integer/, "RangeError"],
    [() => mt.add(2 ** 60, ValueType.Value, "k", "v"), /MAX_SAFE_INTEGER/, "RangeError"],
    [() => mt.add(2n ** 56n, ValueType.Value, "k", "v"), /2\^56 - 1/, "RangeError"],
    [() => mt.add("1" as never, ValueType.Value, "k", "v"), /number or a bigint/, "TypeError"],
    [() => mt.add(1, 3 as never, "k", "v"), /unknown value type 0x3/, "RangeError"],
    [() => mt.add(1, 0x100 as never, "k", "v"), /unknown value type 0x100/, "RangeError"],
    [() => mt.add(1, "Value" as never, "k", "v"), /ValueType code/, "TypeError"],
    [() => mt.add(1, ValueType.RangeDeletion, "a"), /needs its end key/, "TypeError"],
    [() => mt.add(1, ValueType.RangeDeletion, "b", "a"), /end comes before start/, "RangeError"],
    [
      () => mt.add(1, ValueType.Value, 42 as never, "v"),
      /key must be a Uint8Array or a string, got number 42/,
      "TypeError",
    ],
    [() => mt.add(1, ValueType.Value, null as never, "v"), /key must be .* got null/, "TypeError"],
    [
      () => mt.add(1, ValueType.Value, "k", [1, 2] as never),
      /value must be a Uint8Array or a string, got Array/,
      "TypeError",
    ],
    [() => mt.add(1, ValueType.Deletion, "k", "v"), /Deletion carries no value/, "TypeError"],
    [
      () => mt.add(1, ValueType.Value, new Uint8Array(keySizeMax + 1), "v"),
      /key is 8388609 bytes, the maximum is 8388608/,
      "RangeError",
    ],
  ];
  for (const [call, message, name] of cases) {
    assert.throws(call, (e: Error) => {
      assert.equal(e.name, name, `${message}: ${e.message}`);
      assert.match(e.message, message);
      assert.match(e.message, /^MemTable\.add\(\)/);
      return true;
    });
  }
  assert.equal(mt.numEntries, 0);
  assert.equal([...mt.entries()].length, 0);
  mt.add(1, ValueType.Deletion, "k", ""); // an explicitly empty value is fine
  assert.equal(mt.numEntries, 1);
});

test("MemTable rejects bad options and bad read options", () => {
  assert.throws(
    () => new MemTable({ writeBufferSize: 0 }),
    /writeBufferSize must be a positive integer/,
  );
  assert.throws(() => new MemTable({ writeBufferSize: -5 }), RangeError);
  assert.throws(() => new MemTable({ arenaBlockSize: 1.5 }), /arenaBlockSize/);
  assert.throws(
    () => new MemTable({ writeBuffersize: 1 } as never),
    /unknown option "writeBuffersize"/,
  );
  assert.throws(() => new MemTable(5 as never), TypeError);
  assert.throws(() => new MemTable({ earliestSeq: -1 }), RangeError);
  using mt = new MemTable();
  assert.throws(() => mt.get("k", { snapshot: -1 }), /MemTable\.get\(\).*non-negative/);
  assert.throws(() => mt.get("k", null as never), {
    name: "TypeError",
    message: "MemTable.get(): options must be an object, got null",
  });
  assert.throws(() => mt.get("k", 5 as never), /options must be an object, got number 5/);
  assert.throws(() => mt.get(undefined as never), TypeError);
  assert.throws(() => mt.iterator({ snapshot: "x" as never }), TypeError);
  assert.throws(() => mt.entries({ snapshot: 2n ** 56n }), RangeError);
});

test("MemTable counters: numEntries, numDeletes, firstSeq, earliestSeq, id", () => {
  using a = new MemTable();
  using b = new MemTable({ earliestSeq: 100 });
  assert.ok(b.id > a.id);
  assert.equal(a.numEntries, 0);
  assert.equal(a.firstSeq, undefined);
  assert.equal(a.earliestSeq, undefined);
  assert.equal(b.earliestSeq, 100);
  a.add(20, ValueType.Value, "x", "1");
  a.add(21, ValueType.Deletion, "x");
  a.add(22, ValueType.SingleDeletion, "y");
  a.add(23, ValueType.Merge, "z", "m");
  a.add(10, ValueType.Value, "w", "late but older");
  assert.equal(a.numEntries, 5);
  assert.equal(a.numDeletes, 2);
  assert.equal(a.firstSeq, 10);
  assert.equal(a.earliestSeq, 10);
  b.add(150, ValueType.Value, "k", "v");
  assert.equal(b.firstSeq, 150);
  assert.equal(b.earliestSeq, 100);
  const s = a.stats();
  assert.equal(s.numEntries, 5);
  assert.equal(s.writeBufferSize, 64 << 20);
  assert.equal(s.arenaBlockSize, 1 << 20);
  assert.ok(s.dataSize > 0);
});

test("MemTable memory accounting grows with data and drives shouldFlush()", () => {
  // The arena alone (the point index's tables live outside it: below).
  using mt = new MemTable({
    writeBufferSize: 256 * 1024,
    arenaBlockSize: 16 * 1024,
    pointIndex: false,
  });
  const empty = mt.approximateMemoryUsage();
  assert.ok(empty > 0 && empty < 1024, `an empty memtable holds only its skiplist head (${empty})`);
  assert.equal(mt.stats().arenaBlockSize, 16 * 1024);
  let last = empty;
  let n = 0;
  const value = new Uint8Array(100);
  while (!mt.shouldFlush()) {
    mt.add(++n, ValueType.Value, `key-${n}`, value);
    const usage = mt.approximateMemoryUsage();
    assert.ok(usage > last, "usage grows with every entry");
    last = usage;
  }
  assert.ok(last >= 256 * 1024);
  const s = mt.stats();
  assert.ok(s.arenaAllocatedBytes >= s.memoryUsage);
  assert.ok(
    s.arenaAllocatedBytes - s.memoryUsage < 16 * 1024 + 64,
    "only the current block's tail is unused",
  );
  // key + value + internal-key trailer + lengths + next pointers: close to RocksDB's overhead.
  const perEntryOverhead = (s.memoryUsage - empty) / n - (value.length + `key-${n}`.length);
  assert.ok(perEntryOverhead < 40, `overhead per entry ${perEntryOverhead}`);
  assert.ok(n > 1500 && n < 2200, `${n} entries of ~110 bytes fill 256 KiB`);
  // With the point index its slots count too (4096 of 4 bytes for about 1900 keys, against the
  // few bits per key of the filter kept without it), so the same entries fill the write buffer
  // sooner: 16 KiB less the filter's 3–5 KiB is 80–100 entries of about 134 bytes.
  using indexed = new MemTable({ writeBufferSize: 256 * 1024, arenaBlockSize: 16 * 1024 });
  let m = 0;
  while (!indexed.shouldFlush()) indexed.add(++m, ValueType.Value, `key-${m}`, value);
  assert.ok(m < n - 60 && m > n - 130, `${m} indexed entries against ${n}`);
});

test("MemTable arena block size is clamped to RocksDB's bounds", () => {
  using small = new MemTable({ arenaBlockSize: 100 });
  assert.equal(small.stats().arenaBlockSize, 4096);
  using big = new MemTable({ arenaBlockSize: 4 * 1024 ** 3 });
  assert.equal(big.stats().arenaBlockSize, 1024 ** 3);
  // The skiplist head opened the first block: a whole 1 GiB block (pages are committed lazily).
  assert.ok(big.stats().arenaAllocatedBytes > 1024 ** 3);
  assert.ok(big.approximateMemoryUsage() < 1024);
  using derived = new MemTable({ writeBufferSize: 1 << 20 });
  assert.equal(derived.stats().arenaBlockSize, 128 * 1024);
});

test("MemTable with hugePageSize rounds arena blocks up to huge pages and works the same", () => {
  using mt = new MemTable({ writeBufferSize: 8 << 20, hugePageSize: 2 << 20 });
  for (let i = 0; i < 2000; i++) mt.add(i, ValueType.Value, `k${i}`, "v".repeat(100));
  assert.equal(mt.stats().arenaAllocatedBytes % (2 << 20), 0);
  assert.ok(mt.approximateMemoryUsage() < mt.stats().arenaAllocatedBytes);
  const r = mt.get("k1999");
  assert.ok(r.kind === "value" && r.value.length === 100);
  assert.equal([...mt.entries()].length, 2000);
  for (const bad of [1, 3000, 4097, 2 ** 31, -4096, "2MiB"]) {
    assert.throws(
      () => new MemTable({ hugePageSize: bad as never }),
      /hugePageSize must be 0 or a power of two/,
    );
  }
});

test("transparentHugePages changes where blocks live, not what a memtable holds or counts", () => {
  // 8 MiB write buffers: 1 MiB blocks, carved from huge-page regions by default (on Linux).
  // The vector rep keeps the comparison exact (a skiplist's random heights differ per memtable).
  using regions = new MemTable({ writeBufferSize: 8 << 20, rep: "vector" });
  using plain = new MemTable({
    writeBufferSize: 8 << 20,
    rep: "vector",
    transparentHugePages: false,
  });
  const value = new Uint8Array(100).fill(7);
  let n = 0;
  while (!regions.shouldFlush()) {
    assert.equal(plain.shouldFlush(), false, `entry ${n}: both fill at the same entry`);
    regions.add(++n, ValueType.Value, `key-${n}`, value);
    plain.add(n, ValueType.Value, `key-${n}`, value);
    if (n % 997 === 0) {
      assert.equal(regions.approximateMemoryUsage(), plain.approximateMemoryUsage());
    }
  }
  assert.equal(plain.shouldFlush(), true);
  const a = regions.stats();
  const b = plain.stats();
  assert.equal(a.memoryUsage, b.memoryUsage);
  assert.equal(a.arenaAllocatedBytes, b.arenaAllocatedBytes);
  assert.equal(a.arenaBlockSize, 1 << 20);
  assert.ok(n > 50_000, `${n} entries fill 8 MiB`);
  const got = regions.get(`key-${n}`);
  assert.ok(got.kind === "value" && got.value.length === 100 && got.value[99] === 7);
  assert.equal([...regions.entries()].length, n);
  for (const bad of [1, 0, "yes", null]) {
    assert.throws(
      () => new MemTable({ transparentHugePages: bad as never }),
      (e: unknown) =>
        e instanceof TypeError && /transparentHugePages must be a boolean/.test(e.message),
    );
  }
});

test("markForFlush() and isMarkedForFlush()", () => {
  using mt = new MemTable();
  assert.equal(mt.isMarkedForFlush(), false);
  assert.equal(mt.shouldFlush(), false);
  mt.markForFlush();
  assert.equal(mt.isMarkedForFlush(), true);
});

test("MemTable ref()/unref(): freed when the last reference goes, native memory returns", () => {
  const before = nativeMemoryBytes();
  const mt = new MemTable({ writeBufferSize: 1 << 20 });
  for (let i = 0; i < 1000; i++) mt.add(i, ValueType.Value, `k${i}`, "v");
  assert.ok(nativeMemoryBytes() > before);
  assert.equal(mt.ref(), 2);
  assert.equal(mt.ref(), 3);
  assert.equal(mt.unref(), false);
  mt.close();
  assert.equal(mt.closed, false, "one reference is still held");
  assert.equal(mt.get("k5").kind, "value");
  mt.close(); // idempotent: the creator's reference is gone already
  assert.equal(mt.closed, false);
  assert.equal(mt.unref(), true);
  assert.equal(mt.closed, true);
  assert.equal(nativeMemoryBytes(), before);
  assert.throws(() => mt.unref(), MemTableClosedError);
  assert.throws(() => mt.ref(), MemTableClosedError);
});

test("every MemTable call after close throws MemTableClosedError", () => {
  const mt = new MemTable();
  mt.add(1, ValueType.Value, "k", "v");
  mt.close();
  mt.close();
  mt[Symbol.dispose]();
  const calls: [string, () => unknown][] = [
    ["add", () => mt.add(2, ValueType.Value, "k", "v")],
    ["get", () => mt.get("k")],
    ["iterator", () => mt.iterator()],
    ["entries", () => mt.entries()],
    ["approximateMemoryUsage", () => mt.approximateMemoryUsage()],
    ["approximateMemoryUsage", () => mt.shouldFlush()],
    ["markForFlush", () => mt.markForFlush()],
    ["isMarkedForFlush", () => mt.isMarkedForFlush()],
    ["stats", () => mt.numEntries],
    ["stats", () => mt.numDeletes],
    ["stats", () => mt.firstSeq],
    ["stats", () => mt.earliestSeq],
    ["stats", () => mt.stats()],
    ["ref", () => mt.ref()],
    ["unref", () => mt.unref()],
  ];
  for (const [name, call] of calls) {
    assert.throws(call, (e: Error) => {
      assert.ok(e instanceof MemTableClosedError, `${name}: ${e}`);
      assert.equal(e.message, `MemTable.${name}(): memtable ${mt.id} is closed`);
      return true;
    });
  }
  assert.equal(mt.closed, true);
});

/**
 * The Store's read API against a model: `iterator()` with every combination of its range
 * options (`gt`/`gte`/`lower`, `lt`/`lte`/`upper`, `prefix`), `reverse` and `limit`; `cursor()`
 * walks of random seeks and moves both ways; and `multiGet()` — at every live snapshot, with
 * flushes and compactions interleaved, and iterators and cursors made before a flush or
 * compaction read after it. Then the argument checks, the release of what cursors hold, and
 * `await using`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import {
  MemTable,
  nativeMemoryBytes,
  type Snapshot,
  Store,
  type StoreCursor,
  StoreError,
  type StoreIteratorOptions,
  stringAppend,
  ValueType,
} from "../mod.ts";
import { compareBytes, Rng, seedFor, text, utf8 } from "./helpers.ts";

function newDir(): string {
  return join(mkdtempSync(join(tmpdir(), "memtable-reads-")), "db");
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Keys of 1 to 3 bytes from 0x00, "a", "b", 0xff: bound edges (k + 0x00, 0xff prefixes). */
const alphabet = [0x00, 0x61, 0x62, 0xff];
const keys: Uint8Array[] = [];
for (const a of alphabet) {
  keys.push(Uint8Array.of(a));
  for (const b of alphabet) {
    keys.push(Uint8Array.of(a, b));
    for (const c of alphabet) keys.push(Uint8Array.of(a, b, c));
  }
}
keys.sort(compareBytes);

/** The model's visible pairs at `snapshot`, in key order, as [hex key, value text]. */
function modelPairs(model: MemTable, snapshot: number): [string, string, Uint8Array][] {
  const out: [string, string, Uint8Array][] = [];
  for (const k of keys) {
    const r = model.get(k, { snapshot });
    if (r.kind === "value") out.push([hex(k), text(r.value), k]);
    else if (r.kind === "merge") out.push([hex(k), r.operands.map(text).join(","), k]);
  }
  return out;
}

type LowName = "gt" | "gte" | "lower";
type HighName = "lt" | "lte" | "upper";

/** Whether `k` is in the range of `o`, read straight from the options' definitions. */
function inRange(k: Uint8Array, o: StoreIteratorOptions): boolean {
  const c = (x: unknown) => compareBytes(k, x as Uint8Array);
  if (o.gt !== undefined && c(o.gt) <= 0) return false;
  if (o.gte !== undefined && c(o.gte) < 0) return false;
  if (o.lower !== undefined && c(o.lower) < 0) return false;
  if (o.lt !== undefined && c(o.lt) >= 0) return false;
  if (o.lte !== undefined && c(o.lte) > 0) return false;
  if (o.upper !== undefined && c(o.upper) >= 0) return false;
  const p = o.prefix as Uint8Array | undefined;
  return p === undefined ||
    (k.length >= p.length && compareBytes(k.subarray(0, p.length), p) === 0);
}

/** A random key: one of the keys, or (one time in four) one that is none of them. */
function someKey(rng: Rng): Uint8Array {
  if (rng.below(4) === 0) return rng.bytes(rng.below(4));
  return keys[rng.below(keys.length)]!;
}

/** Every combination of range option kinds, `reverse` and `limit`, with random keys. */
function* iteratorCases(rng: Rng, snapshot: number): Generator<StoreIteratorOptions> {
  for (const low of [undefined, "gt", "gte", "lower"] as (LowName | undefined)[]) {
    for (const high of [undefined, "lt", "lte", "upper"] as (HighName | undefined)[]) {
      for (const prefix of [false, true]) {
        for (const reverse of [false, true]) {
          for (const limit of [undefined, 0, 1, 3, Infinity, -1]) {
            const o: StoreIteratorOptions = { snapshot, reverse };
            if (limit !== undefined) o.limit = limit;
            if (low !== undefined) o[low] = someKey(rng);
            if (high !== undefined) o[high] = someKey(rng);
            if (prefix) o.prefix = rng.bytes(rng.below(3)).map((b) => alphabet[b & 3]!);
            yield o;
          }
        }
      }
    }
  }
}

function lowKey(o: StoreIteratorOptions) {
  return (o.gt ?? o.gte ?? o.lower) as Uint8Array | undefined;
}
function highKey(o: StoreIteratorOptions) {
  return (o.lt ?? o.lte ?? o.upper) as Uint8Array | undefined;
}

const shown = (o: StoreIteratorOptions) =>
  JSON.stringify(o, (_, v) => v instanceof Uint8Array ? hex(v) : v === Infinity ? "Inf" : v);

function checkIterators(
  store: Store,
  pairs: [string, string, Uint8Array][],
  rng: Rng,
  at: number,
  where: string,
) {
  for (const o of iteratorCases(rng, at)) {
    const lo = lowKey(o);
    const hi = highKey(o);
    if (lo !== undefined && hi !== undefined && compareBytes(lo, hi) > 0) {
      assert.throws(() => store.iterator(o), RangeError, `inverted ${shown(o)}: ${where}`);
      continue;
    }
    let want = pairs.filter(([, , k]) => inRange(k, o)).map(([k, v]) => [k, v]);
    if (o.reverse) want.reverse();
    if (o.limit !== undefined && o.limit >= 0) want = want.slice(0, o.limit); // -1: all
    const got = [...store.iterator(o)].map((e) => [hex(e.key), text(e.value)]);
    assert.deepEqual(got, want, `iterator ${shown(o)}: ${where}`);
  }
}

/** A random walk of a cursor against the model's list of the pairs in its range. */
function checkCursorWalk(
  cursor: StoreCursor,
  list: [string, string, Uint8Array][],
  rng: Rng,
  moves: number,
  where: string,
) {
  let at = -1;
  const log: string[] = [];
  for (let i = 0; i < moves; i++) {
    const r = rng.below(6);
    if (r === 0 || (at < 0 && r >= 4)) {
      const t = someKey(rng);
      log.push(`seek ${hex(t)}`);
      cursor.seek(t);
      at = list.findIndex(([, , k]) => compareBytes(k, t) >= 0);
    } else if (r === 1) {
      const t = someKey(rng);
      log.push(`seekForPrev ${hex(t)}`);
      cursor.seekForPrev(t);
      at = list.findLastIndex(([, , k]) => compareBytes(k, t) <= 0);
    } else if (r === 2) {
      log.push("seekToFirst");
      cursor.seekToFirst();
      at = list.length > 0 ? 0 : -1;
    } else if (r === 3) {
      log.push("seekToLast");
      cursor.seekToLast();
      at = list.length - 1;
    } else if (r === 4) {
      log.push("next");
      cursor.next();
      at = at + 1 < list.length ? at + 1 : -1;
    } else {
      log.push("prev");
      cursor.prev();
      at = at - 1;
    }
    const context = () => `${log.slice(-6).join(", ")}: ${where}`;
    assert.equal(cursor.valid, at >= 0, `valid after ${context()}`);
    if (at >= 0) {
      assert.equal(hex(cursor.key), list[at]![0], `key after ${context()}`);
      assert.equal(text(cursor.value), list[at]![1], `value after ${context()}`);
    }
  }
}

function checkCursors(
  store: Store,
  pairs: [string, string, Uint8Array][],
  rng: Rng,
  at: number,
  where: string,
) {
  for (let walk = 0; walk < 6; walk++) {
    const o: StoreIteratorOptions = { snapshot: at };
    const pick = rng.below(4);
    if (pick >= 1) {
      const [a, b] = [someKey(rng), someKey(rng)].sort(compareBytes);
      o[(["gt", "gte", "lower"] as const)[rng.below(3)]!] = a;
      if (pick >= 2) o[(["lt", "lte", "upper"] as const)[rng.below(3)]!] = b;
    }
    if (rng.below(3) === 0) o.prefix = Uint8Array.of(alphabet[rng.below(4)]!);
    using cursor = store.cursor(o);
    const list = pairs.filter(([, , k]) => inRange(k, o));
    checkCursorWalk(cursor, list, rng, 40, `cursor ${shown(o)}: ${where}`);
  }
}

function checkMultiGet(store: Store, model: MemTable, rng: Rng, at: number, where: string) {
  const asked = Array.from({ length: 1 + rng.below(100) }, () => someKey(rng));
  const got = store.multiGet(asked, { snapshot: at }).map((v) =>
    v === undefined ? "none" : text(v)
  );
  const want = asked.map((k) => {
    const r = model.get(k, { snapshot: at });
    return r.kind === "value"
      ? text(r.value)
      : r.kind === "merge"
      ? r.operands.map(text).join(",")
      : "none";
  });
  assert.deepEqual(got, want, `multiGet at ${at}: ${where}`);
}

test(
  "Store reads (iterator options, cursor walks, multiGet) equal the model's at every live snapshot, across flushes and compactions (seeded)",
  {
    timeout: 300_000,
  },
  async () => {
    const seed = seedFor("MEMTABLE_READS_SEED", "store reads model");
    const rng = new Rng(seed);
    const where = `MEMTABLE_READS_SEED=${seed}`;
    const op = stringAppend(",");
    const store = Store.open({
      dir: newDir(),
      mergeOperator: op,
      writeBufferSize: 8 << 10,
      level0FileNumCompactionTrigger: 2,
      maxBytesForLevelBase: 16 << 10,
      targetFileSizeBase: 1 << 10, // several files per level: the level cursor crosses them
      blockSize: 128,
    });
    const model = new MemTable({ writeBufferSize: 1 << 30, mergeOperator: op });
    const snapshots: Snapshot[] = [];
    /** An iterator and a cursor made at one check, read at the next (after flushes, compactions). */
    /** The most files a level ≥ 1 had at a check. */
    let widest = 0;
    let pinned: { at: number; it: ReturnType<Store["iterator"]>; cursor: StoreCursor } | undefined;
    try {
      for (let i = 0; i < 3000; i++) {
        const key = keys[rng.below(keys.length)]!;
        const s = store.lastSequence + 1;
        const r = rng.below(100);
        if (r < 3) {
          const [a, b] = [key, keys[rng.below(keys.length)]!].sort(compareBytes);
          // An empty range writes nothing (and the checks below still run at their ops).
          if (compareBytes(a!, b!) !== 0) {
            store.deleteRange(a!, b!);
            model.addRangeDeletion(s, a!, b!);
          }
        } else if (r < 20) {
          store.merge(key, utf8(`m${i}`));
          model.add(s, ValueType.Merge, key, utf8(`m${i}`));
        } else if (r < 35) {
          store.delete(key);
          model.add(s, ValueType.Deletion, key);
        } else {
          const v = utf8(`v${i}${"x".repeat(rng.below(40))}`);
          store.put(key, v);
          model.add(s, ValueType.Value, key, v);
        }
        if (rng.below(150) === 0) snapshots.push(store.snapshot());
        if (rng.below(300) === 0 && snapshots.length > 0) {
          snapshots.splice(rng.below(snapshots.length), 1)[0]!.release();
        }
        if (i % 100 === 99) await store.whenWritable();
        if (i % 250 === 249) {
          if (rng.below(2) === 0) await store.flush();
          if (rng.below(4) === 0) await store.compactRange();
        }
        // The last check reads a store compacted down to one level (4 to 15 files of 1 KiB in
        // the seeds tried), whatever the background compactions managed before it: their pace
        // depends on the machine's load, and under load the widest level seen at the checks
        // could stay at 2 files.
        if (i === 2999) await store.compactRange();
        if (i % 500 === 499) {
          const perLevel = store.stats().levels.map((l) => l.files);
          widest = Math.max(widest, ...perLevel.slice(1));
          const context = `op ${i}, ${perLevel.join("/")} files: ${where}`;
          if (pinned !== undefined) {
            // Made before the writes, flushes and compactions since: the view of then.
            const pairs = modelPairs(model, pinned.at);
            assert.deepEqual(
              [...pinned.it].map((e) => [hex(e.key), text(e.value)]),
              pairs.map(([k, v]) => [k, v]),
              `an iterator made at ${pinned.at}, read at op ${i}: ${context}`,
            );
            checkCursorWalk(
              pinned.cursor,
              pairs,
              rng,
              60,
              `a cursor made at ${pinned.at}: ${context}`,
            );
            pinned.cursor.close();
          }
          pinned = { at: store.lastSequence, it: store.iterator(), cursor: store.cursor() };
          for (const at of [store.lastSequence, ...snapshots.map((x) => Number(x.seq))]) {
            const pairs = modelPairs(model, at);
            checkIterators(store, pairs, rng, at, `at ${at}, ${context}`);
            checkCursors(store, pairs, rng, at, `at ${at}, ${context}`);
            checkMultiGet(store, model, rng, at, `${context}`);
          }
        }
      }
      assert.ok(store.stats().compactions > 0, `compactions ran: ${where}`);
      assert.ok(widest >= 3, `a level ≥ 1 had ${widest} files at most: ${where}`);
      const latest = modelPairs(model, store.lastSequence).map(([k, v]) => [k, v]);
      const all: string[][] = [];
      for await (const e of store.iterator()) all.push([hex(e.key), text(e.value)]);
      assert.deepEqual(all, latest, `for await … of: ${where}`);
    } finally {
      pinned?.it.return();
      pinned?.cursor.close();
      for (const s of snapshots) s.release();
      model.close();
      await store.close();
    }
  },
);

test("Store.iterator(), cursor() and multiGet() refuse bad options and arguments, naming the call", async () => {
  const dir = newDir();
  const store = Store.open({ dir });
  try {
    store.put("k", "v");
    const cases: [() => unknown, RegExp, ErrorConstructor][] = [
      [
        () => store.iterator({ gt: "a", gte: "b" }),
        /^Store\.iterator\(\): gt and gte both bound the range from below; give one of gt, gte, lower$/,
        TypeError,
      ],
      [
        () => store.iterator({ lt: "a", lte: "b", upper: "c" }),
        /^Store\.iterator\(\): lt, lte and upper all bound the range from above; give one of lt, lte, upper$/,
        TypeError,
      ],
      [
        () => store.cursor({ lower: "a", gt: "b" }),
        /^Store\.cursor\(\): gt and lower both bound the range from below/,
        TypeError,
      ],
      [
        () => store.iterator({ gte: "b", lt: "a" }),
        /^Store\.iterator\(\): the range is inverted: gte "b" is above lt "a"$/,
        RangeError,
      ],
      [
        () => store.cursor({ lower: "z", upper: "a" }),
        /^Store\.cursor\(\): the range is inverted: lower "z" is above upper "a"$/,
        RangeError,
      ],
      [
        () => store.iterator({ limit: 1.5 }),
        /^Store\.iterator\(\): limit must be an integer ≥ 0, or Infinity or -1 for no limit, got 1\.5$/,
        RangeError,
      ],
      [
        () => store.iterator({ limit: "3" as never }),
        /^Store\.iterator\(\): limit must be a number, got string "3"$/,
        TypeError,
      ],
      [
        () => store.iterator({ reverse: 1 as never }),
        /^Store\.iterator\(\): reverse must be a boolean, got number 1$/,
        TypeError,
      ],
      [
        () => store.iterator({ prefix: 5 as never }),
        /^Store\.iterator\(\): prefix must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [
        () => store.cursor({ reverse: true } as never),
        /^Store\.cursor\(\): unknown option "reverse"; known: snapshot, gt, gte, lower, lt, lte, upper, prefix$/,
        TypeError,
      ],
      [
        () => store.multiGet("k" as never),
        /^Store\.multiGet\(\): keys must be an array of keys \(Uint8Array or string\), got string "k"$/,
        TypeError,
      ],
      [
        () => store.multiGet(["k", 1 as never]),
        /^Store\.multiGet\(\): keys\[1\] must be a Uint8Array or a string, got number 1$/,
        TypeError,
      ],
      [
        () => store.multiGet(["k"], { lower: "a" } as never),
        /^Store\.multiGet\(\): unknown option "lower"; known: snapshot$/,
        TypeError,
      ],
      [
        () => store.multiGet(["k"], { snapshot: -1 }),
        /^Store\.multiGet\(\): sequence number must be a non-negative integer, got -1$/,
        RangeError,
      ],
    ];
    for (const [call, message, type] of cases) {
      assert.throws(
        call,
        (e: Error) => e instanceof type && message.test(e.message),
        String(message),
      );
    }
    using cursor = store.cursor();
    assert.equal(cursor.valid, false, "not positioned before the first seek");
    for (
      const [what, call] of [
        ["key", () => cursor.key],
        ["value", () => cursor.value],
        ["next", () => cursor.next()],
        ["prev", () => cursor.prev()],
      ] as const
    ) {
      assert.throws(
        call,
        (e: Error) =>
          e instanceof StoreError &&
          e.message ===
            `StoreCursor.${what}(): the cursor is not on a key (valid is false); seek first`,
      );
    }
    assert.throws(
      () => cursor.seek(5 as never),
      /^TypeError: StoreCursor\.seek\(\): key must be a Uint8Array or a string, got number 5$/,
    );
    cursor.seek("k");
    assert.equal(text(cursor.value), "v");
    cursor.close();
    cursor.close(); // idempotent
    assert.equal(cursor.valid, false);
    assert.throws(
      () => cursor.seekToFirst(),
      /^StoreError: StoreCursor\.seekToFirst\(\): the cursor is closed$/,
    );
    assert.deepEqual(store.multiGet([]), [], "no keys, no values");
    // The rejected calls changed nothing.
    assert.deepEqual(store.multiGet(["k", "k", "x"]).map((v) => v && text(v)), [
      "v",
      "v",
      undefined,
    ]);
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.cursor() holds its memtables until it is closed or disposed, or the store closes", async () => {
  const dir = newDir();
  const store = Store.open({ dir });
  const value = "x".repeat(200);
  const pinned = async () => {
    for (let i = 0; i < 2000; i++) store.put(`k${String(i).padStart(5, "0")}`, value);
    const before = nativeMemoryBytes();
    const cursor = store.cursor();
    await store.flush(); // only the cursor holds the memtable now
    const held = nativeMemoryBytes();
    assert.ok(held > before, `the cursor keeps the flushed memtable (${held} > ${before})`);
    cursor.seekToLast();
    assert.equal(text(cursor.key), "k01999");
    return { cursor, held };
  };
  const released = (held: number, how: string) =>
    assert.ok(nativeMemoryBytes() <= held - (1 << 20), `${how}: the memtable's memory is released`);
  try {
    let p = await pinned();
    p.cursor.close();
    released(p.held, "close()");
    p = await pinned();
    {
      using c = p.cursor;
      c.prev();
    }
    released(p.held, "using");
    p = await pinned();
    await store.close();
    released(p.held, "store closed");
    assert.equal(p.cursor.valid, false);
    assert.throws(
      () => p.cursor.next(),
      (e: Error) =>
        e instanceof StoreError &&
        e.message === "StoreCursor.next(): the store was closed while this cursor was open",
    );
    assert.throws(() => store.cursor(), /^StoreError: Store\.cursor\(\): the store is closed$/);
    assert.throws(
      () => store.multiGet(["k"]),
      /^StoreError: Store\.multiGet\(\): the store is closed$/,
    );
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("Store.iterator() is async-iterable and a loop left early ends it; await using closes a store", async () => {
  const dir = newDir();
  {
    await using store = Store.open({ dir });
    for (const k of ["a", "b", "c"]) store.put(k, k);
    const it = store.iterator({ reverse: true });
    const seen: string[] = [];
    for await (const e of it) {
      seen.push(text(e.key));
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["c", "b"]);
    assert.deepEqual(it.next(), { done: true, value: undefined }, "the loop's break ended it");
    assert.deepEqual(store.iterator({ limit: 0 }).toArray(), []);
  } // closed here: its lock is free and its writes are flushed
  await using again = Store.open({ dir });
  assert.deepEqual(again.multiGet(["a", "b", "c"]).map((v) => v && text(v)), ["a", "b", "c"]);
  assert.equal(again.stats().levels[0]!.files, 1, "close() flushed the writes");
});

test("Store iterators and cursors made before a flush and a compaction read their own view while those run and after", async () => {
  const dir = newDir();
  const store = Store.open({ dir, targetFileSizeBase: 1 << 10, blockSize: 128 });
  try {
    const name = (i: number) => `k${String(i).padStart(4, "0")}`;
    for (let i = 0; i < 400; i++) store.put(name(i), `old${i}`);
    await store.flush();
    for (let i = 0; i < 400; i += 2) store.put(name(i), `new${i}`);
    store.deleteRange(name(100), name(200));
    const want = Array.from({ length: 400 }, (_, i) => i)
      .filter((i) => i < 100 || i >= 200)
      .map((i) => `${name(i)}=${i % 2 === 0 ? "new" : "old"}${i}`);
    const it = store.iterator({ reverse: true });
    const cursor = store.cursor();
    const walk = () => {
      const seen: string[] = [];
      for (cursor.seekToFirst(); cursor.valid; cursor.next()) {
        seen.push(`${text(cursor.key)}=${text(cursor.value)}`);
      }
      return seen;
    };
    // After a write the views do not hold, while the flush runs (in its Worker), then after it.
    store.put(name(1), "newer");
    const flushing = store.flush();
    assert.deepEqual(walk(), want, "a cursor during a flush");
    await flushing;
    const compacting = store.compactRange();
    assert.deepEqual(walk(), want, "a cursor during a compaction");
    const first = it.next();
    assert.equal(`${text(first.value!.key)}=${text(first.value!.value)}`, want.at(-1));
    await compacting;
    assert.ok(store.stats().levels[1]!.files >= 2, "compacted into several level-1 files");
    assert.deepEqual(walk(), want, "a cursor after the compaction");
    assert.deepEqual(
      it.toArray().map((e) => `${text(e.key)}=${text(e.value)}`),
      want.slice(0, -1).reverse(),
      "the iterator, after the compaction",
    );
    cursor.close();
    assert.equal(text(store.get(name(1))!), "newer", "the store itself moved on");
  } finally {
    await store.close();
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

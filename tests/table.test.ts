/**
 * SST files: the table builder and reader round-trip random contents (several blocks, every
 * value type, range tombstones); RocksDB's own files (fixtures written by its SstFileWriter) read
 * to their expected entries; damaged and truncated files give CorruptionError, never wrong
 * data; and RocksDB's tools (Debian's rocksdb-tools) accept what this library writes:
 * `sst_dump` verifies checksums and lists the same entries, `ldb repair` adopts a flush file,
 * `ldb ingest_extern_sst` takes an SstFileWriter file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptionError, ValueType } from "../mod.ts";
import { SstFileWriter, TableBuilder, type TableEntry, TableReader } from "../table.ts";
import { withFileFault } from "../src/testing.ts";
import { compareBytes, Rng, seedFor, text, utf8 } from "./helpers.ts";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "fixtures", "sst"); // written by RocksDB 7.8 SstFileWriter
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

interface Version {
  key: Uint8Array;
  seq: number;
  type: ValueType;
  value: Uint8Array;
}

/** Random versions in internal-key order and random tombstones. */
function randomContents(rng: Rng, n: number) {
  const keys = new Map<string, Uint8Array>();
  while (keys.size < n) {
    const k = rng.bytes(rng.below(4) === 0 ? rng.below(3) : 1 + rng.below(24));
    keys.set(hex(k), k);
  }
  const sorted = [...keys.values()].sort(compareBytes);
  const versions: Version[] = [];
  let seq = 1;
  const types = [
    ValueType.Value,
    ValueType.Value,
    ValueType.Merge,
    ValueType.Deletion,
    ValueType.SingleDeletion,
  ];
  for (const key of sorted) {
    const count = 1 + (rng.below(5) === 0 ? rng.below(6) : 0);
    const seqs = Array.from({ length: count }, () => (seq += 1 + rng.below(3)));
    for (const s of seqs.sort((a, b) => b - a)) {
      const type = types[rng.below(types.length)]!;
      const big = rng.below(40) === 0;
      const value = type === ValueType.Deletion || type === ValueType.SingleDeletion
        ? new Uint8Array(0)
        : rng.bytes(big ? 3000 + rng.below(3000) : rng.below(60));
      versions.push({ key, seq: s, type, value });
    }
  }
  const tombstones = Array.from({ length: rng.below(6) }, () => {
    const a = sorted[rng.below(sorted.length)]!;
    const b = sorted[rng.below(sorted.length)]!;
    const [start, end] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
    return { start, end, seq: 1 + rng.below(seq) };
  });
  return { versions, tombstones, maxSeq: seq };
}

function build(contents: ReturnType<typeof randomContents>, blockSize: number, restart: number) {
  const b = new TableBuilder({ blockSize, restartInterval: restart });
  for (const v of contents.versions) b.add(v.key, v.seq, v.type, v.value);
  const seen = new Set<string>();
  for (const t of contents.tombstones) {
    const id = `${hex(t.start)}@${t.seq}`;
    if (seen.has(id)) continue;
    seen.add(id);
    b.addRangeTombstone(t.start, t.end, t.seq);
  }
  return b.finish();
}

test("TableBuilder and TableReader round-trip random contents (seeded)", () => {
  const seed = seedFor("MEMTABLE_TABLE_SEED", "table round trip");
  const rng = new Rng(seed);
  for (const [blockSize, restart] of [[4096, 16], [256, 1], [64, 3], [1 << 20, 1000]]) {
    const contents = randomContents(rng, 400);
    const file = build(contents, blockSize!, restart!);
    const t = TableReader.fromBytes(file);
    const where = `seed ${seed}, block ${blockSize}, restart ${restart}`;
    const got = [...t.entries()];
    assert.equal(got.length, contents.versions.length, where);
    got.forEach((e, i) => {
      const v = contents.versions[i]!;
      assert.deepEqual([hex(e.key), e.seq, e.type, hex(e.value)], [
        hex(v.key),
        v.seq,
        v.type,
        hex(v.value),
      ], where);
    });
    assert.equal(t.verify(), contents.versions.length);
    assert.equal(t.properties.numEntries, contents.versions.length + t.rangeTombstones().length);
    assert.equal(t.properties.comparator, "leveldb.BytewiseComparator");
    assert.equal(t.properties.columnFamilyName, "default");
    assert.equal(t.properties.externalSstFileVersion, undefined);
    if (blockSize === 64) assert.ok(t.properties.numDataBlocks > 50, where);
    // Lookups at snapshots: the newest version at or below it.
    for (let i = 0; i < 200; i++) {
      const v = contents.versions[rng.below(contents.versions.length)]!;
      const snap = rng.below(contents.maxSeq + 2);
      const want = contents.versions.find((x) => compareBytes(x.key, v.key) === 0 && x.seq <= snap);
      const e = t.get(v.key, snap);
      assert.equal(
        e === undefined ? "none" : `${e.seq}/${e.type}`,
        want === undefined ? "none" : `${want.seq}/${want.type}`,
        where,
      );
    }
    assert.equal(t.get(utf8("\u00ff\u00ff\u00ff not there")), undefined);
    // Scans from a key.
    const from = contents.versions[rng.below(contents.versions.length)]!.key;
    const tail = [...t.entries(from)];
    assert.equal(
      tail.length,
      contents.versions.filter((v) => compareBytes(v.key, from) >= 0).length,
    );
    const tombs = t.rangeTombstones();
    for (let i = 1; i < tombs.length; i++) {
      assert.ok(compareBytes(tombs[i - 1]!.start, tombs[i]!.start) <= 0);
    }
    for (let i = 0; i < 100; i++) {
      const key = contents.versions[rng.below(contents.versions.length)]!.key;
      const snap = rng.below(contents.maxSeq + 2);
      const want = tombs.filter((r) =>
        Number(r.seq) <= snap && compareBytes(r.start, key) <= 0 && compareBytes(key, r.end) < 0
      ).reduce((m, r) => Math.max(m, Number(r.seq)), 0);
      assert.equal(t.maxCoveringTombstone(key, snap), want, where);
    }
  }
});

test("TableBuilder refuses bad input and keeps what it has", () => {
  const b = new TableBuilder();
  b.add(utf8("b"), 5, ValueType.Value, utf8("1"));
  assert.throws(() => b.add(utf8("a"), 9, ValueType.Value, utf8("x")), /internal-key order/);
  assert.throws(() => b.add(utf8("b"), 5, ValueType.Value, utf8("x")), /internal-key order/);
  assert.throws(() => b.add(utf8("b"), 6, ValueType.Value, utf8("x")), /internal-key order/);
  assert.throws(() => b.add(utf8("c"), 1, ValueType.RangeDeletion, utf8("x")), /addRangeTombstone/);
  assert.throws(() => b.add(utf8("c"), 1, 9 as ValueType, utf8("x")), /unknown value type/);
  assert.throws(() => b.add(utf8("c"), -1, ValueType.Value, utf8("x")), RangeError);
  assert.throws(() => b.addRangeTombstone(utf8("z"), utf8("a"), 3), /end comes before start/);
  b.add(utf8("b"), 4, ValueType.Deletion, new Uint8Array(0));
  const t = TableReader.fromBytes(b.finish());
  assert.deepEqual([...t.entries()].map((e) => e.seq), [5, 4]);
  assert.throws(() => b.add(utf8("c"), 1, ValueType.Value, utf8("x")), /finished/);
  assert.throws(() => new TableBuilder({ blockSize: 0 }), RangeError);
  assert.throws(() => new TableBuilder({ userProperties: { "rocksdb.x": "y" } }), TypeError);
});

for (const name of ["g1_tiny_crc32c_fv5", "g2_mixed_crc32c_fv5", "g4_multiblock_crc32c_fv5"]) {
  test(`TableReader reads RocksDB's own file ${name} to its expected entries`, () => {
    using t = TableReader.open(join(fixtures, `${name}.sst`));
    const expected = readFileSync(join(fixtures, `${name}.expected.jsonl`), "utf8").trim().split(
      "\n",
    )
      .map((l) => JSON.parse(l) as { key: string; seq: number; type: string; value: string });
    const typeOf: Record<string, ValueType> = {
      put: ValueType.Value,
      delete: ValueType.Deletion,
      merge: ValueType.Merge,
    };
    const points = expected.filter((e) => e.type !== "range_delete");
    const got = [...t.entries()];
    assert.deepEqual(
      got.map((e) => [hex(e.key), e.seq, e.type, hex(e.value)]),
      points.map((e) => [e.key, e.seq, typeOf[e.type], e.value]),
    );
    assert.deepEqual(
      t.rangeTombstones().map((r) => [hex(r.start), hex(r.end), r.seq]),
      expected.filter((e) => e.type === "range_delete").map((e) => [e.key, e.value, e.seq]),
    );
    assert.equal(t.properties.externalSstFileVersion, 2);
    assert.equal(t.properties.indexKeyIsUserKey, true);
    assert.equal(t.verify(), points.length);
    for (const e of points) assert.equal(hex(t.get(unhex(e.key))!.value), e.value);
  });
}

test("TableReader: a damaged or truncated file is a CorruptionError, never wrong data", {
  timeout: 120_000,
}, () => {
  const rng = new Rng(7);
  const file = build(randomContents(rng, 80), 256, 4);
  const read = (bytes: Uint8Array) => {
    const t = TableReader.fromBytes(bytes);
    t.verify();
    return JSON.stringify([
      [...t.entries()].map((e) => [hex(e.key), String(e.seq), e.type, hex(e.value)]),
      t.rangeTombstones().map((r) => [hex(r.start), hex(r.end), String(r.seq)]),
    ]);
  };
  const good = read(file);
  // A changed bit anywhere is caught, or changes nothing that is read (the footer's padding,
  // its format version within 1–5): a file never reads as other data.
  let caught = 0;
  for (let at = 0; at < file.length; at += 1 + rng.below(7)) {
    const bad = file.slice();
    bad[at]! ^= 1 << rng.below(8);
    try {
      assert.equal(read(bad), good, `byte ${at} changed what is read`);
      assert.ok(at >= file.length - 52 && at < file.length - 8, `byte ${at} changed silently`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof CorruptionError, `byte ${at}: ${e}`);
      caught++;
    }
  }
  assert.ok(caught > 100);
  for (const n of [0, 10, 52, file.length - 1, Math.floor(file.length / 2)]) {
    assert.throws(() => read(file.subarray(0, n)), CorruptionError, `truncated to ${n}`);
  }
  assert.equal(read(file), good);
  assert.throws(() => TableReader.fromBytes("x" as never), TypeError);
});

// ---- RocksDB's tools -----------------------------------------------------------------------

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(
    r.error,
    undefined,
    `${cmd} not runnable (apt-get install rocksdb-tools): ${r.error}`,
  );
  return r;
}

/** `sst_dump --command=scan --output_hex` lines: `'key' seq:N, type:T => value`. */
function sstDumpScan(path: string): string[] {
  const r = run("sst_dump", [`--file=${path}`, "--command=scan", "--output_hex"]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.includes(" seq:"));
}

test("RocksDB's sst_dump verifies a flush file and lists the same entries; ldb repair adopts it", () => {
  const seed = seedFor("MEMTABLE_TABLE_SEED", "table interop");
  const rng = new Rng(seed);
  const contents = randomContents(rng, 300);
  contents.versions = contents.versions.filter((v) =>
    v.type !== ValueType.SingleDeletion || rng.below(2) === 0
  );
  const dir = mkdtempSync(join(tmpdir(), "memtable-sst-"));
  try {
    const path = join(dir, "000010.sst");
    writeFileSync(path, build(contents, 1024, 16));
    const verify = run("sst_dump", [`--file=${path}`, "--command=verify", "--verify_checksum"]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.doesNotMatch(verify.stderr + verify.stdout, /corrupt|error|fail/i, `seed ${seed}`);
    const lines = sstDumpScan(path);
    assert.deepEqual(
      lines.map((l) => l.trim()),
      contents.versions.map((v) =>
        `'${hex(v.key).toUpperCase()}' seq:${v.seq}, type:${v.type} => ${
          hex(v.value).toUpperCase()
        }`.trim()
      ),
      `seed ${seed}`,
    );
    // ldb repair makes a database of the file; its scan shows each key as a read sees it. ldb
    // folds Merge operands with its default operator, RocksDB's StringAppend (":" between).
    const repair = run("ldb", ["repair", `--db=${dir}`]);
    assert.equal(repair.status, 0, repair.stderr);
    assert.ok(readdirSync(dir).some((f) => f.startsWith("MANIFEST")));
    const scan = run("ldb", ["scan", `--db=${dir}`, "--hex"]);
    assert.equal(scan.status, 0, scan.stderr);
    using table = TableReader.open(path);
    const tombs = table.rangeTombstones();
    const covered = (v: Version) =>
      tombs.some((t) =>
        compareBytes(t.start, v.key) <= 0 && compareBytes(v.key, t.end) < 0 && t.seq > v.seq
      );
    const want: string[] = [];
    for (let i = 0; i < contents.versions.length;) {
      let j = i;
      while (
        j < contents.versions.length &&
        compareBytes(contents.versions[j]!.key, contents.versions[i]!.key) === 0
      ) j++;
      const operands: Uint8Array[] = [];
      let result: Uint8Array | undefined;
      for (const v of contents.versions.slice(i, j)) {
        if (covered(v)) break;
        if (v.type === ValueType.Merge) {
          operands.unshift(v.value);
          continue;
        }
        if (v.type === ValueType.Value) result = v.value;
        break;
      }
      if (operands.length > 0) {
        const parts = result === undefined ? operands : [result, ...operands];
        result = Uint8Array.from(parts.flatMap((p, k) => k === 0 ? [...p] : [0x3a, ...p]));
      }
      if (result !== undefined) {
        want.push(
          `0x${hex(contents.versions[i]!.key).toUpperCase()} : 0x${hex(result).toUpperCase()}`,
        );
      }
      i = j;
    }
    const got = scan.stdout.split("\n").filter((l) => l.startsWith("0x"));
    assert.deepEqual(got, want, `seed ${seed}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("RocksDB's ldb ingests an SstFileWriter file and reads it back", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-ingest-"));
  try {
    const db = join(dir, "db");
    const init = run("ldb", [`--db=${db}`, "--create_if_missing", "put", "0x00", "0x01", "--hex"]);
    assert.equal(init.status, 0, init.stderr);
    const path = join(dir, "bulk.sst");
    const w = new SstFileWriter(path, { blockSize: 512 });
    const want: string[] = ["0x00 : 0x01"];
    for (let i = 0; i < 500; i++) {
      const key = utf8(`key${String(i).padStart(5, "0")}`);
      if (i % 50 === 7) w.delete(key);
      else {
        const value = utf8(`value ${i}`);
        w.put(key, value);
        want.push(`0x${hex(key).toUpperCase()} : 0x${hex(value).toUpperCase()}`);
      }
    }
    assert.throws(() => w.put("key00000", "again"), /strictly ascending/);
    const info = w.finish();
    assert.equal(info.numEntries, 500);
    assert.equal(new TextDecoder().decode(info.smallestKey), "key00000");
    assert.throws(() => w.finish(), /finished/);
    const verify = run("sst_dump", [`--file=${path}`, "--command=verify", "--verify_checksum"]);
    assert.doesNotMatch(verify.stderr + verify.stdout, /corrupt|error|fail/i);
    const ingest = run("ldb", [`--db=${db}`, "ingest_extern_sst", path]);
    assert.equal(ingest.status, 0, ingest.stderr + ingest.stdout);
    const scan = run("ldb", [`--db=${db}`, "scan", "--hex"]);
    assert.equal(scan.status, 0, scan.stderr);
    assert.deepEqual(scan.stdout.split("\n").filter((l) => l.startsWith("0x")), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SstFileWriter: a failed write leaves no file and can be retried; empty files are refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-sstw-"));
  try {
    const path = join(dir, "x.sst");
    assert.throws(() => new SstFileWriter(path).finish(), /no entries/);
    let failAt: string | undefined;
    const w = new SstFileWriter(
      path,
      withFileFault({}, (s: string) => {
        if (s === failAt) throw new Error(`injected ${s} failure`);
      }),
    );
    w.put("a", "1");
    w.deleteRange("b", "c");
    for (const step of ["write", "sync", "rename"] as const) {
      failAt = step;
      assert.throws(() => w.finish(), /injected/);
      assert.deepEqual(readdirSync(dir), [], `after a ${step} failure`);
    }
    assert.throws(() => w.put("z", "late"), /finished/);
    failAt = undefined;
    w.finish();
    assert.ok(existsSync(path));
    using t = TableReader.open(path);
    assert.equal(t.rangeTombstones().length, 1);
    assert.equal(t.properties.numRangeDeletions, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs each call and checks it throws `kind` with a message matching the pattern. */
function refuses(cases: [() => unknown, RegExp, ErrorConstructor][]): void {
  for (const [call, message, kind] of cases) {
    assert.throws(call, (e: Error) => e instanceof kind && message.test(e.message), `${message}`);
  }
}

const shownEntry = (e: TableEntry) => [text(e.key), e.seq, e.type, text(e.value)];

test("TableBuilder.add() and addRangeTombstone() take strings as UTF-8 and refuse other non-bytes", () => {
  const b = new TableBuilder({ blockSize: 64 });
  b.add("b", 5, ValueType.Value, "grün");
  b.add(utf8("b"), 4, ValueType.Deletion);
  b.add("ä", 3, ValueType.Merge, utf8("+1"));
  b.addRangeTombstone("c", "d", 9);
  const call = /^TableBuilder\.add\(\): /.source;
  const range = /^TableBuilder\.addRangeTombstone\(\): /.source;
  refuses([
    [
      () => b.add(5 as never, 1, ValueType.Value, "x"),
      new RegExp(`${call}key must be a Uint8Array or a string, got number 5$`),
      TypeError,
    ],
    [
      () => b.add("z", 1, ValueType.Value, { length: 3 } as never),
      new RegExp(`${call}value must be a Uint8Array or a string, got Object$`),
      TypeError,
    ],
    [() => b.add("z", 1, ValueType.Value, [1, 2] as never), /got Array$/, TypeError],
    [() => b.add("z", 1, ValueType.Deletion, "x"), /a Deletion carries no value$/, TypeError],
    [
      () => b.add("z", "1" as never, ValueType.Value, "x"),
      new RegExp(`${call}sequence number must be a number or a bigint`),
      TypeError,
    ],
    [
      () => b.addRangeTombstone(null as never, "x", 1),
      new RegExp(`${range}start must be a Uint8Array or a string, got null$`),
      TypeError,
    ],
    [() => b.addRangeTombstone("a", 7 as never, 1), new RegExp(`${range}end must be`), TypeError],
    [() => b.addRangeTombstone("a", "b", -1), new RegExp(`${range}sequence number`), RangeError],
  ]);
  const t = TableReader.fromBytes(b.finish());
  assert.deepEqual(
    [...t.entries()].map(shownEntry),
    [["b", 5, ValueType.Value, "grün"], ["b", 4, ValueType.Deletion, ""], [
      "ä",
      3,
      ValueType.Merge,
      "+1",
    ]],
    "the refused calls added nothing",
  );
  const tombstones = t.rangeTombstones();
  assert.deepEqual(tombstones.map((r) => [text(r.start), text(r.end), r.seq]), [["c", "d", 9]]);
  assert.equal(t.get("b")?.seq, 5);
  assert.equal(t.get("b", 4)?.type, ValueType.Deletion);
  assert.equal(t.get("ä")?.type, ValueType.Merge);
  assert.equal(t.verify(), 3);
});

test("TableBuilder: the caller reusing its key array does not change the order check", () => {
  const b = new TableBuilder();
  const key = utf8("m");
  b.add(key, 1, ValueType.Value, "1");
  key[0] = 0x61; // "a": had the builder kept the caller's array, it would now accept "b"
  assert.throws(() => b.add("b", 1, ValueType.Value, "2"), /internal-key order/);
  b.add("n", 1, ValueType.Value, "3");
  assert.equal(TableReader.fromBytes(b.finish()).verify(), 2);
});

test("TableBuilder and SstFileWriter refuse unknown options and wrong types, naming the option", () => {
  refuses([
    [
      () => new TableBuilder({ blokSize: 1 } as never),
      /^TableBuilder: unknown option "blokSize"; known: blockSize, restartInterval, ingest, userProperties, bloomBitsPerKey$/,
      TypeError,
    ],
    [
      () => new TableBuilder({ blockSize: "4096" } as never),
      /^TableBuilder: blockSize must be an integer, got string "4096"$/,
      TypeError,
    ],
    [
      () => new TableBuilder({ blockSize: 0 }),
      /^TableBuilder: blockSize must be an integer ≥ 1, got 0$/,
      RangeError,
    ],
    [() => new TableBuilder({ restartInterval: 1.5 }), /restartInterval .* got 1.5$/, RangeError],
    [
      () => new TableBuilder({ ingest: 1 } as never),
      /^TableBuilder: ingest must be a boolean, got number 1$/,
      TypeError,
    ],
    [
      () => new TableBuilder({ userProperties: { a: 5 } } as never),
      /^TableBuilder: user property "a" must be a Uint8Array or a string, got number 5$/,
      TypeError,
    ],
    [
      () => new TableBuilder("x" as never),
      /^TableBuilder: options must be an object, got string "x"$/,
      TypeError,
    ],
    [
      () => new SstFileWriter("/tmp/x.sst", { ingest: false } as never),
      /^SstFileWriter: unknown option "ingest"; known: blockSize, restartInterval, bloomBitsPerKey$/,
      TypeError,
    ],
    [
      () => new SstFileWriter("/tmp/x.sst", { blockSize: -1 }),
      /^SstFileWriter: blockSize must be an integer ≥ 1, got -1$/,
      RangeError,
    ],
    [
      () => new SstFileWriter(5 as never),
      /^SstFileWriter: path must be a non-empty string, got number 5$/,
      TypeError,
    ],
  ]);
});

test("TableReader refuses arguments it cannot use at every entry point, and reads after close()", () => {
  const b = new TableBuilder();
  b.add("k", 2, ValueType.Value, "v");
  b.addRangeTombstone("a", "z", 3);
  const t = TableReader.fromBytes(b.finish(), "t.sst");
  assert.equal(t.versions("k").length, 1);
  assert.equal([...t.entries("j")].length, 1);
  assert.equal(t.maxCoveringTombstone("k", 3), 3);
  refuses([
    [
      () => t.get(5 as never),
      /^TableReader\.get\(\): key must be a Uint8Array or a string, got number 5$/,
      TypeError,
    ],
    [
      () => t.get("k", -1),
      /^TableReader\.get\(\): sequence number must be a non-negative integer, got -1$/,
      RangeError,
    ],
    [() => t.get("k", "2" as never), /^TableReader\.get\(\): sequence number/, TypeError],
    [() => t.versions({} as never), /^TableReader\.versions\(\): key must be/, TypeError],
    [
      () => t.entries(3 as never),
      /^TableReader\.entries\(\): from must be a Uint8Array or a string, got number 3$/,
      TypeError,
    ],
    [
      () => t.maxCoveringTombstone("k", "x" as never),
      /^TableReader\.maxCoveringTombstone\(\): sequence number must be a number or a bigint/,
      TypeError,
    ],
    [
      () => t.maxCoveringTombstone(undefined as never, 1),
      /^TableReader\.maxCoveringTombstone\(\): key must be/,
      TypeError,
    ],
    [
      () => TableReader.fromBytes(new Uint8Array(0), 5 as never),
      /^TableReader\.fromBytes\(\): name must be a string, got number 5$/,
      TypeError,
    ],
    [
      () => TableReader.open(7 as never),
      /^TableReader\.open\(\): path must be a non-empty string, got number 7$/,
      TypeError,
    ],
    [() => TableReader.open(""), /^TableReader\.open\(\): path must be/, TypeError],
  ]);
  t.close();
  assert.equal(t.closed, true);
  const closed = /^TableReader\.\w+\(\): t\.sst is closed$/;
  refuses([
    [() => t.get("k"), closed, TypeError],
    [() => t.versions("k"), closed, TypeError],
    [() => t.entries(), closed, TypeError],
    [() => t.verify(), closed, TypeError],
    [() => t.rangeTombstones(), closed, TypeError],
    [() => t.maxCoveringTombstone("k", 3), closed, TypeError],
  ]);
  t.close(); // idempotent
});

test("SstFileWriter: put, merge, delete and deleteRange take strings as UTF-8 and refuse other non-bytes", () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-sstw-"));
  try {
    const path = join(dir, "x.sst");
    const w = new SstFileWriter(path);
    refuses([
      [
        () => w.put(5 as never, "v"),
        /^SstFileWriter\.put\(\): key must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [
        () => w.put("a", 5 as never),
        /^SstFileWriter\.put\(\): value must be a Uint8Array or a string, got number 5$/,
        TypeError,
      ],
      [() => w.merge("a", null as never), /^SstFileWriter\.merge\(\): value must be/, TypeError],
      [() => w.delete(true as never), /^SstFileWriter\.delete\(\): key must be/, TypeError],
      [() => w.deleteRange("a", 1 as never), /^SstFileWriter\.deleteRange\(\): end/, TypeError],
      [
        () => w.deleteRange("b", "a"),
        /^SstFileWriter\.deleteRange\(\): end comes before start$/,
        RangeError,
      ],
      [
        () => new SstFileWriter(path, withFileFault({}, "soon")),
        /^SstFileWriter: the file fault hook must be a function, got string$/,
        TypeError,
      ],
    ]);
    w.put("a", "grün");
    w.merge(utf8("b"), "2");
    w.delete("ä");
    w.deleteRange("d", "e");
    assert.equal(w.finish().numEntries, 3, "the refused calls added nothing");
    using t = TableReader.open(path);
    assert.deepEqual([...t.entries()].map(shownEntry), [
      ["a", 0, ValueType.Value, "grün"],
      ["b", 0, ValueType.Merge, "2"],
      ["ä", 0, ValueType.Deletion, ""],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The log format (WAL and MANIFEST framing), written and read here and checked against
 * RocksDB: its own WAL (the shared fixture) reads back record by record, and `ldb dump_wal`
 * lists what this library wrote with the right sequence numbers and counts. Damage — a torn
 * last record, a flipped byte, an unknown record type — is reported where it is, never read as
 * data. Seeded; replay with MEMTABLE_WAL_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptionError, WriteBatch } from "../mod.ts";
import { packInternalKey } from "../coding.ts";
import { TableBuilder, TableReader } from "../table.ts";
import { DbDirectory } from "../src/db/database.ts";
import { logBlockSize, logHeaderSize, LogWriter, readLog } from "../src/db/log_format.ts";
import { decodeVersionEdit, encodeVersionEdit, type VersionEdit } from "../src/db/version_edit.ts";
import {
  logFileName,
  ManifestWriter,
  readCurrent,
  readManifest,
  replayEdits,
  tableFileName,
  writeCurrent,
} from "../src/db/manifest.ts";
import { optionsFileText } from "../src/db/options_file.ts";
import { readWal, type WalRecoveryMode, WalWriter } from "../src/db/wal.ts";
import { Rng, seedFor, text, utf8 } from "./helpers.ts";

const fixtureWal = fileURLToPath(
  new URL("../../shared/fixtures/db/rocksdb_7_8_3/000013.log", import.meta.url),
);

function frameAll(payloads: Uint8Array[], offset = 0): Uint8Array {
  const w = new LogWriter(offset);
  const parts = payloads.map((p) => w.frame(p));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("LogWriter and readLog round-trip records of every size across block boundaries (seeded)", () => {
  const rng = new Rng(seedFor("MEMTABLE_WAL_SEED", "log round trip"));
  // Sizes that land on every kind of block boundary, and random ones.
  const sizes = [0, 1, logBlockSize - logHeaderSize, logBlockSize - logHeaderSize - 1, 0, 6, 7];
  sizes.push(logBlockSize - 2 * logHeaderSize - 6, 0, 3 * logBlockSize + 5);
  for (let i = 0; i < 300; i++) {
    sizes.push(rng.below(4) === 0 ? rng.below(100_000) : rng.below(300));
  }
  const payloads = sizes.map((n) => rng.bytes(n));
  const bytes = frameAll(payloads);
  const { records, end, skipped } = readLog(bytes);
  assert.deepEqual(end, { kind: "clean" });
  assert.equal(skipped, 0);
  assert.equal(records.length, payloads.length);
  for (const [i, r] of records.entries()) assert.deepEqual(r.payload, payloads[i], `record ${i}`);
  // No fragment crosses a block: every header starts where a block has room for one.
  assert.equal(new LogWriter().framedSize(logBlockSize), logBlockSize + 2 * logHeaderSize);
});

test("readLog reads RocksDB's own WAL: two WriteBatch records with their sequence numbers", () => {
  const { records, end } = readLog(new Uint8Array(readFileSync(fixtureWal)));
  assert.deepEqual(end, { kind: "clean" });
  const batches = records.map((r) => WriteBatch.from(r.payload));
  assert.deepEqual(batches.map((b) => [Number(b.sequence), b.count]), [[8, 1], [9, 2]]);
  assert.deepEqual(batches[1]!.records().map((r) => [r.type, text(r.key)]), [[1, "f"], [0, "c"]]);
});

test("ldb dump_wal lists a WAL this library wrote, record by record, with sequence numbers and counts", () => {
  const dir = mkdtempSync(join(tmpdir(), "wal-"));
  try {
    const batches: WriteBatch[] = [];
    let seq = 1;
    for (let i = 0; i < 50; i++) {
      const b = new WriteBatch();
      for (let j = 0; j <= i % 5; j++) b.put(`k${i}:${j}`, "v".repeat(i * 40));
      if (i % 7 === 0) b.delete(`gone${i}`);
      b.sequence = seq;
      seq += b.count;
      batches.push(b);
    }
    const path = join(dir, "000003.log");
    writeFileSync(path, frameAll(batches.map((b) => b.data())));
    const r = spawnSync("ldb", ["dump_wal", `--walfile=${path}`, "--header"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split("\n").slice(1).map((l) => l.split(","));
    assert.equal(rows.length, 50);
    for (const [i, row] of rows.entries()) {
      assert.equal(Number(row[0]), Number(batches[i]!.sequence), `record ${i}: sequence`);
      assert.equal(Number(row[1]), batches[i]!.count, `record ${i}: count`);
      assert.equal(Number(row[2]), batches[i]!.byteSize, `record ${i}: byte size`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readLog reports a torn last record, a damaged fragment and an unknown type where they are", () => {
  const payloads = [
    new Uint8Array(100).fill(1),
    new Uint8Array(70_000).fill(2),
    new Uint8Array(50).fill(3),
  ];
  const whole = frameAll(payloads);
  // The process died while appending the last record.
  const torn = readLog(whole.subarray(0, whole.length - 3));
  assert.equal(torn.records.length, 2);
  assert.equal(torn.end.kind, "truncated");
  // A flipped byte inside the second record (it spans three blocks): reading stops before it.
  const flipped = whole.slice();
  flipped[logBlockSize + 500]! ^= 0x40;
  const bad = readLog(flipped);
  assert.equal(bad.records.length, 1);
  assert.equal(bad.end.kind, "corrupt");
  assert.match((bad.end as { reason: string }).reason, /checksum mismatch/);
  // Skipping damage keeps what comes after it (kSkipAnyCorruptedRecords).
  const skipping = readLog(flipped, { skipCorrupt: true });
  assert.ok(skipping.skipped >= 1);
  assert.deepEqual(skipping.records.map((r) => r.payload[0]), [1, 3]);
  // A record type newer RocksDB versions write ends the log, as in RocksDB 7.8.
  const unknown = frameAll([new Uint8Array(10), new Uint8Array(10)]);
  unknown[17 + 6] = 10;
  const u = readLog(unknown);
  assert.equal(u.records.length, 1);
  assert.deepEqual(u.end, { kind: "corrupt", offset: 17, reason: "unknown record type 10" });
});

const fixtureDb = fileURLToPath(
  new URL("../../shared/fixtures/db/rocksdb_7_8_3/", import.meta.url),
);

test("decodeVersionEdit reads RocksDB's MANIFEST: replayed, its edits give the files per level and the numbers", () => {
  const { records, end } = readLog(
    new Uint8Array(readFileSync(join(fixtureDb, "MANIFEST-000005"))),
  );
  assert.deepEqual(end, { kind: "clean" });
  const edits = records.map((r) => decodeVersionEdit(r.payload, "MANIFEST-000005"));
  assert.equal(edits[0]!.comparator, "leveldb.BytewiseComparator");
  const live = new Map<number, { level: number; size: number; seqs: [number, number] }>();
  let logNumber = 0, nextFile = 0, lastSeq = 0;
  for (const e of edits) {
    for (const d of e.deletedFiles ?? []) assert.ok(live.delete(d.number), `file ${d.number}`);
    for (const f of e.newFiles ?? []) {
      live.set(f.number, {
        level: f.level,
        size: f.fileSize,
        seqs: [Number(f.smallestSeqno), Number(f.largestSeqno)],
      });
    }
    logNumber = e.logNumber ?? logNumber;
    nextFile = e.nextFileNumber ?? nextFile;
    lastSeq = Number(e.lastSequence ?? lastSeq);
  }
  assert.deepEqual([logNumber, nextFile, lastSeq], [13, 15, 7]);
  assert.deepEqual([...live].sort(), [
    [12, { level: 1, size: 1165, seqs: [0, 0] }],
    [14, { level: 0, size: 1168, seqs: [5, 7] }],
  ]);
  const f14 = edits.flatMap((e) => e.newFiles ?? []).find((f) => f.number === 14)!;
  assert.equal(text(f14.smallest.subarray(0, f14.smallest.length - 8)), "a");
  assert.equal(f14.fileCreationTime, 1796153406);
});

test("a MANIFEST written with encodeVersionEdit opens in RocksDB: ldb scan, manifest_dump and checkconsistency", () => {
  const dir = mkdtempSync(join(tmpdir(), "manifest-"));
  try {
    for (const f of ["000012.sst", "000014.sst", "000013.log"]) {
      writeFileSync(join(dir, f), readFileSync(join(fixtureDb, f)));
    }
    const ikey = (k: string, seq: number, type: number) => packInternalKey(utf8(k), seq, type as 0);
    const edit = encodeVersionEdit({
      comparator: "leveldb.BytewiseComparator",
      logNumber: 13,
      nextFileNumber: 20,
      lastSequence: 7,
      newFiles: [
        {
          level: 1,
          number: 12,
          fileSize: 1165,
          smallest: ikey("a", 0, 1),
          largest: ikey("c", 0, 1),
          smallestSeqno: 0,
          largestSeqno: 0,
        },
        {
          level: 0,
          number: 14,
          fileSize: 1168,
          smallest: ikey("a", 7, 0),
          largest: ikey("d", 6, 1),
          smallestSeqno: 5,
          largestSeqno: 7,
          oldestAncesterTime: 1796153406,
          fileCreationTime: 1796153406,
        },
      ],
    });
    assert.deepEqual(decodeVersionEdit(edit, "edit").newFiles?.map((f) => f.number), [12, 14]);
    writeFileSync(join(dir, "MANIFEST-000019"), new LogWriter().frame(edit));
    writeFileSync(join(dir, "CURRENT"), "MANIFEST-000019\n");
    const ldb = (...args: string[]) => {
      const r = spawnSync("ldb", args, { encoding: "utf8" });
      assert.equal(r.status, 0, `ldb ${args.join(" ")}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    assert.equal(ldb(`--db=${dir}`, "scan"), "b : 22\nd : 4\ne : 5\nf : 6\n");
    assert.match(ldb(`--db=${dir}`, "checkconsistency"), /OK/);
    const dump = ldb("manifest_dump", `--path=${join(dir, "MANIFEST-000019")}`);
    assert.match(dump, /log number: 13/);
    assert.match(dump, /next_file_number 2[01] last_sequence 7/); // ldb counts its own file too
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readCurrent and readManifest give RocksDB's fixture database its state; writeCurrent and ManifestWriter make one ldb opens", () => {
  const name = readCurrent(fixtureDb);
  assert.equal(name, "MANIFEST-000005");
  const state = readManifest(fixtureDb, name);
  assert.deepEqual(
    [state.logNumber, state.nextFileNumber, state.lastSequence, state.minLogNumberToKeep],
    [13, 15, 7, 13],
  );
  assert.deepEqual(state.levels.map((l) => [...l.keys()]), [[14], [12], [], [], [], [], []]);
  const dir = mkdtempSync(join(tmpdir(), "manifest-writer-"));
  try {
    for (const f of ["000012.sst", "000014.sst", "000013.log"]) {
      writeFileSync(join(dir, f), readFileSync(join(fixtureDb, f)));
    }
    const files = state.levels.flatMap((l) => [...l.values()]);
    const w = ManifestWriter.create(dir, 16, [
      { comparator: "leveldb.BytewiseComparator" },
      { logNumber: 13, nextFileNumber: 17, lastSequence: 7, newFiles: files },
    ]);
    w.append({ nextFileNumber: 18, lastSequence: 7 });
    w.close();
    writeCurrent(dir, 16);
    assert.equal(readFileSync(join(dir, "CURRENT"), "utf8"), "MANIFEST-000016\n");
    const again = readManifest(dir, readCurrent(dir));
    assert.deepEqual([again.nextFileNumber, again.edits], [18, 3]);
    const r = spawnSync("ldb", [`--db=${dir}`, "scan"], { encoding: "utf8" });
    assert.equal(r.stdout, "b : 22\nd : 4\ne : 5\nf : 6\n", r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("replayEdits refuses what RocksDB refuses, naming the file and the edit", () => {
  const base = { logNumber: 1, nextFileNumber: 10, lastSequence: 5 };
  const file = {
    level: 0,
    number: 3,
    fileSize: 100,
    smallest: packInternalKey(utf8("a"), 1, 1),
    largest: packInternalKey(utf8("b"), 2, 1),
    smallestSeqno: 1,
    largestSeqno: 2,
  };
  const cases: [VersionEdit[], RegExp][] = [
    [[{ logNumber: 1, nextFileNumber: 2 }], /M: no lastSequence in any edit/],
    [
      [base, { deletedFiles: [{ level: 1, number: 3 }] }],
      /M: edit 1: deletes table file 3 from level 1/,
    ],
    [
      [base, { newFiles: [file] }, { newFiles: [{ ...file, level: 1 }] }],
      /edit 2: adds table file 3 twice/,
    ],
    [[{ ...base, comparator: "other" }], /comparator "other" does not match/],
    [[base, { columnFamily: 2 }], /only "default" is supported/],
    [
      [{ ...base, nextFileNumber: 3 }, { newFiles: [file] }],
      /table file 3 is not below the next file number 3/,
    ],
  ];
  for (const [edits, message] of cases) {
    assert.throws(
      () => replayEdits(edits, "M"),
      (e: Error) => e instanceof CorruptionError && message.test(e.message),
    );
  }
  assert.equal(replayEdits([base, { newFiles: [file] }], "M").levels[0]!.size, 1);
  assert.throws(() => readCurrent(join(tmpdir(), "no-such-db-dir")), /ENOENT/);
});

test("optionsFileText writes an OPTIONS file RocksDB's ldb loads (and would refuse if it were wrong)", () => {
  const dir = mkdtempSync(join(tmpdir(), "options-"));
  try {
    for (const f of ["000012.sst", "000014.sst", "000013.log"]) {
      writeFileSync(join(dir, f), readFileSync(join(fixtureDb, f)));
    }
    const state = readManifest(fixtureDb, readCurrent(fixtureDb));
    ManifestWriter.create(dir, 16, [{
      comparator: "leveldb.BytewiseComparator",
      logNumber: 13,
      nextFileNumber: 18,
      lastSequence: 7,
      newFiles: state.levels.flatMap((l) => [...l.values()]),
    }]).close();
    writeCurrent(dir, 16);
    const fields = {
      writeBufferSize: 4 << 20,
      maxWriteBufferNumber: 3,
      minWriteBufferNumberToMerge: 1,
      mergeOperatorName: "StringAppendOperator",
      prefixExtractorName: "rocksdb.FixedPrefix.4",
      blockSize: 4096,
      bloomBitsPerKey: 10,
    };
    const scan = () => spawnSync("ldb", [`--db=${dir}`, "scan"], { encoding: "utf8" });
    writeFileSync(join(dir, "OPTIONS-000017"), optionsFileText(fields));
    assert.equal(scan().stdout, "b : 22\nd : 4\ne : 5\nf : 6\n", scan().stderr);
    // ldb really reads it: the same file with a wrong value is refused.
    writeFileSync(join(dir, "OPTIONS-000017"), optionsFileText({ ...fields, blockSize: NaN }));
    assert.match(scan().stdout + scan().stderr, /block_size/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("WalWriter appends batches a later readWal replays, reopened after what it holds; ldb dump_wal agrees", () => {
  const dir = mkdtempSync(join(tmpdir(), "wal-writer-"));
  try {
    const path = join(dir, "000007.log");
    let seq = 1;
    const written: string[] = [];
    const batch = (i: number) => {
      const b = new WriteBatch().put(`k${i}`, "x".repeat(i * 300)).delete(`d${i}`);
      b.sequence = seq;
      seq += b.count;
      written.push(`${i}`);
      return b;
    };
    let w = WalWriter.open(path, 7);
    for (let i = 0; i < 60; i++) w.add(batch(i).data());
    w.sync();
    w.close();
    w = WalWriter.open(path, 7); // a reopen appends after the records already there
    for (let i = 60; i < 80; i++) w.add(batch(i).data());
    w.close();
    const replay = readWal(path, "pointInTime");
    assert.deepEqual(replay.end, { kind: "clean" });
    assert.equal(replay.batches.length, 80);
    assert.deepEqual(
      replay.batches.map((b) => Number(b.sequence)),
      written.map((_, i) => 1 + 2 * i),
    );
    const r = spawnSync("ldb", ["dump_wal", `--walfile=${path}`], { encoding: "utf8" });
    assert.equal(r.stdout.trim().split("\n").length, 80, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readWal applies RocksDB's four recovery modes to a torn tail and to damage in the middle", () => {
  const dir = mkdtempSync(join(tmpdir(), "wal-modes-"));
  try {
    const path = join(dir, "000003.log");
    const w = WalWriter.open(path, 3);
    for (let i = 0; i < 3; i++) {
      const b = new WriteBatch().put(`k${i}`, "v".repeat(40_000));
      b.sequence = i + 1;
      w.add(b.data());
    }
    w.close();
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 3)); // torn last record
    const torn = (m: WalRecoveryMode) => readWal(path, m).batches.length;
    assert.deepEqual(
      ["tolerateCorruptedTailRecords", "pointInTime", "skipAnyCorruptedRecords"].map((m) =>
        torn(m as WalRecoveryMode)
      ),
      [2, 2, 2],
    );
    assert.throws(() => readWal(path, "absoluteConsistency"), /torn.*absoluteConsistency/);
    const damaged = new Uint8Array(whole);
    damaged[logBlockSize + 20_000]! ^= 1; // inside the second record (its first fragment)
    writeFileSync(path, damaged);
    assert.throws(() => readWal(path, "absoluteConsistency"), CorruptionError);
    assert.throws(() => readWal(path, "tolerateCorruptedTailRecords"), /checksum mismatch/);
    const pit = readWal(path, "pointInTime");
    assert.deepEqual([pit.batches.length, pit.stop], [1, true]);
    const skip = readWal(path, "skipAnyCorruptedRecords");
    assert.deepEqual(skip.batches.map((b) => Number(b.sequence)), [1, 3]);
    assert.equal(skip.stop, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("TableReader reads and verifies RocksDB 7.8's own table files, whose blocks carry XXH3 checksums", () => {
  const read = (bytes: Uint8Array) => {
    using t = TableReader.fromBytes(bytes, "000014.sst");
    assert.equal(t.footer.checksumType, 4);
    assert.equal(t.verify(), 3);
    return [...t.entries()].map((e) => `${text(e.key)}@${e.seq}:${e.type}=${text(e.value)}`);
  };
  const bytes = new Uint8Array(readFileSync(join(fixtureDb, "000014.sst")));
  assert.deepEqual(read(bytes), ["a@7:0=", "b@5:1=22", "d@6:1=4"]);
  const damaged = bytes.slice();
  damaged[20]! ^= 1; // inside the data block
  assert.throws(() => read(damaged), /data block 0 at offset 0: checksum mismatch/);
});

test("DbDirectory makes a database RocksDB opens, records flushes, deletes the logs they made obsolete, and reopens", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "dbdir-")), "db");
  mkdirSync(dir);
  const fields = {
    writeBufferSize: 1 << 20,
    maxWriteBufferNumber: 2,
    minWriteBufferNumberToMerge: 1,
    mergeOperatorName: undefined,
    prefixExtractorName: undefined,
    blockSize: 4096,
    bloomBitsPerKey: 0,
  };
  const ldb = (...args: string[]) =>
    spawnSync("ldb", [`--db=${dir}`, ...args], { encoding: "utf8" });
  try {
    let { db, logs, created } = DbDirectory.open(dir, fields);
    assert.equal(created, true);
    assert.deepEqual(logs, []);
    assert.equal(ldb("scan").status, 0, ldb("scan").stderr);
    // Writes go to a log first.
    const walNumber = db.newLogNumber();
    const wal = WalWriter.open(join(dir, logFileName(walNumber)), walNumber);
    const batch = new WriteBatch().put("a", "1").put("b", "2");
    batch.sequence = 1;
    wal.add(batch.data());
    assert.equal(ldb("scan").stdout, "a : 1\nb : 2\n", "ldb replays the unflushed log");
    // A flush: the batch goes to a table file; a new log takes later writes.
    const tableNumber = db.newFileNumber();
    const b = new TableBuilder();
    b.add(utf8("a"), 1, 1, utf8("1"));
    b.add(utf8("b"), 2, 1, utf8("2"));
    const bytes = b.finish();
    writeFileSync(join(dir, tableFileName(tableNumber)), bytes);
    const next = db.newLogNumber();
    const wal2 = WalWriter.open(join(dir, logFileName(next)), next);
    const later = new WriteBatch().put("c", "3");
    later.sequence = 3;
    wal2.add(later.data());
    db.recordFlush(
      {
        level: 0,
        number: tableNumber,
        fileSize: bytes.length,
        smallest: packInternalKey(utf8("a"), 1, 1),
        largest: packInternalKey(utf8("b"), 2, 1),
        smallestSeqno: 1,
        largestSeqno: 2,
      },
      next,
      2,
    );
    wal.close();
    assert.equal(existsSync(join(dir, logFileName(walNumber))), false, "the flushed log is gone");
    assert.equal(ldb("scan").stdout, "a : 1\nb : 2\nc : 3\n");
    assert.match(ldb("checkconsistency").stdout, /OK/);
    wal2.close();
    db.close();
    // Reopen: the table file stays, the live log is named for replay, a new MANIFEST holds it.
    ({ db, logs, created } = DbDirectory.open(dir, fields));
    assert.equal(created, false);
    assert.deepEqual(logs, [next]);
    assert.deepEqual(db.allFiles().map((f) => f.number), [tableNumber]);
    assert.equal(readdirSync(dir).filter((f) => f.startsWith("MANIFEST-")).length, 1);
    assert.ok(readdirSync(dir).includes("IDENTITY"));
    db.close();
    assert.equal(ldb("scan").stdout, "a : 1\nb : 2\nc : 3\n");
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

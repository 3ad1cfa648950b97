/**
 * A store's MANIFEST is untrusted input: thousands of seeded mutations of a real one — of
 * RocksDB's MANIFEST (edits with fields replaced by other values, dropped, repeated or
 * reordered, re-framed with valid checksums; bytes flipped; the file cut short; CURRENT
 * damaged) and of the earlier format's `MANIFEST.json` (values replaced by other types and
 * ranges, fields dropped or added, bytes flipped, the text cut short). Every `Store.open`
 * either opens a store that reads, writes and closes, or refuses with a
 * `CorruptionError`/`StoreError` and leaves every file of the directory as it was. Replay with
 * MEMTABLE_MANIFEST_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Buffer } from "node:buffer";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CorruptionError, Store, StoreError, ValueType, WriteBatch } from "../mod.ts";
import { TableBuilder } from "../table.ts";
import { DbDirectory } from "../src/db/database.ts";
import { LogWriter, readLog } from "../src/db/log_format.ts";
import { readCurrent } from "../src/db/manifest.ts";
import { decodeVersionEdit, encodeVersionEdit, type VersionEdit } from "../src/db/version_edit.ts";
import { optionsFileFields } from "../src/store/options.ts";
import { Rng, seedFor } from "./helpers.ts";

const oddValues: unknown[] = [
  null,
  true,
  "x",
  "../../etc/passwd",
  "1",
  -1,
  0,
  0.5,
  1e300,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  [],
  {},
  [1],
  { number: 1 },
];

function mutate(good: string, rng: Rng): string {
  const m = JSON.parse(good);
  switch (rng.below(6)) {
    case 0: { // a top-level field gets an odd value
      const keys = Object.keys(m);
      m[keys[rng.below(keys.length)]!] = oddValues[rng.below(oddValues.length)];
      return JSON.stringify(m);
    }
    case 1: { // a file's field gets an odd value, or a nearby integer
      const f = m.files[rng.below(m.files.length)];
      const keys = Object.keys(f);
      const k = keys[rng.below(keys.length)]!;
      f[k] = rng.below(2) === 0 ? oddValues[rng.below(oddValues.length)] : f[k] + rng.below(5) - 2;
      return JSON.stringify(m);
    }
    case 2: { // a field dropped, or an unknown one added
      const target = rng.below(2) === 0 ? m : m.files[rng.below(m.files.length)];
      const keys = Object.keys(target);
      if (rng.below(2) === 0) delete target[keys[rng.below(keys.length)]!];
      else target.extra = oddValues[rng.below(oddValues.length)];
      return JSON.stringify(m);
    }
    case 3: { // files reordered, duplicated or dropped
      const files = m.files as unknown[];
      const i = rng.below(files.length);
      if (rng.below(3) === 0) files.push(structuredClone(files[i]));
      else if (rng.below(2) === 0) files.splice(i, 1);
      else files.reverse();
      return JSON.stringify(m);
    }
    case 4: { // a byte of the text changed
      const bytes = new TextEncoder().encode(good);
      bytes[rng.below(bytes.length)] = rng.below(256);
      return new TextDecoder().decode(bytes);
    }
    default: // the text cut short
      return good.slice(0, rng.below(good.length));
  }
}

/** Every file of `dir` but `except`, with its bytes (hex). */
function snapshotOf(dir: string, except: readonly string[] = []): Map<string, string> {
  return new Map(
    readdirSync(dir).filter((f) => !except.includes(f)).sort().map((
      f,
    ) => [f, readFileSync(join(dir, f)).toString("hex")]),
  );
}

/** Puts `dir` back as `files` had it (every other file removed). */
function restore(dir: string, files: Map<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [f, hex] of files) writeFileSync(join(dir, f), Buffer.from(hex, "hex"));
}

/** A store of the earlier format: 3 table files of 20 keys (`k<f>:<i>` = `v<f>:<i>`). */
function writeLegacyStore(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const files = [];
  let seq = 0;
  for (let f = 0; f < 3; f++) {
    const b = new TableBuilder();
    const first = seq + 1;
    const keys = Array.from({ length: 20 }, (_, i) => `k${f}:${i}`).sort();
    for (const k of keys) b.add(k, ++seq, ValueType.Value, k.replace("k", "v"));
    const bytes = b.finish();
    writeFileSync(join(dir, `${String(f + 1).padStart(6, "0")}.sst`), bytes);
    files.push({ number: f + 1, smallestSeq: first, largestSeq: seq, size: bytes.length });
  }
  const manifest = { version: 1, files, lastSequence: seq, nextFileNumber: 4 };
  writeFileSync(join(dir, "MANIFEST.json"), JSON.stringify(manifest));
}

/** An accepted open: the store must work (reads may find less if the mutation dropped a file). */
async function exercise(store: Store): Promise<void> {
  for (const { key } of store.iterator()) assert.ok(key.length > 0);
  store.get("k0:0");
  if (store.lastSequence < Number.MAX_SAFE_INTEGER) store.put("new", "x");
  else assert.throws(() => store.put("new", "x"), /sequence numbers are used up/);
  await store.close();
}

/** A refused open: a Store.open() error of the right kind, and the directory as it was. */
function checkRefusal(e: unknown, dir: string, files: Map<string, string>, about: string): void {
  assert.ok(
    e instanceof CorruptionError || e instanceof StoreError,
    `${about}: ${(e as Error).name}: ${(e as Error).message}`,
  );
  assert.match((e as Error).message, /^Store\.open\(\): /, about);
  assert.deepEqual(snapshotOf(dir), files, `${about}: a refused open changed a file`);
}

const odd = (rng: Rng, v: number): number =>
  Math.max(0, [0, 1, 2, 3, 2 ** 40, Number.MAX_SAFE_INTEGER, v + 1, v - 1, v + 7][rng.below(9)]!);

/** One seeded mutation of RocksDB's MANIFEST `edits` (see the notes), re-framed. */
function mutateEdits(edits: VersionEdit[], rng: Rng): VersionEdit[] {
  const m = edits.map((e) => structuredClone(e));
  const edit = m[rng.below(m.length)]!;
  const files = m.flatMap((e) => e.newFiles ?? []);
  switch (rng.below(6)) {
    case 0: { // a number of an edit
      const fields = ["logNumber", "nextFileNumber", "lastSequence", "prevLogNumber"] as const;
      const f = fields[rng.below(fields.length)]!;
      edit[f] = odd(rng, Number(edit[f] ?? 0));
      return m;
    }
    case 1: { // a field of a table file
      const f = files[rng.below(files.length)];
      if (f === undefined) return m;
      const fields = ["level", "number", "fileSize", "smallestSeqno", "largestSeqno"] as const;
      const k = fields[rng.below(fields.length)]!;
      const v = k === "level" ? rng.below(10) : odd(rng, Number(f[k]));
      (f as unknown as Record<string, number>)[k] = v;
      return m;
    }
    case 2: { // an edit dropped, repeated or moved
      const i = rng.below(m.length);
      if (rng.below(3) === 0) m.splice(i, 1);
      else if (rng.below(2) === 0) m.splice(i, 0, structuredClone(m[i]!));
      else m.push(m.splice(i, 1)[0]!);
      return m;
    }
    case 3: { // a key range replaced
      const f = files[rng.below(files.length)];
      if (f !== undefined) f.smallest = new Uint8Array(rng.below(12)).map(() => rng.below(256));
      return m;
    }
    case 4: // another comparator
      edit.comparator = rng.below(2) === 0 ? "leveldb.BytewiseComparator2" : "";
      return m;
    default: // a file deleted that no level holds, or one that it does
      edit.deletedFiles = [{
        level: rng.below(3),
        number: files[rng.below(files.length)]?.number ?? 1,
      }];
      return m;
  }
}

function frame(edits: VersionEdit[]): Uint8Array {
  const log = new LogWriter(0);
  const parts = edits.map((e) => log.frame(encodeVersionEdit(e)));
  return Buffer.concat(parts);
}

test(
  "Store.open() of a mutated RocksDB MANIFEST or CURRENT opens a working store or refuses it and changes nothing (seeded)",
  { timeout: 300_000 },
  async () => {
    const rng = new Rng(seedFor("MEMTABLE_MANIFEST_SEED", "rocksdb manifest mutations"));
    const dir = join(mkdtempSync(join(tmpdir(), "manifest-fuzz-")), "db");
    const setup = Store.open({ dir, flushInWorker: false });
    for (let f = 0; f < 3; f++) {
      for (let i = 0; i < 20; i++) setup.put(`k${f}:${i}`, `v${f}:${i}`);
      await setup.flush();
    }
    await setup.close();
    const files = snapshotOf(dir);
    const manifest = readCurrent(dir);
    const good = new Uint8Array(readFileSync(join(dir, manifest)));
    const edits = readLog(good).records.map((r) => decodeVersionEdit(r.payload, manifest));
    let opened = 0;
    let refused = 0;
    for (let round = 0; round < 1000; round++) {
      const kind = rng.below(10);
      let about: string;
      if (kind < 6) {
        const bad = mutateEdits(edits, rng);
        writeFileSync(join(dir, manifest), frame(bad));
        about = `round ${round}: edits ${
          JSON.stringify(bad, (_, v) => typeof v === "bigint" ? `${v}n` : v)
        }`;
      } else if (kind < 8) {
        const bad = good.slice(0, kind === 6 ? good.length : rng.below(good.length));
        if (kind === 6) {
          const at = rng.below(bad.length);
          bad[at] = bad[at]! ^ (1 << rng.below(8));
        }
        writeFileSync(join(dir, manifest), bad);
        about = `round ${round}: MANIFEST bytes ${kind === 6 ? "flipped" : `cut to ${bad.length}`}`;
      } else {
        const texts = ["", "MANIFEST-000099\n", manifest, `${manifest}\n\n`, "../x\n", "CURRENT\n"];
        const t = texts[rng.below(texts.length)]!;
        writeFileSync(join(dir, "CURRENT"), t);
        about = `round ${round}: CURRENT ${JSON.stringify(t)}`;
      }
      const before = snapshotOf(dir);
      let store: Store | undefined;
      try {
        store = Store.open({ dir, flushInWorker: false });
      } catch (e) {
        checkRefusal(e, dir, before, about);
        refused++;
        restore(dir, files);
        continue;
      }
      await exercise(store);
      opened++;
      restore(dir, files);
    }
    const store = Store.open({ dir, flushInWorker: false });
    assert.equal(new TextDecoder().decode(store.get("k2:19")), "v2:19");
    await store.close();
    assert.ok(refused > 300 && opened > 50, `${refused} refused, ${opened} opened`);
    rmSync(dirname(dir), { recursive: true, force: true });
  },
);

test(
  "Store.open() of a store of the earlier format with a mutated MANIFEST.json converts it to a working store or refuses it and changes nothing (seeded)",
  {
    timeout: 300_000,
  },
  async () => {
    const rng = new Rng(seedFor("MEMTABLE_MANIFEST_SEED", "manifest mutations"));
    const dir = join(mkdtempSync(join(tmpdir(), "manifest-fuzz-")), "db");
    writeLegacyStore(dir);
    const good = readFileSync(join(dir, "MANIFEST.json"), "utf8");
    const files = snapshotOf(dir, ["MANIFEST.json"]);
    let opened = 0;
    let refused = 0;
    for (let round = 0; round < 1000; round++) {
      const bad = mutate(good, rng);
      writeFileSync(join(dir, "MANIFEST.json"), bad);
      let store: Store | undefined;
      try {
        store = Store.open({ dir, flushInWorker: false });
      } catch (e) {
        checkRefusal(e, dir, snapshotOf(dir), `round ${round}: manifest ${bad}`);
        refused++;
        continue;
      }
      await exercise(store); // converted: a RocksDB database from here on
      opened++;
      restore(dir, files);
    }
    writeFileSync(join(dir, "MANIFEST.json"), good);
    const store = Store.open({ dir, flushInWorker: false });
    assert.equal(new TextDecoder().decode(store.get("k2:19")), "v2:19");
    await store.close();
    assert.ok(refused > 650, `${refused} refused, ${opened} opened`);
    rmSync(dirname(dir), { recursive: true, force: true });
  },
);

test("Store: at the last sequence number a Store can count to, writes are refused with a StoreError and change nothing", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "manifest-last-")), "db");
  const setup = Store.open({ dir, flushInWorker: false });
  setup.put("k", "v");
  await setup.close();
  const { db } = DbDirectory.open(dir, optionsFileFields({ dir }));
  db.recordSequence(Number.MAX_SAFE_INTEGER - 1);
  db.close();
  const store = Store.open({ dir, flushInWorker: false });
  store.put("last", "fits"); // takes 2^53 - 1
  assert.equal(store.lastSequence, Number.MAX_SAFE_INTEGER);
  assert.throws(
    () => store.put("k", "x"),
    (e: Error) =>
      e instanceof StoreError &&
      /^Store\.put\(\): the store's sequence numbers are used up/.test(e.message),
  );
  assert.throws(
    () => store.write(new WriteBatch().put("a", "1")),
    /StoreError: Store\.write\(\): .*used up/,
  );
  assert.equal(new TextDecoder().decode(store.get("k")), "v");
  assert.equal(new TextDecoder().decode(store.get("last")), "fits");
  assert.equal(store.lastSequence, Number.MAX_SAFE_INTEGER);
  await store.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});

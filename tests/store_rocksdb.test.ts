/**
 * Databases RocksDB wrote (db_bench fillrandom: table files in several levels, an unflushed
 * log, its LOG and OPTIONS files) open as stores that read what `ldb scan` reads — uncompressed
 * and with RocksDB's default codec, Snappy; a codec this library does not decode is an error
 * that names it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../mod.ts";
import { dbBenchFill } from "./helpers.ts";

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();

/** A database db_bench filled with `n` random keys, compressed with `compression`. */
function dbBench(root: string, compression: string, n = 20_000): string {
  const db = join(root, compression);
  dbBenchFill(db, compression, n);
  return db;
}

/** What RocksDB reads in `db` (on a copy: opening it recovers the log), as `0xKEY : 0xVALUE`. */
function ldbScan(db: string): string[] {
  const copy = `${db}-scan`;
  cpSync(db, copy, { recursive: true });
  const r = spawnSync("ldb", [`--db=${copy}`, "scan", "--hex"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("0x"));
}

for (const compression of ["none", "snappy"]) {
  test(`Store.open() of a database db_bench wrote (compression ${compression}) reads what ldb scan reads`, async () => {
    const root = mkdtempSync(join(tmpdir(), "memtable-rocksdb-"));
    try {
      const db = dbBench(root, compression);
      assert.ok(readdirSync(db).some((f) => f.endsWith(".log")));
      const want = ldbScan(db);
      assert.ok(want.length > 10_000, `${want.length} keys`); // fillrandom draws keys with repeats
      const store = Store.open({ dir: db });
      assert.ok(store.files.some((f) => f.level > 0), "files below level 0");
      const got = [...store.iterator()].map((e) => `0x${hex(e.key)} : 0x${hex(e.value)}`);
      assert.deepEqual(got, want);
      const [k, v] = want[want.length >> 1]!.split(" : ").map((x) => x.slice(2)) as [
        string,
        string,
      ];
      const key = Uint8Array.from(k.match(/../g)!.map((b) => parseInt(b, 16)));
      assert.equal(hex(store.get(key)!), v);
      store.put("added", "by the store");
      await store.close();
      assert.ok(
        ldbScan(db).includes(
          `0x${hex(new TextEncoder().encode("added"))} : 0x${
            hex(new TextEncoder().encode("by the store"))
          }`,
        ),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test("Store: a table compressed with a codec this library does not decode is an error naming it", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-rocksdb-"));
  try {
    const db = dbBench(root, "lz4", 5000);
    const message = /compressed with LZ4 \(compression type 4\), which this reader does not decode/;
    let store: Store | undefined;
    try {
      store = Store.open({ dir: db });
      assert.throws(() => [...store!.iterator()], message);
    } catch (e) {
      assert.match((e as Error).message, message); // the index blocks are compressed too
    } finally {
      await store?.close().catch(() => {});
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

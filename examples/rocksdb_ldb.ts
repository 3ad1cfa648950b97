// A Store's directory is a RocksDB database: RocksDB's `ldb` tool reads it (when installed).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../mod.ts";

const dir = mkdtempSync(join(tmpdir(), "memtable-ldb-"));
try {
  const store = Store.open({ dir });
  for (let i = 0; i < 100; i++) store.put(`key${String(i).padStart(3, "0")}`, `value${i}`);
  store.delete("key050");
  await store.flush(); // an SST file, recorded in the MANIFEST
  await store.close();
  assert.ok(readdirSync(dir).some((f) => f.endsWith(".sst")));
  assert.ok(readdirSync(dir).includes("CURRENT"));

  const ldb = spawnSync("ldb", [`--db=${dir}`, "scan"], { encoding: "utf8" });
  if (ldb.error) {
    console.log("rocksdb_ldb: ldb is not installed (apt-get install rocksdb-tools); skipped");
  } else {
    assert.equal(ldb.status, 0, ldb.stderr);
    const lines = ldb.stdout.trim().split("\n");
    assert.equal(lines.length, 99); // key050 is deleted
    assert.equal(lines[0], "key000 : value0");
    assert.ok(!lines.some((l) => l.startsWith("key050")));
    const got = spawnSync("ldb", [`--db=${dir}`, "get", "key042"], { encoding: "utf8" });
    assert.equal(got.stdout.trim(), "value42");
    console.log("rocksdb_ldb: ok");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

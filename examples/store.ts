import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store, stringAppend, ValueType } from "../mod.ts";
import { SstFileWriter, TableReader } from "../table.ts";

const text = (s: string) => new TextEncoder().encode(s);
const dir = mkdtempSync(join(tmpdir(), "memtable-example-"));

const store = Store.open({
  dir: join(dir, "db"),
  writeBufferSize: 64 << 20,
  mergeOperator: stringAppend(),
});
store.put("user:1", "ada");
store.merge("log", "started");
using snap = store.snapshot();
store.delete("user:1");
assert.equal(store.get("user:1"), undefined);
assert.deepEqual(store.get("user:1", { snapshot: snap }), text("ada"));
const seen = [...store.iterator({ lower: "a", upper: "z" })].map(({ key, value }) =>
  `${new TextDecoder().decode(key)}=${new TextDecoder().decode(value)}`
);
assert.deepEqual(seen, ["log=started"]);
store.put("user:2", "grace", { sync: true }); // survives power loss when this returns
await store.flush(); // memtables → db/NNNNNN.sst, recorded in MANIFEST-NNNNNN
await store.close(); // flushes; `ldb --db=DIR scan` reads it, as does Store.open again

const again = Store.open({ dir: join(dir, "db"), mergeOperator: stringAppend() });
assert.deepEqual(again.get("user:2"), text("grace"));
assert.deepEqual(again.get("log"), text("started"));
await again.close();

// The read API users of RocksDB, LevelDB (`level`) and Deno KV know, at any snapshot:
{
  await using db = Store.open({ dir: join(dir, "db2") }); // closed at the end of the scope
  for (const k of ["a", "b1", "b2", "c"]) db.put(k, k);
  assert.deepEqual(db.multiGet(["c", "x", "a"]), [text("c"), undefined, text("a")]);
  const last = db.iterator({ prefix: "b", reverse: true, limit: 1 }).toArray();
  assert.deepEqual(last, [{ key: text("b2"), value: text("b2") }]);
  const keys: string[] = [];
  for await (const { key } of db.iterator({ gt: "a", lte: "b2" })) {
    keys.push(new TextDecoder().decode(key));
  }
  assert.deepEqual(keys, ["b1", "b2"]);
  using cursor = db.cursor({ upper: "c" }); // RocksDB's iterator: both ways, seeks, a fixed view
  cursor.seekForPrev("bz"); // the last key ≤ "bz"
  assert.deepEqual(cursor.key, text("b2"));
  cursor.prev();
  assert.deepEqual(cursor.key, text("b1"));
  cursor.seek("b2");
  cursor.next(); // "c" is past the upper bound
  assert.equal(cursor.valid, false);
}

const w = new SstFileWriter(join(dir, "bulk.sst")); // for `ldb ingest_extern_sst`
w.put("a", "1");
w.put("b", "2");
w.finish();
using t = TableReader.open(join(dir, "bulk.sst")); // this library's files and RocksDB's
assert.deepEqual(t.get(text("a")), {
  key: text("a"),
  seq: 0,
  type: ValueType.Value,
  value: text("1"),
});

rmSync(dir, { recursive: true, force: true });
console.log("store: ok");

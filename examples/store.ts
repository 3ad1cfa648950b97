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

/**
 * Interoperability with RocksDB itself (Debian's rocksdb-tools, installed by the test
 * command's setup): a batch written by WriteBatch, framed as a RocksDB write-ahead-log record,
 * is decoded by `ldb dump_wal` into the same records.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValueType, WriteBatch } from "../mod.ts";
import { Rng, seedFor } from "./helpers.ts";

const crcTable = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  crcTable[i] = c >>> 0;
}
function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of bytes) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * One WAL file holding `payload` as a single full record (RocksDB's log format: masked
 * crc32c of type ‖ payload, fixed16 length, type 1 = full; records fit one 32 KiB block).
 */
function walFile(payload: Uint8Array): Uint8Array {
  assert.ok(payload.length + 7 <= 32 * 1024, "one block");
  const typed = new Uint8Array(1 + payload.length);
  typed[0] = 1;
  typed.set(payload, 1);
  const c = crc32c(typed);
  const masked = ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
  const out = new Uint8Array(7 + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, masked, true);
  v.setUint16(4, payload.length, true);
  out[6] = 1;
  out.set(payload, 7);
  return out;
}

const hex = (b: Uint8Array) =>
  "0x" + [...b].map((x) => x.toString(16).padStart(2, "0").toUpperCase()).join("");

test("crc32c matches the published check value", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

test("ldb dump_wal decodes a WriteBatch of every record type into the same records", () => {
  const seed = seedFor("MEMTABLE_INTEROP_SEED", "WAL interop test");
  const rng = new Rng(seed);
  const batch = new WriteBatch();
  const expected: string[] = [];
  for (let i = 0; i < 60; i++) {
    const key = rng.bytes(rng.below(3) === 0 ? 0 : 1 + rng.below(30));
    const value = rng.bytes(rng.below(5) === 0 ? 200 + rng.below(300) : rng.below(20));
    switch (rng.below(6)) {
      case 0:
        batch.delete(key);
        expected.push(`DELETE(0) : ${hex(key)}`);
        break;
      case 1:
        batch.singleDelete(key);
        expected.push(`SINGLE_DELETE(0) : ${hex(key)}`);
        break;
      case 2:
        batch.merge(key, value);
        expected.push(`MERGE(0) : ${hex(key)} : ${hex(value)}`);
        break;
      case 3: {
        const end = new Uint8Array([...key, 0xff]);
        batch.deleteRange(key, end);
        expected.push(`DELETE_RANGE(0) : ${hex(key)} ${hex(end)}`);
        break;
      }
      case 4:
        batch.putLogData(value); // carried, not a record ldb lists
        break;
      default:
        batch.put(key, value);
        expected.push(`PUT(0) : ${hex(key)} : ${hex(value)}`);
    }
  }
  batch.sequence = 1234;
  const dir = mkdtempSync(join(tmpdir(), "memtable-wal-"));
  try {
    const file = join(dir, "000007.log");
    writeFileSync(file, walFile(batch.data()));
    const r = spawnSync("ldb", ["dump_wal", `--walfile=${file}`, "--header", "--print_value"], {
      encoding: "utf8",
    });
    assert.equal(
      r.error,
      undefined,
      `ldb not runnable (apt-get install rocksdb-tools): ${r.error}`,
    );
    assert.equal(r.status, 0, r.stderr);
    const fields = r.stdout.split("\n")[1]!.split(",");
    assert.deepEqual(fields.slice(0, 4), [
      "1234",
      String(batch.count),
      String(batch.byteSize),
      "0",
    ]);
    const records = fields.slice(4).join(",").trim();
    assert.equal(records, expected.join(" "), `seed ${seed}`);
    assert.equal(batch.records().length, batch.count);
    assert.equal(
      batch.records().filter((x) => x.type === ValueType.RangeDeletion).length,
      expected.filter((e) => e.startsWith("DELETE_RANGE")).length,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

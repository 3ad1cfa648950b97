/**
 * A Store's SST files carry RocksDB's full bloom filter (`bloomBitsPerKey`, default 10):
 * flushes (in the Worker and on the store's thread) and compactions write it, a point read of
 * an absent key reads no data block of a file whose filter turns it away (shown with files
 * whose data blocks were overwritten: a read of one would throw), `stats().filter` counts the
 * checks, and RocksDB reads the directory through the filters (its OPTIONS file names the
 * policy; with the filter bits cleared RocksDB loses the keys, as a filter it reads must).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  cpSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CorruptionError, Store } from "../mod.ts";
import { TableReader } from "../table.ts";
import { FilterBlock, filterMetaName } from "../src/table/filter_block.ts";
import {
  crc32c,
  decodeFooter,
  footerSize,
  maskCrc,
  readBlock,
  readHandle,
} from "../src/table/format.ts";
import { text, utf8 } from "./helpers.ts";

const key = (i: number) => `key${String(i).padStart(6, "0")}`;

/** The filter block of the SST file's bytes (and where it is), read independently. */
function filterBlockOf(bytes: Uint8Array): { offset: number; size: number } | undefined {
  const footer = decodeFooter(bytes.subarray(bytes.length - footerSize), bytes.length, "t");
  const mi = footer.metaindex;
  const meta = readBlock(bytes.subarray(mi.offset, mi.offset + mi.size), "metaindex", false);
  const e = meta.find((m) => text(m.key) === filterMetaName);
  return e && readHandle(e.value, 0, "metaindex")[0];
}

const tables = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".sst")).sort();

/**
 * A store in `dir` with `files` flushed files of 500 keys each, their key ranges overlapping:
 * key(2i) for i < 500 · files is in file i mod files, with the value `value i`.
 */
async function filledStore(dir: string, files: number, options: object = {}): Promise<Store> {
  const store = Store.open({ dir, disableAutoCompactions: true, ...options });
  for (let f = 0; f < files; f++) {
    for (let i = f; i < 500 * files; i += files) store.put(key(2 * i), `value ${i}`);
    await store.flush();
  }
  return store;
}

test("Store files have bloom filters by default; an absent key's get reads no data block of a filtered file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-store-filter-"));
  try {
    const store = await filledStore(dir, 3);
    assert.equal(store.files.length, 3);
    for (let i = 0; i < 1500; i++) assert.equal(text(store.get(key(2 * i))!), `value ${i}`);
    const before = store.stats().filter;
    // A read checks the files newest first down to the one holding the key: 500 keys in each
    // of the three files are 1 + 2 + 3 checks, less 3 for key(0) and key(2), below the ranges
    // of the newer files (not checked at all); every check but the last of a read misses.
    assert.equal(before.checks, 500 * 6 - 3);
    assert.equal(before.filteredOut + before.falsePositives, 500 * 6 - 3 - 1500);
    assert.ok(before.filteredOut > 1497 * 0.95, `filtered out ${before.filteredOut}`);
    await store.close();

    // Overwrite every file's data blocks, then read absent keys the filters turn away.
    const filters: FilterBlock[] = [];
    for (const f of tables(dir)) {
      const path = join(dir, f);
      const bytes = readFileSync(path);
      const h = filterBlockOf(bytes);
      assert.ok(h !== undefined, `${f} has a filter`);
      using reader = TableReader.open(path);
      assert.equal(h.offset, reader.properties.dataSize); // right after the data blocks
      filters.push(new FilterBlock(bytes.subarray(h.offset, h.offset + h.size)));
      const fd = openSync(path, "r+");
      writeSync(fd, new Uint8Array(h.offset).fill(0x55), 0, h.offset, 0);
      closeSync(fd);
    }
    // Absent keys within every file's range (key(5) to key(2993)) that no filter lets through.
    const absent = Array.from({ length: 1495 }, (_, i) => utf8(key(2 * i + 5)))
      .filter((k) => filters.every((f) => !f.mayMatch(k)));
    assert.ok(absent.length > 1400, `${absent.length} absent keys every filter turns away`);
    const reopened = Store.open({ dir, disableAutoCompactions: true });
    try {
      for (const k of absent) assert.equal(reopened.get(k), undefined);
      assert.deepEqual(reopened.stats().filter, {
        checks: absent.length * 3,
        filteredOut: absent.length * 3,
        falsePositives: 0,
      });
      // A read that does reach a data block finds the damage: the test above could fail.
      assert.throws(() => reopened.get(key(0)), CorruptionError);
    } finally {
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bloomBitsPerKey: 0 writes no filters and records filter_policy=nullptr; bad values are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "memtable-store-filter-"));
  try {
    const store = await filledStore(dir, 2, { bloomBitsPerKey: 0, flushInWorker: false });
    assert.equal(store.get(key(1)), undefined);
    assert.deepEqual(store.stats().filter, { checks: 0, filteredOut: 0, falsePositives: 0 });
    await store.close();
    for (const f of tables(dir)) assert.equal(filterBlockOf(readFileSync(join(dir, f))), undefined);
    const options = readdirSync(dir).filter((f) => f.startsWith("OPTIONS-")).sort().at(-1)!;
    assert.match(readFileSync(join(dir, options), "utf8"), /\n {2}filter_policy=nullptr\n/);
    assert.throws(
      () => Store.open({ dir, bloomBitsPerKey: "10" as never }),
      /^TypeError: Store\.open\(\): bloomBitsPerKey must be a number, got string/,
    );
    assert.throws(
      () => Store.open({ dir, bloomBitsPerKey: 0.5 }),
      /^RangeError: Store\.open\(\): bloomBitsPerKey must be 0 \(no filter\) or in \[1, 100\], got 0\.5$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const flushInWorker of [false, true]) {
  test(`compaction outputs carry filters at the store's bits per key (flushInWorker ${flushInWorker})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "memtable-store-filter-"));
    try {
      const store = await filledStore(dir, 3, { bloomBitsPerKey: 7.5, flushInWorker });
      for (const f of tables(dir)) {
        const h = filterBlockOf(readFileSync(join(dir, f)))!;
        assert.equal(h.size, Math.ceil((500 * 7500) / 8000 / 64) * 64 + 5, `flushed ${f}`);
      }
      await store.compactRange();
      assert.deepEqual(store.files.map((f) => f.level), [1]);
      assert.equal(store.stats().compactionsInWorker > 0, flushInWorker);
      const absentBefore = store.stats().filter.checks;
      assert.equal(store.get(key(1)), undefined);
      assert.equal(store.stats().filter.checks, absentBefore + 1);
      await store.close();
      const [file] = tables(dir);
      const bytes = readFileSync(join(dir, file!));
      const h = filterBlockOf(bytes)!;
      assert.equal(h.size, Math.ceil((1500 * 7500) / 8000 / 64) * 64 + 5);
      assert.equal(bytes[h.offset + h.size - 3], 5); // 7.5 bits per key: 5 probes
      const options = readdirSync(dir).filter((f) => f.startsWith("OPTIONS-")).sort().at(-1)!;
      assert.match(
        readFileSync(join(dir, options), "utf8"),
        /\n {2}filter_policy=bloomfilter:7\.5:false\n/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---- RocksDB's tools -----------------------------------------------------------------------

function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 1 << 28,
    ...(input === undefined ? {} : { input }),
  });
  assert.equal(
    r.error,
    undefined,
    `${cmd} not runnable (apt-get install rocksdb-tools): ${r.error}`,
  );
  return r;
}

test("RocksDB reads a Store's directory through its filters: sst_dump shows them, ldb gets use them", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-store-filter-"));
  try {
    const dir = join(root, "db");
    const store = await filledStore(dir, 3);
    await store.close();
    const options = readdirSync(dir).filter((f) => f.startsWith("OPTIONS-")).sort().at(-1)!;
    assert.match(
      readFileSync(join(dir, options), "utf8"),
      /\n {2}filter_policy=bloomfilter:10:false\n/,
    );
    for (const f of tables(dir)) {
      const props = run("sst_dump", [`--file=${join(dir, f)}`, "--show_properties"]);
      assert.match(props.stdout, /filter block size: 645\n/, f); // 625 bytes → 10 lines, metadata
      assert.match(props.stdout, /# entries for filter: 500\n/, f);
      assert.match(props.stdout, /filter policy name: bloomfilter\n/, f);
    }
    const queries = Array.from({ length: 1500 }, (_, i) => `get ${key(2 * i)}\n`).join("");
    // On copies: ldb opens a database read-write.
    const good = join(root, "good");
    cpSync(dir, good, { recursive: true });
    const q = run("ldb", [`--db=${good}`, "query"], queries);
    assert.equal(q.status, 0, q.stderr + q.stdout);
    assert.equal(q.stdout.split("\n").filter((l) => l.includes(" ==> value ")).length, 1500);
    // The filters' bits cleared (checksums made right): RocksDB, reading them, finds nothing.
    const cleared = join(root, "cleared");
    cpSync(dir, cleared, { recursive: true });
    for (const f of tables(cleared)) {
      const path = join(cleared, f);
      const bytes = readFileSync(path);
      const h = filterBlockOf(bytes)!;
      bytes.fill(0, h.offset, h.offset + h.size - 5);
      const trailer = maskCrc(
        crc32c(bytes.subarray(h.offset, h.offset + h.size), Uint8Array.of(0)),
      );
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(h.offset + h.size + 1, trailer, true);
      writeFileSync(path, bytes);
    }
    const lost = run("ldb", [`--db=${cleared}`, "query"], queries);
    assert.match(lost.stdout, new RegExp(`Not found ${key(0)}`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

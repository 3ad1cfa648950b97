/**
 * The memtable representations side by side, with the JS peers in the same run:
 *
 *     bun bench/reps.ts [entries]                       every subject, both key orders
 *     deno run -A --v8-flags=--expose-gc bench/reps.ts [entries]
 *     bun bench/reps.ts <subject> <random|sequential> [entries]   one subject: one JSON line
 *
 * Subjects: skiplist, skiplist+index (pointIndex), hashSkipList, hashLinkList, vector,
 * sorted-btree, js-sdsl; each in its own process (so its memory is its own). Keys are 16 bytes:
 * an 8-byte group (the prefix, `fixedPrefix(8)`) and an 8-byte member, 16 members per group on
 * average, with 100-byte values. `random`: random groups and members, inserted in random order;
 * `sequential`: ascending keys inserted in order. Measured: insert (one `add` per key), get
 * hit (all keys, random order), get miss (as many keys of absent groups) without and with a
 * prefix bloom filter (about 10 bits per key), prefix scan (1000 seeks to a random present
 * group with `prefixSameAsStart`, reading the group), full scan (`entries()`, which includes
 * sorting the hash and vector representations), native bytes per entry (JS heap for peers).
 * Also the insert of the same keys through `write()` in batches of 1000 (bulk loading).
 */
import process from "node:process";
import { OrderedMap } from "js-sdsl";
import {
  fixedPrefix,
  MemTable,
  type MemTableOptions,
  type MemTableRep,
  nativeMemoryBytes,
  ValueType,
  WriteBatch,
} from "../mod.ts";
import { Rng } from "../tests/helpers.ts";
import { BTree, gc, valueSize } from "./data.ts";

const keySize = 16;
const prefixScans = 1000;
const batchSize = 1000;

const reps: Record<string, MemTableRep | "index"> = {
  skiplist: "skiplist",
  "skiplist+index": "index",
  hashSkipList: "hashSkipList",
  hashLinkList: "hashLinkList",
  vector: "vector",
};
const peers = ["sorted-btree", "js-sdsl"];
const subjects = [...Object.keys(reps), ...peers];
const orders = ["random", "sequential"];

interface Result {
  runtime: string;
  subject: string;
  order: string;
  n: number;
  insertNs: number;
  batchInsertNs: number;
  getNs: number;
  missNs: number;
  missBloomNs: number;
  prefixScanUs: number;
  scanNsPerEntry: number;
  bytesPerEntry: number;
}

const runtime = "Bun" in globalThis ? "bun" : "deno";

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) * 1e6; // ns
}

/** Keys 0..n-1 (present) and n..2n-1 (of absent groups), back to back; lookup order. */
function makeKeys(n: number, order: string) {
  const rng = new Rng(42);
  const groups = Math.max(1, Math.floor(n / 16));
  const bytes = new Uint8Array(2 * n * keySize);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 2 * n; i++) {
    const o = i * keySize;
    const present = i < n;
    // Present groups are even, absent ones odd: a miss lands between present keys.
    const group =
      2 * (order === "sequential" ? (present ? i >> 4 : (i - n) >> 4) : rng.below(groups)) +
      (present ? 0 : 1);
    view.setUint32(o + 4, group);
    if (order === "sequential") view.setUint32(o + 12, i & 15);
    else {
      view.setUint32(o + 8, rng.u32());
      view.setUint32(o + 12, rng.u32());
    }
  }
  const lookups = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [lookups[i], lookups[j]] = [lookups[j]!, lookups[i]!];
  }
  const key = (i: number) => bytes.subarray(i * keySize, (i + 1) * keySize);
  const binary = (i: number) => String.fromCharCode(...key(i));
  return { key, binary, lookups, rng };
}

function runOne(subject: string, order: string, n: number): Result {
  const { key, binary, lookups, rng } = makeKeys(n, order);
  const value = new Uint8Array(valueSize).map((_, i) => i);
  const r: Result = {
    runtime,
    subject,
    order,
    n,
    insertNs: 0,
    batchInsertNs: 0,
    getNs: 0,
    missNs: 0,
    missBloomNs: 0,
    prefixScanUs: 0,
    scanNsPerEntry: 0,
    bytesPerEntry: 0,
  };
  const scanFrom = Array.from({ length: prefixScans }, () => lookups[rng.below(n)]!);
  let hits = 0;
  let misses = 0;
  let scanned = 0;
  let grouped = 0;
  if (subject in reps) {
    const rep = reps[subject]!;
    const options = (bloom: boolean): MemTableOptions => ({
      writeBufferSize: 256 << 20,
      prefixExtractor: fixedPrefix(8),
      ...(rep === "index" ? { pointIndex: true } : { rep }),
      // 2^28 × 8 × 0.005 ≈ 10.7 Mbit: about 10 bits per key at 1M keys.
      ...(bloom ? { memtablePrefixBloomSizeRatio: 0.005 } : {}),
    });
    const load = (mt: MemTable) => {
      for (let i = 0; i < n; i++) mt.add(i + 1, ValueType.Value, key(i), value);
    };
    gc();
    const base = nativeMemoryBytes();
    const mt = new MemTable(options(false));
    r.insertNs = time(() => load(mt)) / n;
    r.bytesPerEntry = (nativeMemoryBytes() - base) / n;
    r.getNs = time(() => {
      for (let j = 0; j < n; j++) {
        const g = mt.get(key(lookups[j]!));
        if (g.kind === "value") hits++;
      }
    }) / n;
    r.missNs = time(() => {
      for (let j = 0; j < n; j++) if (mt.get(key(n + lookups[j]!)).kind !== "absent") misses++;
    }) / n;
    r.prefixScanUs = time(() => {
      using it = mt.iterator({ prefixSameAsStart: true });
      for (const i of scanFrom) {
        for (it.seek(key(i).subarray(0, 8)); it.valid(); it.next()) grouped++;
      }
    }) / prefixScans / 1000;
    r.scanNsPerEntry = time(() => {
      for (const _ of mt.entries()) scanned++;
    }) / n;
    mt.close();
    const bloomed = new MemTable(options(true));
    load(bloomed);
    r.missBloomNs = time(() => {
      for (let j = 0; j < n; j++) {
        if (bloomed.get(key(n + lookups[j]!)).kind !== "absent") misses++;
      }
    }) / n;
    bloomed.close();
    const batched = new MemTable(options(false));
    r.batchInsertNs = time(() => {
      for (let i = 0; i < n; i += batchSize) {
        const b = new WriteBatch();
        for (let k = i; k < Math.min(n, i + batchSize); k++) b.put(key(k), value);
        batched.write(b, i + 1);
      }
    }) / n;
    batched.close();
  } else {
    const sdsl = subject === "js-sdsl";
    const m = new OrderedMap<string, Uint8Array>();
    const t = new BTree();
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    r.insertNs = time(() => {
      if (sdsl) { for (let i = 0; i < n; i++) m.setElement(binary(i), value.slice()); }
      else for (let i = 0; i < n; i++) t.set(binary(i), value.slice());
    }) / n;
    gc();
    r.bytesPerEntry = (process.memoryUsage().heapUsed - heap0) / n;
    const get = (i: number) => sdsl ? m.getElementByKey(binary(i)) : t.get(binary(i));
    r.getNs = time(() => {
      for (let j = 0; j < n; j++) if (get(lookups[j]!) !== undefined) hits++;
    }) / n;
    r.missNs = time(() => {
      for (let j = 0; j < n; j++) if (get(n + lookups[j]!) !== undefined) misses++;
    }) / n;
    r.prefixScanUs = time(() => {
      for (const i of scanFrom) {
        const p = binary(i).slice(0, 8);
        if (sdsl) {
          for (const it = m.lowerBound(p); !it.equals(m.end()); it.next()) {
            if (!it.pointer[0].startsWith(p)) break;
            grouped++;
          }
        } else {
          for (const [k] of t.entries(p)) {
            if (!k.startsWith(p)) break;
            grouped++;
          }
        }
      }
    }) / prefixScans / 1000;
    r.scanNsPerEntry = time(() => {
      if (sdsl) m.forEach(() => void scanned++);
      else t.forEachPair(() => void scanned++);
    }) / n;
  }
  // Peers keep one version per key; a rare random duplicate key is one entry there.
  if (hits !== n || misses !== 0 || scanned < n * 0.999 || grouped < prefixScans) {
    throw new Error(
      `${subject}: hits ${hits}, misses ${misses}, scanned ${scanned}, grouped ${grouped}`,
    );
  }
  return r;
}

function table(results: Result[]): string {
  const f = (x: number, d = 0) => x.toFixed(d);
  const rows = results.map((r) =>
    `| ${r.subject} | ${r.order} | ${f(r.insertNs)} | ${
      r.batchInsertNs ? f(r.batchInsertNs) : "–"
    } | ${f(r.getNs)} | ${f(r.missNs)} | ${r.missBloomNs ? f(r.missBloomNs) : "–"} | ${
      f(r.prefixScanUs, 1)
    } | ${f(r.scanNsPerEntry)} | ${f(r.bytesPerEntry)} |`
  );
  return [
    `${results[0]!.runtime}, ${results[0]!.n} entries:`,
    "",
    "| subject | keys | insert ns | batch insert ns | get hit ns | get miss ns | miss + bloom ns | prefix scan µs | full scan ns/entry | B/entry |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n");
}

function ratios(results: Result[]): string[] {
  const at = (s: string, o: string) => results.find((r) => r.subject === s && r.order === o)!;
  const out: string[] = [];
  for (const o of orders) {
    const peerGet = Math.min(at("sorted-btree", o).getNs, at("js-sdsl", o).getNs);
    const peerMiss = Math.min(at("sorted-btree", o).missNs, at("js-sdsl", o).missNs);
    for (const s of ["skiplist+index", "hashSkipList", "hashLinkList"]) {
      out.push(
        `${o}: ${s} get hit ${(peerGet / at(s, o).getNs).toFixed(2)}× the faster JS map, ` +
          `get miss with bloom ${(peerMiss / at(s, o).missBloomNs).toFixed(2)}×`,
      );
    }
    const v = at("vector", o);
    const sl = at("skiplist", o);
    out.push(
      `${o}: vector insert ${(sl.insertNs / v.insertNs).toFixed(2)}× the skiplist's (add), ` +
        `${(sl.batchInsertNs / v.batchInsertNs).toFixed(2)}× (batches)`,
    );
  }
  return out;
}

const [a, b, c] = process.argv.slice(2);
if (a !== undefined && subjects.includes(a)) {
  console.log(JSON.stringify(runOne(a, b ?? "random", Number(c ?? 1_000_000))));
} else {
  const n = Number(a ?? 1_000_000);
  const self = new URL(import.meta.url).pathname;
  const argv = runtime === "bun"
    ? [process.execPath, self]
    : [process.execPath, "run", "-A", "--v8-flags=--expose-gc", self];
  const { spawnSync } = await import("node:child_process");
  const results: Result[] = [];
  for (const order of orders) {
    for (const subject of subjects) {
      const p = spawnSync(argv[0]!, [...argv.slice(1), subject, order, String(n)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      });
      if (p.status !== 0) throw new Error(`${subject} ${order} failed (${p.status})`);
      const line = p.stdout.split("\n").find((l) => l.startsWith("{"))!;
      console.error(line);
      results.push(JSON.parse(line));
    }
  }
  console.log(table(results));
  console.log();
  for (const l of ratios(results)) console.log(l);
}

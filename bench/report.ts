/**
 * Reads the JSON lines of `bench/workload.ts`, `native/src/bench.zig`,
 * `bench/rocksdb_skiplist.cc` and the db_bench lines that `scripts/bench.sh` converts, and prints
 * one markdown table (median of each figure over the repeated runs), then the ratios the targets
 * are stated in.
 *
 *     … | bun bench/report.ts
 */
export {};

interface Row {
  runtime: string;
  impl: string;
  n: number;
  putNsPerOp?: number;
  getNsPerOp?: number;
  getMissNsPerOp?: number;
  scanNsPerEntry?: number;
  rangeUsPerScan?: number;
  scanBatchNsPerEntry?: number;
  rangeBatchUsPerScan?: number;
  nativeBytesPerEntry?: number;
  rssBytesPerEntry?: number;
  heapBytesPerEntry?: number;
}

const input = await new Response(
  (globalThis as unknown as { Bun: { stdin: { stream(): ReadableStream } } }).Bun.stdin.stream(),
).text();
const rows: Row[] = input.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const groups = new Map<string, Row[]>();
for (const r of rows) {
  const k = `${r.runtime} ${r.impl}`;
  groups.set(k, [...(groups.get(k) ?? []), r]);
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

const columns: [keyof Row, string, number][] = [
  ["putNsPerOp", "put ns/op", 0],
  ["getNsPerOp", "get ns/op", 0],
  ["getMissNsPerOp", "get miss ns/op", 0],
  ["scanNsPerEntry", "scan ns/entry", 0],
  ["rangeUsPerScan", "range µs/1000", 0],
  ["scanBatchNsPerEntry", "scan() ns/entry", 0],
  ["rangeBatchUsPerScan", "scan() range µs/1000", 0],
  ["nativeBytesPerEntry", "native B/entry", 1],
  ["rssBytesPerEntry", "RSS B/entry", 0],
  ["heapBytesPerEntry", "JS heap B/entry", 1],
];
const med = (k: string, c: keyof Row) =>
  median((groups.get(k) ?? []).map((r) => r[c] as number).filter((x) => typeof x === "number"));

console.log(`| runtime | implementation | runs | ${columns.map((c) => c[1]).join(" | ")} |`);
console.log(`|---|---|---|${columns.map(() => "---:").join("|")}|`);
for (const [k, rs] of groups) {
  const [runtime, impl] = k.split(" ");
  const cells = columns.map(([c, , digits]) => {
    const m = med(k, c);
    return m === undefined ? "–" : m.toFixed(digits);
  });
  console.log(`| ${runtime} | ${impl} | ${rs.length} | ${cells.join(" | ")} |`);
}

console.log();
const ratio = (a: string, b: string, c: keyof Row) => {
  const x = med(a, c);
  const y = med(b, c);
  return x === undefined || y === undefined ? "–" : (x / y).toFixed(2);
};
for (const impl of ["memtable", "memtable-huge"]) {
  for (const runtime of ["bun", "deno"]) {
    console.log(
      `${runtime} ${impl} / zig ${impl}: put ${
        ratio(`${runtime} ${impl}`, `zig ${impl}`, "putNsPerOp")
      }×, ` +
        `get ${ratio(`${runtime} ${impl}`, `zig ${impl}`, "getNsPerOp")}×`,
    );
  }
}
for (const impl of ["memtable", "memtable-huge"]) {
  console.log(
    `zig ${impl} / RocksDB db_bench: put ${
      ratio(`zig ${impl}`, "rocksdb db_bench", "putNsPerOp")
    }×, ` +
      `get ${ratio(`zig ${impl}`, "rocksdb db_bench", "getNsPerOp")}×`,
  );
}
for (const runtime of ["zig", "bun", "deno"]) {
  console.log(
    `${runtime} memtable / c++ rocksdb-skiplist: put ${
      ratio(`${runtime} memtable`, "c++ rocksdb-skiplist", "putNsPerOp")
    }×, ` +
      `get ${ratio(`${runtime} memtable`, "c++ rocksdb-skiplist", "getNsPerOp")}×`,
  );
}
for (const impl of ["memtable", "memtable-search"]) {
  for (const peer of ["sorted-btree", "js-sdsl"]) {
    for (const runtime of ["bun", "deno"]) {
      console.log(
        `${runtime} ${impl} / ${runtime} ${peer}: put ${
          ratio(`${runtime} ${impl}`, `${runtime} ${peer}`, "putNsPerOp")
        }×, ` +
          `get ${ratio(`${runtime} ${impl}`, `${runtime} ${peer}`, "getNsPerOp")}×, ` +
          `get miss ${ratio(`${runtime} ${impl}`, `${runtime} ${peer}`, "getMissNsPerOp")}×`,
      );
    }
  }
}
for (const runtime of ["bun", "deno"]) {
  for (const peer of ["sorted-btree", "js-sdsl"]) {
    console.log(
      `${runtime} memtable-bloom / ${runtime} ${peer}: get miss ${
        ratio(`${runtime} memtable-bloom`, `${runtime} ${peer}`, "getMissNsPerOp")
      }×`,
    );
  }
}
for (const runtime of ["bun", "deno"]) {
  console.log(
    `${runtime} memtable (point index) / ${runtime} memtable-search: put ${
      ratio(`${runtime} memtable`, `${runtime} memtable-search`, "putNsPerOp")
    }×, get ${ratio(`${runtime} memtable`, `${runtime} memtable-search`, "getNsPerOp")}×`,
  );
}
// Throughput against the faster peer on the same runtime (its ns ÷ ours: above 1 is faster):
// ours in column `c` against the peers' in column `p` (the bulk API against their walks).
const speedAgainst = (ours: string, c: keyof Row, runtime: string, p: keyof Row) => {
  const x = med(ours, c);
  const peers = ["sorted-btree", "js-sdsl"].map((q) => med(`${runtime} ${q}`, p)).filter((
    v,
  ): v is number => v !== undefined);
  return x === undefined || peers.length === 0 ? "–" : (Math.min(...peers) / x).toFixed(2);
};
const speed = (ours: string, runtime: string, c: keyof Row) => speedAgainst(ours, c, runtime, c);
for (const runtime of ["bun", "deno"]) {
  for (const impl of ["memtable", "memtable-search"]) {
    const name = `${runtime} ${impl}`;
    console.log(
      `${name} throughput ÷ the faster peer's: put ${speed(name, runtime, "putNsPerOp")}×, get ${
        speed(name, runtime, "getNsPerOp")
      }×, get miss ${speed(name, runtime, "getMissNsPerOp")}×, scan ${
        speed(name, runtime, "scanNsPerEntry")
      }×, range ${speed(name, runtime, "rangeUsPerScan")}×`,
    );
    console.log(
      `${name} bulk scan() ÷ the faster peer's: scan ${
        speedAgainst(name, "scanBatchNsPerEntry", runtime, "scanNsPerEntry")
      }×, range ${speedAgainst(name, "rangeBatchUsPerScan", runtime, "rangeUsPerScan")}×`,
    );
  }
}

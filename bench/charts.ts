/**
 * Draws the README's performance charts from the benchmarks' own results: the JSON lines of
 * `bench/workload.ts`, `native/src/bench.zig` and db_bench (as `bench/sizes.sh` and
 * `scripts/bench.sh` write them; lines that do not start with `{` are ignored), rendered with
 * Vega-Lite to SVG, headless (no canvas):
 *
 *   - `operations.svg`: put, get, full scan and range scans at one entry count (default 1M):
 *     the memtable on Zig (no FFI), Bun and Deno, RocksDB's db_bench, and the JS peers;
 *   - `sizes.svg`: each operation's cost against the entry count (a log axis), every
 *     implementation in the file.
 *
 *     bun bench/charts.ts [results.jsonl] [--out docs/charts] [--n 1000000]
 *
 * The results file defaults to the newest `bench/results/sizes-*.jsonl`.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as vega from "vega";
import * as vl from "vega-lite";

/** One line of results: what `bench/workload.ts` prints (db_bench lines have put and get only). */
export interface ResultRow {
  runtime: string;
  impl: string;
  n: number;
  putNsPerOp?: number;
  getNsPerOp?: number;
  scanNsPerEntry?: number;
  rangeUsPerScan?: number;
}

/** The operations charted: the row's field, and the panel's title (with its unit). */
export const operations = [
  { field: "putNsPerOp", title: "put, ns/op" },
  { field: "getNsPerOp", title: "get, ns/op" },
  { field: "scanNsPerEntry", title: "full scan, ns/entry" },
  { field: "rangeUsPerScan", title: "range scan of 1000, µs" },
] as const;

/** Series in the order the charts list them; others follow in the order they appear. */
const seriesOrder = [
  "zig memtable",
  "bun memtable",
  "deno memtable",
  "rocksdb db_bench",
  "bun sorted-btree",
  "deno sorted-btree",
  "bun js-sdsl",
  "deno js-sdsl",
];

/** The label a row's series gets in the charts: "bun memtable", "rocksdb db_bench", … */
export function seriesName(row: ResultRow): string {
  return `${row.runtime} ${row.impl}`;
}

/** The result rows of a JSON-lines text; `#` lines and blank lines are skipped. */
export function parseResults(text: string): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.startsWith("{")) continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new SyntaxError(`charts: line ${i + 1} is not JSON: ${(e as Error).message}`);
    }
    const r = row as ResultRow;
    if (typeof r.runtime !== "string" || typeof r.impl !== "string" || !Number.isFinite(r.n)) {
      throw new TypeError(`charts: line ${i + 1} lacks runtime, impl or n: ${line}`);
    }
    rows.push(r);
  }
  return rows;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};

interface Point {
  series: string;
  implementation: string;
  runtime: string;
  operation: string;
  n: number;
  value: number;
}

/** One point per series, operation and entry count: the median of the rows that have it. */
function points(rows: ResultRow[]): Point[] {
  const groups = new Map<string, { row: ResultRow; values: number[] }>();
  for (const row of rows) {
    for (const op of operations) {
      const v = row[op.field];
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      const key = `${seriesName(row)}\0${op.title}\0${row.n}`;
      const g = groups.get(key) ?? { row, values: [] };
      g.values.push(v);
      groups.set(key, g);
    }
  }
  const out: Point[] = [];
  for (const [key, { row, values }] of groups) {
    const operation = key.split("\0")[1]!;
    out.push({
      series: seriesName(row),
      implementation: row.impl,
      runtime: row.runtime,
      operation,
      n: row.n,
      value: median(values),
    });
  }
  return out;
}

function order(names: Iterable<string>): string[] {
  const seen = [...new Set(names)];
  const known = seriesOrder.filter((s) => seen.includes(s));
  return [...known, ...seen.filter((s) => !known.includes(s))];
}

const palette: Record<string, string> = {
  memtable: "#2e7d32",
  db_bench: "#6a1b9a",
  "sorted-btree": "#1565c0",
  "js-sdsl": "#ef6c00",
};

function colorScale(implementations: string[]) {
  const domain = [...new Set(implementations)];
  return { domain, range: domain.map((d) => palette[d] ?? "#757575") };
}

const config = {
  font: "Helvetica, Arial, sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 11 },
  header: { labelFontSize: 12, labelFontWeight: "bold" },
  legend: { labelFontSize: 11, titleFontSize: 11 },
};

/** The Vega-Lite spec of the per-operation chart at `n` entries. */
export function operationsSpec(rows: ResultRow[], n: number, source: string): vl.TopLevelSpec {
  const data = points(rows.filter((r) => r.n === n));
  if (data.length === 0) throw new RangeError(`charts: no results at ${n} entries`);
  const series = order(data.map((p) => p.series));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `The workload at ${n.toLocaleString("en-US")} entries (lower is better)`,
      subtitle: `random 16-byte keys, 100-byte values; one run: ${source}`,
    },
    data: { values: data },
    facet: {
      field: "operation",
      type: "nominal",
      sort: operations.map((o) => o.title),
      title: null,
    },
    columns: 2,
    spec: {
      width: 300,
      height: { step: 16 },
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            color: {
              field: "implementation",
              type: "nominal",
              scale: colorScale(data.map((p) => p.implementation)),
              title: "implementation",
            },
          },
        },
        {
          mark: { type: "text", align: "left", dx: 3, fontSize: 10 },
          encoding: { text: { field: "value", type: "quantitative", format: ",.0f" } },
        },
      ],
      encoding: {
        y: { field: "series", type: "nominal", sort: series, title: null },
        x: { field: "value", type: "quantitative", title: null, axis: { format: ",.0f" } },
      },
    },
    resolve: { scale: { x: "independent" } },
    config,
  } as vl.TopLevelSpec;
}

/** The Vega-Lite spec of the cost-against-size chart (every entry count in `rows`). */
export function sizesSpec(rows: ResultRow[], source: string): vl.TopLevelSpec {
  const data = points(rows);
  if (data.length === 0) throw new RangeError("charts: no results");
  const series = order(data.map((p) => p.series));
  const sizes = [...new Set(data.map((p) => p.n))].sort((a, b) => a - b);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "Cost per operation against entry count (lower is better)",
      subtitle: `one round per point on a shared machine (noisy); ${source}`,
    },
    data: { values: data },
    facet: {
      field: "operation",
      type: "nominal",
      sort: operations.map((o) => o.title),
      title: null,
    },
    columns: 2,
    spec: {
      width: 300,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: {
          field: "n",
          type: "quantitative",
          scale: { type: "log", domain: [sizes[0]!, sizes.at(-1)!] },
          axis: { values: sizes, format: "~s" },
          title: "entries",
        },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: true } },
        color: {
          field: "implementation",
          type: "nominal",
          scale: colorScale(data.map((p) => p.implementation)),
          title: "implementation",
        },
        strokeDash: {
          field: "runtime",
          type: "nominal",
          scale: {
            domain: ["zig", "bun", "deno", "rocksdb"],
            range: [[2, 2], [1, 0], [6, 3], [1, 0]],
          },
          title: "runtime",
        },
        shape: {
          field: "runtime",
          type: "nominal",
          scale: { domain: ["zig", "bun", "deno", "rocksdb"] },
          title: "runtime",
        },
        detail: { field: "series", type: "nominal", sort: series },
        tooltip: [{ field: "series" }, { field: "n" }, { field: "value" }],
      },
    },
    resolve: { scale: { y: "independent" } },
    config,
  } as vl.TopLevelSpec;
}

/** Renders a Vega-Lite spec to SVG text, headless. */
export async function toSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return `${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/** Both charts of a results text: file name → SVG. `n` picks the per-operation chart's size. */
export async function renderCharts(
  text: string,
  options: { source: string; n?: number },
): Promise<Map<string, string>> {
  const rows = parseResults(text);
  const sizes = [...new Set(rows.map((r) => r.n))];
  const n = options.n ?? (sizes.includes(1_000_000) ? 1_000_000 : Math.max(...sizes));
  return new Map([
    ["operations.svg", await toSvg(operationsSpec(rows, n, options.source))],
    ["sizes.svg", await toSvg(sizesSpec(rows, options.source))],
  ]);
}

/** Both charts of a results file, its path relative to `root` named in their subtitles. */
export function chartsOfFile(root: string, file: string, n?: number): Promise<Map<string, string>> {
  return renderCharts(readFileSync(file, "utf8"), {
    source: relative(root, file).replaceAll("\\", "/"),
    n,
  });
}

/** The newest `sizes-*.jsonl` under `dir`. */
export function newestResults(dir: string): string {
  const files = readdirSync(dir).filter((f) => /^sizes-.*\.jsonl$/.test(f)).sort();
  if (files.length === 0) throw new Error(`charts: no sizes-*.jsonl in ${dir}`);
  return join(dir, files.at(-1)!);
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined) throw new TypeError(`charts: ${name} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const out = flag("--out") ?? join(root, "docs/charts");
  const nFlag = flag("--n");
  const n = nFlag === undefined ? undefined : Number(nFlag);
  if (n !== undefined && !Number.isSafeInteger(n)) throw new TypeError(`charts: --n ${nFlag}`);
  const file = args[0] ?? newestResults(join(root, "bench/results"));
  const charts = await chartsOfFile(root, resolve(file), n);
  mkdirSync(out, { recursive: true });
  for (const [name, svg] of charts) {
    writeFileSync(join(out, name), svg);
    console.log(`wrote ${join(out, name)} (${svg.length} bytes)`);
  }
}

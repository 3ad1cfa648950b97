/**
 * bench/charts.ts draws the README's charts from results files: rendered here from a small
 * fixture (two entry counts, every series), the SVGs must hold every series, panel, label and
 * data point the fixture gives, so a change in the results' shape or in Vega cannot silently
 * leave the charts empty or stale. And the committed docs/charts/ are what the script draws from
 * the newest results file in bench/results/ (rendering is deterministic, the same on both
 * runtimes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  chartsOfFile,
  newestResults,
  operations,
  parseResults,
  renderCharts,
  seriesName,
} from "../bench/charts.ts";

const fixture = readFileSync(
  fileURLToPath(new URL("./fixtures/charts/results.jsonl", import.meta.url)),
  "utf8",
);
const rows = parseResults(fixture);
const count = (svg: string, what: string) => svg.split(what).length - 1;
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
/** How many (series, operation) pairs have a figure among `rs`. */
const figures = (rs: typeof rows) =>
  rs.reduce((k, r) => k + operations.filter((o) => typeof r[o.field] === "number").length, 0);

test("the fixture parses: header lines skipped, every series at 100k and 1M", () => {
  assert.equal(rows.length, 16);
  assert.deepEqual([...new Set(rows.map((r) => r.n))], [100_000, 1_000_000]);
  assert.deepEqual(
    [...new Set(rows.map(seriesName))].sort(),
    [
      "bun js-sdsl",
      "bun memtable",
      "bun sorted-btree",
      "deno js-sdsl",
      "deno memtable",
      "deno sorted-btree",
      "rocksdb db_bench",
      "zig memtable",
    ],
  );
  assert.throws(() => parseResults('{"runtime":"bun"}'), /line 1 lacks runtime, impl or n/);
  assert.throws(() => parseResults("{nope"), SyntaxError);
});

test("operations.svg: one bar and one value label per series and operation at 1M", async () => {
  const svg = (await renderCharts(fixture, { source: "fixture" })).get("operations.svg")!;
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const at1M = rows.filter((r) => r.n === 1_000_000);
  assert.equal(figures(at1M), 30); // put and get for all 8, scans for the 7 without db_bench
  assert.equal(count(svg, 'aria-roledescription="bar"'), figures(at1M));
  const labels = texts(svg);
  assert.ok(labels.includes("The workload at 1,000,000 entries (lower is better)"));
  for (const op of operations) assert.ok(labels.includes(op.title), op.title);
  for (const r of at1M) {
    assert.ok(labels.includes(seriesName(r)), seriesName(r));
    const put = Math.round(r.putNsPerOp!).toLocaleString("en-US");
    assert.ok(labels.includes(put), `${seriesName(r)}: put ${put} labelled`);
  }
  for (const impl of ["memtable", "sorted-btree", "js-sdsl", "db_bench"]) {
    assert.ok(labels.includes(impl), `legend has ${impl}`);
  }
  // Another size picks other rows: the 100k figures.
  const small = (await renderCharts(fixture, { source: "fixture", n: 100_000 })).get(
    "operations.svg",
  )!;
  const zig = rows.find((r) => r.n === 100_000 && r.runtime === "zig")!;
  assert.ok(texts(small).includes(Math.round(zig.getNsPerOp!).toLocaleString("en-US")));
  await assert.rejects(renderCharts(fixture, { source: "fixture", n: 5 }), /no results at 5/);
});

test("sizes.svg: one line per series and operation, a point per size, a log axis of entries", async () => {
  const svg = (await renderCharts(fixture, { source: "fixture" })).get("sizes.svg")!;
  assert.equal(count(svg, 'aria-roledescription="line mark"'), 30);
  assert.equal(count(svg, 'aria-roledescription="point"'), figures(rows));
  assert.match(svg, /X-axis titled 'entries' for a log scale with values from 100k to 1M/);
  const labels = texts(svg);
  assert.ok(labels.includes("Cost per operation against entry count (lower is better)"));
  for (const op of operations) assert.ok(labels.includes(op.title), op.title);
  for (const tick of ["100k", "1M"]) assert.ok(labels.includes(tick), tick);
  for (const name of ["memtable", "sorted-btree", "js-sdsl", "db_bench", "zig", "bun", "deno"]) {
    assert.ok(labels.includes(name), `legend has ${name}`);
  }
});

test("docs/charts/*.svg are what bench/charts.ts draws from the newest bench/results/ file", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const file = newestResults(join(root, "bench/results"));
  const charts = await chartsOfFile(root, file);
  assert.deepEqual([...charts.keys()], ["operations.svg", "sizes.svg"]);
  for (const [name, svg] of charts) {
    const committed = readFileSync(join(root, "docs/charts", name), "utf8");
    assert.ok(
      committed === svg,
      `docs/charts/${name} is not drawn from ${file}: run bun run charts`,
    );
  }
});

/**
 * The package as JSR gets it: `deno publish --dry-run` passes and publishes exactly the entry
 * points, src/ (without the test hooks), the prebuilt libraries with their manifest, README,
 * LICENSE and deno.json; the entry points' documentation has no problem (`deno doc --lint`);
 * package.json and deno.json export the same entry points. And the published files alone,
 * served under JSR's layout (`/@scope/name/version/<path>`) from a loopback server, import on
 * Deno and find their library: downloaded from the package's own prebuilt/, checked against its
 * manifest's sha256, kept in the cache (JSR serves every published file at that address; Deno
 * downloads only the modules, so the library travels as remote.ts fetches it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { libraryPathEnv } from "../mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = "Deno" in globalThis ? process.execPath : `${root}node_modules/.bin/deno`;
const denoJson = JSON.parse(readFileSync(`${root}deno.json`, "utf8"));
const entryPoints: string[] = Object.values(denoJson.exports as Record<string, string>)
  .map((p) => p.replace(/^\.\//, ""));

function denoRun(args: string[]) {
  const r = spawnSync(deno, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" } as Record<string, string>,
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

/** The files `deno publish --dry-run` would publish, relative to the root, sorted. */
function publishedFiles(): string[] {
  const r = denoRun(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(r.status, 0, `deno publish --dry-run failed:\n${r.output}`);
  assert.match(r.output, /Success Dry run complete/);
  return [...r.output.matchAll(/^\s+(file:\/\/\S+) \(/gm)]
    .map((m) => relative(root, fileURLToPath(m[1]!)))
    .sort();
}

/** Every file under `dir` (relative to the root). */
function filesUnder(dir: string): string[] {
  return readdirSync(`${root}${dir}`, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, `${e.parentPath}/${e.name}`));
}

// Publishing to JSR is a Deno workflow; the tests are registered on Deno only.
if ("Deno" in globalThis) {
  test(
    "deno publish --dry-run publishes the entry points, src/ without test hooks, the prebuilt libraries, README, LICENSE and deno.json, nothing else",
    { timeout: 300_000 },
    () => {
      const expected = [
        ...entryPoints,
        ...filesUnder("src").filter((f) => f !== "src/testing.ts"),
        ...filesUnder("prebuilt"),
        "README.md",
        "LICENSE",
        "deno.json",
      ].sort();
      assert.deepEqual(publishedFiles(), expected);
      assert.equal(denoJson.license, "Apache-2.0");
      assert.match(readFileSync(`${root}LICENSE`, "utf8"), /Apache License\s+Version 2\.0/);
    },
  );

  test("deno doc --lint of the package's entry points reports no problems", () => {
    const r = denoRun(["doc", "--lint", ...entryPoints]);
    assert.equal(r.status, 0, `deno doc --lint ${entryPoints.join(" ")}:\n${r.output}`);
  });

  test("package.json exports the entry points deno.json exports, from the same files; the command line is its bin", () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
    const npm = Object.fromEntries(
      Object.entries(pkg.exports as Record<string, { bun: string }>).map(([k, v]) => [k, v.bun]),
    );
    // `deno run jsr:@memtable/memtable/cli` runs the command line; npm has `bin` for it.
    const { "./cli": cli, ...modules } = denoJson.exports as Record<string, string>;
    assert.deepEqual(npm, modules);
    assert.equal(cli, "./cli.ts");
    assert.deepEqual(pkg.bin, { memtable: cli });
  });

  test(
    "the published files alone, served under JSR's layout, import on Deno and load their verified library",
    { timeout: 600_000 },
    async () => {
      const files = new Set(publishedFiles());
      const base = `/@memtable/memtable/${denoJson.version}/`;
      const server = await serve(base, files);
      const dir = mkdtempSync(`${tmpdir()}/memtable-jsr-`);
      try {
        const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        const out = await probe(dir, `http://${host}${base}`, host);
        const result = JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? "{}");
        assert.equal(result.kind, "value", out);
        assert.equal(result.stored, "v", out);
        assert.ok(result.path.startsWith(`${dir}/cache/`), `${result.path}: from the cache`);
        assert.ok(existsSync(result.path));
        // The command line from the same files (`deno run jsr:@memtable/memtable/cli …`):
        // it reads the store the probe wrote, with the library from the cache.
        const get = await runCli(dir, `http://${host}${base}`, host, ["get", `${dir}/db`, "k"]);
        assert.equal(get.code, 0, get.stderr);
        assert.equal(get.stdout, "'v'\n");
      } finally {
        await new Promise((resolve) => server.close(resolve));
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

/** Serves `files` (paths relative to the root) under `base`; anything else is a 404. */
function serve(base: string, files: Set<string>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = path.startsWith(base) ? path.slice(base.length) : "";
    if (!files.has(file)) {
      res.writeHead(404).end();
      return;
    }
    const type = file.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(readFileSync(`${root}${file}`));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/**
 * Runs, in `dir` with a fresh Deno cache and library cache, a script that imports `<url>mod.ts`,
 * reads and writes a memtable, and flushes a Store (its flush Worker is a published module
 * too); prints JSON.
 */
function probe(dir: string, url: string, host: string): Promise<string> {
  writeFileSync(
    `${dir}/probe.ts`,
    [
      `import * as m from "${url}mod.ts";`,
      `using mt = new m.MemTable();`,
      `mt.add(1, m.ValueType.Value, "k", "v");`,
      `const store = m.Store.open({ dir: ${JSON.stringify(`${dir}/db`)} });`,
      `store.put("k", "v");`,
      `await store.flush();`,
      `const stored = new TextDecoder().decode(store.get("k"));`,
      `await store.close();`,
      `console.log(JSON.stringify({ kind: mt.get("k").kind, stored, path: m.loadLibrary().path }));`,
    ].join("\n"),
  );
  const args = [
    "run",
    `--allow-import=${host}`,
    `--allow-net=${host}`,
    "--allow-ffi",
    "--allow-env",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    `${dir}/probe.ts`,
  ];
  const env = {
    ...process.env,
    NO_COLOR: "1",
    DENO_DIR: `${dir}/deno_dir`,
    MEMTABLE_CACHE_DIR: `${dir}/cache`,
    [libraryPathEnv]: "",
  };
  return new Promise((resolve) => {
    execFile(deno, args, { env: env as Record<string, string>, cwd: dir }, (_e, out, err) => {
      resolve(`${out}${err}`);
    });
  });
}

/** Runs the published cli.ts from `url` in `dir` (the probe's caches) with `args`. */
function runCli(
  dir: string,
  url: string,
  host: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [
    "run",
    `--allow-import=${host}`,
    `--allow-net=${host}`,
    "--allow-ffi",
    "--allow-env",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    `${url}cli.ts`,
    ...args,
  ];
  const env = {
    ...process.env,
    NO_COLOR: "1",
    DENO_DIR: `${dir}/deno_dir`,
    MEMTABLE_CACHE_DIR: `${dir}/cache`,
    [libraryPathEnv]: "",
  };
  return new Promise((resolve) => {
    execFile(deno, argv, { env: env as Record<string, string>, cwd: dir }, (e, out, err) => {
      resolve({
        code: e === null ? 0 : Number((e as { code?: unknown }).code),
        stdout: out,
        stderr: err,
      });
    });
  });
}

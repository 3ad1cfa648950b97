/**
 * Importing the module from an http(s) URL on Deno, end to end: the repository is served from
 * a loopback HTTP server; a script importing `<server>/mod.ts` runs with a fresh DENO_DIR and a
 * fresh library cache (the binary is downloaded and verified), then again with the server
 * stopped (the caches serve), a Store's flush Worker included. A library whose checksum does
 * not match or that cannot be downloaded, and a missing permission (net, env, read, write),
 * give a NativeLibraryError that says what is wrong, and leave nothing behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { libraryPathEnv } from "../mod.ts";
import { packageVersion } from "../src/ffi/layout.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const platform = `${process.platform}-${process.arch}`;

/** Rewrites a response body by path; `undefined` answers 404. */
type Tamper = (path: string, body: Uint8Array) => Uint8Array | undefined;

/** Serves the repository through `tamper`. */
function serve(tamper: Tamper = (_p, b) => b): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = `${root}${path.slice(1)}`;
    if (path.includes("..") || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const body = tamper(path, readFileSync(file));
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

interface RunOptions {
  /** Grant --allow-net for the server (default true). */
  withNet?: boolean;
  /** Grant --allow-env: for every variable (true, the default) or for those named. */
  withEnv?: boolean | string[];
  /** Grant --allow-read for `cache` (default true). */
  withRead?: boolean;
  /** Grant --allow-write for `cache` (default true). */
  withWrite?: boolean;
  /** Call `prepareLibrary({ cacheDir })` with this directory first. */
  prepareInto?: string;
  /** MEMTABLE_CACHE_DIR for the run (default: the cache directory it may write). */
  envCacheDir?: string;
  /** What the script does with the module, `m` (default: a MemTable probe); prints JSON. */
  body?: string;
  /** More paths the script may read and write. */
  alsoAllow?: string[];
}

/** A MemTable: add one entry, read it back, say which library file serves. */
const memtableProbe = [
  `using mt = new m.MemTable();`,
  `mt.add(1, m.ValueType.Value, "k", "v");`,
  `console.log(JSON.stringify({ kind: mt.get("k").kind, path: m.loadLibrary().path }));`,
].join("\n");

/**
 * Runs a script importing `<server>/mod.ts` in `dir` (its working directory); it may read
 * and write `cache` (and `alsoAllow`) only. A thrown error is printed as `{ error, name }`.
 */
function runScript(
  dir: string,
  port: number,
  cache: string,
  {
    withNet = true,
    withEnv = true,
    withRead = true,
    withWrite = true,
    prepareInto,
    envCacheDir = cache,
    body = memtableProbe,
    alsoAllow = [],
  }: RunOptions = {},
): Promise<{ code: number; out: string }> {
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    `${dir}/probe.ts`,
    [
      `import * as m from "http://${host}/mod.ts";`,
      `try {`,
      prepareInto === undefined
        ? ""
        : `  await m.prepareLibrary({ cacheDir: ${JSON.stringify(prepareInto)} });`,
      body,
      `} catch (e) {`,
      `  console.log(JSON.stringify({ error: (e as Error).message, name: (e as Error).name }));`,
      `}`,
    ].join("\n"),
  );
  const args = [
    "run",
    `--allow-import=${host}`,
    ...(withNet ? [`--allow-net=${host}`] : []),
    "--allow-ffi",
    ...(withEnv === true ? ["--allow-env"] : withEnv ? [`--allow-env=${withEnv.join(",")}`] : []),
    ...(withRead ? [`--allow-read=${[cache, ...alsoAllow].join(",")}`] : []),
    ...(withWrite ? [`--allow-write=${[cache, ...alsoAllow].join(",")}`] : []),
    `${dir}/probe.ts`,
  ];
  const env = {
    ...process.env,
    DENO_DIR: `${dir}/deno_dir`,
    MEMTABLE_CACHE_DIR: envCacheDir,
    [libraryPathEnv]: "",
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: env as Record<string, string>, cwd: dir },
      (error, stdout, stderr) => {
        resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** Every file and directory under `dir` but the script and Deno's own cache, sorted. */
function leftoversIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String)
    .filter((f) => f !== "probe.ts" && f !== "deno_dir" && !f.startsWith("deno_dir/"))
    .sort();
}

const resultOf = (out: string) =>
  JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? "{}");
const close = (s: Server) => new Promise((resolve) => s.close(resolve));

/**
 * Runs `body` with a fresh directory and a running server; `stop()` closes the server early.
 * Both are cleaned up whatever happens.
 */
async function scenario(
  body: (dir: string, port: number, stop: () => Promise<unknown>) => Promise<void>,
  tamper?: Tamper,
): Promise<void> {
  const dir = mkdtempSync(`${tmpdir()}/memtable-remote-`);
  const server = await serve(tamper);
  let running = true;
  const stop = () => running ? (running = false, close(server)) : Promise.resolve();
  try {
    await body(dir, (server.address() as AddressInfo).port, stop);
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Importing from a URL is a Deno workflow; the tests are registered on Deno only.
if ("Deno" in globalThis) {
  test(
    "a module imported from a URL downloads, verifies and caches its library; the cache serves offline",
    {
      timeout: 600_000,
    },
    async () => {
      const built = await new Promise<number>((resolve) =>
        execFile("bash", [`${root}scripts/prebuild.sh`, platform], (e) => resolve(e ? 1 : 0))
      );
      assert.equal(built, 0, "prebuild");
      await scenario(async (dir, port, stop) => {
        const cache = `${dir}/cache`;
        const first = await runScript(dir, port, cache);
        await stop();
        const r1 = resultOf(first.out);
        assert.equal(r1.kind, "value", first.out);
        assert.ok(r1.path.startsWith(`${cache}/`), r1.path);
        const second = await runScript(dir, port, cache); // server stopped: the caches serve
        const r2 = resultOf(second.out);
        assert.equal(r2.kind, "value", second.out);
        assert.equal(r2.path, r1.path);
      });
    },
  );

  test(
    "prepareLibrary({ cacheDir }) downloads into the directory given",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        // The cache the import tries first may not be written; the one given may.
        const run = await runScript(dir, port, `${dir}/cache`, {
          prepareInto: `${dir}/cache/mine`,
          envCacheDir: `${dir}/not-allowed`,
        });
        const r = resultOf(run.out);
        assert.equal(r.kind, "value", run.out);
        assert.ok(r.path.startsWith(`${dir}/cache/mine/${packageVersion}/${platform}/`), r.path);
      }),
  );

  test(
    "a run without --allow-net is told which permission is missing",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        const run = await runScript(dir, port, `${dir}/cache`, { withNet: false });
        assert.match(
          resultOf(run.out).error ?? run.out,
          /Cannot download .*manifest\.json: .*--allow-net/,
        );
      }),
  );

  /** Flips a byte of the library for this platform, as a corrupt mirror would. */
  const corruptLibrary: Tamper = (path, body) =>
    path.startsWith(`/prebuilt/${platform}/`)
      ? body.map((b, i) => (i === 100 ? b ^ 0xff : b))
      : body;

  test(
    "importing mod.ts from a URL refuses a library that does not match the manifest's sha256 and caches nothing, not even the manifest",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        const run = await runScript(dir, port, `${dir}/cache`);
        const r = resultOf(run.out);
        assert.equal(r.name, "NativeLibraryError", run.out);
        assert.match(
          r.error,
          /does not match its manifest: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/,
        );
        assert.deepEqual(leftoversIn(dir), []);
      }, corruptLibrary),
  );

  test(
    "importing mod.ts from a URL leaves nothing in the cache when the library cannot be downloaded",
    { timeout: 600_000 },
    () =>
      scenario(
        async (dir, port) => {
          const run = await runScript(dir, port, `${dir}/cache`);
          const r = resultOf(run.out);
          assert.equal(r.name, "NativeLibraryError", run.out);
          assert.match(r.error, /Cannot download the native library .*: HTTP 404/);
          assert.deepEqual(leftoversIn(dir), []);
        },
        (path, body) => path.startsWith(`/prebuilt/${platform}/`) ? undefined : body,
      ),
  );

  test(
    "importing mod.ts from a URL without --allow-env and without a cache directory given names --allow-env and writes nothing",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        // The script may write anywhere under its working directory: no fallback to it.
        const run = await runScript(dir, port, dir, { withEnv: false });
        const r = resultOf(run.out);
        assert.equal(r.name, "NativeLibraryError", run.out);
        assert.match(r.error, /cache directory: reading MEMTABLE_CACHE_DIR .*--allow-env/);
        assert.match(r.error, /prepareLibrary\(\{ cacheDir \}\)/);
        assert.deepEqual(leftoversIn(dir), []);
      }),
  );

  test(
    "prepareLibrary({ cacheDir }) and MEMTABLE_CACHE_DIR need no --allow-env for HOME or XDG_CACHE_HOME",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        const cache = `${dir}/cache`;
        const given = await runScript(dir, port, cache, {
          withEnv: false,
          prepareInto: `${cache}/given`,
        });
        assert.equal(resultOf(given.out).kind, "value", given.out);
        assert.ok(resultOf(given.out).path.startsWith(`${cache}/given/`), given.out);
        const fromEnv = await runScript(dir, port, cache, {
          withEnv: ["MEMTABLE_CACHE_DIR"],
          envCacheDir: `${cache}/env`,
        });
        assert.equal(resultOf(fromEnv.out).kind, "value", fromEnv.out);
        assert.ok(resultOf(fromEnv.out).path.startsWith(`${cache}/env/`), fromEnv.out);
      }),
  );

  test(
    "importing mod.ts from a URL without --allow-read for the cache names --allow-read and leaves no file",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        const run = await runScript(dir, port, `${dir}/cache`, { withRead: false });
        const r = resultOf(run.out);
        assert.equal(r.name, "NativeLibraryError", run.out);
        assert.match(r.error, new RegExp(`--allow-read=${dir}/cache `));
        assert.deepEqual(leftoversIn(dir), []);
      }),
  );

  test(
    "importing mod.ts from a URL without --allow-write for the cache names --allow-write and leaves no file",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port) => {
        const run = await runScript(dir, port, `${dir}/cache`, { withWrite: false });
        const r = resultOf(run.out);
        assert.equal(r.name, "NativeLibraryError", run.out);
        assert.match(r.error, new RegExp(`--allow-write=${dir}/cache `));
        assert.deepEqual(leftoversIn(dir), []);
      }),
  );

  test(
    "Store flushes in its Worker offline once a run that only imported mod.ts cached it and the library",
    { timeout: 600_000 },
    () =>
      scenario(async (dir, port, stop) => {
        const cache = `${dir}/cache`;
        const online = await runScript(dir, port, cache); // a MemTable, no Store: no Worker ran
        assert.equal(resultOf(online.out).kind, "value", online.out);
        await stop();
        const db = `${dir}/db`;
        const offline = await runScript(dir, port, cache, {
          alsoAllow: [db],
          body: [
            `const dir = ${JSON.stringify(db)};`,
            `const store = m.Store.open({ dir });`,
            `store.put("k", "v");`,
            `await store.flush();`,
            `const flushesInWorker = store.stats().flushesInWorker;`,
            `await store.close();`,
            `const again = m.Store.open({ dir });`,
            `const value = again.get("k");`,
            `await again.close();`,
            `console.log(JSON.stringify({`,
            `  flushesInWorker,`,
            `  value: value && new TextDecoder().decode(value),`,
            `}));`,
          ].join("\n"),
        });
        assert.deepEqual(resultOf(offline.out), { flushesInWorker: 1, value: "v" }, offline.out);
      }),
  );
}

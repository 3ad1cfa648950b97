/**
 * Importing the module from an http(s) URL on Deno, end to end: the repository is served from
 * a loopback HTTP server; a script importing `<server>/mod.ts` runs with a fresh DENO_DIR and a
 * fresh library cache (the binary is downloaded and verified), then again with the server
 * stopped (the caches serve). A manifest whose checksum does not match gives a clear error
 * and leaves no file behind.
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

/** Serves the repository; `tamper` may replace a response body by path. */
function serve(
  tamper: (path: string, body: Uint8Array) => Uint8Array = (_p, b) => b,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = `${root}${path.slice(1)}`;
    if (path.includes("..") || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(tamper(path, readFileSync(file)));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

interface RunOptions {
  /** Grant --allow-net for the server (default true). */
  withNet?: boolean;
  /** Call `prepareLibrary({ cacheDir })` with this directory first. */
  prepareInto?: string;
  /** MEMTABLE_CACHE_DIR for the run (default: the cache directory it may write). */
  envCacheDir?: string;
}

/** Runs a script importing `<server>/mod.ts`; it may read and write `cache` only. */
function runScript(
  dir: string,
  port: number,
  cache: string,
  { withNet = true, prepareInto, envCacheDir = cache }: RunOptions = {},
): Promise<{ code: number; out: string }> {
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    `${dir}/probe.ts`,
    [
      `import { loadLibrary, MemTable, prepareLibrary, ValueType } from "http://${host}/mod.ts";`,
      `try {`,
      prepareInto === undefined
        ? ""
        : `  await prepareLibrary({ cacheDir: ${JSON.stringify(prepareInto)} });`,
      `  using mt = new MemTable();`,
      `  mt.add(1, ValueType.Value, "k", "v");`,
      `  console.log(JSON.stringify({ kind: mt.get("k").kind, path: loadLibrary().path }));`,
      `} catch (e) {`,
      `  console.log(JSON.stringify({ error: (e as Error).message }));`,
      `}`,
    ].join("\n"),
  );
  const args = [
    "run",
    `--allow-import=${host}`,
    ...(withNet ? [`--allow-net=${host}`] : []),
    "--allow-ffi",
    "--allow-env",
    `--allow-read=${cache}`,
    `--allow-write=${cache}`,
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
      { env: env as Record<string, string> },
      (error, stdout, stderr) => {
        resolve({ code: error ? 1 : 0, out: `${stdout}${stderr}` });
      },
    );
  });
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
  tamper?: (path: string, body: Uint8Array) => Uint8Array,
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

  test("a library that does not match the manifest's sha256 is refused and nothing is cached", {
    timeout: 600_000,
  }, () =>
    scenario(
      async (dir, port) => {
        const cache = `${dir}/cache`;
        const run = await runScript(dir, port, cache);
        assert.match(
          resultOf(run.out).error ?? run.out,
          /does not match its manifest: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/,
        );
        const leftovers = readdirSync(`${cache}/${packageVersion}/${platform}`)
          .filter((f) => f !== "manifest.json");
        assert.deepEqual(leftovers, []);
      },
      (path, body) =>
        path.startsWith(`/prebuilt/${platform}/`)
          ? body.map((b, i) => (i === 100 ? b ^ 0xff : b))
          : body,
    ));
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { libraryPathEnv, loadLibrary, NativeLibraryError } from "../mod.ts";
import { packageVersion } from "../src/ffi/layout.ts";

const probe = fileURLToPath(new URL("./fixtures/load_probe.ts", import.meta.url));
const readme = fileURLToPath(new URL("../README.md", import.meta.url));
const isDeno = "Deno" in globalThis;

/** Runs the probe in a fresh process of this runtime; returns its JSON line. */
function runProbe(
  env: Record<string, string | undefined>,
  denoFlags = ["--allow-ffi", "--allow-read", "--allow-env"],
) {
  const args = isDeno ? ["run", ...denoFlags, probe] : [probe];
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) {
    if (v !== undefined) childEnv[k] = v;
  }
  const r = spawnSync(process.execPath, args, { env: childEnv, encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `probe printed no result: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(line) as { ok: boolean; name?: string; message?: string };
}

test("the version the download cache is keyed by is the package's version", () => {
  const json = (f: string) =>
    JSON.parse(readFileSync(fileURLToPath(new URL(f, import.meta.url)), "utf8"));
  assert.equal(packageVersion, json("../package.json").version);
  assert.equal(packageVersion, json("../deno.json").version);
});

test("loadLibrary() reports the library it loaded and refuses to switch", () => {
  const { path } = loadLibrary();
  assert.match(path, /memtable\.(so|dylib|dll)$/);
  assert.deepEqual(loadLibrary({ path }), { path });
  assert.throws(
    () => loadLibrary({ path: "/elsewhere/libmemtable.so" }),
    (e: Error) =>
      e instanceof NativeLibraryError &&
      /already loaded from .*; cannot switch to \/elsewhere/.test(e.message),
  );
  assert.throws(() => loadLibrary({ path: 5 as never }), TypeError);
});

test("a fresh process finds the library without being told where", () => {
  // Empty means unset (Deno's spawnSync adds `env` to the parent's environment).
  assert.deepEqual(runProbe({ [libraryPathEnv]: "" }).ok, true);
});

test("an explicit library path that does not exist fails with one clear error", () => {
  const r = runProbe({ [libraryPathEnv]: "/nonexistent/libmemtable.so" });
  assert.equal(r.ok, false);
  assert.equal(r.name, "NativeLibraryError");
  assert.equal(
    r.message,
    `The native library given in ${libraryPathEnv} does not exist: /nonexistent/libmemtable.so`,
  );
});

test("a file that is not a native library fails with the path in the error", () => {
  const r = runProbe({ [libraryPathEnv]: readme });
  assert.equal(r.ok, false);
  assert.equal(r.name, "NativeLibraryError");
  assert.ok(
    r.message?.startsWith(`Cannot open the native library ${readme}: `),
    r.message ?? "no message",
  );
});

// Permissions exist on Deno only, so this behaviour is registered (and runs) there.
if (isDeno) {
  test("Deno without --allow-ffi is told which permission is missing", () => {
    const r = runProbe({}, ["--allow-read", "--allow-env"]);
    assert.equal(r.ok, false);
    assert.equal(r.name, "NativeLibraryError");
    assert.match(r.message!, /--allow-ffi/);
  });
}

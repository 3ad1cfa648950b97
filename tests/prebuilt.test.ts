import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, utimesSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { libraryPathEnv } from "../mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const platform = `${process.platform}-${process.arch}`;
const file = process.platform === "darwin"
  ? "libmemtable.dylib"
  : process.platform === "win32"
  ? "memtable.dll"
  : "libmemtable.so";
const prebuilt = `${root}prebuilt/${platform}/${file}`;
const local = `${root}native/zig-out/lib/${file}`;
const probe = fileURLToPath(new URL("./fixtures/load_probe.ts", import.meta.url));

function probePath(): string {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined) env[k] = v;
  }
  env[libraryPathEnv] = ""; // empty is unset (Deno's spawnSync adds to the parent environment)
  const args = "Deno" in globalThis
    ? ["run", "--allow-ffi", "--allow-read", "--allow-env", probe]
    : [probe];
  const r = spawnSync(process.execPath, args, { env, encoding: "utf8" });
  const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `probe printed no result: ${r.stdout}\n${r.stderr}`);
  const result = JSON.parse(line) as { ok: boolean; path?: string; message?: string };
  assert.ok(result.ok, result.message ?? "probe failed");
  return result.path!;
}

test(
  "the committed prebuilt libraries are what this source builds, and the manifest matches them",
  {
    timeout: 900_000,
  },
  () => {
    const manifestPath = `${root}prebuilt/manifest.json`;
    const committed = readFileSync(manifestPath, "utf8");
    const r = spawnSync("bash", [`${root}scripts/prebuild.sh`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const rebuilt = readFileSync(manifestPath, "utf8");
    assert.equal(
      rebuilt,
      committed,
      "prebuilt/ is stale: run `bash scripts/prebuild.sh` and commit it",
    );
    const manifest = JSON.parse(rebuilt);
    assert.deepEqual(Object.keys(manifest.libraries).sort(), [
      "darwin-arm64",
      "darwin-x64",
      "linux-arm64",
      "linux-x64",
      "win32-x64",
    ]);
    for (
      const [name, entry] of Object.entries(manifest.libraries) as [
        string,
        { file: string; bytes: number; sha256: string },
      ][]
    ) {
      const bytes = readFileSync(`${root}prebuilt/${entry.file}`);
      assert.ok(entry.file.startsWith(`${name}/`));
      assert.equal(entry.bytes, bytes.length, name);
      assert.equal(entry.sha256, createHash("sha256").update(bytes).digest("hex"), name);
    }
    assert.equal(manifest.version, JSON.parse(readFileSync(`${root}package.json`, "utf8")).version);
    assert.equal(manifest.libraries[platform].file, `${platform}/${file}`);
  },
);

test("the newer of the prebuilt library and the local build is loaded", () => {
  assert.ok(
    existsSync(prebuilt) && existsSync(local),
    "both candidates exist (the test above built one)",
  );
  const now = Date.now() / 1000;
  utimesSync(prebuilt, now - 60, now - 60);
  utimesSync(local, now, now);
  assert.equal(probePath(), local);
  utimesSync(local, now - 120, now - 120);
  assert.equal(probePath(), prebuilt);
  utimesSync(local, now, now); // leave the local build the one in use
});

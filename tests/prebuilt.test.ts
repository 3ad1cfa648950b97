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

test("scripts/prebuild.sh writes this platform's library and a manifest that matches it", {
  timeout: 600_000,
}, () => {
  const r = spawnSync("bash", [`${root}scripts/prebuild.sh`, platform], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const manifest = JSON.parse(readFileSync(`${root}prebuilt/manifest.json`, "utf8"));
  const entry = manifest.libraries[platform];
  assert.equal(entry.file, `${platform}/${file}`);
  const bytes = readFileSync(prebuilt);
  assert.equal(entry.bytes, bytes.length);
  assert.equal(entry.sha256, createHash("sha256").update(bytes).digest("hex"));
  assert.equal(manifest.version, JSON.parse(readFileSync(`${root}package.json`, "utf8")).version);
});

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

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { libraryPathEnv } from "../mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env } as Record<string, string>,
  });
  assert.equal(r.status, 0, `${command} ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// Installing the package is a Bun workflow (`bun add`); the test is registered on Bun only.
if ("Bun" in globalThis) {
  test(
    "npm pack makes a tarball that bun add installs offline into an empty project, and it runs",
    {
      timeout: 600_000,
    },
    () => {
      const work = mkdtempSync(`${tmpdir()}/memtable-package-`);
      try {
        const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version;
        run("npm", ["pack", "--pack-destination", work, "--loglevel=error"], root);
        const tarball = `${work}/memtable-${version}.tgz`;
        const project = `${work}/project`;
        mkdirSync(project);
        writeFileSync(
          `${project}/package.json`,
          JSON.stringify({ name: "consumer", private: true, type: "module" }),
        );
        writeFileSync(
          `${project}/main.ts`,
          [
            `import { loadLibrary, MemTable, ValueType } from "memtable";`,
            `using mt = new MemTable();`,
            `mt.add(1, ValueType.Value, "k", "v");`,
            `const r = mt.get("k");`,
            `console.log(JSON.stringify({ kind: r.kind, path: loadLibrary().path }));`,
          ].join("\n"),
        );
        // An unreachable registry: the install must not need the network.
        run(process.execPath, ["add", tarball], project, {
          BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/",
        });
        const out = run(process.execPath, ["main.ts"], project, { [libraryPathEnv]: "" });
        const result = JSON.parse(out.trim().split("\n").pop()!);
        assert.equal(result.kind, "value");
        const dir =
          `${project}/node_modules/memtable/prebuilt/${process.platform}-${process.arch}/`;
        assert.ok(result.path.startsWith(dir), `${result.path} is the package's prebuilt library`);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
}

/**
 * The npm package as a user gets it: `npm pack` (which runs scripts/prebuild.sh and
 * scripts/dist.sh), then `bun add` of the tarball into an empty project, offline. The tarball
 * holds what a user needs and nothing else; the project's own `tsc --noEmit` passes with the
 * tsconfig `bun init` writes and with a plain `"moduleResolution": "bundler"` one (against the
 * shipped declarations); the app runs on Bun, from the root and every subpath; and where the
 * package cannot run (Node.js, Deno from npm), importing it throws one error that says what to
 * do instead.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { libraryPathEnv } from "../mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));

function spawn(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env } as Record<string, string>,
  });
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawn(command, args, cwd, env);
  assert.equal(r.status, 0, `${command} ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a program that must fail; returns its stderr. */
function fails(command: string, args: string[], cwd: string): string {
  const r = spawn(command, args, cwd);
  assert.notEqual(r.status, 0, `${command} ${args.join(" ")} should have failed:\n${r.stdout}`);
  return r.stderr;
}

/** The app: one import from each entry point, a memtable write and read, printed as JSON. */
const app = [
  `import { loadLibrary, MemTable, ValueType } from "memtable";`,
  `import { decodeVarint32, encodeVarint32 } from "memtable/coding";`,
  `import { MemTableList } from "memtable/flush";`,
  `import { TableBuilder } from "memtable/table";`,
  `using mt = new MemTable();`,
  `mt.add(1, ValueType.Value, "k", "v");`,
  `const r = mt.get("k");`,
  `const buf = new Uint8Array(5);`,
  `const varint: number = decodeVarint32(buf, encodeVarint32(buf, 0, 300) - 2)[0];`,
  `const list = new MemTableList();`,
  `list.close();`,
  `const table = new TableBuilder();`,
  `table.add("a", 1, ValueType.Value, "1");`,
  `const sst: number = table.finish().length;`,
  `console.log(JSON.stringify({ kind: r.kind, varint, sst, path: loadLibrary().path }));`,
].join("\n");

/** A type error the type check must find: proves it reads the package's types. */
const wrong = [
  `import { MemTable } from "memtable";`,
  `import { encodeVarint32 } from "memtable/coding";`,
  `const n: string = new MemTable().numEntries;`,
  `encodeVarint32("x", 0, 1);`,
].join("\n");

/** What `bun init` writes (Bun 1.4.5), comments left out. */
const bunInitTsconfig = {
  compilerOptions: {
    lib: ["ESNext"],
    target: "ESNext",
    module: "Preserve",
    moduleDetection: "force",
    jsx: "react-jsx",
    allowJs: true,
    types: ["bun"],
    moduleResolution: "bundler",
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    noPropertyAccessFromIndexSignature: false,
  },
};

/** A plain bundler-resolution tsconfig: no Bun or Deno types, no skipLibCheck. */
const plainTsconfig = {
  compilerOptions: {
    target: "ESNext",
    module: "ESNext",
    moduleResolution: "bundler",
    lib: ["ESNext", "DOM"],
    types: [],
    strict: true,
    noEmit: true,
  },
};

function tarballFiles(tarball: string, cwd: string): string[] {
  return run("tar", ["tzf", tarball], cwd).trim().split("\n").map((f) =>
    f.replace(/^package\//, "")
  );
}

function checkTarballContents(files: string[]): void {
  const manifest = JSON.parse(readFileSync(`${root}prebuilt/manifest.json`, "utf8"));
  const needed = [
    "package.json",
    "README.md",
    "LICENSE",
    "unsupported.cjs",
    ...Object.values(manifest.libraries as Record<string, { file: string }>).map((l) =>
      `prebuilt/${l.file}`
    ),
    "prebuilt/manifest.json",
  ];
  for (const conditions of Object.values(pkg.exports as Record<string, Record<string, string>>)) {
    for (const target of Object.values(conditions)) needed.push(target.replace(/^\.\//, ""));
  }
  for (const bin of Object.values(pkg.bin as Record<string, string>)) {
    needed.push(bin.replace(/^\.\//, ""));
  }
  for (const file of needed) assert.ok(files.includes(file), `the tarball holds ${file}`);
  const stray = files.filter((f) =>
    /^(tests|bench|demo|native|scripts|types|examples|docs)\//.test(f) || f === "src/testing.ts" ||
    f.endsWith(".tgz") || f === "tsconfig.json" || f === "deno.json"
  );
  assert.deepEqual(
    stray,
    [],
    "no tests, benches, demo, examples, charts, native sources, scripts or test hooks",
  );
  assert.match(readFileSync(`${root}LICENSE`, "utf8"), /Apache License\s+Version 2\.0/);
  assert.equal(pkg.license, "Apache-2.0");
}

/** The consumer project: package.json, the app, the two tsconfigs, Bun's types (offline). */
function makeProject(project: string): void {
  mkdirSync(`${project}/node_modules/@types`, { recursive: true });
  writeFileSync(
    `${project}/package.json`,
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  writeFileSync(`${project}/main.ts`, app);
  writeFileSync(`${project}/tsconfig.json`, JSON.stringify(bunInitTsconfig));
  writeFileSync(`${project}/tsconfig.plain.json`, JSON.stringify(plainTsconfig));
  // `bun init` installs @types/bun; offline, the same version comes from this checkout.
  symlinkSync(`${root}node_modules/@types/bun`, `${project}/node_modules/@types/bun`);
  symlinkSync(`${root}node_modules/bun-types`, `${project}/node_modules/bun-types`);
}

function typeCheck(project: string): void {
  const tsc = `${root}node_modules/.bin/tsc`;
  for (const config of ["tsconfig.json", "tsconfig.plain.json"]) {
    const files = run(tsc, ["-p", config, "--listFiles"], project);
    const shipped = files.split("\n").filter((f) => f.includes("node_modules/memtable/"));
    assert.ok(shipped.length > 0, `${config}: the package's types are read`);
    assert.deepEqual(
      shipped.filter((f) => !f.endsWith(".d.ts")),
      [],
      `${config}: only the shipped declarations are checked, never the sources`,
    );
    // And the check can fail: a wrong use of the package's types is an error.
    writeFileSync(`${project}/wrong.ts`, wrong);
    const r = spawn(tsc, ["-p", config, "--noEmit", "--pretty", "false"], project);
    rmSync(`${project}/wrong.ts`);
    assert.match(r.stdout, /wrong\.ts\(3,7\): error TS2322/, `${config}:\n${r.stdout}`);
    assert.match(r.stdout, /wrong\.ts\(4,16\): error TS2345/, `${config}:\n${r.stdout}`);
  }
}

// Installing the package is a Bun workflow (`bun add`); the test is registered on Bun only.
if ("Bun" in globalThis) {
  test(
    "npm pack makes a tarball of what a user needs; bun add installs it offline; the app type-checks with bun init's and a plain bundler tsconfig and runs from every entry point",
    { timeout: 600_000 },
    () => {
      const work = mkdtempSync(`${tmpdir()}/memtable-package-`);
      try {
        run("npm", ["pack", "--pack-destination", work, "--loglevel=error"], root);
        const tarball = `${work}/memtable-${pkg.version}.tgz`;
        checkTarballContents(tarballFiles(tarball, work));
        const project = `${work}/project`;
        mkdirSync(project);
        makeProject(project);
        // An unreachable registry: the install must not need the network.
        run(process.execPath, ["add", tarball], project, {
          BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/",
        });
        typeCheck(project);
        const out = run(process.execPath, ["main.ts"], project, { [libraryPathEnv]: "" });
        const result = JSON.parse(out.trim().split("\n").pop()!);
        assert.equal(result.kind, "value");
        assert.equal(result.varint, 300);
        assert.ok(result.sst > 0);
        const dir =
          `${project}/node_modules/memtable/prebuilt/${process.platform}-${process.arch}/`;
        assert.ok(result.path.startsWith(dir), `${result.path} is the package's prebuilt library`);
        commandLine(project);
        unsupportedRuntimes(project);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  );
}

/**
 * Node.js (when installed) and Deno, importing the installed package by name: one error each,
 * saying what is needed, for `import` with named imports from every entry point and `require`.
 */
function unsupportedRuntimes(project: string): void {
  const names = Object.keys(pkg.exports).map((p) => `memtable${p.slice(1)}`);
  writeFileSync(
    `${project}/node.mjs`,
    `import { MemTable } from "memtable";\nimport { TableReader } from "memtable/table";\n` +
      `import { encodeVarint32 } from "memtable/coding";\nimport { flushInto } from "memtable/flush";\n` +
      `new MemTable();\n`,
  );
  const nodeMessage =
    /^Error: memtable runs on Bun \(>=[\d.]+\) or Deno \(>=[\d.]+\), not on Node\.js/m;
  const node = spawnSync("node", ["--version"], { encoding: "utf8" });
  if (node.status === 0) {
    assert.match(fails("node", ["node.mjs"], project), nodeMessage);
    for (const name of names) {
      assert.match(fails("node", ["-e", `require(${JSON.stringify(name)})`], project), nodeMessage);
    }
  } else {
    console.log("node is not installed: the Node.js imports are not tried");
  }
  const deno = `${root}node_modules/.bin/deno`;
  const denoMessage = /memtable's npm package runs on Bun; from Deno, import it from JSR/;
  assert.match(fails(deno, ["run", "--allow-read", "node.mjs"], project), denoMessage);
  // Bun evaluating the stubs (as any other runtime would) gets the same one error.
  for (const conditions of Object.values(pkg.exports as Record<string, Record<string, string>>)) {
    const stub = `node_modules/memtable/${conditions.default!.slice(2)}`;
    assert.match(fails(process.execPath, [stub], project), /memtable runs on Bun .* not on/);
  }
}

/**
 * The package's command line as `bunx memtable` runs it from the installed package (its `bin`,
 * a TypeScript file with a `#!/usr/bin/env bun` line), offline: `--help`, and a dump of an SST
 * file the app's library writes.
 */
function commandLine(project: string): void {
  // The bin starts with `#!/usr/bin/env bun`: a user who runs bunx has `bun` on PATH (here the
  // devDependency's, which the suite's own PATH may not hold).
  const env = {
    BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    [libraryPathEnv]: "",
    PATH: `${root}node_modules/.bin:${process.env.PATH ?? ""}`,
  };
  const help = run(process.execPath, ["x", "memtable", "--help"], project, env);
  assert.match(help, /^Usage: memtable <command>/m);
  writeFileSync(
    `${project}/sst.ts`,
    `import { SstFileWriter } from "memtable/table";\n` +
      `const w = new SstFileWriter("${project}/a.sst");\nw.put("k1", "v1");\nw.put("k2", "v2");\n` +
      `w.finish();\n`,
  );
  run(process.execPath, ["sst.ts"], project, env);
  const dump = run(process.execPath, ["x", "memtable", "dump", `${project}/a.sst`], project, env);
  assert.equal(dump, "'k1' seq:0, type:Value => 'v1'\n'k2' seq:0, type:Value => 'v2'\n");
  const verify = spawn(
    process.execPath,
    ["x", "memtable", "verify", `${project}/none.sst`],
    project,
    env,
  );
  assert.equal(verify.status, 1, verify.stderr);
  assert.match(verify.stderr, /^memtable verify: .*none\.sst/);
}

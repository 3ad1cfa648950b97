/**
 * The runnable doc examples (`deno test --doc` of the entry points and src/, part of the test
 * command) must be
 * able to fail: each `@example` asserts with `node:assert/strict`, none with `console.assert`,
 * which prints "Assertion failed" and lets the example pass. The second test shows both sides
 * of that on a throwaway module, in a `deno test --doc` subprocess (from Bun too).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = "Deno" in globalThis ? process.execPath : join(root, "node_modules/.bin/deno");

/** The entry points (deno.json's exports) and every `.ts` file under `src/`, relative to the root. */
function sourceFiles(): string[] {
  const exports: Record<string, string> = JSON.parse(
    readFileSync(join(root, "deno.json"), "utf8"),
  ).exports;
  const out = Object.values(exports).map((path) => path.replace(/^\.\//, ""));
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(join(root, rel)).isDirectory()) walk(rel);
      else if (rel.endsWith(".ts")) out.push(rel);
    }
  };
  walk("src");
  return out;
}

interface DocBlock {
  /** `file:line` of the block's opening fence. */
  where: string;
  code: string;
  /** Whether the block follows an `@example` tag. */
  example: boolean;
}

/** The fenced code blocks of the JSDoc comments (`/** … *\/`) of `file`. */
function docBlocks(file: string): DocBlock[] {
  const text = readFileSync(join(root, file), "utf8");
  const blocks: DocBlock[] = [];
  for (const m of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, m.index).split("\n").length;
    const lines = m[0].split("\n").map((l) => l.replace(/^\s*\*? ?/, ""));
    let open = -1;
    let tagged = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (open < 0 && line.startsWith("@example")) tagged = true;
      if (!line.startsWith("```")) continue;
      if (open < 0) {
        open = i;
      } else {
        const where = `${file}:${firstLine + open}`;
        blocks.push({ where, code: lines.slice(open + 1, i).join("\n"), example: tagged });
        open = -1;
        tagged = false;
      }
    }
  }
  return blocks;
}

test("every @example in the entry points and src/ asserts with node:assert, and none uses console.assert", () => {
  let examples = 0;
  let tags = 0;
  for (const file of sourceFiles()) {
    tags += readFileSync(join(root, file), "utf8").match(/^\s*\* @example\b/gm)?.length ?? 0;
    for (const block of docBlocks(file)) {
      assert.doesNotMatch(
        block.code,
        /console\.assert\(/,
        `${block.where}: console.assert prints and passes; use assert from "node:assert/strict"`,
      );
      if (!block.example) continue;
      examples++;
      assert.match(
        block.code,
        /\bassert(\.\w+)?\(/,
        `${block.where}: the @example asserts nothing; make it check what it shows`,
      );
      assert.match(
        block.code,
        /^import assert from "node:assert\/strict";$/m,
        `${block.where}: the @example should import assert from "node:assert/strict"`,
      );
    }
  }
  assert.equal(examples, tags, "every @example tag is followed by a fenced code block");
  assert.ok(examples >= 40, `found only ${examples} examples: is the scan still reading them?`);
});

/** `deno test --doc` on a module whose one doc comment holds `examples`; exit status, output. */
function denoTestDoc(dir: string, name: string, examples: string[]) {
  const comment = examples.map((code) =>
    ["/**", " * @example", " * ```ts", ...code.split("\n").map((l) => ` * ${l}`), " * ```", " */"]
      .join("\n")
  );
  writeFileSync(join(dir, name), `${comment.join("\n")}\nexport const value = 1;\n`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.NO_COLOR = "1";
  const r = spawnSync(deno, ["test", "--no-config", "--doc", name], {
    cwd: dir,
    env,
    encoding: "utf8",
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

test(
  "deno test --doc fails an example whose node:assert assertion is false, passes one whose console.assert is",
  { timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "memtable-doc-"));
    try {
      const real = denoTestDoc(dir, "real.ts", [
        'import assert from "node:assert/strict";\nassert.equal(1 + 1, 3);',
      ]);
      assert.notEqual(real.status, 0, `a false assert.equal passed:\n${real.output}`);
      assert.match(real.output, /AssertionError/);
      assert.match(real.output, /0 passed \| 1 failed/);

      const printed = denoTestDoc(dir, "printed.ts", [
        "console.assert(1 + 1 === 3);",
        'import assert from "node:assert/strict";\nassert.equal(1 + 1, 2);',
      ]);
      assert.equal(printed.status, 0, `expected both examples to pass:\n${printed.output}`);
      assert.match(printed.output, /Assertion failed/); // printed, and still counted as passed
      assert.match(printed.output, /2 passed \| 0 failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * The README and examples/ cannot drift apart: each README code block headed by an
 * `<!-- examples/NAME.ts: … -->` comment is that file's text (with its imports of "../" written
 * "./", as from a checkout's root), and the README's Examples section lists every program in
 * examples/ and nothing else. Running the programs is a step of scripts/test.sh (both runtimes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const programs = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts")).sort();

test("each README block marked with an example's name is that file's text", () => {
  const marked = [
    ...readme.matchAll(/<!-- (examples\/[\w/]+\.ts): [^\n]*-->\n\n```ts\n([\s\S]*?)\n```\n/g),
  ];
  assert.deepEqual(marked.map((m) => m[1]), ["examples/quick_start.ts", "examples/store.ts"]);
  for (const [, file, code] of marked) {
    const text = readFileSync(join(root, file!), "utf8").replaceAll('"../', '"./').trimEnd();
    assert.equal(code, text, `README's block for ${file} differs from the file`);
  }
  // Only whole-line markers count: a block whose marker is gone would go unchecked.
  assert.equal(readme.match(/<!-- examples\//g)?.length, marked.length);
});

test("the README's Examples section lists every program in examples/, each of which exists", () => {
  const section = readme.slice(
    readme.indexOf("\n## Examples\n"),
    readme.indexOf("\n## Architecture\n"),
  );
  assert.ok(section.length > 100, "README has an Examples section before Architecture");
  const listed = [...section.matchAll(/^- \[`([\w.]+\.ts)`\]\(examples\/([\w.]+\.ts)\)/gm)];
  for (const [, name, path] of listed) assert.equal(name, path);
  assert.deepEqual(listed.map((m) => m[1]).sort(), programs);
  assert.ok(programs.length >= 6, `only ${programs.length} programs in examples/`);
  for (const link of section.matchAll(/\]\((examples\/[^)]+)\)/g)) {
    assert.ok(existsSync(join(root, link[1]!)), `${link[1]} is linked but missing`);
  }
});

test("every example asserts with node:assert/strict and imports the package by a relative path", () => {
  for (const f of programs) {
    const text = readFileSync(join(root, "examples", f), "utf8");
    assert.match(text, /^import assert from "node:assert\/strict";$/m, `${f} imports assert`);
    assert.match(text, /\bassert(\.\w+)?\(/, `${f} asserts something`);
    assert.match(text, /from "\.\.\/(mod|table|flush|coding)\.ts"/, `${f} imports the package`);
    assert.doesNotMatch(text, /console\.assert\(/, `${f}: console.assert prints and passes`);
  }
});

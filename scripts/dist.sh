#!/usr/bin/env bash
# Builds dist/, the npm package's generated part (run by `npm pack` as prepack; not committed):
#   - dist/*.d.ts: the TypeScript declarations of the entry points (package.json's "types"
#     condition), emitted by tsc from the sources. A consumer's `tsc --noEmit` checks its code
#     against these, with its own compiler options, and never type-checks this package's
#     sources (which need Bun's and Deno's types and `.ts` import paths).
#   - dist/unsupported/<entry>.mjs: what Node.js and Deno import from the npm package (the
#     "deno", "node" and "default" conditions): a module that exports the entry point's names,
#     so that `import { MemTable } from "memtable"` links, and then throws unsupported.cjs's one
#     error when it runs (a missing export would fail the link first, with a message that says
#     nothing about runtimes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rm -rf dist
node_modules/.bin/tsc -p tsconfig.declarations.json
node_modules/.bin/bun scripts/unsupported_stubs.ts

#!/usr/bin/env bash
# The main job: installs what is missing, then runs the demo on Bun and on Deno.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
echo "== Bun $(node_modules/.bin/bun --version)"
node_modules/.bin/bun run demo/demo.ts "$@"
echo
echo "== Deno $(node_modules/.bin/deno --version | head -1 | cut -d' ' -f2)"
node_modules/.bin/deno run --allow-ffi --allow-read --allow-env --allow-write demo/demo.ts "$@"

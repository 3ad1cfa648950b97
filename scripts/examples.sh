#!/usr/bin/env bash
# Runs every examples/*.ts on Bun and on Deno; each run passes when it exits 0 within 120 s (the
# programs assert what they show; a hang fails). Ends with "N pass" / "N fail" lines (one per run), as bun test does,
# and exits non-zero when any run failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun=node_modules/.bin/bun
deno=node_modules/.bin/deno
deno_flags=(--allow-ffi --allow-read --allow-env --allow-write --allow-run)
pass=0
fail=0
for f in examples/*.ts; do
  for runtime in bun deno; do
    if [ "$runtime" = bun ]; then cmd=("$bun" "$f"); else cmd=("$deno" run "${deno_flags[@]}" "$f"); fi
    if out="$(timeout 120 "${cmd[@]}" 2>&1)"; then
      pass=$((pass + 1))
      echo "ok   $runtime $f: $(echo "$out" | tail -1)"
    else
      fail=$((fail + 1))
      echo "FAIL $runtime $f"
      echo "$out" | sed 's/^/     /'
    fi
  done
done
echo " $pass pass"
echo " $fail fail"
[ "$fail" -eq 0 ]

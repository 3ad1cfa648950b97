#!/usr/bin/env bash
# The whole suite: installs what is missing (scripts/setup.sh), then runs
#   - every native build: the ReleaseFast and the safety-checked (ReleaseSafe) library, the
#     library with the benchmark-only exports (bench/boundary.ts), and the FFI-free Zig bench,
#     which then runs on a few thousand entries, and the RocksDB skiplist harness
#     (bench/rocksdb_skiplist.cc, against Debian's librocksdb), run on a few thousand entries,
#   - the Zig unit tests (native/, safety checks on),
#   - formatting (deno fmt, zig fmt) and lint (deno lint),
#   - type checks: the Bun side with tsc against bun-types, the Deno side with `deno check`,
#   - the test suite (tests/) on Bun and on Deno against the ReleaseFast library, plus the
#     runnable @example blocks of the public API (`deno test --doc`), then the same suite
#     against the safety-checked (ReleaseSafe) library: the four runs in two lanes at once
#     (tests share no fixed path, port or file they write),
#   - the demo (demo/demo.ts) on both runtimes, on a few thousand writes,
#   - every program in examples/ on both runtimes (scripts/examples.sh: one count per run).
# Ends with what names each failure (the failed tests, else the failed step's last lines), then
# one line "N passed, N failed", and exits non-zero when anything failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export NO_COLOR=1

bash scripts/setup.sh --safe --no-build || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

bun=node_modules/.bin/bun
deno=node_modules/.bin/deno
zig_cmd=(python3 -m ziglang)
command -v zig >/dev/null 2>&1 && [ "$(zig version)" = "$(python3 -m ziglang version 2>/dev/null)" ] && zig_cmd=(zig)
case "$(uname -s)" in Darwin) libfile=libmemtable.dylib ;; *) libfile=libmemtable.so ;; esac
safe_lib="$root/native/zig-out-safe/lib/$libfile"
deno_flags=(--allow-ffi --allow-read --allow-env --allow-run --allow-write --allow-net=127.0.0.1)

passed=0
failed=0
failures=() # one block per failed step, printed again above the last line
log="$(mktemp)"
scratch="$(mktemp -d)" # builds that only prove they compile (and the bench's binary)
trap 'rm -f "$log"; rm -rf "$scratch"' EXIT

# run_into LOG CMD... : runs CMD with its output into LOG, and its exit status and seconds
# into LOG.rc (for `record`).
run_into() {
  local out="$1"; shift
  local t0=$SECONDS
  "$@" >"$out" 2>&1
  echo "$? $((SECONDS - t0))" >"$out.rc"
}

# record NAME LOG : shows a finished run's output and adds its pass/fail counts (parsed from
# the runner's summary) to the totals; a run whose summary cannot be read counts as 1 failed.
record() {
  local name="$1" out="$2"
  local rc=1 secs=0
  [ -f "$out.rc" ] && read -r rc secs <"$out.rc"
  echo "== $name"
  cat "$out"
  local p f
  p=$(grep -aoE '^ *[0-9]+ pass$' "$out" | tail -1 | grep -oE '[0-9]+')            # bun
  f=$(grep -aoE '^ *[0-9]+ fail$' "$out" | tail -1 | grep -oE '[0-9]+')
  if [ -z "$p" ]; then                                                               # deno
    p=$(grep -aoE '\| [0-9]+ passed' "$out" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -aoE '\| [0-9]+ failed' "$out" | tail -1 | grep -oE '[0-9]+')
  fi
  if [ -z "$p" ]; then                                                               # zig
    p=$(grep -aoE 'run test [0-9]+ pass' "$out" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -aoE 'run test [0-9]+ pass, [0-9]+ fail' "$out" | tail -1 | grep -oE '[0-9]+ fail' | grep -oE '[0-9]+')
  fi
  if [ -z "$p" ]; then                                                               # a plain check
    if [ "$rc" -eq 0 ]; then p=1; f=0; else p=0; f=1; fi
  fi
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crash after the summary still fails
  passed=$((passed + p))
  failed=$((failed + f))
  echo "-- $name: $p passed, $f failed ($secs s)"
  if [ "$f" -gt 0 ]; then failures+=("$(failure_lines "$name" "$out")"); fi
}

# failure_lines NAME LOG : what names the failures in a failed run's output: Bun's "(fail)"
# lines and timeouts, else Deno's failed tests ("name => ./file:line"), else lines naming a
# failure or an error, else the output's last lines.
failure_lines() {
  local name="$1" out="$2" lines
  lines=$(grep -aE '^\(fail\) |timed out after' "$out")
  [ -z "$lines" ] && lines=$(grep -aE ' => \./' "$out" | awk '!seen[$0]++')
  [ -z "$lines" ] && lines=$(grep -aE ' (FAIL|fail)[^ed]|error: ' "$out" | head -20)
  [ -z "$lines" ] && lines=$(tail -15 "$out")
  printf '%s\n%s' "-- failed in $name:" "$lines"
}

# step NAME CMD... : runs CMD now and records it.
step() {
  local name="$1"; shift
  run_into "$log" "$@"
  record "$name" "$log"
}

# The two release builds at once: LLVM compiles the library's one module on one core.
run_into "$scratch/build-fast.log" bash -c "cd native && ${zig_cmd[*]} build -Doptimize=fast" &
fast_build=$!
run_into "$scratch/build-safe.log" bash -c "cd native && ${zig_cmd[*]} build -Doptimize=safe --prefix zig-out-safe"
wait "$fast_build"
record "build: native library (ReleaseFast)" "$scratch/build-fast.log"
record "build: native library (ReleaseSafe)" "$scratch/build-safe.log"
step "build: native library with -Dbench-exports (Debug)" bash -c "cd native && ${zig_cmd[*]} build -Dbench-exports=true --prefix '$scratch/bench-exports'"
step "build and run: Zig bench (Debug, 2000 entries)" bash -c "cd native && ${zig_cmd[*]} build bench --prefix '$scratch/bench' && '$scratch/bench/bin/memtable-bench' 2000"
step "build and run: RocksDB skiplist harness (librocksdb, 2000 entries)" bash bench/rocksdb_skiplist.sh 2000
step "zig unit tests (Debug, safety checks on)" bash -c "cd native && ${zig_cmd[*]} build test --summary all"
step "format: deno fmt --check, zig fmt --check" bash -c "$deno fmt --check && ${zig_cmd[*]} fmt --check native/build.zig native/src/"
step "lint: deno lint" "$deno" lint
step "typecheck: Bun side (tsc + bun-types)" node_modules/.bin/tsc -p tsconfig.json --noEmit
step "typecheck: Deno side (deno check)" "$deno" check mod.ts coding.ts flush.ts table.ts tests/ bench/ demo/ examples/
# The four suites in two lanes at once (each lane's runs one after the other; the machine has
# two cores and a suite mostly keeps one busy), recorded in order after. The lanes pair a long
# run with a short one: Deno's ReleaseFast run (doc examples included) with Bun's safe run, and
# Bun's ReleaseFast run (the package test cross-compiles every target) with Deno's safe run.
# Bun's per-test limit (5 s by default) at 120 s, Deno's having none: with two lanes on two
# cores, a test of 0.7 s on a quiet machine (db_bench filling a database) can take several
# times that, and a limit is a hang detector here, not a benchmark.
safe_env=(env MEMTABLE_LIBRARY_PATH="$safe_lib" MEMTABLE_EXPECT_SAFETY=1)
bun_test=("$bun" test --timeout 120000 tests/)
(
  run_into "$scratch/bun-fast.log" "${bun_test[@]}"
  run_into "$scratch/deno-safe.log" "${safe_env[@]}" "$deno" test "${deno_flags[@]}" tests/
) &
lane_a=$!
(
  run_into "$scratch/deno-fast.log" "$deno" test "${deno_flags[@]}" --doc mod.ts coding.ts flush.ts table.ts src/ tests/
  run_into "$scratch/bun-safe.log" "${safe_env[@]}" "${bun_test[@]}"
) &
lane_b=$!
wait "$lane_a" "$lane_b"
record "bun test (ReleaseFast)" "$scratch/bun-fast.log"
record "deno test (ReleaseFast) + doc examples" "$scratch/deno-fast.log"
record "bun test (ReleaseSafe)" "$scratch/bun-safe.log"
record "deno test (ReleaseSafe)" "$scratch/deno-safe.log"
step "demo (Bun and Deno, 5000 writes)" bash -c "$bun run demo/demo.ts 5000 && $deno run --allow-ffi --allow-read --allow-env --allow-write demo/demo.ts 5000"
step "examples (each examples/*.ts on Bun and on Deno)" bash scripts/examples.sh
echo
for block in "${failures[@]}"; do printf '%s\n' "$block"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

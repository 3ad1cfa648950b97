#!/usr/bin/env bash
# The README workload (bench/workload.ts) at several entry counts, one round each: the memtable
# and the JS peers (sorted-btree, js-sdsl) on Bun and Deno, the same workload driven from Zig
# with no FFI (native/src/bench.zig), and RocksDB's db_bench fillrandom/readrandom when it is
# installed. The JSON lines go to a file under bench/results/ (headed by `#` lines that say when
# and how they were made); `bun run charts` draws docs/charts/ from it.
#   bash bench/sizes.sh [out-file] [sizes...]
#   (defaults: bench/results/sizes-YYYY-MM-DD.jsonl; 100000 300000 1000000 3000000 10000000)
# One round per point: on a shared machine the figures are noisy, compare points of one run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${1:-bench/results/sizes-$(date -u +%Y-%m-%d).jsonl}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 300000 1000000 3000000 10000000)
bun=node_modules/.bin/bun
deno_run=(node_modules/.bin/deno run --allow-ffi --allow-read --allow-env --v8-flags=--expose-gc)
(cd native && python3 -m ziglang build -Doptimize=fast && python3 -m ziglang build -Doptimize=fast bench) >&2

mkdir -p "$(dirname "$out")"
{
  echo "# bash bench/sizes.sh $out ${sizes[*]}"
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -sm), one round per point;" \
    "Bun $("$bun" --version), $("${deno_run[0]}" --version | head -1)," \
    "RocksDB $(dpkg-query -W -f='${Version}' rocksdb-tools 2>/dev/null || echo '-')"
} > "$out"

one="$(mktemp)"
trap 'rm -f "$one"' EXIT
run() {
  echo "+ $*" >&2
  "$@" > "$one"
  cat "$one" >&2
  grep '^{' "$one" >> "$out"
}

for n in "${sizes[@]}"; do
  echo "== $n entries" >&2
  run native/zig-out/bin/memtable-bench "$n" 42
  for impl in memtable sorted-btree js-sdsl; do
    run "$bun" bench/workload.ts "$impl" "$n"
    run "${deno_run[@]}" bench/workload.ts "$impl" "$n"
  done
  if command -v db_bench >/dev/null 2>&1; then
    db="$(mktemp -d)"
    echo "+ db_bench --benchmarks=fillrandom,readrandom --num=$n" >&2
    res="$(db_bench --benchmarks=fillrandom,readrandom --disable_wal=1 \
      --write_buffer_size=2147483648 --compression_type=none --num="$n" --key_size=16 \
      --value_size=100 --db="$db" --threads=1 2>&1)"
    rm -rf "$db"
    echo "$res" | grep -E '^(fillrandom|readrandom)' >&2
    put=$(echo "$res" | awk '/^fillrandom/ {print $3 * 1000}')
    get=$(echo "$res" | awk '/^readrandom/ {print $3 * 1000}')
    echo "{\"runtime\":\"rocksdb\",\"impl\":\"db_bench\",\"n\":$n,\"putNsPerOp\":$put,\"getNsPerOp\":$get}" >> "$out"
  fi
done
echo "wrote $out" >&2

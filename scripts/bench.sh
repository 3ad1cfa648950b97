#!/usr/bin/env bash
# Benchmarks, peers side by side in one run (figures on a shared 2-core machine are noisy:
# compare rows of the same run, not runs of different days).
#   bash scripts/bench.sh [entries] [rounds]
# 1. the README workload (bench/workload.ts) on Bun and Deno, the same workload driven from
#    Zig with no FFI (native/src/bench.zig), alternating for `rounds` rounds (median shown),
#    with and without huge pages, then the JS peers, RocksDB's db_bench and RocksDB's own
#    memtable skiplist on the same keys (bench/rocksdb_skiplist.cc against Debian's librocksdb,
#    `bash bench/rocksdb_skiplist.sh`) once;
# 2. the TypeScript path against a Zig loop on the same memtable in the same process
#    (bench/boundary.ts, with the -Dbench-exports build);
# 3. per-operation mitata benchmarks (bench/ops.bench.ts), one structure per process, on
#    both runtimes;
# 4. write batches against single adds (bench/batch.ts) and the cost of merges and range
#    tombstones (bench/semantics.ts), on both runtimes;
# 5. one memtable shared by Workers: readers while a writer inserts, and concurrent writers
#    (bench/concurrency.ts), on both runtimes;
# 6. insert hints: interleaved ascending streams with and without hints, against random keys
#    (bench/hints.ts), on both runtimes;
# 7. the memtable representations (skiplist, with the point index, hashSkipList, hashLinkList,
#    vector) with the JS peers, random and sequential keys (bench/reps.ts), on both runtimes;
# 8. sustained random writes through a Store with flushes (bench/store.ts), on both runtimes,
#    with RocksDB's db_bench fillrandom alongside when it is installed;
# 9. the flush with a built-in merge operator: native against TypeScript (bench/flush.ts), and
#    the native flush of a full 64 MiB memtable (bench/flush_native.ts), on both runtimes;
# 10. batched lookups against single ones (bench/multi_get.ts), on both runtimes;
# 11. scans: scan() in batches of views, entries(), range scans, against the JS peers
#    (bench/scan.ts), on both runtimes;
# 12. the write-ahead log: a Store's writes with the WAL on and off, RocksDB's fillrandom with
#    its WAL in the same run, and sync writers alone and grouped (bench/wal.ts), on both runtimes.
# The long crash run (100 SIGKILLs, bench/crash.ts) is not part of it: `bun bench/crash.ts`.
#   bash scripts/bench.sh --sizes [out-file] [sizes...]
# runs only the workload at several entry counts (bench/sizes.sh, into bench/results/), then
# draws the README's charts from it (bench/charts.ts, into docs/charts/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "${1:-}" = "--sizes" ]; then
  shift
  bash bench/sizes.sh "$@"
  exec node_modules/.bin/bun bench/charts.ts ${1:+"$1"}
fi
n="${1:-1000000}"
rounds="${2:-3}"
bash scripts/setup.sh
zig_cmd=(python3 -m ziglang)
(cd native && "${zig_cmd[@]}" build -Doptimize=fast bench >&2)
(cd native && "${zig_cmd[@]}" build -Doptimize=fast -Dbench-exports=true --prefix zig-out-bench >&2)
case "$(uname -s)" in Darwin) libfile=libmemtable.dylib ;; *) libfile=libmemtable.so ;; esac
bench_lib="$root/native/zig-out-bench/lib/$libfile"
bun=node_modules/.bin/bun
deno=node_modules/.bin/deno
deno_run=("$deno" run --allow-ffi --allow-read --allow-env --v8-flags=--expose-gc)
results="$(mktemp)"

one="$(mktemp)"
trap 'rm -f "$results" "$one"' EXIT
run() {
  echo "+ $*" >&2
  "$@" > "$one"
  cat "$one" >&2
  grep '^{' "$one" >> "$results"
}

for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds" >&2
  run native/zig-out/bin/memtable-bench "$n" 42
  run "$bun" bench/workload.ts memtable "$n"
  run "${deno_run[@]}" bench/workload.ts memtable "$n"
done
run native/zig-out/bin/memtable-bench "$n" 42 huge
run "$bun" bench/workload.ts memtable-huge "$n"
run "${deno_run[@]}" bench/workload.ts memtable-huge "$n"
run "$bun" bench/workload.ts memtable-search "$n"
run "${deno_run[@]}" bench/workload.ts memtable-search "$n"
run "$bun" bench/workload.ts memtable-bloom "$n"
run "${deno_run[@]}" bench/workload.ts memtable-bloom "$n"
for peer in sorted-btree js-sdsl; do
  run "$bun" bench/workload.ts "$peer" "$n"
  run "${deno_run[@]}" bench/workload.ts "$peer" "$n"
done

if command -v db_bench >/dev/null 2>&1; then
  db="$(mktemp -d)"
  echo "+ db_bench --benchmarks=fillrandom,readrandom (RocksDB $(dpkg-query -W -f='${Version}' rocksdb-tools 2>/dev/null || echo '?'))" >&2
  out="$(db_bench --benchmarks=fillrandom,readrandom --disable_wal=1 --write_buffer_size=2147483648 \
    --compression_type=none --num="$n" --key_size=16 --value_size=100 --db="$db" --threads=1 2>&1)"
  rm -rf "$db"
  echo "$out" | grep -E '^(fillrandom|readrandom)' >&2
  put=$(echo "$out" | awk '/^fillrandom/ {print $3 * 1000}')
  get=$(echo "$out" | awk '/^readrandom/ {print $3 * 1000}')
  echo "{\"runtime\":\"rocksdb\",\"impl\":\"db_bench\",\"n\":$n,\"putNsPerOp\":$put,\"getNsPerOp\":$get}" >> "$results"
else
  echo "db_bench not installed (apt-get install rocksdb-tools): RocksDB row skipped" >&2
fi
if [ -e /usr/include/rocksdb/memtablerep.h ]; then
  run bash bench/rocksdb_skiplist.sh "$n" 42
else
  echo "librocksdb-dev not installed (apt-get install librocksdb-dev): RocksDB skiplist row skipped" >&2
fi

echo
echo "## Workload: $n random 16-byte keys, 100-byte values ($(date -u +%Y-%m-%d), $(nproc) cores)"
echo
"$bun" bench/report.ts < "$results"
echo
echo "## The boundary: TypeScript path vs a Zig loop in the same process (bench/boundary.ts)"
echo
MEMTABLE_LIBRARY_PATH="$bench_lib" "$bun" bench/boundary.ts "$n" "$rounds"
MEMTABLE_LIBRARY_PATH="$bench_lib" "$deno" run --allow-ffi --allow-read --allow-env bench/boundary.ts "$n" "$rounds"
echo
echo "## Per operation (mitata)"
for impl in memtable sorted-btree js-sdsl; do
  echo
  echo "### Bun, $impl"
  "$bun" bench/ops.bench.ts "$impl"
  echo
  echo "### Deno, $impl"
  "$deno" run --allow-ffi --allow-read --allow-env bench/ops.bench.ts "$impl"
done
echo
echo "## Write batches against single adds (bench/batch.ts: 1000-record batches into $n entries)"
echo
"$bun" bench/batch.ts "$n" 5
"$deno" run --allow-ffi --allow-read --allow-env bench/batch.ts "$n" 5
echo
echo "## Merges and range tombstones (bench/semantics.ts)"
echo
echo "### Bun"
"$bun" bench/semantics.ts
echo
echo "### Deno"
"$deno" run --allow-ffi --allow-read --allow-env bench/semantics.ts
echo
echo "## Workers sharing one memtable (bench/concurrency.ts)"
echo
"$bun" bench/concurrency.ts "$n" 3000
echo
"$deno" run --allow-ffi --allow-read --allow-env bench/concurrency.ts "$n" 3000
echo
echo "## Insert hints (bench/hints.ts)"
echo
"$bun" bench/hints.ts "$n"
"$deno" run --allow-ffi --allow-read --allow-env bench/hints.ts "$n"

echo
echo "## Representations (bench/reps.ts)"
echo
"$bun" bench/reps.ts "$n"
echo
"${deno_run[@]}" --allow-run bench/reps.ts "$n"

echo
echo "## Store: sustained writes with flushes (bench/store.ts)"
echo
"$bun" bench/store.ts "$((n * 4))"
"$deno" run -A bench/store.ts "$((n * 4))"
echo
echo "## Flush with a built-in merge operator (bench/flush.ts)"
echo
"$bun" bench/flush.ts "$n"
"$deno" run -A bench/flush.ts "$n"
"$bun" bench/flush_native.ts && "$deno" run -A bench/flush_native.ts
echo
echo "## Batched lookups: multiGet against get (bench/multi_get.ts)"
echo
"$bun" bench/multi_get.ts "$n" "$rounds"
"$deno" run --allow-ffi --allow-read --allow-env bench/multi_get.ts "$n" "$rounds"
echo
echo "## Scans: scan() batches, entries() and range scans against the peers (bench/scan.ts)"
echo
"$bun" bench/scan.ts "$n" "$rounds"
"$deno" run --allow-ffi --allow-read --allow-env bench/scan.ts "$n" "$rounds"
echo
echo "## Write-ahead log: WAL on and off, group commit (bench/wal.ts)"
echo
"$bun" bench/wal.ts "$((n * 4))"
"$deno" run -A bench/wal.ts "$((n * 4))"

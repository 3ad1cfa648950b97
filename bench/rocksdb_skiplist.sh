#!/usr/bin/env bash
# Builds bench/rocksdb_skiplist.cc against Debian's librocksdb (librocksdb-dev: RocksDB's own
# memtable skiplist through its public SkipListFactory) and runs it on the README workload:
#   bash bench/rocksdb_skiplist.sh [entries] [seed]     (defaults: 1000000 42)
# Prints the harness's JSON line (the shape of bench/workload.ts's rows). The binary is built
# in a temporary directory and removed afterwards; the build fails when the binary does not
# link librocksdb dynamically (so the figures are the library's code, not a copy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -e /usr/include/rocksdb/memtablerep.h ] ||
  { echo "rocksdb_skiplist.sh: RocksDB's headers are missing (apt-get install librocksdb-dev)" >&2; exit 1; }
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
g++ -O2 -std=c++17 -Wall -Wextra -o "$build/rocksdb_skiplist" "$root/bench/rocksdb_skiplist.cc" -lrocksdb
libs="$(ldd "$build/rocksdb_skiplist")" # not piped into grep -q: an early exit would fail ldd
grep -q 'librocksdb\.so' <<<"$libs" ||
  { echo "rocksdb_skiplist.sh: the harness does not link librocksdb.so" >&2; exit 1; }
"$build/rocksdb_skiplist" "${1:-1000000}" "${2:-42}"

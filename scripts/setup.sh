#!/usr/bin/env bash
# Installs what the project needs when it is missing, and is quick when nothing is:
#   - Zig, the version pinned in native/build.zig, from PyPI's `ziglang` package;
#   - the npm devDependencies (Bun, Deno, TypeScript, mitata, peers) with `npm ci`;
#   - the native library, ReleaseFast in native/zig-out/ and, with `--safe`, a
#     safety-checked (ReleaseSafe) build in native/zig-out-safe/;
#   - with `--safe` (the test command), RocksDB's own tools (Debian's rocksdb-tools: ldb,
#     sst_dump), which the interoperability tests run, and its headers and library (Debian's
#     librocksdb-dev), which the RocksDB skiplist harness (bench/rocksdb_skiplist.cc) builds with.
# `--no-build` skips the native builds (the test command builds them as steps of its own, so a
# failing build is counted in its summary).
# Source it or run it; it prints nothing when everything is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

want_safe=0
want_build=1
for arg in "$@"; do
  case "$arg" in
    --safe) want_safe=1 ;;
    --no-build) want_build=0 ;;
    *) echo "setup.sh: unknown argument $arg (known: --safe, --no-build)" >&2; exit 2 ;;
  esac
done

zig_version="$(sed -n 's/^const zig_version_pinned = "\(.*\)";$/\1/p' native/build.zig)"
[ -n "$zig_version" ] || { echo "setup.sh: cannot read the pinned Zig version from native/build.zig" >&2; exit 1; }

zig_cmd=()
if command -v zig >/dev/null 2>&1 && [ "$(zig version 2>/dev/null)" = "$zig_version" ]; then
  zig_cmd=(zig)
elif [ "$(python3 -m ziglang version 2>/dev/null)" = "$zig_version" ]; then
  zig_cmd=(python3 -m ziglang)
else
  echo "setup.sh: installing Zig $zig_version from PyPI (ziglang)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "ziglang==$zig_version" >&2
  zig_cmd=(python3 -m ziglang)
fi

# npm packages: reinstall when package-lock.json changed since the last install.
stamp="node_modules/.memtable-lock-stamp"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/.bin/bun ] || [ ! -x node_modules/.bin/deno ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup.sh: installing npm devDependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_sum" > "$stamp"
fi

# Native builds; zig's cache makes an up-to-date build a no-op.
build() { (cd native && "${zig_cmd[@]}" build "$@"); }
[ "$want_build" = 0 ] || build -Doptimize=fast >&2
if [ "$want_safe" = 1 ]; then
  [ "$want_build" = 0 ] || build -Doptimize=safe --prefix zig-out-safe >&2
  if ! command -v ldb >/dev/null 2>&1; then
    echo "setup.sh: installing rocksdb-tools (ldb, sst_dump) from Debian" >&2
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq rocksdb-tools >&2 ||
      echo "setup.sh: could not install rocksdb-tools; the RocksDB interoperability tests will fail" >&2
  fi
  if [ ! -e /usr/include/rocksdb/memtablerep.h ]; then
    echo "setup.sh: installing librocksdb-dev (RocksDB's headers and library) from Debian" >&2
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq librocksdb-dev >&2 ||
      echo "setup.sh: could not install librocksdb-dev; the RocksDB skiplist harness will not build" >&2
  fi
fi

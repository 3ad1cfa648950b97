#!/usr/bin/env bash
# Cross-compiles the release library for every supported platform with the pinned Zig, into
#   prebuilt/<os>-<arch>/<library file>     (os and arch as Node/Bun/Deno's node:process name them)
# and writes prebuilt/manifest.json with each file's sha256 and size. The libraries are committed
# (a module imported from the repository's URL downloads them from there); zig builds them
# reproducibly, and tests/prebuilt.test.ts fails when they are not what this source builds. ReleaseFast, stripped,
# baseline CPU (a binary for other machines must not assume this machine's instructions).
#   bash scripts/prebuild.sh [platform …]     e.g. linux-x64 darwin-arm64; default: all
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >&2

zig_cmd=(python3 -m ziglang)
command -v zig >/dev/null 2>&1 && [ "$(zig version)" = "$(python3 -m ziglang version 2>/dev/null)" ] && zig_cmd=(zig)

# platform  zig target  installed file (under the prefix)
targets=(
  "linux-x64     x86_64-linux-gnu    lib/libmemtable.so"
  "linux-arm64   aarch64-linux-gnu   lib/libmemtable.so"
  "darwin-x64    x86_64-macos        lib/libmemtable.dylib"
  "darwin-arm64  aarch64-macos       lib/libmemtable.dylib"
  "win32-x64     x86_64-windows-gnu  bin/memtable.dll"
)
wanted=("$@")
work="$(mktemp -d)"
# Files reach prebuilt/ by a rename from a directory of this run's own on the same file system
# (outside prebuilt/, so a package packed meanwhile never holds a partial one): the test lanes
# may run this script at once.
stage="$(mktemp -d "$root/.prebuild.XXXXXX")"
trap 'rm -rf "$work" "$stage"' EXIT
mkdir -p prebuilt
for row in "${targets[@]}"; do
  read -r platform target file <<<"$row"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $platform "* ]]; then continue; fi
  (cd native && "${zig_cmd[@]}" build -Doptimize=fast -Dcpu=baseline -Dtarget="$target" --prefix "$work/$platform" >&2)
  name="$(basename "$file")"
  mkdir -p "prebuilt/$platform"
  cp "$work/$platform/$file" "$stage/$name"
  mv "$stage/$name" "prebuilt/$platform/$name"
  echo "$platform: built $name" >&2
done
# The manifest describes every library in prebuilt/, rebuilt now or before.
entries=()
for row in "${targets[@]}"; do
  read -r platform target file <<<"$row"
  name="$(basename "$file")"
  [ -f "prebuilt/$platform/$name" ] || continue
  sum="$(sha256sum "prebuilt/$platform/$name" | cut -d' ' -f1)"
  bytes="$(stat -c %s "prebuilt/$platform/$name")"
  echo "$platform: $name $bytes bytes sha256 $sum" >&2
  entries+=("    \"$platform\": { \"file\": \"$platform/$name\", \"bytes\": $bytes, \"sha256\": \"$sum\" }")
done
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json | head -1)"
{
  echo "{"
  echo "  \"version\": \"$version\","
  echo "  \"zig\": \"$("${zig_cmd[@]}" version)\","
  echo "  \"libraries\": {"
  for i in "${!entries[@]}"; do
    sep=","; [ "$i" -eq $((${#entries[@]} - 1)) ] && sep=""
    echo "${entries[$i]}$sep"
  done
  echo "  }"
  echo "}"
} > "$stage/manifest.json"
mv "$stage/manifest.json" prebuilt/manifest.json
echo "prebuilt/manifest.json written" >&2

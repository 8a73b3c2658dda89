#!/usr/bin/env bash
# Builds this plugin, shows what it declares, and runs it on a project:
#   ./test.sh SOURCE [HOSTBUILD RUN FLAGS...]
#   e.g. ./test.sh {{example}}
# The output tree is OUT/build.{{name}}/ (OUT defaults to ./test-out);
# HOSTBUILD names the hostbuild binary [default: hostbuild on PATH].
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
source_dir=$1
shift
out=${OUT:-$here/test-out}
hostbuild=${HOSTBUILD:-hostbuild}

cargo build --release --target wasm32-wasip2 --manifest-path "$here/Cargo.toml"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
wasm=$target_dir/wasm32-wasip2/release/{{crate}}.wasm

"$hostbuild" inspect "$wasm"
mkdir -p "$out"
"$hostbuild" run "$wasm" --source "$source_dir" --out "$out" {{run-flags}}"$@"

#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing (scripts/prereqs.sh),
# builds the host and the plugins, then cross-builds the bundled CMake example
# for armv7 and runs its tests under QEMU. Artifacts land in ./build.armv7/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/prereqs.sh
cargo xtask plugins
cargo build --locked -p hostbuild

"$HOSTBUILD" inspect plugins/armv7.wasm
"$HOSTBUILD" run plugins/armv7.wasm --source examples/cmake-hello --out .

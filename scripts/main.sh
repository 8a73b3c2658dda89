#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing (scripts/prereqs.sh),
# builds the host and the plugins, then cross-builds the bundled CMake example
# for armv7, runs its tests under QEMU, and publishes the artifacts to the
# local directory store ./artifacts/ (MXNet's layout; --force makes reruns
# replace the set). The build tree is ./build.armv7/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh

step "prerequisites"
bash scripts/prereqs.sh

step "building the plugins" "see the compiler output above"
cargo xtask plugins --platforms-only
step "building hostbuild" "see the compiler output above"
cargo build --locked -p hostbuild

step "the armv7 run" "see hostbuild's error above"
"$HOSTBUILD" inspect plugins/armv7.wasm
"$HOSTBUILD" run plugins/armv7.wasm --source examples/cmake-hello --out . --publish --store artifacts --force
"$HOSTBUILD" artifacts --store artifacts ls

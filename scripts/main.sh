#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds the host
# and the plugins, then runs the armv7 platform on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/prereqs.sh
cargo xtask plugins
cargo build --locked -p hostbuild

"$HOSTBUILD" inspect plugins/armv7.wasm
# `hostbuild run plugins/armv7.wasm --source examples/...` joins this script
# when the container capability lands; until then `run` refuses container
# platforms with exit status 8.

#!/usr/bin/env bash
# Runs every check and test of hostbuild: the README's test command, and
# what .ci/run calls. Installs missing prerequisites first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh

phase() {
  printf '\n== %s\n' "$1" >&2
  step "$1" "${2:-}"
}

# The swarm tests undo their swarm themselves; this covers a test process
# killed on the way (the fixture leaves only a swarm it made).
trap 'bash tests/fixtures/swarm.sh down || true' EXIT

phase "prerequisites"
bash scripts/prereqs.sh --test

phase "formatting" "run: cargo fmt --all (and the same with --manifest-path platforms/Cargo.toml, tests/guests/Cargo.toml)"
cargo fmt --all --check
cargo fmt --all --check --manifest-path platforms/Cargo.toml
cargo fmt --all --check --manifest-path tests/guests/Cargo.toml

phase "plugins and test guests (wasm32-wasip2)" "see the compiler output above"
cargo xtask plugins

phase "clippy" "fix the warnings above"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path platforms/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings
cargo clippy --manifest-path tests/guests/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings

phase "build and test" "see the failing test above"
cargo build --workspace --locked
cargo test --workspace --locked
# The platforms' own unit tests run natively (their host imports are unused).
cargo test --manifest-path platforms/Cargo.toml --locked

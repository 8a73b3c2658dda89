#!/usr/bin/env bash
# Runs every check and test of hostbuild: the README's test command, and
# what .ci/run calls. Installs missing prerequisites first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

step() { printf '\n== %s\n' "$*" >&2; }

step "prerequisites"
bash scripts/prereqs.sh

step "formatting"
cargo fmt --all --check
cargo fmt --all --check --manifest-path platforms/Cargo.toml
cargo fmt --all --check --manifest-path tests/guests/Cargo.toml

step "plugins and test guests (wasm32-wasip2)"
cargo xtask plugins

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --manifest-path platforms/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings
cargo clippy --manifest-path tests/guests/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings

step "build and test"
cargo build --workspace --locked
cargo test --workspace --locked
# The platforms' own unit tests run natively (their host imports are unused).
cargo test --manifest-path platforms/Cargo.toml --locked

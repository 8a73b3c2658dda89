#!/usr/bin/env bash
# Installs and starts what hostbuild needs on a Debian 12 machine, as root.
# Idempotent: every step checks first and does nothing when already done.
#   - apt packages: Debian's docker.io engine, QEMU user emulation, binfmt,
#     docker-registry (the loopback OCI registry of the tests; never started as a service)
#   - the wasm32-wasip2 Rust target (to build plugins)
#   - binfmt_misc mounted with the qemu-arm and qemu-aarch64 handlers enabled
#   - dockerd running (started in the background when it is not)
#   - s3s-fs, the loopback S3 server of the tests
#   - the offline base images hostbuild/bookworm:{amd64,armv7,arm64}
set -euo pipefail

log() { printf '[prereqs] %s\n' "$*" >&2; }

APT_PACKAGES=(docker.io qemu-user-static binfmt-support iptables mmdebstrap docker-registry)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
  log "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
for handler in qemu-arm qemu-aarch64; do
  if [ "$(head -n1 "/proc/sys/fs/binfmt_misc/$handler" 2>/dev/null)" != enabled ]; then
    log "enabling the $handler binfmt handler"
    update-binfmts --import "$handler" 2>/dev/null || true
    update-binfmts --enable "$handler"
  fi
done

if ! docker version >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/hostbuild-dockerd.log)"
    nohup /usr/sbin/dockerd >/var/log/hostbuild-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 1
  done
  docker version >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/hostbuild-dockerd.log"; exit 1; }
fi
cd "$(dirname "$0")/.."
source scripts/env.sh

# A real S3 server for the tests and benchmarks (s3s-fs, from crates.io).
S3S_FS="$HOME/.cache/hostbuild-dev/tools/bin/s3s-fs"
if [ ! -x "$S3S_FS" ]; then
  log "installing s3s-fs (the loopback S3 server of the tests)"
  CARGO_TARGET_DIR="$HOME/.cache/hostbuild-dev/tools-target" \
    cargo install --quiet s3s-fs --version 0.14.1 --features binary --locked --root "$HOME/.cache/hostbuild-dev/tools"
fi

# The offline base images the platforms' recipes start from.
cargo xtask images
log "ready"

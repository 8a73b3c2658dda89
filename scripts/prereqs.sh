#!/usr/bin/env bash
# Installs and starts what hostbuild needs on a Debian 12 machine, as root.
# Idempotent: every step checks first and does nothing when already done.
#
#   bash scripts/prereqs.sh          what running hostbuild needs (scripts/main.sh)
#   bash scripts/prereqs.sh --test   that, plus what the tests and benches need
#                                    (scripts/test.sh)
#
# Running:
#   - apt packages: Debian's docker.io engine, iptables, QEMU user emulation,
#     binfmt-support, mmdebstrap and arch-test (mmdebstrap needs arch-test to
#     bootstrap a foreign architecture), ca-certificates, git
#   - the wasm32-wasip2 Rust target (to build plugins)
#   - binfmt_misc mounted with the handlers architectures.tsv names
#     (qemu-arm, qemu-aarch64) enabled, then a self-check that binaries of
#     each foreign architecture (armhf, arm64) really execute
#   - dockerd running (started in the background when it is not)
#   - the offline base images hostbuild/bookworm:SHORT, one per line of
#     architectures.tsv
# Testing (--test) adds:
#   - docker-registry (the loopback OCI registry of the tests; never started
#     as a service), python3 with venv, tmux, man-db (renders the man pages)
#   - s3s-fs, the loopback S3 server of the tests (built from crates.io)
#   - boto3 and PyYAML in a venv (~/.cache/hostbuild-dev/tools/boto3): the
#     test client that plays MXNet CD's artifact_repository.py
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh

TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1 ;;
    *) fail "unknown argument $arg" "usage: bash scripts/prereqs.sh [--test]" ;;
  esac
done

APT_PACKAGES=(docker.io iptables qemu-user-static binfmt-support mmdebstrap arch-test ca-certificates git procps util-linux)
if ((TEST)); then
  APT_PACKAGES+=(docker-registry python3 python3-venv tmux iproute2 util-linux man-db)
fi

step "apt packages" "check the machine's apt sources (apt-get update must work), then rerun"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "the wasm32-wasip2 Rust target" "run: rustup target add wasm32-wasip2"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

# The foreign architectures (architectures.tsv): binfmt handlers and Debian names.
HANDLERS=$(awk '!/^#/ && NF == 7 && $7 != "-" {print $7}' architectures.tsv)
FOREIGN=$(awk '!/^#/ && NF == 7 && $7 != "-" {print $5, $7}' architectures.tsv)

step "QEMU user emulation" "apt-get install qemu-user-static binfmt-support arch-test; binfmt_misc must be mountable (run as root)"
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
  log "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
for handler in $HANDLERS; do
  if [ "$(head -n1 "/proc/sys/fs/binfmt_misc/$handler" 2>/dev/null)" != enabled ]; then
    log "enabling the $handler binfmt handler"
    update-binfmts --import "$handler" 2>/dev/null || true
    update-binfmts --enable "$handler"
  fi
done
# Self-check before any long work: the foreign-architecture path mmdebstrap
# and the foreign-architecture steps use must really run binaries.
for handler in $HANDLERS; do
  update-binfmts --display "$handler" 2>/dev/null | grep -q "$handler (enabled)" ||
    fail "the $handler binfmt handler is not enabled" "apt-get install qemu-user-static binfmt-support, then: update-binfmts --enable $handler"
done
command -v arch-test >/dev/null || fail "arch-test is missing (mmdebstrap needs it for foreign architectures)" "apt-get install arch-test"
while read -r arch handler; do
  arch-test "$arch" >/dev/null 2>&1 ||
    fail "$arch binaries do not execute on this machine (arch-test $arch: $(arch-test "$arch" 2>&1 | tail -n1))" \
      "apt-get install qemu-user-static binfmt-support, then: update-binfmts --enable $handler"
done <<<"$FOREIGN"

step "the Docker engine" "see /var/log/hostbuild-dockerd.log; apt-get install docker.io iptables"
if ! docker version >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/hostbuild-dockerd.log)"
    nohup /usr/sbin/dockerd >/var/log/hostbuild-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 1
  done
  docker version >/dev/null 2>&1 || fail "dockerd did not start" "read /var/log/hostbuild-dockerd.log"
fi

if ((TEST)); then
  # A real S3 server for the tests and benchmarks (s3s-fs, from crates.io).
  step "s3s-fs (the loopback S3 server of the tests)" "check that crates.io is reachable, then rerun"
  S3S_FS="$HOME/.cache/hostbuild-dev/tools/bin/s3s-fs"
  if [ ! -x "$S3S_FS" ]; then
    log "installing s3s-fs (the loopback S3 server of the tests)"
    CARGO_TARGET_DIR="$HOME/.cache/hostbuild-dev/tools-target" \
      cargo install --quiet s3s-fs --version 0.14.1 --features binary --locked --root "$HOME/.cache/hostbuild-dev/tools"
  fi

  # MXNet CD's artifact repository tool, as tests/mxnet_cd/ plays it.
  step "boto3 (the test client playing MXNet CD's artifact_repository.py)" "check that PyPI is reachable, then rerun"
  BOTO3_VENV="$HOME/.cache/hostbuild-dev/tools/boto3"
  if ! "$BOTO3_VENV/bin/python" -c 'import boto3, yaml' 2>/dev/null; then
    log "installing boto3 and PyYAML into $BOTO3_VENV"
    python3 -m venv "$BOTO3_VENV"
    "$BOTO3_VENV/bin/pip" install --quiet "boto3==1.44.8" "PyYAML==6.0.4"
  fi
fi

# The offline base images the platforms' recipes start from.
step "the offline base images" "rerun; see the mmdebstrap output above"
cargo xtask images
log "ready"

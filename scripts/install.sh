#!/usr/bin/env bash
# Installs hostbuild from this checkout:
#
#   bash scripts/install.sh [--dev] [PREFIX]
#
# PREFIX defaults to /usr/local as root, else ~/.local. It gets:
#   bin/hostbuild                     the release build (--dev: the dev-profile
#                                     binary that `cargo build` makes and the
#                                     tests use, so CI builds one profile)
#   share/hostbuild/plugins/*.wasm    the bundled platforms (wasm32-wasip2,
#                                     release): `hostbuild run armv7` finds them
#                                     by name where there is no hostbuild.toml
#   share/hostbuild/sdk/              the hostbuild-sdk crate as `cargo package`
#                                     makes it: `hostbuild new` points new
#                                     plugins at it until it is on crates.io
#   share/bash-completion, share/zsh, share/fish: shell completions
#   share/man/man1/hostbuild*.1       the man pages
#
# It needs cargo and the wasm32-wasip2 target; running plugins needs Docker,
# QEMU and the base images: `bash scripts/prereqs.sh` installs all of them.
set -euo pipefail
profile=release
if [ "${1:-}" = "--dev" ]; then
  profile=dev
  shift
fi
case "${1:-}" in
  -*) printf 'usage: bash scripts/install.sh [--dev] [PREFIX]\n' >&2; exit 2 ;;
esac
default_prefix=/usr/local
[ "$(id -u)" -eq 0 ] || default_prefix=$HOME/.local
prefix=$(realpath -m "${1:-$default_prefix}")
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/lib.sh

step "building hostbuild ($profile profile)" "see the compiler output above"
if [ "$profile" = release ]; then
  cargo build --locked --release -p hostbuild
  built=$CARGO_TARGET_DIR/release/hostbuild
else
  cargo build --locked -p hostbuild
  built=$CARGO_TARGET_DIR/debug/hostbuild
fi

step "building the bundled plugins" "run: rustup target add wasm32-wasip2 (or bash scripts/prereqs.sh)"
cargo build --locked --release --target wasm32-wasip2 --manifest-path platforms/Cargo.toml

step "packaging hostbuild-sdk" "see cargo's output above"
cargo package --locked --no-verify --allow-dirty -p hostbuild-sdk
version=$(sed -n 's/^version = "\(.*\)"/\1/p' sdk/Cargo.toml | head -n 1)
crate_file=$CARGO_TARGET_DIR/package/hostbuild-sdk-$version.crate

step "installing into $prefix" "choose a PREFIX you can write to"
share=$prefix/share/hostbuild
mkdir -p "$prefix/bin" "$share"
install -m 0755 "$built" "$prefix/bin/hostbuild.new"
mv -f "$prefix/bin/hostbuild.new" "$prefix/bin/hostbuild"
rm -rf "$share/plugins" "$share/sdk"
mkdir -p "$share/plugins" "$share/sdk"
for manifest in platforms/*/Cargo.toml; do
  grep -q 'cdylib' "$manifest" || continue
  name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)
  install -m 0644 "$CARGO_TARGET_DIR/wasm32-wasip2/release/${name//-/_}.wasm" "$share/plugins/$name.wasm"
done
tar -xzf "$crate_file" -C "$share/sdk" --strip-components=1

hostbuild=$prefix/bin/hostbuild
mkdir -p "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
  "$prefix/share/fish/vendor_completions.d" "$prefix/share/man/man1"
"$hostbuild" completions bash >"$prefix/share/bash-completion/completions/hostbuild"
"$hostbuild" completions zsh >"$prefix/share/zsh/site-functions/_hostbuild"
"$hostbuild" completions fish >"$prefix/share/fish/vendor_completions.d/hostbuild.fish"
"$hostbuild" man --dir "$prefix/share/man/man1"

log "installed $("$hostbuild" --version) ($profile) in $prefix/bin, $(ls "$share/plugins" | wc -l) bundled plugins"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) log "add $prefix/bin to PATH" ;;
esac
if command -v docker >/dev/null && ! docker image inspect hostbuild/bookworm:amd64 >/dev/null 2>&1; then
  log "the base images the bundled plugins start from are missing: bash scripts/prereqs.sh makes them"
fi

# Sourced by the scripts: one persistent cargo target directory for the
# host, the tests and the plugins, outside the checkout so clean clones reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hostbuild-dev/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
HOSTBUILD="$CARGO_TARGET_DIR/debug/hostbuild"

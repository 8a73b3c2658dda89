# Sourced by the scripts: named steps, and one clear line plus the fix when a
# step fails (instead of whatever the failing command left last).
#   step "what" "how to fix it"   names the work that follows
#   fail "what went wrong" "fix"  stops with that message
SCRIPT_NAME="$(basename "$0" .sh)"
CURRENT_STEP=""
CURRENT_HINT=""

log() { printf '[%s] %s\n' "$SCRIPT_NAME" "$*" >&2; }

step() {
  CURRENT_STEP="$1"
  CURRENT_HINT="${2:-}"
}

fail() {
  trap - ERR
  printf 'error: %s\n' "$1" >&2
  [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2
  exit 1
}

on_error() {
  local status=$?
  trap - ERR
  # A script run by this one has already said what failed and how to fix it.
  case "$2" in bash\ scripts/*) exit "$status" ;; esac
  printf 'error: %s failed (exit status %s, %s line %s: %s)\n' \
    "${CURRENT_STEP:-a step}" "$status" "$SCRIPT_NAME" "$1" "$2" >&2
  [ -n "$CURRENT_HINT" ] && printf 'hint: %s\n' "$CURRENT_HINT" >&2
  exit "$status"
}
set -E
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

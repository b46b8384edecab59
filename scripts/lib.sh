# Shared helpers for loglynx's scripts: install what is missing, skip what is there.
# shellcheck shell=bash

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

_apt_updated=0
# ensure_apt PKG...: installs the Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $_apt_updated -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    _apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_cargo_tool CMD CRATE: installs CRATE with `cargo install --locked` unless CMD is on PATH.
ensure_cargo_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 (cargo install)"
  cargo install --locked --quiet "$2"
}

# ensure_tool CMD: fails with a clear message when CMD is not on PATH.
ensure_tool() {
  command -v "$1" >/dev/null 2>&1 || { echo "loglynx: '$1' is required: $2" >&2; exit 1; }
}

# ensure_space DIR GIB WHAT: fails early, with what to do, when DIR's file system has less than
# GIB GiB free (a linker that runs out of disk dies with SIGBUS, which says nothing useful).
ensure_space() {
  mkdir -p "$1"
  local free_kib
  free_kib=$(df -Pk "$1" | awk 'NR == 2 { print $4 }')
  if [ "${free_kib:-0}" -lt $(($2 * 1024 * 1024)) ]; then
    echo "loglynx: $3 needs about $2 GiB free in $1, but only $((free_kib / 1024)) MiB are:" \
      "free some space (e.g. 'cargo clean' in old checkouts, old bench data in /tmp) and run again" >&2
    exit 1
  fi
}

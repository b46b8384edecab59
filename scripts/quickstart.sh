#!/usr/bin/env bash
# Sets up and starts loglynx all-in-one (the embedded default) and prints the dashboard URL.
# Out of the box it shows the machine itself: its log files (/var/log/*.log, /var/log/syslog,
# /var/log/messages, read from their beginning) and, when permitted (root and a kernel with BTF),
# its TCP connections and state changes from the eBPF network monitor (`--tcp-states`).
#   scripts/quickstart.sh                      # the defaults above
#   scripts/quickstart.sh --tail '/srv/*.log'  # any `loglynx run` flags; a --tail replaces the
#                                              # default files
# LOGLYNX_BIN=PATH runs that binary instead of building the release one (no UI or cargo build).
# loglynx logs at "warn,loglynx=info" unless --log, LOGLYNX_LOG or RUST_LOG says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ -n "${LOGLYNX_BIN:-}" ]; then
  bin="$LOGLYNX_BIN"
  [ -x "$bin" ] || { echo "loglynx: LOGLYNX_BIN=$bin is not an executable: unset it to build one" >&2; exit 1; }
else
  ensure_tool cargo "install Rust (https://rustup.rs)"
  ensure_apt build-essential pkg-config libssl-dev libsystemd-dev
  scripts/build-ui.sh
  log "building loglynx (release)"
  ensure_space target 2 "building loglynx"
  cargo build --release --locked -p loglynx-cli
  bin=target/release/loglynx
fi

args=("$@")
# given FLAG: the user passed FLAG (alone or as FLAG=VALUE).
given() {
  local a
  for a in "${args[@]}"; do
    case "$a" in "$1" | "$1"=*) return 0 ;; esac
  done
  return 1
}

if ! given --tail; then
  args+=(--tail '/var/log/*.log' --tail '/var/log/syslog' --tail '/var/log/messages')
  if compgen -G '/var/log/*.log' >/dev/null || [ -e /var/log/syslog ] || [ -e /var/log/messages ]; then
    log "logs: /var/log/*.log, /var/log/syslog, /var/log/messages (those that exist, from their beginning)"
  else
    log "logs: no /var/log/*.log, /var/log/syslog or /var/log/messages here (a journald-only system?):" \
      "pass --tail GLOB, or send syslog to 127.0.0.1:5514 (e.g. rsyslog, docs/SHIPPERS.md)"
  fi
fi

# The systemd journal, when this machine keeps one (journald-only systems have no /var/log files).
if given --journald || given --journald-directory; then
  log "journal: as given"
elif [ -d /run/log/journal ] || [ -d /var/log/journal ]; then
  if [ "$(id -u)" -eq 0 ] || id -nG | grep -qw -e systemd-journal -e adm; then
    args+=(--journald)
    log "journal: on (the systemd journal, from where the store's checkpoint left off)"
  else
    log "journal: off: reading the system journal needs root or the systemd-journal group"
  fi
fi

# The network monitor: eBPF needs root (or CAP_BPF + CAP_PERFMON) and the kernel's BTF.
if given --tcp-states; then
  log "network monitor: on (--tcp-states given)"
elif [ "$(id -u)" -ne 0 ]; then
  log "network monitor: off: its eBPF programs need root; run this script as root to see the" \
    "machine's TCP connections too (or pass --tcp-states for sock_diag snapshots only)"
elif [ ! -r /sys/kernel/btf/vmlinux ]; then
  log "network monitor: off: this kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)" \
    "that its eBPF programs need; pass --tcp-states for sock_diag snapshots only"
else
  args+=(--tcp-states)
  log "network monitor: on (eBPF): TCP connections and state changes, Network page of the dashboard"
fi

log "starting: $bin run ${args[*]}"
exec "$bin" run "${args[@]}"

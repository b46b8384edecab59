#!/usr/bin/env bash
# Sets up and starts loglynx all-in-one (the embedded default) and prints the dashboard URL.
#   scripts/quickstart.sh                      # tails /var/log/*.log and /var/log/syslog
#   scripts/quickstart.sh --tail '/srv/*.log'  # any `loglynx run` flags
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tool cargo "install Rust (https://rustup.rs)"
ensure_apt build-essential pkg-config libssl-dev libsystemd-dev
scripts/build-ui.sh
log "building loglynx (release)"
ensure_space target 2 "building loglynx"
cargo build --release --locked -p loglynx-cli
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--tail '/var/log/*.log' --tail '/var/log/syslog')
fi
log "starting: target/release/loglynx run ${args[*]}"
exec target/release/loglynx run "${args[@]}"

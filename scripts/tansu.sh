#!/usr/bin/env bash
# Tansu, a Kafka-compatible broker, for the Kafka tests (the Rust tests start their own on a
# free port; this script installs it and can run one by hand).
#   scripts/tansu.sh install        installs tansu with cargo when absent
#   scripts/tansu.sh start PORT     starts a broker on 127.0.0.1:PORT (in-memory), waits for it
#   scripts/tansu.sh stop PORT      stops the broker started on PORT
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

TANSU_VERSION=0.6.0
tansu_bin() { command -v tansu || echo "$HOME/.cargo/bin/tansu"; }

case "${1:-}" in
  install)
    if [ -x "$(tansu_bin)" ]; then
      log "tansu present: $(tansu_bin)"
    else
      log "installing tansu $TANSU_VERSION (cargo install, several minutes)"
      ensure_space "${TMPDIR:-/tmp}" 4 "compiling tansu (cargo install builds in \$TMPDIR)"
      cargo install tansu --version "$TANSU_VERSION" --features dynostore,libsql
    fi
    ;;
  start)
    port="${2:?usage: scripts/tansu.sh start PORT}"
    pidfile="${TMPDIR:-/tmp}/loglynx-tansu-$port.pid"
    "$(tansu_bin)" broker --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
      >"${TMPDIR:-/tmp}/loglynx-tansu-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "tansu listening on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        exit 0
      fi
      sleep 0.1
    done
    echo "tansu did not listen on 127.0.0.1:$port within 10 s: see ${TMPDIR:-/tmp}/loglynx-tansu-$port.log" >&2
    exit 1
    ;;
  stop)
    port="${2:?usage: scripts/tansu.sh stop PORT}"
    pidfile="${TMPDIR:-/tmp}/loglynx-tansu-$port.pid"
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
  *)
    echo "usage: scripts/tansu.sh install | start PORT | stop PORT" >&2
    exit 2
    ;;
esac

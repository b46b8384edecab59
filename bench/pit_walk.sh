#!/usr/bin/env bash
# Deep read-out benchmark: every event of a store taken out two ways by the same binary, in the
# same run on the same machine:
#   export   `loglynx export` (GET /api/v1/export: one NDJSON stream, ingest-order cursor)
#   walk     `loglynx search --all --json` (POST /api/v1/pit, then GET /api/v1/search pages of
#            PAGE events with search_after, newest first, then DELETE the pit)
# Both write to /dev/null; the figure is wall time and events/s of the client process.
#
#   bench/pit_walk.sh                      # 1,000,000 generated events, 3 runs of each
#   N=200000 RUNS=5 PAGE=5000 bench/pit_walk.sh
#
# Env: N (events, default 1000000), RUNS (default 3), PAGE (walk page size, default 10000),
# BIN (default target/release/loglynx), WORK (default /tmp/loglynx-pitbench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNS=${RUNS:-3}
PAGE=${PAGE:-10000}
BIN=${BIN:-target/release/loglynx}
WORK=${WORK:-/tmp/loglynx-pitbench}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"
"$BIN" run --data-dir "$WORK/data" --http 127.0.0.1:0 --syslog-udp off --syslog-tcp off >"$WORK/run.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 200); do
  addr=$(grep -o 'loglynx ready: dashboard http://[^/]*' "$WORK/run.log" | head -1 | sed 's|.*http://||' || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "loglynx did not start: $WORK/run.log" >&2; exit 1; }
server="http://$addr"

say "ingesting $N events (50,000 per request; 10 per second of event time, so many ties)"
python3 - "$server" "$N" <<'PY'
import json, sys, urllib.request
server, n = sys.argv[1], int(sys.argv[2])
levels = ["info", "info", "warn", "error", "debug"]
for start in range(0, n, 50000):
    lines = []
    for i in range(start, min(n, start + 50000)):
        s = i // 10
        lines.append(json.dumps({"@timestamp": f"2024-05-{1 + s // 86400:02d}T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z",
                                 "host.name": f"web{i % 7}", "log.level": levels[i % 5],
                                 "message": f"request {i} served in {i % 977} ms"}))
    req = urllib.request.Request(server + "/api/v1/ingest", data=("\n".join(lines) + "\n").encode(),
                                 headers={"content-type": "application/x-ndjson"})
    urllib.request.urlopen(req).read()
PY
for _ in $(seq 600); do
  total=$(curl -s "$server/api/v1/search?limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  [ "$total" = "$N" ] && break
  sleep 0.5
done
[ "$total" = "$N" ] || { echo "only $total of $N events searchable" >&2; exit 1; }

measure() { # name command...
  local name=$1; shift
  for r in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'$name: {s:.2f} s, {int($N/s):,} events/s')" "$t0" "$t1"
  done
}
say "export vs walk, $RUNS runs each"
echo "## $N events ($(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)), $BIN"
for r in $(seq "$RUNS"); do
  RUNS=1 measure export "$BIN" export --quiet --server "$server"
  RUNS=1 measure "walk (page $PAGE)" "$BIN" search --all --json --page-size "$PAGE" --server "$server"
done
echo "bench command: N=$N RUNS=$RUNS PAGE=$PAGE BIN=$BIN bench/pit_walk.sh"

#!/usr/bin/env bash
# Search benchmark over >= 10 M events: loglynx over its HTTP API (one keep-alive connection,
# client-side time and the server's took_ms) beside ripgrep over the raw file and SQLite FTS5,
# in the same run on the same machine. Five query shapes:
#   term       failed                          (~7% of lines)
#   phrase     "Failed password"               (~5%)
#   filter     host.name:$HOST AND failed
#   histogram  failed, 60 buckets over all time
#   terms      top-10 host.name over all events
#
#   bench/search.sh                               # generate + ingest 10 M lines first (long)
#   N=10000000 KEEP=1 bench/ingest.sh && bench/search.sh   # reuse what ingest.sh kept
#   DATA=/tmp/loglynx-bench/data-10000000 LOG=... DB=... bench/search.sh
#
# Env: N (default 10000000), WORK (default /tmp/loglynx-bench), BIN, RUNS (default 30),
# WARMUP (default 3), HOST (default app-05), RG_RUNS (default 5: each rg pass reads the whole
# file), BUDGET (seconds per shape before fewer runs, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000000}
WORK=${WORK:-/tmp/loglynx-bench}
BIN=${BIN:-target/release/loglynx}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
HOST=${HOST:-app-05}
RG_RUNS=${RG_RUNS:-5}
BUDGET=${BUDGET:-120}
LOG=${LOG:-$WORK/syslog-$N.log}
DATA=${DATA:-$WORK/data-$N}
DB=${DB:-$WORK/fts-cols-$N.db}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
command -v rg >/dev/null || { say "installing ripgrep"; apt-get install -y ripgrep >/dev/null; }
if [ ! -d "$DATA" ] || [ ! -s "$LOG" ] || [ ! -s "$DB" ]; then
  say "no kept data for N=$N: running the ingest benchmark first (KEEP=1)"
  N=$N WORK=$WORK BIN=$BIN KEEP=1 SQLITE_LINE=0 bench/ingest.sh
fi
RES="$WORK/results-search-$N"
mkdir -p "$RES"
common=(--runs "$RUNS" --warmup "$WARMUP" --host "$HOST" --budget "$BUDGET")

say "loglynx: 5 shapes x $RUNS runs (after $WARMUP warm-ups) on $DATA"
python3 bench/llbench.py loglynx-search --bin "$BIN" --data-dir "$DATA" --n "$N" "${common[@]}" \
  >"$RES/loglynx.json"
say "sqlite fts5: 5 shapes on $DB"
python3 bench/llbench.py sqlite-search --db "$DB" "${common[@]}" >"$RES/sqlite.json"
say "ripgrep: term, phrase, filter on $LOG ($RG_RUNS runs after 1 warm-up)"
python3 bench/llbench.py rg-search --log "$LOG" --runs "$RG_RUNS" --warmup 1 --host "$HOST" \
  --budget "$BUDGET" >"$RES/rg.json"

echo
echo "## search: $N events, $(stat -c %s "$LOG") bytes raw ($(uname -n), $(nproc) cores)"
echo
python3 bench/llbench.py table "$RES/loglynx.json" "$RES/sqlite.json" "$RES/rg.json"
echo
echo "bench command: N=$N RUNS=$RUNS WARMUP=$WARMUP HOST=$HOST RG_RUNS=$RG_RUNS DATA=$DATA LOG=$LOG DB=$DB bench/search.sh"
echo "raw JSON results: $RES/"

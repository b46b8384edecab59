#!/usr/bin/env bash
# Ingest benchmark: loglynx (end to end: file tail -> parse -> tantivy) beside SQLite FTS5 bulk
# insert and tantivy-cli (`tantivy index`, the same lines as one stored text field: the engine's
# own floor) of the same lines, in the same run on the same machine.
#
#   bench/ingest.sh                         # 5 M lines (~740 MB), default config
#   N=10000000 KEEP=1 bench/ingest.sh       # keep the log, data dir and SQLite db for search.sh
#   N=1000000 SQLITE=0 TANTIVY=0 bench/ingest.sh  # loglynx only
#   PERF=30 bench/ingest.sh                 # also `perf record -g` the loglynx process for 30 s
#   CONFIG=my.toml bench/ingest.sh          # a loglynx config file (e.g. other [store] settings)
#
# Env: N (lines, default 5000000), WORK (work dir, default /tmp/loglynx-bench), BIN (default
# target/release/loglynx), KEEP=1 (keep WORK for bench/search.sh), SQLITE=0|1 (default 1),
# SQLITE_COLUMNS=0|1 (the ts/host/program/message variant, default 1; search.sh uses it),
# SQLITE_LINE=0|1 (the one-column variant, default 1), PERF (seconds of perf record -g),
# TANTIVY=0|1 (the tantivy-cli peer, default 1; `cargo install tantivy-cli` when TANTIVY_BIN,
# default ~/.cargo/bin/tantivy, is absent), TANTIVY_THREADS (default 2 = loglynx's indexing
# threads on 2 cores) and TANTIVY_MEMORY (bytes, default 256 MiB = loglynx's writer_memory).
# Wall time runs from process start to the moment a search counts all N events (polled every
# 0.5 s), so it includes start-up, parsing, indexing and the last commit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000000}
WORK=${WORK:-/tmp/loglynx-bench}
BIN=${BIN:-target/release/loglynx}
SQLITE=${SQLITE:-1}
SQLITE_COLUMNS=${SQLITE_COLUMNS:-1}
SQLITE_LINE=${SQLITE_LINE:-1}
PERF=${PERF:-0}
TANTIVY=${TANTIVY:-1}
TANTIVY_BIN=${TANTIVY_BIN:-$HOME/.cargo/bin/tantivy}
TANTIVY_THREADS=${TANTIVY_THREADS:-2}
TANTIVY_MEMORY=${TANTIVY_MEMORY:-268435456}
KEEP=${KEEP:-0}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
if [ "$TANTIVY" = 1 ] && [ ! -x "$TANTIVY_BIN" ]; then
  say "installing tantivy-cli (crates.io) for the peer run"
  cargo install tantivy-cli   # not --locked: its lock file pins traitobject 0.1.0, which no longer compiles
fi
mkdir -p "$WORK"
LOG="$WORK/syslog-$N.log"
if [ ! -s "$LOG" ] || [ "$(wc -l <"$LOG")" -ne "$N" ]; then
  say "generating $N lines -> $LOG"
  python3 bench/gen_syslog.py "$N" "$LOG"
else
  say "reusing $LOG"
fi
sync
RES="$WORK/results-ingest-$N"
mkdir -p "$RES"
DATA="$WORK/data-$N"
rm -rf "$DATA"

say "loglynx: ingesting $N lines (progress every 5 s)"
perf_args=()
[ "$PERF" != 0 ] && perf_args=(--perf "$PERF")
cfg_args=()
[ -n "${CONFIG:-}" ] && cfg_args=(--config "$CONFIG")
python3 bench/llbench.py loglynx-ingest --bin "$BIN" --log "$LOG" --n "$N" --data-dir "$DATA" \
  "${cfg_args[@]}" "${perf_args[@]}" >"$RES/loglynx.json"
files=("$RES/loglynx.json")

if [ "$TANTIVY" = 1 ]; then
  say "tantivy-cli: indexing the same $N lines as one stored text field"
  python3 bench/llbench.py tantivy-cli-load --bin "$TANTIVY_BIN" --log "$LOG" --index "$WORK/tantivy-$N" \
    --threads "$TANTIVY_THREADS" --memory "$TANTIVY_MEMORY" >"$RES/tantivy-cli.json"
  files+=("$RES/tantivy-cli.json")
  rm -rf "$WORK/tantivy-$N"
fi

if [ "$SQLITE" = 1 ]; then
  if [ "$SQLITE_LINE" = 1 ]; then
    say "sqlite fts5 (one line column): bulk insert of $N lines"
    python3 bench/llbench.py sqlite-load --log "$LOG" --db "$WORK/fts-line-$N.db" >"$RES/sqlite-line.json"
    files+=("$RES/sqlite-line.json")
    rm -f "$WORK/fts-line-$N.db"
  fi
  if [ "$SQLITE_COLUMNS" = 1 ]; then
    say "sqlite fts5 (ts, host, program, message columns; split in Python): bulk insert of $N lines"
    python3 bench/llbench.py sqlite-load --columns --log "$LOG" --db "$WORK/fts-cols-$N.db" \
      >"$RES/sqlite-columns.json"
    files+=("$RES/sqlite-columns.json")
    [ "$KEEP" = 1 ] || rm -f "$WORK/fts-cols-$N.db"
  fi
fi

echo
echo "## ingest: $N lines, $(stat -c %s "$LOG") bytes raw ($(uname -n), $(nproc) cores)"
echo
python3 bench/llbench.py table "${files[@]}"
echo
echo "loglynx command: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["command"])' "$RES/loglynx.json")"
echo "bench command: N=$N KEEP=$KEEP TANTIVY=$TANTIVY SQLITE=$SQLITE SQLITE_LINE=$SQLITE_LINE SQLITE_COLUMNS=$SQLITE_COLUMNS PERF=$PERF${CONFIG:+ CONFIG=$CONFIG} bench/ingest.sh"
echo "raw JSON results: $RES/"
if [ "$KEEP" = 1 ]; then
  echo "kept for bench/search.sh: LOG=$LOG DATA=$DATA DB=$WORK/fts-cols-$N.db"
else
  rm -rf "$DATA"
fi

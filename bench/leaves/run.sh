#!/usr/bin/env bash
# Search latency through the root (`serve --leaves`) with 1, 2 and 3 leaves beside one `serve` over
# a data directory, same data, same run (bench/leaves/lbench.py says how).
#
#   N=1000000 bench/leaves/run.sh
#
# Env: N (lines, default 1000000), WORK (default /tmp/loglynx-bench-leaves), BIN (default
# target/release/loglynx), RUNS (default 30), WARMUP (default 3), STREAMS (files the lines are
# split into, default 8).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/../.."
N=${N:-1000000}
WORK=${WORK:-/tmp/loglynx-bench-leaves}
BIN=$(readlink -f "${BIN:-target/release/loglynx}")
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
STREAMS=${STREAMS:-8}
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli (or set BIN)" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK"
python3 bench/gen_syslog.py "$N" "$WORK/syslog.log"
# STREAMS files, so the lines spread over the 4 partitions (the agent keys a record by host and
# stream: one file would be one partition, and every leaf but one would hold nothing).
mkdir -p "$WORK/streams"
split -n "l/$STREAMS" -d --additional-suffix=.log "$WORK/syslog.log" "$WORK/streams/s"
rm "$WORK/syslog.log"
python3 bench/leaves/lbench.py --bin "$BIN" --log "$WORK/streams/*.log" --n "$N" --work "$WORK" \
  --runs "$RUNS" --warmup "$WARMUP"
echo
echo "bench command: N=$N RUNS=$RUNS WARMUP=$WARMUP STREAMS=$STREAMS BIN=$BIN bench/leaves/run.sh"

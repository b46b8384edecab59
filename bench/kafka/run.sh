#!/usr/bin/env bash
# Kafka benchmarks: each sub-command starts its own Tansu broker (memory storage, a free
# 127.0.0.1 port) and stops it; peers run in the same run against the same broker.
#
#   bench/kafka/run.sh produce     # agent file -> Kafka beside a plain confluent-kafka producer
#   bench/kafka/run.sh worker      # worker Kafka -> searchable (1, 2 consumers) beside `loglynx run`
#   bench/kafka/run.sh settings    # linger.ms / batch.size / compression: rate, bytes, latency
#   bench/kafka/run.sh all         # the three, in that order
#
# Env: N (lines for produce and worker, default 2000000), SETTINGS_N (lines per setting, default
# 1000000), WORK (default /tmp/loglynx-bench-kafka), BIN (default target/release/loglynx),
# ROUNDS (produce and worker rounds, default 1), ENVELOPE=1 (produce: also a Python run sending
# the agent's JSON record instead of the bare line), CONSUMERS (default 1,2), MARKERS (latency
# probes per setting, default 5), ONLY (settings: comma-separated substrings of setting names),
# PERF=1 (produce: `perf record` the agent of round 0 into WORK/perf-agent.data; slows it),
# PY (a python with confluent-kafka; default bench/kafka/.venv, created with pip when absent),
# WORKER_TOML (worker: TOML tables appended to the workers' config only, to compare settings).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in bench/
cd "$(dirname "$0")/../.."
what=${1:-all}
N=${N:-2000000}
SETTINGS_N=${SETTINGS_N:-1000000}
WORK=${WORK:-/tmp/loglynx-bench-kafka}
BIN=${BIN:-target/release/loglynx}
ROUNDS=${ROUNDS:-1}
ENVELOPE=${ENVELOPE:-0}
CONSUMERS=${CONSUMERS:-1,2}
MARKERS=${MARKERS:-5}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

case "$what" in produce|worker|settings|all) ;; *)
  echo "usage: bench/kafka/run.sh produce|worker|settings|all (env: see the head of this file)" >&2
  exit 2 ;;
esac
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli (or set BIN)" >&2; exit 1; }
BIN=$(readlink -f "$BIN")
TANSU=${LOGLYNX_TANSU:-$HOME/.cargo/bin/tansu}
[ -x "$TANSU" ] || { echo "no $TANSU: install it with scripts/tansu.sh install" >&2; exit 1; }
if [ -z "${PY:-}" ]; then
  PY=bench/kafka/.venv/bin/python
  if ! "$PY" -c 'import confluent_kafka' 2>/dev/null; then
    say "creating bench/kafka/.venv with confluent-kafka (pip)"
    python3 -m venv bench/kafka/.venv
    bench/kafka/.venv/bin/pip install -q 'confluent-kafka==2.16.1'
  fi
fi
mkdir -p "$WORK"
RES="$WORK/results"
mkdir -p "$RES"

# The same file as bench/ingest.sh would use (gen_syslog.py is deterministic).
gen() {
  local n=$1 log="$WORK/syslog-$1.log"
  if [ ! -s "$log" ] || [ "$(wc -l <"$log")" -ne "$n" ]; then
    say "generating $n lines -> $log"
    python3 bench/gen_syslog.py "$n" "$log"
  fi
  echo "$log"
}

header() {
  echo
  echo "## kafka $1: $(uname -n), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "uptime at start: $UP0"
  echo "loglynx: $BIN ($(stat -c %y "$BIN" | cut -d. -f1)); tansu: $("$TANSU" --version 2>/dev/null || echo "$TANSU")"
  echo
}

files=()
if [ "$what" = produce ] || [ "$what" = all ]; then
  LOG=$(gen "$N")
  env_args=()
  [ "$ENVELOPE" = 1 ] && env_args=(--envelope)
  [ "${PERF:-0}" = 1 ] && env_args+=(--perf)
  UP0=$(uptime)
  say "produce: agent vs confluent-kafka, $N lines, $ROUNDS round(s)"
  "$PY" bench/kafka/kbench.py produce --bin "$BIN" --log "$LOG" --n "$N" --work "$WORK" \
    --rounds "$ROUNDS" "${env_args[@]}" >"$RES/produce-$N.json"
  header "produce ($N lines, $(stat -c %s "$LOG") bytes raw)"
  "$PY" bench/kafka/kbench.py table "$RES/produce-$N.json"
  echo "uptime at end: $(uptime)"
  echo "bench command: N=$N ROUNDS=$ROUNDS ENVELOPE=$ENVELOPE bench/kafka/run.sh produce"
  files+=("$RES/produce-$N.json")
fi
if [ "$what" = worker ] || [ "$what" = all ]; then
  LOG=$(gen "$N")
  "$PY" bench/kafka/kbench.py split --log "$LOG" --n "$N" --dir "$WORK/split-$N" >/dev/null
  UP0=$(uptime)
  say "worker: $N events, consumers $CONSUMERS, beside loglynx run, $ROUNDS round(s)"
  "$PY" bench/kafka/kbench.py worker --bin "$BIN" --logs "$WORK/split-$N"/*.log --n "$N" \
    --work "$WORK" --consumers "$CONSUMERS" --rounds "$ROUNDS" --worker-toml "${WORKER_TOML:-}" \
    >"$RES/worker-$N.json"
  header "worker ($N events in 2 files, 2 partitions)"
  "$PY" bench/kafka/kbench.py table "$RES/worker-$N.json"
  echo "uptime at end: $(uptime)"
  echo "bench command: N=$N ROUNDS=$ROUNDS CONSUMERS=$CONSUMERS bench/kafka/run.sh worker"
  files+=("$RES/worker-$N.json")
fi
if [ "$what" = settings ] || [ "$what" = all ]; then
  LOG=$(gen "$SETTINGS_N")
  only=()
  [ -n "${ONLY:-}" ] && only=(--only "$ONLY")
  UP0=$(uptime)
  say "settings: $SETTINGS_N lines per setting, $MARKERS latency probes each"
  "$PY" bench/kafka/kbench.py settings --bin "$BIN" --log "$LOG" --n "$SETTINGS_N" --work "$WORK" \
    --markers "$MARKERS" "${only[@]}" >"$RES/settings-$SETTINGS_N.json"
  header "producer settings ($SETTINGS_N lines each)"
  "$PY" bench/kafka/kbench.py table "$RES/settings-$SETTINGS_N.json"
  echo "uptime at end: $(uptime)"
  echo "bench command: SETTINGS_N=$SETTINGS_N MARKERS=$MARKERS${ONLY:+ ONLY=$ONLY} bench/kafka/run.sh settings"
  files+=("$RES/settings-$SETTINGS_N.json")
fi
echo "raw JSON results: ${files[*]} (process logs in $WORK/*.stderr.log)"

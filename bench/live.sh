#!/usr/bin/env bash
# Search latency while ingesting (issue 16): the first half of the lines is ingested at full
# speed (the maximum rate), the five query shapes of bench/search.sh are timed on the idle
# store, then the second half is appended to the tailed file at RATE_SHARE (default 0.8) of
# that maximum while the same shapes are timed again. Target: loaded p95 within 2x of idle.
#
#   N=2000000 bench/live.sh
#
# Env: N (lines, default 2000000), WORK (default /tmp/loglynx-bench), BIN (default
# target/release/loglynx), RATE_SHARE (default 0.8), RUNS (default 30), CONFIG (a loglynx config).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000000}
WORK=${WORK:-/tmp/loglynx-bench}
BIN=${BIN:-target/release/loglynx}
RATE_SHARE=${RATE_SHARE:-0.8}
RUNS=${RUNS:-30}
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
mkdir -p "$WORK"
LOG="$WORK/syslog-$N.log"
[ -s "$LOG" ] && [ "$(wc -l <"$LOG")" -eq "$N" ] || python3 bench/gen_syslog.py "$N" "$LOG"
DATA="$WORK/data-live-$N"
rm -rf "$DATA" "$WORK/live.log"
cfg_args=()
[ -n "${CONFIG:-}" ] && cfg_args=(--config "$CONFIG")
python3 bench/llbench.py loglynx-live --bin "$BIN" --log "$LOG" --n "$N" --data-dir "$DATA" \
  --rate-share "$RATE_SHARE" --runs "$RUNS" "${cfg_args[@]}" >"$WORK/results-live-$N.json"
python3 - "$WORK/results-live-$N.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"## search while ingesting: {r['events']:,} events, max {r['max_rate']:,} ev/s, "
      f"loaded at {r['rate_share']:.0%} (achieved {r['loaded_rate']:,} ev/s)\n")
print("| shape | idle p50 / p95 ms | loaded p50 / p95 ms | p95 loaded/idle | server's own p95 ms, idle / loaded |")
print("|---|---:|---:|---:|---:|")
srv = lambda x: f"{x['server_p95_ms']:.2f}" if "server_p95_ms" in x else "-"
for s, l in r["loaded"].items():
    i = r["idle"][s]
    print(f"| {s} | {i['p50_ms']:.1f} / {i['p95_ms']:.1f} | {l['p50_ms']:.1f} / {l['p95_ms']:.1f} | {r['p95_ratio'][s]}x | {srv(i)} / {srv(l)} |")
print(f"\nload avg start/end: {r['load_start']} / {r['load_end']}")
PY
rm -rf "$DATA" "$WORK/live.log"

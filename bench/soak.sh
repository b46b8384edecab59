#!/usr/bin/env bash
# Soak test (issue 11): steady ingest (RATE records/s, SENDERS connections) plus a search,
# histogram or terms query every QUERY_EVERY seconds, in turn over all time and over the last 5
# minutes, against `loglynx run` for SECONDS_RUN (default 3600), with bench/loadgen.py
# sampling the server's RSS and open files every second and timing every query. Prints RSS /
# open files over the run and query latency (p50, p99) per tenth of it, all-time and
# last-5-minute queries apart: all should stay flat but the all-time latency, which grows with
# the store (a histogram of q=* reads every event's timestamp). Run it at low priority on a
# shared machine: `nice -n 19 bench/soak.sh`.
#
# Env: SECONDS_RUN (3600), RATE (2000), SENDERS (4), QUERY_EVERY (1), BIN (target/release/loglynx),
# WORK (/tmp/loglynx-soak).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-3600}
RATE=${RATE:-2000}
QUERY_EVERY=${QUERY_EVERY:-1}
BIN=${BIN:-target/release/loglynx}
WORK=${WORK:-/tmp/loglynx-soak}
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
python3 bench/loadgen.py soak --bin "$BIN" --data-dir "$WORK/data" --seconds "$SECONDS_RUN" \
  --rate "$RATE" --senders "${SENDERS:-4}" --query-every "$QUERY_EVERY" >"$WORK/soak.json"
python3 - "$WORK/soak.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"soak: {r['seconds']} s at {r['rate']} records/s, a query every period")
for k in ["sent", "acked", "errors", "stored", "queries", "query_errors", "fds_min_max"]:
    print(f"  {k:14} {r[k]}")
print(f"  RSS MiB: first third {r['rss_mib_first_third']}, last third {r['rss_mib_last_third']}, peak {r['rss_mib_peak']}")
print("  RSS/open files (s, RSS MiB, fds, anonymous MiB):", " ".join(f"{t}:{m}:{f}:{a}" for t, m, f, a in r["rss_fds_curve"]))
print("  query latency per tenth, all time (start s, p50 ms, p99 ms):", " ".join(f"{a}:{b}:{c}" for a, b, c in r["latency_ms_p50_p99_per_tenth"]))
print("  query latency per tenth, last 5 minutes (start s, p50 ms, p99 ms):", " ".join(f"{a}:{b}:{c}" for a, b, c in r.get("recent_latency_ms_p50_p99_per_tenth", [])))
print(f"  server: {r['command']}")
PY
echo "bench command: SECONDS_RUN=$SECONDS_RUN RATE=$RATE QUERY_EVERY=$QUERY_EVERY bench/soak.sh"
rm -rf "$WORK/data"

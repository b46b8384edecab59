#!/usr/bin/env bash
# Flood benchmark (issue 11): ingest far beyond what the store can take for SECONDS (default
# 300) against `loglynx run`, with bench/loadgen.py: SENDERS threads post NDJSON batches of
# BATCH records as fast as the server answers, the server allowing MAX_REQUESTS requests in
# progress (more are refused 503 at once). Prints the counts (offered, acknowledged, refused,
# stored: nothing acknowledged may be missing) and the RSS curve. Run it at low priority on a
# shared machine: `nice -n 19 bench/flood.sh`.
#
# Env: SECONDS_RUN (300), SENDERS (48), BATCH (2000), MAX_REQUESTS (4), BIN
# (target/release/loglynx), WORK (/tmp/loglynx-flood).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-300}
SENDERS=${SENDERS:-48}
BATCH=${BATCH:-2000}
MAX_REQUESTS=${MAX_REQUESTS:-4}
BIN=${BIN:-target/release/loglynx}
WORK=${WORK:-/tmp/loglynx-flood}
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
python3 bench/loadgen.py flood --bin "$BIN" --data-dir "$WORK/data" --seconds "$SECONDS_RUN" \
  --senders "$SENDERS" --batch "$BATCH" --max-requests "$MAX_REQUESTS" >"$WORK/flood.json"
python3 - "$WORK/flood.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"flood: {r['seconds']} s, {r['senders']} senders x {r['batch']} records, max_requests as set")
for k in ["offered", "acknowledged", "refused_queue_full", "other", "stored", "lost",
          "offered_per_s", "stored_per_s", "overload"]:
    print(f"  {k:20} {r[k]}")
print(f"  other statuses       {r['other_status']}")
print(f"  RSS MiB: first third {r['rss_mib_first_third']}, last third {r['rss_mib_last_third']}, peak {r['rss_mib_peak']}")
print("  RSS curve (s, RSS MiB, open files, anonymous MiB):", " ".join(f"{t}:{m}:{f}:{a}" for t, m, f, a in r["rss_curve"]))
print(f"  server: {r['command']}")
PY
echo "bench command: SECONDS_RUN=$SECONDS_RUN SENDERS=$SENDERS BATCH=$BATCH MAX_REQUESTS=$MAX_REQUESTS bench/flood.sh"
rm -rf "$WORK/data"

#!/usr/bin/env bash
# Flood benchmark (issue 11): ingest far beyond what the store can take for SECONDS (default
# 300) against `loglynx run`, with bench/loadgen.py: SENDERS threads post NDJSON batches of
# BATCH records as fast as the server answers, the server allowing MAX_REQUESTS requests in
# progress (more are refused 503 at once). Every record carries its own id; after the flood
# the store is exported and every record checked by id: each record acknowledged by a 200
# stored exactly once, none of a refused request, none twice, nothing unknown. Prints the
# counts (offered, acknowledged, refused, stored), that check and the RSS curve, and exits 1
# when the check fails. Run it at low priority on a shared machine: `nice -n 19 bench/flood.sh`.
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
status=0
python3 - "$WORK/flood.json" <<'PY' || status=$?
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
print(f"  per record (export of the store, by id): {r['ids_read_back']} read back; acknowledged missing "
      f"{r['acked_missing']}, acknowledged twice {r['acked_duplicated']}, refused but stored "
      f"{r['refused_stored']}, other answers stored {r['other_stored']} (twice {r['other_duplicated']}), "
      f"unknown {r['unknown']}")
if r["examples"]:
    print(f"  examples: {r['examples']}")
print("  every acknowledged record stored exactly once, nothing refused stored: "
      + ("yes" if r["verified"] else "NO"))
sys.exit(0 if r["verified"] else 1)
PY
echo "bench command: SECONDS_RUN=$SECONDS_RUN SENDERS=$SENDERS BATCH=$BATCH MAX_REQUESTS=$MAX_REQUESTS bench/flood.sh"
# the data directory is kept when the check failed, to look at
[ "$status" -ne 0 ] && echo "check failed: the store is kept in $WORK/data" >&2 || rm -rf "$WORK/data"
exit "$status"

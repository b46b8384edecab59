#!/usr/bin/env bash
# End-to-end ingest with pattern mining on vs off: bench/ingest.sh (SQLITE=0 TANTIVY=0: no
# peers, loglynx only) alternating two
# configs, ROUNDS times each (off, on, off, on, ...), same binary, same generated file.
#
#   bench/patterns/ingest.sh                     # N=1000000, ROUNDS=3
#   N=300000 ROUNDS=2 bench/patterns/ingest.sh
#
# off: `[patterns] enabled = false`; on: `[patterns] enabled = true` (the default). Detection
# keeps its default (the built-in pack) in both. Env: N (default 1000000), ROUNDS (default 3),
# WORK (default /tmp/loglynx-bench), BIN (default target/release/loglynx).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-/tmp/loglynx-bench}
BIN=${BIN:-target/release/loglynx}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$WORK"
printf '[patterns]\nenabled = false\n' >"$WORK/patterns-off.toml"
printf '[patterns]\nenabled = true\n' >"$WORK/patterns-on.toml"
AB="$WORK/patterns-ab-$N"
rm -rf "$AB"
mkdir -p "$AB"
for r in $(seq "$ROUNDS"); do
  for mode in off on; do
    say "round $r: patterns $mode (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    N=$N SQLITE=0 TANTIVY=0 WORK=$WORK BIN=$BIN CONFIG="$WORK/patterns-$mode.toml" bench/ingest.sh >"$AB/$r-$mode.txt"
    cp "$WORK/results-ingest-$N/loglynx.json" "$AB/$r-$mode.json"
    echo "$load0 $(cut -d' ' -f1 /proc/loadavg)" >"$AB/$r-$mode.load"
  done
done

echo
echo "## ingest with pattern mining off / on: N=$N, SQLITE=0, $ROUNDS rounds alternating ($(uname -n), $(nproc) cores)"
echo
python3 - "$AB" "$ROUNDS" <<'PY'
import json, sys, statistics
ab, rounds = sys.argv[1], int(sys.argv[2])
print("| round | patterns | wall s | events/s | CPU µs/event | peak RSS | load avg start -> end |")
print("|---|---|---:|---:|---:|---:|---|")
rates = {"off": [], "on": []}
for r in range(1, rounds + 1):
    for m in ("off", "on"):
        j = json.load(open(f"{ab}/{r}-{m}.json"))
        l0, l1 = open(f"{ab}/{r}-{m}.load").read().split()
        rates[m].append(j["events_per_s"])
        cpu = j["cpu_user_s"] + j["cpu_sys_s"]
        print(f"| {r} | {m} | {j['wall_s']:.2f} | {j['events_per_s']:,} | {1e6 * cpu / j['reached']:.1f} | {j['peak_rss_bytes'] / 2**20:,.0f} MiB | {l0} -> {l1} |")
print()
for r in range(rounds):
    print(f"round {r + 1}: on / off = {rates['on'][r] / rates['off'][r]:.1%}")
print(f"median on / median off = {statistics.median(rates['on']) / statistics.median(rates['off']):.1%} (target >= 90%)")
PY
echo
echo "bench command: N=$N ROUNDS=$ROUNDS bench/patterns/ingest.sh; per run: $AB/"

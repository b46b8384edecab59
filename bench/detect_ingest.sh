#!/usr/bin/env bash
# End-to-end ingest with detection on vs off: bench/ingest.sh (SQLITE=0) alternating two
# configs, ROUNDS times each (off, on, off, on, ...), same binary, same generated file.
#
#   bench/detect_ingest.sh                       # N=1000000, ROUNDS=3
#   RULES=/path/to/rules N=2000000 ROUNDS=4 bench/detect_ingest.sh
#
# off: `[detect] enabled = false`. on: the built-in pack (on by default) plus the rule files of
# RULES (`[detect] rules = [RULES]`; default: the first 100 files of sigmahq/rules/linux, as
# bench/detect.sh writes them to /tmp/loglynx-detect-bench/rules-sigmahq_100, copied here if
# absent), loaded as `run` loads them (rules whose logsource loglynx does not route stay
# inactive); RULES=none: the built-in pack alone. Env: N (default 1000000), ROUNDS (default 3), WORK (default /tmp/loglynx-bench),
# BIN (default target/release/loglynx), RULES, BASE_BIN (optional: another build, e.g. of the
# commit before a change, run with detection on as a third configuration of every round:
# `base`).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-/tmp/loglynx-bench}
BIN=${BIN:-target/release/loglynx}
RULES=${RULES:-$WORK/rules-sigmahq_linux_100}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$WORK"
if [ "$RULES" = none ]; then
  RULES_TOML="[]"   # the built-in pack alone
elif [ ! -d "$RULES" ]; then
  mkdir -p "$RULES"
  find ../shared/data/sigmahq/rules/linux -name '*.yml' | sort | head -100 | while read -r f; do
    cp "$f" "$RULES/"
  done
fi
[ "$RULES" = none ] || { RULES_TOML="[\"$RULES\"]"; say "rules: $(find "$RULES" -name '*.yml' | wc -l) files in $RULES"; }
cat >"$WORK/detect-off.toml" <<EOF
[detect]
enabled = false
EOF
cat >"$WORK/detect-on.toml" <<EOF
[detect]
enabled = true
rules = $RULES_TOML
EOF
MODES="off on"
[ -n "${BASE_BIN:-}" ] && MODES="off on base"
AB="$WORK/detect-ab-$N"
rm -rf "$AB"
mkdir -p "$AB"
for r in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    say "round $r: detection $mode (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    bin=$BIN cfg=$mode
    [ "$mode" = base ] && bin=$BASE_BIN cfg=on
    N=$N SQLITE=0 WORK=$WORK BIN=$bin CONFIG="$WORK/detect-$cfg.toml" bench/ingest.sh >"$AB/$r-$mode.txt"
    cp "$WORK/results-ingest-$N/loglynx.json" "$AB/$r-$mode.json"
    echo "$load0 $(cut -d' ' -f1 /proc/loadavg)" >"$AB/$r-$mode.load"
  done
done

echo
echo "## ingest with detection off / on: N=$N, SQLITE=0, $ROUNDS rounds alternating ($(uname -n), $(nproc) cores)"
echo
python3 - "$AB" "$ROUNDS" "$MODES" <<'EOF'
import json, sys, statistics
ab, rounds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
print("| round | detection | wall s | events/s | CPU s | CPU µs/event | peak RSS | load avg start -> end |")
print("|---|---|---:|---:|---:|---:|---:|---|")
rates = {m: [] for m in modes}
for r in range(1, rounds + 1):
    for m in modes:
        j = json.load(open(f"{ab}/{r}-{m}.json"))
        l0, l1 = open(f"{ab}/{r}-{m}.load").read().split()
        rates[m].append(j["events_per_s"])
        cpu = j["cpu_user_s"] + j["cpu_sys_s"]
        cpus = f"{cpu:.0f}"
        us = f"{1e6 * cpu / j['reached']:.1f}"
        rss = f"{j['peak_rss_bytes'] / 2**20:,.0f} MiB"
        print(f"| {r} | {m} | {j['wall_s']:.2f} | {j['events_per_s']:,} | {cpus} | {us} | {rss} | {l0} -> {l1} |")
print()
for r in range(rounds):
    print(f"round {r + 1}: on / off = {rates['on'][r] / rates['off'][r]:.1%}")
print(f"median on / median off = {statistics.median(rates['on']) / statistics.median(rates['off']):.1%} (target >= 85%)")
if "base" in rates:
    print(f"median base (BASE_BIN, on) / median off = {statistics.median(rates['base']) / statistics.median(rates['off']):.1%}")
EOF
echo
echo "bench command: N=$N ROUNDS=$ROUNDS RULES=$RULES BASE_BIN=${BASE_BIN:-} bench/detect_ingest.sh; per run: $AB/"

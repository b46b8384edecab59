#!/usr/bin/env bash
# Detection benchmark: loglynx's detection stage beside the rsigma CLI (crates.io `rsigma`, the
# CLI of the rsigma project whose parser/evaluator crates loglynx uses), on the same events and
# the same rules, in the same run on the same machine.
#
#   bench/detect.sh                     # 200k events, 3 rule sets, best of 3 rounds each
#   N=50000 ROUNDS=1 bench/detect.sh    # quicker
#
# Events: Loghub Linux_2k + OpenSSH_2k (../shared/data/loghub) parsed and decoded as the
# pipeline does (loglynx_pipeline::parse::parse_record + decode::decode), repeated to N (each
# repetition with its own ids, 400 days later), written as JSON lines (serde_json of the Event:
# loglynx's ECS-named flat keys, "process.name", "source.ip", ...) for rsigma.
# Rule sets: builtin (crates/detect/rules), sigmahq_100 (first 100 files of sigmahq/rules/linux),
# sigmahq_1000 (the 210 linux files, then the other folders' files in path order up to 1,000).
# rsigma runs with loglynx's pipeline (-p crates/detect/pipelines/loglynx.yml), so both apply the
# same routing conditions and field mapping to the same rules, and the JSON keys are the names
# the transformed rules use.
#
# loglynx (crates/detect/benches/detect_compare.rs, one thread): tag = Detector::tag; tag+stage
# = tag + DetectionStage::process in batches of 1,000 (correlation, alerts in an
# AlertBook::in_memory); json+tag = serde_json::from_str::<Event> of each line + tag (the input
# rsigma has). rsigma: `rsigma engine eval -r DIR -p loglynx.yml -e @events.jsonl
# --timestamp-field @timestamp` (detection + its own correlation engine, one line of JSON per
# match to stdout, sent to a file); its events/s = N / (wall time - wall time of the same command
# over an empty file, i.e. rule loading and start-up); best of ROUNDS each.
#
# Env: N (events, default 200000), ROUNDS (default 3), OUT (default /tmp/loglynx-detect-bench),
# RSIGMA (path of the rsigma binary; default: `command -v rsigma`; install with
# `cargo install rsigma --version 0.23.0 --locked` (its default features: --no-default-features
# does not compile, E0432 rsigma_runtime in disposition_spool.rs); 0.26 needs Rust 1.96),
# BUILD=0 to skip `cargo build --release --workspace --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200000}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-/tmp/loglynx-detect-bench}
BUILD=${BUILD:-1}
RSIGMA=${RSIGMA:-$(command -v rsigma || true)}
PIPE=crates/detect/pipelines/loglynx.yml
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$OUT"

if [ "$BUILD" = 1 ]; then
  say "cargo build --release --workspace --locked"
  cargo build --release --workspace --locked >&2
fi
say "loglynx: preparing $N events and the rule sets in $OUT, then timing (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
DETECT_OUT="$OUT" DETECT_EVENTS="$N" DETECT_ROUNDS="$ROUNDS" \
  cargo bench --workspace --locked --bench detect_compare >"$OUT/loglynx.out" 2>"$OUT/loglynx.err"
grep '^RESULT' "$OUT/loglynx.out" | cut -f2- >"$OUT/loglynx.tsv"
grep -v '^ *\(Compiling\|Finished\|Running\|Blocking\)' "$OUT/loglynx.err" >&2 || true

: >"$OUT/rsigma.tsv"
if [ -n "$RSIGMA" ] && [ -x "$RSIGMA" ]; then
  : >"$OUT/empty.jsonl"
  RV=$("$RSIGMA" --version 2>/dev/null | head -1)
  for set in builtin sigmahq_100 sigmahq_1000; do
    dir="$OUT/rules-$set"
    best_load=999999; best_full=999999; best_cpu=0; matches=0
    for r in $(seq "$ROUNDS"); do
      /usr/bin/time -f '%e %U %S %M' -o "$OUT/time-load" "$RSIGMA" engine eval -r "$dir" -p "$PIPE" \
        -e @"$OUT/empty.jsonl" --timestamp-field @timestamp >/dev/null 2>"$OUT/rsigma-$set-load.err" || true
      /usr/bin/time -f '%e %U %S %M' -o "$OUT/time-full" "$RSIGMA" engine eval -r "$dir" -p "$PIPE" \
        -e @"$OUT/events.jsonl" --timestamp-field @timestamp >"$OUT/rsigma-$set.jsonl" 2>"$OUT/rsigma-$set.err" || true
      read -r le _ _ _ <"$OUT/time-load"
      read -r fe fu fs fm <"$OUT/time-full"
      best_load=$(python3 -c "print(min($best_load, $le))")
      if python3 -c "import sys; sys.exit(0 if $fe < $best_full else 1)"; then
        best_full=$fe; best_cpu=$(python3 -c "print(round($fu + $fs, 2))"); rss=$fm
      fi
    done
    # rsigma's last stderr line: "Processed N events, D detection matches, C correlation
    # matches." (or "Processed N events, D matches." without correlation rules)
    matches=$(grep -oE '[0-9]+ (detection )?matches' "$OUT/rsigma-$set.err" | tail -1 | cut -d' ' -f1 || true)
    correlations=$(grep -oE '[0-9]+ correlation matches' "$OUT/rsigma-$set.err" | tail -1 | cut -d' ' -f1 || true)
    matches=${matches:-0}; correlations=${correlations:-0}
    say "rsigma $set: load ${best_load} s, full ${best_full} s (cpu ${best_cpu} s, peak RSS ${rss} KiB), $matches detection matches, $correlations correlation matches; stderr: $(tail -c 300 "$OUT/rsigma-$set.err" | tr '\n' ' ')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$best_load" "$best_full" "$best_cpu" "$rss" "$matches" "$correlations" >>"$OUT/rsigma.tsv"
  done
else
  say "no rsigma binary (RSIGMA unset and none on PATH): rsigma not run"
  RV="not run"
fi

echo
echo "## detection: $N events (Loghub Linux_2k + OpenSSH_2k, repeated), one thread each ($(uname -n), $(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
python3 - "$OUT" "$N" "$RV" <<'EOF'
import sys, csv
out, n, rv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ll = {}
for row in csv.reader(open(f"{out}/loglynx.tsv"), delimiter="\t"):
    s, mode, rules, ev, secs, eps, matches, alerts = row
    ll[(s, mode)] = (int(rules), float(secs), float(eps), int(matches), int(alerts))
rs = {}
for row in csv.reader(open(f"{out}/rsigma.tsv"), delimiter="\t"):
    s, load, full, cpu, rss, matches, corr = row
    rs[s] = (float(load), float(full), float(cpu), int(rss), int(matches), int(corr))
print("| rule set | rules evaluated | loglynx tag ev/s | loglynx tag+stage ev/s | loglynx json+tag ev/s | rsigma ev/s (excl. load) | rsigma wall s (load s) | tag / rsigma | json+tag / rsigma | detection matches loglynx / rsigma | alerts loglynx / rsigma correlation matches |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in ["builtin", "sigmahq_100", "sigmahq_1000"]:
    t = ll.get((s, "tag")); ts = ll.get((s, "tag+stage")); jt = ll.get((s, "json+tag"))
    r = rs.get(s)
    reps = f"{n / (r[1] - r[0]):,.0f}" if r and r[1] > r[0] else "not run"
    rwall = f"{r[1]:.2f} ({r[0]:.2f})" if r else "not run"
    ratio = f"{t[2] / (n / (r[1] - r[0])):.1f}x" if r and t and r[1] > r[0] else "-"
    jratio = f"{jt[2] / (n / (r[1] - r[0])):.1f}x" if r and jt and r[1] > r[0] else "-"
    rm = f"{r[4]:,}" if r else "-"
    rc = f"{r[5]:,}" if r else "-"
    print(f"| {s} | {t[0]:,} | {t[2]:,.0f} | {ts[2]:,.0f} | {jt[2]:,.0f} | {reps} | {rwall} | {ratio} | {jratio} | {t[3]:,} / {rm} | {ts[4]:,} / {rc} |")
for s in ["sigmahq_100_routed", "sigmahq_1000_routed"]:
    t = ll.get((s, "tag"))
    if t:
        print(f"| {s} (as `run` loads them: unrouted rules inactive) | {t[0]:,} | {t[2]:,.0f} | - | - | - | - | - | - | {t[3]:,} / - | - |")
print()
print(f"rsigma: {rv}; loglynx: cargo bench --workspace --bench detect_compare (profile.release)")
EOF
echo
echo "bench command: N=$N ROUNDS=$ROUNDS bench/detect.sh; raw results: $OUT/"

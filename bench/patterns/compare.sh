#!/usr/bin/env bash
# Pattern mining speed: loglynx's miner beside Python drain3 (PyPI), on the same lines, in the
# same run, on the same machine.
#
#   bench/patterns/compare.sh               # the 8 Loghub samples' messages x 5 (80,000 lines)
#   REPEAT=1 ROUNDS=1 bench/patterns/compare.sh
#   SOURCE=syslog N=300000 bench/patterns/compare.sh   # generated syslog messages
#
# Lines (SOURCE=loghub, the default): the `Content` column of
# ../shared/data/loghub/*/*_structured.csv (what a parser hands the miner after the header),
# `dataset<TAB>content`, the whole set REPEAT times. SOURCE=syslog: N lines of
# bench/gen_syslog.py (seed 42), `program<TAB>message` (the message after the RFC 3164 header,
# the program as the service). Each side mines
# them in one thread, one template set per dataset, a fresh miner per round, best of ROUNDS:
# loglynx through crates/patterns/examples/mine.rs (release build), drain3 through
# bench/patterns/drain3_run.py (drain3's defaults).
# Env: MASK=1 (drain3 masks values first: see drain3_run.py), SOURCE (loghub or syslog), REPEAT (default 5), N (default 300000), ROUNDS (default 3), OUT (default /tmp/loglynx-patterns-bench),
# VENV (a virtualenv with drain3; default /work/venv-drain3, created with `pip install drain3`
# when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
SOURCE=${SOURCE:-loghub}
REPEAT=${REPEAT:-5}
N=${N:-300000}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-/tmp/loglynx-patterns-bench}
VENV=${VENV:-/work/venv-drain3}
DATA=../shared/data/loghub
mkdir -p "$OUT"
[ -d "$DATA" ] || { echo "needs the Loghub samples at $DATA" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q drain3
fi
if [ "$SOURCE" = syslog ]; then
  python3 bench/gen_syslog.py "$N" "$OUT/syslog.log" >/dev/null 2>&1
  python3 - "$OUT/syslog.log" >"$OUT/lines.tsv" <<'PY'
import re, sys
header = re.compile(r"^(?:<\d+>)?\w{3} +\d+ \d\d:\d\d:\d\d \S+ ([^:\[ ]+)(?:\[\d+\])?: (.*)$")
for line in open(sys.argv[1], encoding="utf-8"):
    m = header.match(line.rstrip("\n"))
    if m:
        print(f"{m.group(1)}\t{m.group(2)}")
PY
else
python3 - "$DATA" "$REPEAT" >"$OUT/lines.tsv" <<'PY'
import csv, sys, pathlib
root, repeat = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rows = []
for name in ["Apache", "BGL", "HDFS", "HPC", "Linux", "OpenSSH", "Proxifier", "Zookeeper"]:
    with open(root / name / f"{name}_2k.log_structured.csv", newline="", encoding="utf-8") as f:
        rows += [(name, r["Content"].replace("\t", " ").replace("\n", " ")) for r in csv.DictReader(f)]
for _ in range(repeat):
    for name, content in rows:
        print(f"{name}\t{content}")
PY
fi
cargo build --release -q -p loglynx-patterns --example mine
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "drain3 $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("drain3"))'), $("$VENV/bin/python" --version)"
L=$(target/release/examples/mine "$OUT/lines.tsv" "$ROUNDS")
D=$("$VENV/bin/python" bench/patterns/drain3_run.py "$OUT/lines.tsv" "$ROUNDS")
echo "loglynx: $L"
echo "drain3:  $D"
python3 - "$L" "$D" <<'PY'
import sys
rate = lambda s: float(dict(kv.split("=") for kv in s.split())["lines_per_s"])
cpu = lambda s: float(dict(kv.split("=") for kv in s.split())["cpu_lines_per_s"])
print(f"loglynx / drain3: {rate(sys.argv[1]) / rate(sys.argv[2]):.1f}x by wall time, {cpu(sys.argv[1]) / cpu(sys.argv[2]):.1f}x by CPU time")
PY

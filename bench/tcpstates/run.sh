#!/usr/bin/env bash
# TCP state tracer benchmark: one loopback connection storm traced in turn by
#   loglynx tcpstates (eBPF ring buffer, aya), bpftrace (one printf per event) and
#   tcpstates-bpfcc (BCC's tcpstates, perf buffer), plus a run without a tracer.
# Each connection makes 10 transitions; each tracer is filtered to the storm's port (below the
# ephemeral range, so no client socket of an earlier storm holds it).
# Reports: transitions captured, losses as each tracer counts them (loglynx: ring-buffer reserve
# failures; bpftrace: its "Lost N events" lines), storm rate, the tracer process's CPU seconds
# (user+sys of the tracer itself; the in-kernel program cost shows as a slower storm), and a
# per-transition breakdown. "Nominal" is 10 per connection + 2 for the listener; the kernel
# skips FIN_WAIT2 when the peer's FIN arrives with its ACK, so fewer is not by itself a loss.
#
#   sudo bench/tcpstates/run.sh              # CONNS=20000 by default
#   sudo CONNS=50000 bench/tcpstates/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "run as root (eBPF tracers need it)" >&2; exit 1; }
CONNS=${CONNS:-20000}
BIN=${BIN:-target/release/loglynx}
OUT=${OUT:-/tmp/loglynx-tcpbench}
ensure_apt gcc bpftrace bpfcc-tools
[ -x "$BIN" ] || { log "building $BIN"; cargo build --release -p loglynx-cli; }
mkdir -p "$OUT"
gcc -O2 -pthread -o "$OUT/connstorm" bench/tcpstates/connstorm.c
expected=$((CONNS * 10 + 2))

cpu_secs() { # utime+stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"
}

# wait_for FILE PATTERN: the tracer printed its header (it is attached).
wait_for() {
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "tracer did not start: $(head -5 "$1")" >&2; return 1
}

printf '| tracer | connections | storm s | conn/s | transitions captured | nominal | lost (tracer count) | tracer CPU s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' > "$OUT/table.md"

run() { # NAME PORT READY_PATTERN COUNT_CMD LOST_CMD -- TRACER...
  local name=$1 port=$2 ready=$3 count=$4 lostcmd=$5; shift 6
  local log="$OUT/$name.out"
  "$@" > "$log" 2> "$OUT/$name.err" &
  local pid=$!
  if ! { wait_for "$log" "$ready" || wait_for "$OUT/$name.err" "$ready"; }; then
    kill "$pid" 2>/dev/null || true
    local why; why=$(grep -m1 -iE "unable|error|not found" "$OUT/$name.err" | cut -c1-120)
    printf '| %s | - | - | - | could not start: %s | | | |\n' "$name" "$why" >> "$OUT/table.md"
    log "$name could not start: $why"
    return 0
  fi
  read -r n secs < <("$OUT/connstorm" "$port" "$CONNS")
  sleep 1  # let the tracer drain its buffer before it is stopped
  local cpu; cpu=$(cpu_secs "$pid")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  local got; got=$(eval "$count" || true)
  local lost; lost=$(eval "$lostcmd" || true)
  local rate; rate=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$n" "$secs" "$rate" "$got" "$expected" "$lost" "$cpu" >> "$OUT/table.md"
  log "$name: $got/$expected transitions, storm ${secs}s, tracer cpu ${cpu}s"
}

log "baseline: no tracer"
read -r n secs < <("$OUT/connstorm" 20001 "$CONNS")
printf '| (none) | %s | %s | %s | - | - | - | - |\n' "$n" "$secs" "$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')" >> "$OUT/table.md"

log "loglynx tcpstates"
run loglynx 20002 "SKADDR" "grep -v SKADDR $OUT/loglynx.out | grep -c -- '->'" \
  "grep -oE '[0-9]+ dropped' $OUT/loglynx.err | grep -oE '[0-9]+' || echo '?'" -- "$BIN" tcpstates -P 20002

log "bpftrace"
run bpftrace 20003 "Attaching" "grep -c '^ev' $OUT/bpftrace.out" \
  "grep -oE 'Lost [0-9]+' $OUT/bpftrace.out | awk '{s+=\$2} END {print s+0}'" -- bpftrace -e '
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == 20003 || args->dport == 20003)/ {
  printf("ev %llx %d %s %d %d %d %d\n", args->skaddr, pid, comm, args->sport, args->dport, args->oldstate, args->newstate);
}'

TCPSTATES=$(command -v tcpstates-bpfcc || echo /usr/sbin/tcpstates-bpfcc)
log "tcpstates-bpfcc"
run bpfcc 20004 "SKADDR" "grep -v SKADDR $OUT/bpfcc.out | grep -c -- '->'" "echo '?'" -- "$TCPSTATES" -L 20004,0 -D 20004

echo
echo "## TCP state tracer: $CONNS loopback connections ($expected transitions), $(nproc) cores, $(uname -r)"
cat "$OUT/table.md"
echo
echo "per transition (loglynx | bpftrace):"
paste <(awk '/->/ && $1 != "SKADDR" {print $(NF-3)"->"$(NF-1)}' "$OUT/loglynx.out" | sort | uniq -c | sort -k2) \
      <(awk '/^ev/ {print $7"->"$8}' "$OUT/bpftrace.out" | sort | uniq -c | sort -k2) || true
echo
echo "command: sudo CONNS=$CONNS bench/tcpstates/run.sh   (loglynx: $("$BIN" --version))"

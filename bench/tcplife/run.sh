#!/usr/bin/env bash
# Connection lifetime tracer benchmark: one loopback connection storm traced in turn by
#   loglynx tcplife (eBPF: state tracepoint + CO-RE reads of struct tcp_sock at CLOSE, ring
#   buffer, aya) and bpftrace running the equivalent script (same tracepoint, birth map, the
#   same tcp_sock fields read through BTF at CLOSE, one printf per connection), plus a run
#   without a tracer. Each connection closes two sockets, so 2 lifetimes per connection.
# Reports: lifetimes captured, losses as each tracer counts them, storm rate, and the tracer
# process's CPU seconds (user+sys; the in-kernel cost shows as a slower storm).
#
#   sudo bench/tcplife/run.sh              # CONNS=20000 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "run as root (eBPF tracers need it)" >&2; exit 1; }
CONNS=${CONNS:-20000}
BIN=${BIN:-target/release/loglynx}
OUT=${OUT:-/tmp/loglynx-tcplifebench}
ensure_apt gcc bpftrace
[ -x "$BIN" ] || { log "building $BIN"; cargo build --release -p loglynx-cli; }
mkdir -p "$OUT"
gcc -O2 -pthread -o "$OUT/connstorm" bench/tcpstates/connstorm.c
expected=$((CONNS * 2))

cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat"; }
wait_for() {
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "tracer did not start: $(head -5 "$1")" >&2; return 1
}

printf '| tracer | connections | storm s | conn/s | lifetimes captured | expected | lost (tracer count) | tracer CPU s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' > "$OUT/table.md"

run() { # NAME PORT READY COUNT_CMD LOST_CMD -- TRACER...
  local name=$1 port=$2 ready=$3 count=$4 lostcmd=$5; shift 6
  local log="$OUT/$name.out"
  "$@" > "$log" 2> "$OUT/$name.err" &
  local pid=$!
  wait_for "$log" "$ready" || wait_for "$OUT/$name.err" "$ready"
  read -r n secs < <("$OUT/connstorm" "$port" "$CONNS")
  sleep 1
  local cpu; cpu=$(cpu_secs "$pid")
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  local got; got=$(eval "$count" || true)
  local lost; lost=$(eval "$lostcmd" || true)
  local rate; rate=$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$n" "$secs" "$rate" "$got" "$expected" "$lost" "$cpu" >> "$OUT/table.md"
  log "$name: $got/$expected lifetimes, storm ${secs}s, tracer cpu ${cpu}s"
}

log "baseline: no tracer"
read -r n secs < <("$OUT/connstorm" 20011 "$CONNS")
printf '| (none) | %s | %s | %s | - | - | - | - |\n' "$n" "$secs" "$(awk -v n="$n" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')" >> "$OUT/table.md"

log "loglynx tcplife"
run loglynx 20012 "PID" "grep -vc '^PID' $OUT/loglynx.out" \
  "grep -oE '[0-9]+ dropped' $OUT/loglynx.err | grep -oE '[0-9]+' || echo '?'" -- "$BIN" tcplife -P 20012

log "bpftrace"
run bpftrace 20013 "Attaching" "grep -c '^life' $OUT/bpftrace.out" \
  "grep -oE 'Lost [0-9]+' $OUT/bpftrace.out | awk '{s+=\$2} END {print s+0}'" -- bpftrace -e '
tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == 20013 || args->dport == 20013)/ {
  if ((args->newstate == 2 || (args->oldstate == 10 && args->newstate == 3)) && @birth[args->skaddr] == 0) {
    @birth[args->skaddr] = nsecs; @owner[args->skaddr] = pid;
  }
  if (args->newstate == 7 && @birth[args->skaddr] != 0) {
    $tp = (struct tcp_sock *)args->skaddr;
    printf("life %d %d %d %d %d %d %d %d\n", @owner[args->skaddr], args->sport, args->dport,
      $tp->bytes_acked, $tp->bytes_received, $tp->total_retrans, $tp->srtt_us >> 3,
      (nsecs - @birth[args->skaddr]) / 1000);
    delete(@birth[args->skaddr]); delete(@owner[args->skaddr]);
  }
}'

uptime
cat "$OUT/table.md"

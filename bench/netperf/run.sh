#!/usr/bin/env bash
# Overhead of the network performance counters on a loopback TCP stream: one C program
# (stream.c) writes 64 KiB buffers to a reader thread over 127.0.0.1 for SECS seconds, unpaced
# (the most the machine does) and paced to 1 Gbit/s, with no tracer, under `loglynx netperf`
# (the netmon tracer with every perf hook: sock_send_length / sock_recv_length, tcp_probe,
# tcp_retransmit_skb / synack, tcp_send_reset / receive_reset, kfree_skb, inet_sock_set_state;
# counters in kernel maps read every second) and under bpftrace running the equivalent script
# on the same hooks (per-process byte sums, per-socket rate-limited RTT histogram, counts per
# owner and per reason, printed every second).
# Reports per run: throughput, the stream's own CPU seconds, and the tracer's CPU seconds during
# the stream (user+sys of its process; the in-kernel cost of the hooks shows in the stream's).
#
#   sudo bench/netperf/run.sh        # SECS=10 ROUNDS=2 BIN=target/release/loglynx
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "run as root (eBPF tracers need it)" >&2; exit 1; }
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-2}
BIN=${BIN:-target/release/loglynx}
OUT=${OUT:-/tmp/loglynx-netperfbench}
ensure_apt gcc bpftrace
[ -x "$BIN" ] || { log "building $BIN"; cargo build --release -p loglynx-cli; }
mkdir -p "$OUT"
gcc -O2 -pthread -o "$OUT/stream" bench/netperf/stream.c

# CPU seconds of every live thread of process $1 so far, to the nanosecond: the sum of the first
# field of /proc/<pid>/task/*/schedstat (time on a CPU, user and kernel). /proc/<pid>/stat counts
# in clock ticks (10 ms), too coarse for a tracer that uses a few tens of milliseconds a minute.
# A thread that ends between two reads takes its time with it: both tracers keep their threads
# for their whole run. A thread ending while it is read is skipped, not an error.
cpu_secs() { { cat /proc/"$1"/task/*/schedstat 2>/dev/null || :; } | awk '{ns += $1} END {printf "%.4f", ns / 1e9}'; }
wait_for() {
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "tracer did not start: $(head -5 "$1")" >&2; return 1
}

BT='
tracepoint:sock:sock_send_length /args->protocol == 6 && args->ret > 0/ { @owner[args->sk] = pid; @tx[pid] = sum(args->ret); }
tracepoint:sock:sock_recv_length /args->protocol == 6 && args->ret > 0/ { @owner[args->sk] = pid; @rx[pid] = sum(args->ret); }
tracepoint:tcp:tcp_probe /nsecs - @last[args->skaddr] >= 10000000/ { @last[args->skaddr] = nsecs; @rtt[@owner[args->skaddr], args->dport] = hist(args->srtt); }
tracepoint:tcp:tcp_retransmit_skb { @retrans[@owner[args->skaddr]] = count(); }
tracepoint:tcp:tcp_retransmit_synack { @synack[@owner[args->skaddr]] = count(); }
tracepoint:tcp:tcp_send_reset { @rst_sent[@owner[args->skaddr]] = count(); }
tracepoint:tcp:tcp_receive_reset { @rst_recv[@owner[args->skaddr]] = count(); }
tracepoint:skb:kfree_skb { @drops[args->reason] = count(); }
tracepoint:sock:inet_sock_set_state /args->protocol == 6/ { @states[args->newstate] = count(); }
interval:s:1 { print(@tx); print(@rx); print(@rtt); print(@retrans); print(@drops); }
'

printf '| round | stream | tracer | Gbit/s | stream CPU s | tracer CPU s |\n|---|---|---|---:|---:|---:|\n' > "$OUT/table.md"

# run ROUND MODE(max|1g) NAME READY -- TRACER... (no tracer: NAME none, READY -)
run() {
  local round=$1 mode=$2 name=$3 ready=$4; shift 5
  local rate=0; [ "$mode" = 1g ] && rate=1000
  local pid="" cpu0=0 cpu1=0
  if [ "$name" != none ]; then
    "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
    pid=$!
    wait_for "$OUT/$name.out" "$ready" || wait_for "$OUT/$name.err" "$ready"
    sleep 1
    cpu0=$(cpu_secs "$pid")
  fi
  read -r bytes secs gbit scpu < <("$OUT/stream" $((20030 + RANDOM % 1000)) "$SECS" 65536 "$rate")
  if [ -n "$pid" ]; then
    cpu1=$(cpu_secs "$pid")
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  fi
  local tcpu; tcpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.4f", b-a}')
  [ "$name" = none ] && tcpu=-
  printf '| %s | %s | %s | %s | %s | %s |\n' "$round" "$mode" "$name" "$gbit" "$scpu" "$tcpu" >> "$OUT/table.md"
  log "round $round $mode $name: $gbit Gbit/s, stream cpu ${scpu}s, tracer cpu ${tcpu}s"
}

for round in $(seq 1 "$ROUNDS"); do
  for mode in max 1g; do
    run "$round" "$mode" none - --
    run "$round" "$mode" loglynx PID -- "$BIN" netperf --interval 1s
    run "$round" "$mode" bpftrace Attaching -- bpftrace -e "$BT"
  done
done
uptime
cat "$OUT/table.md"

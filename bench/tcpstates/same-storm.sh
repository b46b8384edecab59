#!/usr/bin/env bash
# Exactness check: loglynx tcpstates and bpftrace trace the SAME loopback storm at once; compare
# their per-transition counts (bench/tcpstates/run.sh builds /tmp/loglynx-tcpbench/connstorm).
O=/tmp/same; rm -rf $O; mkdir -p $O
"${BIN:-target/release/loglynx}" tcpstates -P 20006 > $O/ll.out 2> $O/ll.err &
LP=$!
bpftrace -e 'tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == 20006 || args->dport == 20006)/ { printf("ev %d %d\n", args->oldstate, args->newstate); }' > $O/bt.out 2>&1 &
BP=$!
for i in $(seq 1 200); do grep -q Attaching $O/bt.out 2>/dev/null && grep -q SKADDR $O/ll.out 2>/dev/null && break; sleep 0.1; done
/tmp/loglynx-tcpbench/connstorm 20006 20000
sleep 2; kill -INT $LP $BP; wait $LP $BP 2>/dev/null
tail -1 $O/ll.err

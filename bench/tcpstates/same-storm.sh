#!/usr/bin/env bash
# Exactness check: loglynx tcpstates and bpftrace trace the SAME loopback storm at once; compare
# their per-transition counts (bench/tcpstates/run.sh builds /tmp/loglynx-tcpbench/connstorm).
set -u
cd "$(dirname "$0")/../.."
[ -x /tmp/loglynx-tcpbench/connstorm ] || gcc -O2 -pthread -o /tmp/loglynx-tcpbench/connstorm bench/tcpstates/connstorm.c
O=/tmp/same; rm -rf $O; mkdir -p $O
"${BIN:-target/release/loglynx}" tcpstates -P 20006 > $O/ll.out 2> $O/ll.err &
LP=$!
bpftrace -e 'tracepoint:sock:inet_sock_set_state /args->protocol == 6 && (args->sport == 20006 || args->dport == 20006)/ { printf("ev %d %d\n", args->oldstate, args->newstate); }' > $O/bt.out 2>&1 &
BP=$!
for i in $(seq 1 200); do grep -q Attaching $O/bt.out 2>/dev/null && grep -q SKADDR $O/ll.out 2>/dev/null && break; sleep 0.1; done
/tmp/loglynx-tcpbench/connstorm 20006 20000
sleep 2; kill -INT $LP $BP; wait $LP $BP 2>/dev/null
tail -1 $O/ll.err
python3 - <<'PY'
from collections import Counter
names = {1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
         7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV'}
ll, bt = Counter(), Counter()
for line in open('/tmp/same/ll.out'):
    f = line.split()
    if '->' in f and f[0] != 'SKADDR':
        ll[(f[-4], f[-2])] += 1
for line in open('/tmp/same/bt.out'):
    f = line.split()
    if f and f[0] == 'ev':
        bt[(names[int(f[1])], names[int(f[2])])] += 1
    elif 'Lost' in line:
        print('bpftrace:', line.strip())
for k in sorted(set(ll) | set(bt)):
    mark = '' if ll[k] == bt[k] else '   DIFF'
    print(f"{k[0]:>12} -> {k[1]:<12} loglynx {ll[k]:>6}  bpftrace {bt[k]:>6}{mark}")
print('totals', sum(ll.values()), sum(bt.values()))
PY

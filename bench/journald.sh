#!/usr/bin/env bash
# The journald source's read rate beside journalctl over the same journal, in one run:
# writes N entries (default 200,000) with systemd-journal-remote into a private directory,
# then times `journalctl --directory -o export` and `-o json` (the peer: the same libsystemd
# reader writing its own formats to /dev/null) and loglynx's JournaldSource (read + mapped to
# ECS JSON records, crates/collect/examples/journald_read.rs, release build).
#   bench/journald.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_apt systemd-journal-remote libsystemd-dev pkg-config
n="${1:-200000}"
work=$(mktemp -d /tmp/loglynx-journald-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/journal"
log "writing $n entries with systemd-journal-remote"
python3 - "$n" > "$work/entries.export" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    out.write(b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
              b"MESSAGE=Accepted publickey for user%d from 10.0.%d.%d port %d ssh2\nPRIORITY=6\nSYSLOG_FACILITY=10\n"
              b"_HOSTNAME=web%d\nSYSLOG_IDENTIFIER=sshd\n_COMM=sshd\n_PID=%d\n_UID=0\n_GID=0\n_TRANSPORT=syslog\n"
              b"_SYSTEMD_UNIT=ssh.service\n_SYSTEMD_SLICE=system.slice\n_CMDLINE=sshd: user%d [priv]\n_EXE=/usr/sbin/sshd\n\n"
              % (1764000000000000 + i * 1000, i + 1, i % 100, i % 250, i % 200, 40000 + i % 20000, i % 5, 1000 + i % 3000, i % 100))
PY
/lib/systemd/systemd-journal-remote --output="$work/journal/remote-bench.journal" "$work/entries.export" 2>/dev/null
log "building the reader (release)"
cargo build --release --locked -q -p loglynx-collect --example journald_read
for fmt in export json; do
  start=$(date +%s.%N)
  journalctl --directory="$work/journal" -o "$fmt" > /dev/null
  end=$(date +%s.%N)
  awk -v n="$n" -v s="$start" -v e="$end" -v f="$fmt" \
    'BEGIN { printf "journalctl -o %s: %d entries in %.3f s = %.0f entries/s\n", f, n, e - s, n / (e - s) }'
done
target/release/examples/journald_read "$work/journal" "$n"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

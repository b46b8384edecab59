#!/usr/bin/env bash
# CI check: the committed tcpstates.bpf.o must be what tcpstates.bpf.c compiles to.
# Skips (exit 0, with a notice) when clang is absent, since cargo builds do not need it.
# The comparison is byte for byte; an object built by another clang major version than the one
# that built the committed object can differ, so the message names both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLANG="${CLANG:-clang}"
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "check.sh: skipping: clang not found (apt-get install -y clang libbpf-dev llvm)"
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$here/build.sh" "$tmp/tcpstates.bpf.o" >/dev/null
if cmp -s "$tmp/tcpstates.bpf.o" "$here/tcpstates.bpf.o"; then
    echo "check.sh: tcpstates.bpf.o is up to date"
    exit 0
fi
echo "check.sh: tcpstates.bpf.o differs from a fresh build of tcpstates.bpf.c" >&2
echo "check.sh: run crates/netmon/bpf/build.sh and commit the object (clang here: $("$CLANG" --version | head -n1))" >&2
if command -v llvm-objdump >/dev/null 2>&1; then
    diff <(llvm-objdump -d --no-show-raw-insn "$here/tcpstates.bpf.o") \
         <(llvm-objdump -d --no-show-raw-insn "$tmp/tcpstates.bpf.o") | head -n 40 >&2 || true
fi
exit 1

#!/usr/bin/env bash
# Rebuild tcpstates.bpf.o from tcpstates.bpf.c (needs clang and libbpf-dev:
# `apt-get install -y clang libbpf-dev llvm`). The output is reproducible: it is compiled from a
# relative path in this folder and DWARF is stripped (BTF, which aya needs, is kept).
# Usage: build.sh [OUTPUT]   (default: tcpstates.bpf.o beside this script)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/tcpstates.bpf.o}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
CLANG="${CLANG:-clang}"
STRIP="${LLVM_STRIP:-llvm-strip}"
arch_inc="/usr/include/$(uname -m)-linux-gnu"
cd "$here"
tmp="$(mktemp "${out}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
"$CLANG" -O2 -g -target bpf -I"$arch_inc" \
    -fdebug-prefix-map="$here"=. -Wall -Werror \
    -c tcpstates.bpf.c -o "$tmp"
"$STRIP" -g "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "built $out ($("$CLANG" --version | head -n1))"

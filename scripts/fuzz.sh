#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers and codecs with AFL++ (`cargo afl`, stable Rust):
# builds the targets of fuzz/ with AFL's instrumentation (installing cargo-afl when missing;
# profile `fuzz`, into target/fuzz), then runs each for SECONDS from its seed corpus in
# fuzz/corpus/<target>/ (made by the `seeds` binary when missing) and prints its executions,
# paths found and crashes. Exits non-zero when a target crashed or hung, naming the input to
# replay (`target/fuzz/<target> < INPUT`). CI does not run this: it runs every target
# uninstrumented on the corpus and mutations of it (`cargo test -p loglynx-fuzz --test smoke`).
#
# Usage: scripts/fuzz.sh [--seconds N] [--out DIR] [TARGET...]
#   --seconds N  time per target (default 5)
#   --out DIR    AFL output directories (default target/afl); findings stay there
#   TARGET       some of: parse_record syslog_framing query_parser histogram_tail
#                kafka_codec spool_recovery bulk netlink (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

all=(parse_record syslog_framing query_parser histogram_tail kafka_codec spool_recovery bulk netlink)
seconds=5
out=target/afl
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

ensure_tool cargo "install Rust (https://rustup.rs)"
ensure_apt build-essential clang llvm pkg-config libsystemd-dev
if ! cargo afl --version >/dev/null 2>&1; then
  log "installing cargo-afl (AFL++ for stable Rust)"
  cargo install --locked cargo-afl
fi
ensure_space fuzz 3 "building the fuzz targets"

log "building the fuzz targets"
cargo afl build --profile fuzz --locked -p loglynx-fuzz --features afl --bins
bin=target/fuzz

for t in "${targets[@]}"; do
  if [ -z "$(ls -A "fuzz/corpus/$t" 2>/dev/null)" ]; then
    log "seed corpus of $t missing: writing it"
    "$bin/seeds" fuzz/corpus
  fi
done

# AFL++ refuses to start on some systems without these; the runs here need no core dumps and
# may share the machine's CPUs.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
failed=0
printf '%-16s %12s %10s %8s %8s\n' target executions execs/s paths crashes
for t in "${targets[@]}"; do
  dir="$out/$t"
  rm -rf "$dir"
  mkdir -p "$dir"
  # -V: stop after SECONDS; -t: 2 s per input is a hang.
  cargo afl fuzz -i "fuzz/corpus/$t" -o "$dir" -V "$seconds" -t 2000 "$bin/$t" >"$dir.log" 2>&1 || {
    echo "loglynx: afl-fuzz failed to run $t: see $dir.log" >&2
    tail -20 "$dir.log" >&2
    failed=1
    continue
  }
  stats="$dir/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  printf '%-16s %12s %10s %8s %8s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" \
    "$(get corpus_count)" "$(get saved_crashes)"
  if [ "$(get saved_crashes)" != "0" ] || [ "$(get saved_hangs)" != "0" ]; then
    echo "loglynx: $t found $(get saved_crashes) crash(es) and $(get saved_hangs) hang(s):" \
      "replay with '$bin/$t < $dir/default/crashes/<file>' (or hangs/)" >&2
    failed=1
  fi
done
exit $failed

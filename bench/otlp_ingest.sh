#!/usr/bin/env bash
# OTLP ingest beside `_bulk`, same records, same server, same run: N log records (a message,
# a severity, four attributes, a trace and span id, one resource) sent by one client in
# batches of BATCH, each way RUNS times, into a fresh `loglynx run` per run; the figure is
# from the first request to all N searchable (so storing is counted, not only parsing).
#   otlp   the Python OpenTelemetry SDK's OTLP/HTTP exporter (protobuf, gzip), its
#          `export()` called with batches of SDK log records (what BatchLogRecordProcessor does),
#          built before the clock starts, as the `_bulk` bodies are
#   bulk   the same records as Elasticsearch `_bulk` NDJSON (urllib, not gzipped), ECS names
#
#   N=50000 BATCH=512 RUNS=2 CONC=8 BIN=target/debug/loglynx bench/otlp_ingest.sh
#
# Requests go out from CONC threads at once (default 8): each is answered once its records
# are committed, so one request at a time would measure the commit interval.
# Env: N (default 100000), BATCH (default 512, the SDK's default batch), RUNS (default 2), CONC,
# BIN (default target/release/loglynx), WORK (default /tmp/loglynx-otlpbench). The SDK comes
# from the test virtual environment (scripts/pyenv.sh, target/pyenv).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
BATCH=${BATCH:-512}
RUNS=${RUNS:-2}
CONC=${CONC:-8}
BIN=${BIN:-target/release/loglynx}
WORK=${WORK:-/tmp/loglynx-otlpbench}
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build --release -p loglynx-cli" >&2; exit 1; }
scripts/pyenv.sh >/dev/null
PY=target/pyenv/bin/python
rm -rf "$WORK" && mkdir -p "$WORK"

start_server() {
  rm -rf "$WORK/data" && mkdir -p "$WORK/data"
  # The log goes first: the shell truncates it in the child, which may come after the grep
  # below, which would then read the previous server's address.
  rm -f "$WORK/run.log"
  "$BIN" run --data-dir "$WORK/data" --http 127.0.0.1:0 --syslog-udp off --syslog-tcp off >"$WORK/run.log" 2>&1 &
  pid=$!
  addr=""
  for _ in $(seq 300); do
    addr=$(grep -o 'loglynx ready: dashboard http://[^/]*' "$WORK/run.log" | head -1 | sed 's|.*http://||' || true)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "loglynx did not start: $WORK/run.log" >&2; exit 1; }
}
stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap 'stop_server' EXIT

for run in $(seq "$RUNS"); do
  for way in otlp bulk; do
    start_server
    say "run $run: $way, $N records in batches of $BATCH, $CONC at once"
    "$PY" - "http://$addr" "$N" "$BATCH" "$way" "$CONC" <<'PY'
import json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
server, n, batch, way, conc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])

def total():
    with urllib.request.urlopen(server + "/api/v1/search?limit=0") as r:
        return json.load(r)["total"]

levels = [("INFO", 9, "info"), ("WARN", 13, "warn"), ("ERROR", 17, "error")]
def record(i):
    text, num, ecs = levels[i % 3]
    return {"i": i, "text": text, "num": num, "ecs": ecs, "msg": f"request {i} served in {i % 977} ms",
            "trace": f"{i:032x}", "span": f"{i:016x}", "ts": 1764000000000000000 + i * 1000000}

if way == "otlp":
    from opentelemetry._logs import LogRecord, SeverityNumber
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import TraceFlags
    exporter = OTLPLogExporter(endpoint=server + "/v1/logs", compression=Compression.Gzip)
    resource = Resource.create({"service.name": "bench", "host.name": "web1"})
    scope = InstrumentationScope("bench")
    def batch_of(lo, hi):
        out = []
        for i in range(lo, hi):
            r = record(i)
            rec = LogRecord(timestamp=r["ts"], trace_id=int(r["trace"], 16), span_id=int(r["span"], 16),
                            trace_flags=TraceFlags(1), severity_text=r["text"],
                            severity_number=SeverityNumber(r["num"]), body=r["msg"],
                            attributes={"http.request.method": "GET", "url.path": f"/item/{i % 100}",
                                        "http.response.status_code": 200, "user.id": f"u{i % 50}"})
            out.append(ReadableLogRecord(rec, resource, scope))
        return out
    batches = [batch_of(lo, min(n, lo + batch)) for lo in range(0, n, batch)]
    send = lambda b: exporter.export(b).name == "SUCCESS"
else:
    def batch_of(lo, hi):
        lines = []
        for i in range(lo, hi):
            r = record(i)
            lines.append('{"index":{"_index":"bench"}}')
            lines.append(json.dumps({"@timestamp": r["ts"] // 1000000, "message": r["msg"], "log.level": r["ecs"],
                                     "service.name": "bench", "host.name": "web1", "http.request.method": "GET",
                                     "url.path": f"/item/{i % 100}", "http.response.status_code": 200,
                                     "user.id": f"u{i % 50}", "trace.id": r["trace"], "span.id": r["span"]}))
        return ("\n".join(lines) + "\n").encode()
    batches = [batch_of(lo, min(n, lo + batch)) for lo in range(0, n, batch)]
    def send(b):
        req = urllib.request.Request(server + "/_bulk", data=b, headers={"content-type": "application/x-ndjson"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)["errors"] is False

start = time.monotonic()
with ThreadPoolExecutor(conc) as pool:
    assert all(pool.map(send, batches)), "a batch was refused"
sent = time.monotonic() - start
while total() < n:
    time.sleep(0.05)
done = time.monotonic() - start
assert total() == n, f"{total()} stored, {n} sent"
print(f"{way} ({conc} at once): {n} records sent in {sent:.2f} s, all searchable after {done:.2f} s = {n / done:,.0f} records/s")
PY
    stop_server
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

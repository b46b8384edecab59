#!/usr/bin/env bash
# Creates (when missing) the Python virtual environment the tests that drive real third-party
# clients use: the OpenTelemetry SDK with its OTLP exporters (HTTP and gRPC) and the
# Elasticsearch client (8.x: loglynx answers its product check), and Prometheus's Python client
# (its parser of the text format reads /metrics). Prints nothing when it is already there with
# these versions. With --schemathesis, a separate environment with schemathesis (the
# OpenAPI-driven fuzzer of the HTTP API), kept apart so its dependencies never move the clients'
# versions.
# Usage: scripts/pyenv.sh [--schemathesis] [DIR]
#   (default target/pyenv, or target/pyenv-schemathesis; the tests look there)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# Pinned so a test run means the same thing tomorrow; bump together with the tests.
if [ "${1:-}" = "--schemathesis" ]; then
  shift
  dir="${1:-target/pyenv-schemathesis}"
  packages=("schemathesis==4.32.5")
else
  dir="${1:-target/pyenv}"
  packages=(
    "opentelemetry-sdk==1.45.2"
    "opentelemetry-exporter-otlp-proto-http==1.45.2"
    "opentelemetry-exporter-otlp-proto-grpc==1.45.2"
    "elasticsearch==8.17.2"
    "prometheus-client==0.26.0"
  )
fi
# Tests run in parallel and each calls this script: one creates, the others wait for it.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
stamp="$dir/.loglynx-packages"
want="${packages[*]}"
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
ensure_apt python3-venv
log "python test environment in $dir"
python3 -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
printf '%s' "$want" > "$stamp"

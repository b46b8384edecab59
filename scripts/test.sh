#!/usr/bin/env bash
# Sets up and runs every test: unit and integration tests (cargo), end-to-end tests on the real
# binary (files, syslog, HTTP, crash recovery), and the dashboard in a real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_tool cargo "install Rust (https://rustup.rs)"
ensure_tool node "install Node.js 20 or newer"
ensure_apt build-essential pkg-config libssl-dev chromium clang llvm libbpf-dev libsystemd-dev nftables
# The journald test writes its journal with systemd-journal-remote (no running journald needed).
ensure_apt systemd-journal-remote
# Programs the tests run that a minimal Debian image lacks: `ip` (network namespaces of the
# netmon and multi-host tests), `kill` (procps), `systemd-analyze verify` (the package test).
ensure_apt iproute2 procps systemd
# A clean debug build of every test is about 2.5 GiB (see [profile.dev] in Cargo.toml).
ensure_space target 3 "building the tests"

scripts/tansu.sh install
# The Debian package test (crates/cli/tests/e2e_deb.rs) builds the .deb with cargo-deb.
ensure_cargo_tool cargo-deb cargo-deb
# Real third-party clients the end-to-end tests drive (OpenTelemetry SDK and exporters).
scripts/pyenv.sh
# schemathesis, for the OpenAPI-driven fuzz of the HTTP API (e2e_openapi_fuzz).
scripts/pyenv.sh --schemathesis
scripts/shippers.sh
scripts/build-ui.sh

log "eBPF object matches its source"
crates/netmon/bpf/check.sh

log "cargo tests (unit, integration, end-to-end on the binary)"
cargo build --locked --workspace --all-targets
# Includes the fuzz targets' smoke run (fuzz/tests/smoke.rs: every target on its corpus and
# mutations of it, uninstrumented; the coverage-guided AFL++ runs are scripts/fuzz.sh).
cargo test --locked --workspace --no-fail-fast

log "dashboard unit tests"
(cd ui && npm run --silent test)

log "dashboard end-to-end test in headless Chromium"
(cd ui && LOGLYNX_BIN="$PWD/../target/debug/loglynx" npm run --silent test:e2e)
log "all tests passed"

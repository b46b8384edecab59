//! A flood: many more ingest requests than the store can take, for a bounded time, against a
//! running `loglynx run` (bench/loadgen.py, the same tool as the 5-minute `bench/flood.sh`).
//! The server must refuse what it cannot take (503, nothing of the request taken), store every
//! record it acknowledged, store nothing it refused, and keep its memory under a bound derived
//! from its configuration. What holds on any machine, fast or loaded: how much is refused and
//! how RSS moves over time depend on the machine's speed, so they are figures of
//! `bench/flood.sh` (docs/BENCHMARKS.md), not assertions.
//!
//! Lean for CI (`SECONDS`); `bench/flood.sh` runs it for 5 minutes on a release build.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const SECONDS: &str = "20";
/// `--max-requests` of the flood (`[http] max_requests`).
const MAX_REQUESTS: u64 = 4;

#[test]
fn a_flood_is_refused_in_part_never_loses_an_acknowledged_record_and_memory_stays_bounded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(root.join("bench/loadgen.py"))
        .args(["flood", "--bin", env!("CARGO_BIN_EXE_loglynx")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        // 48 senders of 2000 records against 4 requests in progress at most: most requests are
        // refused at once, the rest wait for the store.
        .args(["--seconds", SECONDS, "--senders", "48", "--batch", "2000", "--max-requests", &MAX_REQUESTS.to_string()])
        .output()
        .expect("run python3 bench/loadgen.py");
    assert!(
        out.status.success(),
        "bench/loadgen.py flood failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("loadgen prints one JSON object");
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing: {r}"));
    let (acked, refused, other, stored) =
        (n("acknowledged"), n("refused_queue_full"), n("other"), n("stored"));
    assert!(acked > 0, "nothing was acknowledged: {r}");
    // 48 senders against 4 request slots: some requests are refused whatever the machine's speed.
    assert!(refused > 0, "nothing was refused: the flood did not reach the request cap: {r}");
    // Nothing acknowledged is lost, nothing refused is stored.
    assert!(stored >= acked, "{} acknowledged records missing: {r}", acked - stored);
    assert!(stored <= acked + other, "records of refused requests were stored: {r}");
    // The same per record, by the id each one carries (read back through /api/v1/export):
    // every acknowledged record exactly once, none of a refused request, none twice.
    for k in ["acked_missing", "acked_duplicated", "refused_stored", "other_duplicated", "unknown"] {
        assert_eq!(n(k), 0, "{k}: {r}");
    }
    assert_eq!(n("ids_read_back"), stored, "the export read back every stored record: {r}");
    assert_eq!(r["verified"], true, "{r}");
    // Memory bounded by what the configuration lets in: the index writer's budget, a full body
    // for each request in progress, and a generous 256 MiB for the rest (code, readers, queues).
    let http = loglynx_config::HttpConfig::default();
    let store = loglynx_config::StoreConfig::default();
    let bound = (store.writer_memory.0 + MAX_REQUESTS * http.max_body.0 + (256 << 20)) as f64 / f64::from(1 << 20);
    let peak = r["rss_mib_peak"].as_f64().expect("rss_mib_peak");
    assert!(peak <= bound, "RSS peaked at {peak} MiB, over the {bound} MiB the configuration allows: {r}");
}

//! A flood: many more ingest requests than the store can take, for a bounded time, against a
//! running `loglynx run` (bench/loadgen.py, the same tool as the 5-minute `bench/flood.sh`).
//! The server must refuse what it cannot take (503, nothing of the request taken), store every
//! record it acknowledged, store nothing it refused, and keep its memory flat.
//!
//! Lean for CI (`SECONDS`); `bench/flood.sh` runs it for 5 minutes on a release build.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const SECONDS: &str = "20";

#[test]
fn a_flood_is_refused_in_part_never_loses_an_acknowledged_record_and_memory_stays_flat() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(root.join("bench/loadgen.py"))
        .args(["flood", "--bin", env!("CARGO_BIN_EXE_loglynx")])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        // 48 senders of 2000 records against 4 requests in progress at most: most requests are
        // refused at once, the rest wait for the store.
        .args(["--seconds", SECONDS, "--senders", "48", "--batch", "2000", "--max-requests", "4"])
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
    assert!(refused > acked, "the flood did not overload the server (fewer refused than taken): {r}");
    // Nothing acknowledged is lost, nothing refused is stored.
    assert!(stored >= acked, "{} acknowledged records missing: {r}", acked - stored);
    assert!(stored <= acked + other, "records of refused requests were stored: {r}");
    // Memory flat: the last third of the flood peaks no higher than the first third (after
    // warm-up) plus a margin for the store's segment merges.
    let (first, last) = (r["rss_mib_first_third"].as_f64().unwrap(), r["rss_mib_last_third"].as_f64().unwrap());
    assert!(last <= first * 1.5 + 64.0, "RSS grew from {first} MiB to {last} MiB during the flood: {r}");
}

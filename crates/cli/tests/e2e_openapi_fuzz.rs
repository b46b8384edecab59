//! An OpenAPI-driven fuzz of the HTTP API: schemathesis (from PyPI, in the virtual environment
//! `scripts/pyenv.sh --schemathesis` creates when missing) reads docs/openapi.yaml and sends
//! every documented operation its examples and generated requests (hostile strings, extreme
//! numbers, odd bodies) against a running `loglynx run` holding some events. No answer may be a
//! 5xx, every operation of the schema must be exercised, and the server must still answer and
//! stop cleanly after.
//!
//! Lean for CI: a bounded number of generated cases per operation (`MAX_EXAMPLES`); a longer
//! run is `LOGLYNX_SCHEMATHESIS_EXAMPLES=200 cargo test -p loglynx-cli --test e2e_openapi_fuzz`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::Server;

/// Generated cases per operation in CI's run (each of the ~50 operations also gets its examples).
const MAX_EXAMPLES: &str = "8";

fn schemathesis() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("scripts/pyenv.sh"))
        .arg("--schemathesis")
        .status()
        .expect("run scripts/pyenv.sh");
    assert!(
        status.success(),
        "scripts/pyenv.sh --schemathesis failed: it installs schemathesis from PyPI into target/pyenv-schemathesis"
    );
    root.join("target/pyenv-schemathesis/bin/st")
}

/// `key: N` or `key: N/M` of schemathesis' summary, as N.
fn summary_number(out: &str, key: &str) -> Option<u64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|rest| rest.trim().split('/').next()?.trim().parse().ok())
}

#[test]
fn schemathesis_finds_no_server_error_in_any_documented_operation() {
    let st = schemathesis();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    // Some events, so searches, aggregations and exports have data to run over.
    let body: String = (0..200)
        .map(|i| {
            format!(
                "{{\"@timestamp\":\"2024-05-01T10:{:02}:{:02}Z\",\"host.name\":\"web{}\",\"log.level\":\"error\",\"message\":\"disk full n{i}\",\"labels\":{{\"env\":\"prod\"}}}}\n",
                i / 60,
                i % 60,
                i % 3
            )
        })
        .collect();
    server.ingest_ndjson(body);
    server.wait_total("*", 200, Duration::from_secs(30));

    let examples = std::env::var("LOGLYNX_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| MAX_EXAMPLES.into());
    let out = Command::new(&st)
        .arg("run")
        .arg(root.join("docs/openapi.yaml"))
        .args(["--url", format!("http://{}", server.http).as_str()])
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", "examples,fuzzing"])
        .args(["--max-examples", examples.as_str()])
        .args(["--workers", "2", "--request-timeout", "30"])
        // The ndjson bodies (ingest, _bulk, _msearch) need the serializer in this module.
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", root.join("crates/cli/tests/support"))
        .env("NO_COLOR", "1")
        // schemathesis keeps a cache directory in its working directory.
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found failures (a 5xx or a broken request):\n{text}");
    let selected = summary_number(&text, "Selected:").expect("schemathesis summary: Selected");
    let tested = summary_number(&text, "Tested:").expect("schemathesis summary: Tested");
    assert!(selected >= 40, "the schema has fewer operations than expected ({selected}):\n{text}");
    assert_eq!(tested, selected, "operations schemathesis could not exercise:\n{text}");
    assert!(!text.contains("Server error"), "{text}");

    // Still up and serving what it held, then a clean stop.
    assert!(server.total("*") >= 200, "the seeded events are still there");
    server.stop();
}

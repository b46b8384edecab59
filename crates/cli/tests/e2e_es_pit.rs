//! Deep pagination with a point in time and `search_after`: the official `elasticsearch` Python
//! client's documented loop (`open_point_in_time`, `search(pit=..., search_after=...)`,
//! `close_point_in_time`) over more than 100,000 events, with more indexed between its pages,
//! gets every event of the point in time exactly once and none of the new ones; a closed point
//! in time is a 404. `loglynx search --all` walks the same way (newest first) with loglynx's
//! own API. Many events share a timestamp, so pages end inside ties.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Server, BIN};

const CLIENT: &str = include_str!("support/es_pit.py");
/// More than the 100,000-hit window of offset paging.
const N: usize = 100_003;

fn pyenv_python() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("scripts/pyenv.sh")).status().expect("run scripts/pyenv.sh");
    assert!(status.success(), "scripts/pyenv.sh failed: it installs the elasticsearch client from PyPI into target/pyenv");
    root.join("target/pyenv/bin/python")
}

#[test]
fn a_point_in_time_walk_returns_every_event_once_while_ingest_goes_on() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    // Seven events per second: ties on @timestamp that pages cut through.
    let lines: Vec<String> = (0..N)
        .map(|i| {
            let s = i / 7;
            format!(
                "{{\"@timestamp\":\"2024-05-0{}T{:02}:{:02}:{:02}Z\",\"log.level\":\"{}\",\"message\":\"orig {i}\"}}\n",
                1 + s / 86_400,
                (s / 3600) % 24,
                (s / 60) % 60,
                s % 60,
                if i % 10 == 0 { "error" } else { "info" },
            )
        })
        .collect();
    for chunk in lines.chunks(50_000) {
        server.ingest_ndjson(chunk.concat());
    }
    server.wait_total("*", N as u64, Duration::from_secs(120));

    let out = Command::new(&python).args(["-c", CLIENT, &format!("http://{}", server.http)]).output().unwrap();
    assert!(out.status.success(), "client failed: {}", String::from_utf8_lossy(&out.stderr));
    let es: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(es["hits"], N, "{es}");
    assert_eq!(es["distinct_ids"], N, "every event once: {es}");
    assert_eq!(es["originals"], N, "{es}");
    assert_eq!(es["late_seen"], 0, "events indexed during the walk stay out of it: {es}");
    assert_eq!(es["totals"], serde_json::json!([N]), "one total on every page: {es}");
    assert_eq!(es["pages"], N.div_ceil(10_000));
    // The new events were stored meanwhile (and are found outside the point in time).
    let late = es["late_sent"].as_u64().unwrap();
    assert!(late > 0);
    server.wait_total("*", N as u64 + late, Duration::from_secs(60));
    assert_eq!(es["closed"], "search_context_missing_exception");

    // loglynx's own API through the CLI: errors only, newest first, every one once.
    let cli = Command::new(BIN)
        .args(["search", "log.level:error", "--all", "--json", "--page-size", "3000"])
        .args(["--server", &format!("http://{}", server.http)])
        .output()
        .unwrap();
    assert!(cli.status.success(), "search --all: {}", String::from_utf8_lossy(&cli.stderr));
    let events: Vec<Value> = cli
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let errors = N.div_ceil(10);
    assert_eq!(events.len(), errors);
    let msgs: HashSet<&str> = events.iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(msgs.len(), errors, "every error once");
    assert!(events.iter().all(|e| e["log.level"] == "error"));
    let times: Vec<&str> = events.iter().map(|e| e["@timestamp"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // A pit that does not exist, and search_after without one: 4xx that say what to do.
    let r = server.client().get(server.url("/api/v1/search")).query(&[("pit", "nope"), ("limit", "1")]).send().unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("open a new one"));
    let r = server.client().get(server.url("/api/v1/search")).query(&[("search_after", "5")]).send().unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("POST /api/v1/pit"));
}

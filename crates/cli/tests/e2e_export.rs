//! `loglynx export` / `GET /api/v1/export`: every matching event, past the 100,000-hit window of
//! search pagination, each once, with a query and a time range applied like search's; a
//! shutdown during one breaks its body and does not hold the server.

mod support;

use std::collections::HashSet;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Server, BIN};

/// More than the search result window (100,000).
const N: usize = 120_001;

#[test]
fn export_streams_every_matching_event_past_the_search_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    // In requests of 60,000 records, under `http.max_records` (100,000).
    let lines: Vec<String> = (0..N)
        .map(|i| {
            let level = if i % 10 == 0 { "error" } else { "info" };
            format!(
                "{{\"@timestamp\":\"2024-05-01T{:02}:{:02}:{:02}Z\",\"log.level\":\"{level}\",\"message\":\"event {i}\"}}\n",
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    for chunk in lines.chunks(60_000) {
        server.ingest_ndjson(chunk.concat());
    }
    server.wait_total("*", N as u64, Duration::from_secs(120));

    let export = |args: &[&str]| -> Vec<Value> {
        let out = Command::new(BIN)
            .arg("export")
            .args(args)
            .args(["--server", &format!("http://{}", server.http)])
            .output()
            .unwrap();
        assert!(out.status.success(), "export {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    };

    let all = export(&["--quiet"]);
    assert_eq!(all.len(), N);
    let ids: HashSet<&str> = all.iter().map(|e| e["event.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), N, "every event once");

    let errors = export(&["log.level:error", "--since", "2024-05-01T01:00:00Z", "--until", "2024-05-01T02:00:00Z", "--quiet"]);
    let want = server
        .client()
        .get(server.url("/api/v1/search"))
        .query(&[("q", "log.level:error"), ("start", "2024-05-01T01:00:00Z"), ("end", "2024-05-01T02:00:00Z"), ("limit", "0")])
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["total"]
        .as_u64()
        .unwrap();
    assert!(want > 0);
    assert_eq!(errors.len() as u64, want);
    assert!(errors.iter().all(|e| e["log.level"] == "error"));

    let r = server.client().get(server.url("/api/v1/export")).query(&[("q", "host.name:(")]).send().unwrap();
    assert_eq!(r.status(), 400);

    // A shutdown during an export: the body breaks (not a clean end a client could take for a
    // whole export) and the server still exits.
    let mut body = server.client().get(server.url("/api/v1/export")).send().unwrap();
    assert_eq!(body.status(), 200);
    let mut first = vec![0u8; 1 << 20];
    body.read_exact(&mut first).unwrap();
    support::signal(server.child.id(), "TERM");
    let mut rest = Vec::new();
    let end = body.read_to_end(&mut rest);
    let lines = first.iter().chain(&rest).filter(|b| **b == b'\n').count();
    assert!(end.is_err(), "the body ended cleanly after a shutdown, with {lines} of {N} lines");
    let mut server = server;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not exit within 60 s of SIGTERM during an export");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the server exited with {status}");
}

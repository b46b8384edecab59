//! The CLI clients against a running instance: `ingest` (bulk import), `search`, `--version`.

mod support;

use std::io::Write;
use std::process::Command;

use support::{Server, BIN};

fn loglynx(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run loglynx");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ingest_then_search_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    let url = format!("http://{}", server.http);

    // A file of 20,000 lines with a few bad bytes in the middle: all lines are stored.
    let file = dir.path().join("import.log");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..20_000 {
        if i == 777 {
            f.write_all(b"<13>Oct 11 22:14:15 web9 app[1]: climark broken \xff\xfe bytes\n").unwrap();
            continue;
        }
        let level = if i % 4 == 0 { "error" } else { "info" };
        writeln!(f, "level={level} host=web{} msg=\"climark request {i}\"", i % 3).unwrap();
    }
    drop(f);
    let (code, out, err) = loglynx(&["ingest", file.to_str().unwrap(), "--server", &url]);
    assert_eq!(code, 0, "ingest failed: {err}");
    assert!(out.contains("20000 lines, 20000 events accepted, 0 lines rejected"), "summary: {out}");

    // Durable when `ingest` returns: the count is exact at once.
    let (code, out, err) = loglynx(&["search", "climark", "--count", "--server", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "20000");
    let (_, out, _) = loglynx(&["search", "climark AND log.level:error", "--count", "--server", &url]);
    assert_eq!(out.trim(), "5000");
    let (_, out, _) = loglynx(&["search", "log.flags:invalid_utf8", "--count", "--server", &url]);
    assert_eq!(out.trim(), "1");

    // --json: one event per line, newest first, limited.
    let (code, out, _) = loglynx(&["search", "climark", "--json", "--limit", "25", "--server", &url]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 25);
    assert!(lines.iter().all(|e| e["message"].as_str().unwrap().contains("climark")));

    // A bad query exits non-zero with the server's reason.
    let (code, _, err) = loglynx(&["search", "nosuchfield:x", "--server", &url]);
    assert_ne!(code, 0);
    assert!(err.contains("nosuchfield"), "{err}");

    let (code, out, _) = loglynx(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("loglynx "), "{out}");
    server.stop();
}

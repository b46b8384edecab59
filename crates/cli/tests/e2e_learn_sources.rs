//! Issue 9: syslog senders and HTTP streams learn the application layout their messages carry,
//! end to end on the real binary with real sockets: a syslog client over TCP and UDP, an HTTP
//! client posting NDJSON and raw text lines.

mod support;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::{json, Value};
use support::Server;

const WAIT: Duration = Duration::from_secs(60);
const LEVELS: [(&str, &str); 3] = [("INFO", "info"), ("WARN", "warn"), ("ERROR", "error")];

/// Every event matching `q`, checked to carry the level, logger, thread and message its line
/// `i` (the number after `mark`) was written with.
fn assert_read(server: &Server, q: &str, n: usize, logger: &str, mark: &str) {
    let hits = server.all_hits(q);
    assert_eq!(hits.len(), n, "{q}");
    for h in hits {
        let msg = h["message"].as_str().unwrap_or_default();
        let i: usize = msg
            .strip_prefix(mark)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{q}: message {msg:?} still holds its header: {h}"));
        assert_eq!(h["log.level"], LEVELS[i % 3].1, "{h}");
        assert_eq!(h["labels.log.logger"], logger, "{h}");
        assert_eq!(h["labels.process.thread.name"], format!("worker-{}", i % 4), "{h}");
        assert!(h["labels.log.structure"].as_str().is_some_and(|s| s.contains("logger")), "{h}");
    }
}

#[test]
fn syslog_and_http_streams_learn_the_layout_behind_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"]);
    let app = |i: usize, mark: &str| {
        format!("{} [worker-{}] com.acme.Billing: {mark} {i} sent", LEVELS[i % 3].0, i % 4)
    };

    // 1. Syslog over TCP (RFC 5424): the first messages teach the sender's program its layout;
    // the ones after are read with it.
    let mut tcp = TcpStream::connect(server.syslog_tcp.expect("tcp address printed")).unwrap();
    for i in 0..20 {
        write!(tcp, "<13>1 2024-10-11T22:14:15Z web7 billing 9 - - {}\n", app(i, "tcpwarm")).unwrap();
    }
    tcp.flush().unwrap();
    server.wait_total("tcpwarm", 20, WAIT);
    for i in 0..30 {
        write!(tcp, "<13>1 2024-10-11T22:14:16Z web7 billing 9 - - {}\n", app(i, "tcpmark")).unwrap();
    }
    drop(tcp);
    server.wait_total("tcpmark", 30, WAIT);
    assert_read(&server, "tcpmark", 30, "com.acme.Billing", "tcpmark ");
    // The syslog header's time is kept.
    assert_eq!(server.all_hits("tcpmark")[0]["@timestamp"], "2024-10-11T22:14:16Z");
    // Another program of the same sender with plain messages learns nothing from it.
    let mut tcp = TcpStream::connect(server.syslog_tcp.unwrap()).unwrap();
    for i in 0..20 {
        write!(tcp, "<13>1 2024-10-11T22:14:17Z web7 sshd 10 - - Accepted password for root port {i} plainmark\n").unwrap();
    }
    drop(tcp);
    server.wait_total("plainmark", 20, WAIT);
    for h in server.all_hits("plainmark") {
        assert!(h["message"].as_str().unwrap().starts_with("Accepted password"), "{h}");
        assert!(h.get("labels.log.structure").is_none(), "{h}");
    }

    // 2. Syslog over UDP (RFC 3164), a level-first layout with its own time after the header.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.syslog_udp.expect("udp address printed");
    let udp_line = |i: usize, mark: &str| {
        format!(
            "<14>Oct 11 22:14:15 web8 api[77]: {} 2024-10-11 22:14:{:02},123 [worker-{}] com.acme.Api: {mark} {i} served",
            LEVELS[i % 3].0,
            i % 60,
            i % 4
        )
    };
    for i in 0..20 {
        udp.send_to(udp_line(i, "udpwarm").as_bytes(), target).unwrap();
    }
    server.wait_total("udpwarm", 20, WAIT);
    for i in 0..20 {
        udp.send_to(udp_line(i, "udpmark").as_bytes(), target).unwrap();
    }
    server.wait_total("udpmark", 20, WAIT);
    assert_read(&server, "udpmark", 20, "com.acme.Api", "udpmark ");

    // 3. NDJSON over HTTP: a document's `message` carries the app layout; one request is
    // enough (the batch that learns is read again with what it learned).
    let body: String = (0..20)
        .map(|i| {
            json!({"@timestamp": "2024-05-01T11:00:00Z", "event.dataset": "billing", "message": app(i, "ndjsonmark")})
                .to_string()
                + "\n"
        })
        .collect();
    server.ingest_ndjson(body);
    server.wait_total("ndjsonmark", 20, WAIT);
    assert_read(&server, "ndjsonmark", 20, "com.acme.Billing", "ndjsonmark ");

    // 4. Raw text lines over HTTP, the level before the time: learned as a file's lines are.
    let text: String = (0..20)
        .map(|i| {
            format!(
                "{} 2024-05-31 10:00:{:02},250 [worker-{}] com.acme.Web: textmark {i} done\n",
                LEVELS[i % 3].0,
                i % 60,
                i % 4
            )
        })
        .collect();
    let r = server
        .client()
        .post(server.url("/api/v1/ingest"))
        .header("content-type", "text/plain")
        .body(text)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    server.wait_total("textmark", 20, WAIT);
    assert_read(&server, "textmark", 20, "com.acme.Web", "textmark ");
    let first: Value = server.all_hits("textmark AND done").into_iter().find(|h| h["message"] == "textmark 0 done").unwrap();
    assert_eq!(first["@timestamp"], "2024-05-31T10:00:00.250Z");

    // 5. What was learned is listed by the API and by `loglynx sources`, per source.
    let r = server.client().get(server.url("/api/v1/sources/learned")).send().unwrap();
    assert_eq!(r.status(), 200);
    let listed: Value = r.json().unwrap();
    let rows: Vec<(String, String, String, String)> = listed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("source"), s("detail"), s("structure"))
        })
        .collect();
    let has = |kind: &str, source: &str, detail: &str| {
        rows.iter().any(|r| r.0 == kind && r.1 == source && r.2 == detail && r.3.contains("logger"))
    };
    assert!(has("syslog", "billing", "127.0.0.1"), "{rows:?}");
    assert!(has("syslog", "api", "127.0.0.1"), "{rows:?}");
    assert!(has("http_json", "ingest", "billing"), "{rows:?}");
    assert!(has("http_text", "ingest", ""), "{rows:?}");
    assert!(!rows.iter().any(|r| r.1 == "sshd"), "plain messages learn nothing: {rows:?}");
    let out = std::process::Command::new(support::BIN)
        .args(["sources", "--server", &server.url("")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("syslog") && text.contains("billing (127.0.0.1)"), "{text}");
    assert!(text.contains("learned structure: level thread logger message"), "{text}");
    server.stop();
}

/// A `[[syslog.layouts]]` entry gives a sender's program its zone and reads its messages, and a
/// `[[http.layouts]]` entry reads the text lines posted with `?stream=`: configured, not learned.
#[test]
fn configured_layouts_win_for_syslog_senders_and_http_streams() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("loglynx.toml");
    std::fs::write(
        &config,
        r#"
[[syslog.layouts]]
hosts = ["legacy*"]
programs = ["billing"]
timezone = "America/New_York"
pattern = '^(?P<timestamp>[^|]+)\|(?P<level>[^|]*)\|(?P<thread>[^|]*)\|(?P<logger>[^|]*)\|(?P<message>.*)$'
timestamp_format = "%d.%m.%Y %H:%M:%S%.3f"

[[http.layouts]]
streams = ["payments"]
timezone = "+02:00"
timestamp_format = "%d.%m.%Y %H:%M:%S"
"#,
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--config", cfg, "--syslog-udp", "127.0.0.1:0"]);

    // RFC 3164 from legacy1's billing: pipe-delimited messages, times in New York (EDT, UTC-4).
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.syslog_udp.expect("udp address printed");
    for i in 0..12 {
        let line = format!(
            "<14>Oct 11 22:14:{i:02} legacy1 billing[4]: 11.10.2024 22:14:{i:02}.500|{}|pool-{i}|com.acme.Pay|cfgmark {i} declined",
            LEVELS[i % 3].0
        );
        udp.send_to(line.as_bytes(), target).unwrap();
    }
    server.wait_total("cfgmark", 12, WAIT);
    for h in server.all_hits("cfgmark") {
        let msg = h["message"].as_str().unwrap();
        let i: usize = msg.split_whitespace().nth(1).and_then(|d| d.parse().ok()).unwrap_or_else(|| panic!("{h}"));
        assert_eq!(msg, format!("cfgmark {i} declined"), "{h}");
        assert_eq!(h["log.level"], LEVELS[i % 3].1, "{h}");
        assert_eq!(h["labels.log.logger"], "com.acme.Pay", "{h}");
        assert_eq!(h["labels.process.thread.name"], format!("pool-{i}"), "{h}");
        assert_eq!(h["labels.log.layout"], "configured", "{h}");
        assert_eq!(h["@timestamp"], format!("2024-10-12T02:14:{i:02}.500Z"), "{h}");
    }
    // Nothing learned for that stream: the configured layout reads it.
    let listed: Value = server.client().get(server.url("/api/v1/sources/learned")).send().unwrap().json().unwrap();
    assert!(!listed["sources"].as_array().unwrap().iter().any(|r| r["source"] == "billing"), "{listed}");
    assert_eq!(listed["overrides"]["syslog_layouts"][0]["timezone"], "America/New_York", "{listed}");
    assert_eq!(listed["overrides"]["http_layouts"][0]["streams"][0], "payments", "{listed}");

    // Text lines with ?stream=payments: the entry's format and zone.
    let post = |path: &str, body: String| {
        server.client().post(server.url(path)).header("content-type", "text/plain").body(body).send().unwrap()
    };
    let text: String = (0..5).map(|i| format!("31.05.2024 10:00:0{i} WARN [main] c.a.Pay: paymark {i} retried\n")).collect();
    let r = post("/api/v1/ingest?stream=payments", text);
    assert!(r.status().is_success(), "{}", r.status());
    server.wait_total("paymark", 5, WAIT);
    for h in server.all_hits("paymark") {
        let msg = h["message"].as_str().unwrap();
        let i: usize = msg.split_whitespace().nth(1).and_then(|d| d.parse().ok()).unwrap_or_else(|| panic!("{h}"));
        assert_eq!(h["@timestamp"], format!("2024-05-31T08:00:0{i}Z"), "{h}");
        assert_eq!((h["log.level"].as_str(), h["event.dataset"].as_str()), (Some("warn"), Some("custom")), "{h}");
        assert_eq!(h["labels.log.logger"], "c.a.Pay", "{h}");
    }
    // A stream name that cannot be one is refused, saying what is taken; nothing is stored.
    let r = post("/api/v1/ingest?stream=a%7Cb", "badstreammark\n".into());
    assert_eq!(r.status(), 400);
    let e: Value = r.json().unwrap();
    assert!(e["error"]["reason"].as_str().unwrap_or_default().contains("1 to 64 ASCII"), "{e}");
    server.stop();
}

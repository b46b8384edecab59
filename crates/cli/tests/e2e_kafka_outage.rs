//! Broker outages seen by `loglynx agent`, on the real binaries with a real Kafka-protocol
//! broker (Tansu):
//! - the agent starts while no broker is up: it collects into its on-disk buffer, its
//!   checkpoint reaches the end of the files (acknowledged on disk), and once the broker starts
//!   every line reaches the store exactly once;
//! - HTTP ingest while the broker is frozen: requests are accepted (on disk) until the buffer
//!   is full, then answered 503 with `Retry-After` at once; after the broker returns, every
//!   accepted event and the re-sent refused ones are stored exactly once.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use support::kafka::{expected, log_level, stored, worker, write_lines, FILES};
use support::{signal, start_proc_with_ready_line, Proc, Server, Tansu};

/// Worker settings of the other Kafka tests plus a quick switch of the agent to its disk
/// buffer and, when `spool` is set, a small buffer.
fn config(dir: &Path, spool: Option<&str>) -> std::path::PathBuf {
    let p = support::kafka::config(dir);
    let mut text = std::fs::read_to_string(&p).unwrap();
    text = text.replace("[kafka]\n", "[kafka]\nspool_after = \"1s\"\n");
    if let Some(size) = spool {
        text = text.replace("[kafka]\n", &format!("[kafka]\nspool_size = \"{size}\"\n"));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn wait(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn an_agent_started_before_the_broker_buffers_on_disk_then_delivers_every_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    let agent_dir = tmp.path().join("agent");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path(), None);
    let n = 600;
    write_lines(&logs, 0, n);

    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let glob = format!("{}/*.log", logs.display());
    let level = log_level();
    let agent = Proc::start(
        "agent",
        &[
            "agent", "-c", cfg.to_str().unwrap(), "--data-dir", agent_dir.to_str().unwrap(),
            "--brokers", &brokers, "--topic", "e2e-late", "--partitions", "2", "--tail", &glob,
            "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off", "--log", &level,
        ],
        "loglynx agent ready",
    );
    // No broker: every line is acknowledged on disk, so the checkpoint reaches the files' end.
    let file_len = std::fs::metadata(logs.join("f0.log")).unwrap().len();
    wait(Duration::from_secs(60), "the agent to buffer every line on disk", || {
        support::kafka::agent_producer(&agent_dir).is_some_and(|p| {
            p["state"] == "spooling" && p["spool_records"].as_u64() == Some((FILES * n) as u64)
        })
    });
    wait(Duration::from_secs(10), "the checkpoint at the end of every file", || {
        std::fs::read_to_string(agent_dir.join("agent/checkpoint.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|c| {
                let pos = c["positions"].as_object().cloned().unwrap_or_default();
                pos.len() == FILES && pos.values().all(|v| v.as_u64() == Some(file_len))
            })
    });

    // The broker comes up: the buffer drains into the topic the agent creates meanwhile.
    let kafka = Tansu::start_on(port);
    let w = worker(&kafka, &cfg, &data, "e2e-late", "worker");
    let serve = Server::start_serve(&data);
    serve.wait_total("*", (FILES * n) as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), expected(n));
    wait(Duration::from_secs(30), "the buffer drained", || {
        support::kafka::agent_producer(&agent_dir).is_some_and(|p| p["state"] == "direct" && p["spool_records"] == 0)
    });
    agent.stop();
    w.stop();
}

#[test]
fn agent_http_ingest_is_refused_503_when_its_buffer_is_full_and_nothing_accepted_is_lost() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = config(tmp.path(), Some("256KiB"));
    let level = log_level();
    let (agent, line) = start_proc_with_ready_line(
        "agent",
        &[
            "agent", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(),
            "--brokers", &kafka.brokers, "--topic", "e2e-full", "--partitions", "2",
            "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "127.0.0.1:0", "--log", &level,
        ],
        "loglynx agent ready",
    );
    let addr = line.rsplit(' ').next().unwrap().to_string();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let post = |batch: usize| {
        let body: String = (0..200)
            .map(|i| format!("{{\"message\":\"outage b{batch:04} i{i:03} {}\"}}\n", "x".repeat(200)))
            .collect();
        client
            .post(format!("http://{addr}/api/v1/ingest"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .unwrap()
    };
    let msgs = |batch: usize| -> Vec<String> {
        (0..200).map(|i| format!("outage b{batch:04} i{i:03} {}", "x".repeat(200))).collect()
    };

    // One request while the broker is up.
    assert_eq!(post(0).status(), 200);
    signal(kafka.pid(), "STOP");
    let mut accepted = BTreeSet::from([0usize]);
    let mut refused = None;
    for batch in 1..200 {
        let started = Instant::now();
        let r = post(batch);
        match r.status().as_u16() {
            200 => {
                accepted.insert(batch);
            }
            503 => {
                let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
                assert_eq!(retry.as_deref(), Some("5"), "503 without Retry-After");
                let text = r.text().unwrap();
                assert!(text.contains("disk buffer is full"), "{text}");
                assert!(started.elapsed() < Duration::from_secs(10), "the 503 took {:?}", started.elapsed());
                refused = Some(batch);
                break;
            }
            other => panic!("unexpected status {other}: {}", r.text().unwrap_or_default()),
        }
    }
    let refused = refused.expect("the buffer never filled: no 503 after 200 requests");
    assert!(accepted.len() > 1, "nothing was accepted on disk while the broker was frozen");

    signal(kafka.pid(), "CONT");
    // The client sends the refused request again; it goes through once the buffer drains.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = post(refused);
        if r.status() == 200 {
            accepted.insert(refused);
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(Instant::now() < deadline, "the refused request was never taken after the broker came back");
        std::thread::sleep(Duration::from_millis(500));
    }

    let w = worker(&kafka, &cfg, &data, "e2e-full", "worker");
    let serve = Server::start_serve(&data);
    let want: BTreeSet<String> = accepted.iter().flat_map(|b| msgs(*b)).collect();
    serve.wait_total("*", want.len() as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), want);
    agent.stop();
    w.stop();
}

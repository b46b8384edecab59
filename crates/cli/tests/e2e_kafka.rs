//! End to end through a real Kafka-protocol broker (Tansu): `loglynx agent` tails files into a
//! 2-partition topic, two `loglynx worker` processes (one consumer each, one group) index it
//! into shards of one shared data directory, `loglynx serve` searches them. Every line must be
//! searchable exactly once, also when a worker is SIGKILLed mid-ingest and restarted.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use support::{Proc, Server, Tansu};

const FILES: usize = 4;

/// Appends lines `from..to` to each of the files `f0.log` .. `f3.log`.
fn write_lines(dir: &Path, from: usize, to: usize) {
    for f in 0..FILES {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("f{f}.log")))
            .unwrap();
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&format!("kafka e2e f{f} n{i:06}\n"));
        }
        file.write_all(buf.as_bytes()).unwrap();
    }
}

fn expected(n: usize) -> BTreeSet<String> {
    (0..FILES)
        .flat_map(|f| (0..n).map(move |i| format!("kafka e2e f{f} n{i:06}")))
        .collect()
}

/// Every stored message, checking that none is stored twice.
fn stored(serve: &Server) -> BTreeSet<String> {
    let hits = serve.all_hits("*");
    let msgs: Vec<String> = hits
        .iter()
        .map(|h| h["message"].as_str().expect("message").to_string())
        .collect();
    let set: BTreeSet<String> = msgs.iter().cloned().collect();
    assert_eq!(set.len(), msgs.len(), "some lines are stored more than once");
    set
}

/// The processes' log filter: warn, or `LOGLYNX_TEST_LOG` to investigate.
fn log_level() -> String {
    std::env::var("LOGLYNX_TEST_LOG").unwrap_or_else(|_| "warn".into())
}

fn agent(kafka: &Tansu, data: &Path, logs: &Path, topic: &str) -> Proc {
    let glob = format!("{}/*.log", logs.display());
    Proc::start(
        "agent",
        &[
            "agent", "--data-dir", data.to_str().unwrap(), "--brokers", &kafka.brokers,
            "--topic", topic, "--partitions", "2", "--tail", &glob,
            "--syslog-udp", "off", "--syslog-tcp", "off", "--log", &log_level(),
        ],
        "loglynx agent ready",
    )
}

fn worker(kafka: &Tansu, config: &Path, data: &Path, topic: &str, name: &str) -> Proc {
    Proc::start(
        name,
        &[
            "worker", "-c", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap(),
            "--brokers", &kafka.brokers, "--topic", topic, "--group", "e2e", "--consumers", "1",
            "--log", &log_level(),
        ],
        "loglynx worker ready",
    )
}

/// Fast commits; a short session timeout so a dead worker's partitions move quickly; a short
/// `max.poll.interval.ms`, which is also the rebalance timeout: Tansu (0.6) can hold a JoinGroup
/// until then when a member died in the middle of a rebalance.
fn config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("loglynx.toml");
    std::fs::write(
        &p,
        "[store]\ncommit_interval = \"200ms\"\n[kafka]\nsession_timeout = \"6s\"\nmax_poll_interval = \"15s\"\nconsume_batch = 200\n",
    )
    .unwrap();
    p
}

#[test]
fn agent_two_workers_and_serve_store_every_line_exactly_once() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let n = 1500;
    write_lines(&logs, 0, n);

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, "e2e-once");
    let w1 = worker(&kafka, &cfg, &data, "e2e-once", "worker 1");
    let w2 = worker(&kafka, &cfg, &data, "e2e-once", "worker 2");
    let serve = Server::start_serve(&data);

    serve.wait_total("*", (FILES * n) as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), expected(n));
    // One shard per partition, in the shared data directory.
    for p in 0..2 {
        assert!(data.join(format!("shards/e2e-once-{p}/store")).is_dir(), "shard {p} missing");
    }
    // More lines while everything runs.
    write_lines(&logs, n, n + 500);
    serve.wait_total("*", (FILES * (n + 500)) as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), expected(n + 500));

    agent.stop();
    // The agent's checkpoint has every file at its end (every line delivered).
    let ckpt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("agent/agent/checkpoint.json")).unwrap(),
    )
    .unwrap();
    let positions = ckpt["positions"].as_object().unwrap();
    assert_eq!(positions.len(), FILES);
    let file_len = std::fs::metadata(logs.join("f0.log")).unwrap().len();
    assert!(positions.values().all(|v| v.as_u64() == Some(file_len)), "{ckpt}");
    w1.stop();
    w2.stop();
}

//! End to end through a real Kafka-protocol broker (Tansu): `loglynx agent` tails files into a
//! 2-partition topic, two `loglynx worker` processes (one consumer each, one group) index it
//! into shards of one shared data directory, `loglynx serve` searches them. Every line must be
//! searchable exactly once.
//!
//! Needs tansu (`scripts/tansu.sh install`). Faults (killed worker, stopped broker, restarted
//! agent): e2e_kafka_faults.rs.

mod support;

use std::time::Duration;

use support::kafka::{agent, config, expected, stored, worker, write_lines, FILES};
use support::{Server, Tansu};

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
    // Workers tag the events with the detection rules they match (the built-in pack).
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(logs.join("f0.log")).unwrap();
        writeln!(f, "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2").unwrap();
    }
    serve.wait_total("*", (FILES * (n + 500) + 1) as u64, Duration::from_secs(120));
    assert_eq!(serve.total("rule.name:ssh_failed_login AND source.ip:\"173.234.31.186\""), 1);

    agent.stop();
    // The agent's checkpoint has every file at its end (every line delivered).
    let ckpt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("agent/agent/checkpoint.json")).unwrap(),
    )
    .unwrap();
    let positions = ckpt["positions"].as_object().unwrap();
    assert_eq!(positions.len(), FILES);
    let mut lens: Vec<u64> = (0..FILES).map(|f| std::fs::metadata(logs.join(format!("f{f}.log"))).unwrap().len()).collect();
    let mut got: Vec<u64> = positions.values().map(|v| v.as_u64().unwrap()).collect();
    lens.sort();
    got.sort();
    assert_eq!(got, lens, "{ckpt}");
    w1.stop();
    w2.stop();
}

/// Bad input: one worker with three consumers on a two-partition topic. The spare consumer is
/// idle (the worker says so and how to fix it); every line is still stored exactly once.
#[test]
fn more_consumers_than_partitions_is_told_and_still_stores_every_line_once() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let n = 800;
    write_lines(&logs, 0, n);

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, "e2e-spare");
    let level = format!("{},loglynx_bus=info,loglynx=warn", support::kafka::log_level());
    let w = support::Proc::start_logged(
        "worker 3 consumers",
        &[
            "worker", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(),
            "--brokers", &kafka.brokers, "--topic", "e2e-spare", "--group", "e2e-spare",
            "--consumers", "3", "--log", &level,
        ],
        "loglynx worker ready",
    );
    let serve = Server::start_serve(&data);
    serve.wait_total("*", (FILES * n) as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), expected(n));
    w.wait_log(Duration::from_secs(30), "the idle-consumer warning", |lines| {
        lines.iter().any(|l| l.contains("has 2 partitions for 3 consumers") && l.contains("--consumers 2"))
    });
    agent.stop();
    w.stop();
}

//! End to end through a real Kafka-protocol broker (Tansu): `loglynx agent` tails files into a
//! 2-partition topic, two `loglynx worker` processes (one consumer each, one group) index it
//! into shards of one shared data directory, `loglynx serve` searches them. Every line must be
//! searchable exactly once, and serve's `/api/v1/patterns` names the templates the two workers
//! mined apart, with counts that agree with the index.
//!
//! Needs tansu (`scripts/tansu.sh install`). Faults (killed worker, stopped broker, restarted
//! agent): e2e_kafka_faults.rs.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

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
    // One shard generation per partition (`<topic>-<p>-g<start>`), in the shared data directory.
    for p in 0..2 {
        let prefix = format!("e2e-once-{p}-g");
        let found = std::fs::read_dir(data.join("shards"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix) && e.path().join("store").is_dir());
        assert!(found, "shard generation of partition {p} missing");
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
    // Each worker mines its partitions into its own state file; serve merges them by id and
    // counts from the index.
    serve_patterns_agree_with_the_index(&serve, &data, (FILES * (n + 500) + 1) as u64);

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

/// serve's `/api/v1/patterns` over everything: every pattern has its template (from the
/// workers' saved states, which may take a save interval to land), a template appears once
/// however many workers mined it, each count equals a search of its ids, and the counts add up
/// to the `lines` written.
fn serve_patterns_agree_with_the_index(serve: &Server, data: &std::path::Path, lines: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let r = serve
            .client()
            .get(serve.url("/api/v1/patterns"))
            .query(&[("start", "2000-01-01T00:00:00Z"), ("end", "2030-01-01T00:00:00Z"), ("limit", "1000")])
            .send()
            .unwrap();
        assert!(r.status().is_success(), "serve answers /api/v1/patterns: {}", r.status());
        let body: Value = r.json().unwrap();
        let rows = body["patterns"].as_array().unwrap();
        if rows.iter().all(|p| !p["template"].as_str().unwrap().is_empty()) {
            break body;
        }
        assert!(Instant::now() < deadline, "templates still unknown to serve after 60s: {body}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let rows = body["patterns"].as_array().unwrap();
    let templates: BTreeSet<(&str, &str)> =
        rows.iter().map(|p| (p["service"].as_str().unwrap_or(""), p["template"].as_str().unwrap())).collect();
    assert_eq!(templates.len(), rows.len(), "one row per template: {body}");
    let mut sum = 0;
    for p in rows {
        let mut ids = vec![p["id"].as_str().unwrap().to_string()];
        ids.extend(p["former"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()));
        let q = ids.iter().map(|i| format!("pattern.id:{i}")).collect::<Vec<_>>().join(" OR ");
        let count = p["count"].as_u64().unwrap();
        assert_eq!(count, serve.total(&q), "{p}");
        sum += count;
    }
    assert_eq!(sum, lines, "{body}");
    assert_eq!(body["total"].as_u64(), Some(lines));
    let ssh = rows.iter().find(|p| p["template"].as_str().unwrap().contains("Failed password for invalid user")).expect("the sshd template");
    assert_eq!(ssh["count"], 1);
    let kafka: u64 = rows.iter().filter(|p| p["template"].as_str().unwrap().starts_with("kafka e2e")).map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(kafka, lines - 1, "{body}");
    // Two workers, two state files: neither overwrote the other's. A worker saves its miner
    // after its store commits, so the second file may come a moment after the events.
    let states = || -> Vec<String> {
        std::fs::read_dir(data.join("patterns"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.starts_with("worker-") && f.ends_with(".json"))
            .collect()
    };
    serve.wait_for(Duration::from_secs(30), "a miner state file per worker", || states().len() >= 2);
    assert_eq!(states().len(), 2, "{:?}", states());
}

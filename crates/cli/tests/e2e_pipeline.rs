//! Pipeline health end to end on the real binaries and a Kafka-protocol broker (Tansu): an
//! agent, two workers (one consumer each) on a 2-partition topic and `loglynx serve`. What
//! `GET /api/v1/pipeline` and `/metrics` show must match what the workers stored: who owns
//! which partition, committed offsets, lag, group members, rebalance events; and it must follow
//! a worker leaving.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::kafka::{agent_with, config, expected, stored, worker, write_lines, FILES};
use support::{Server, Tansu};

const TOPIC: &str = "e2e-health";

fn status(serve: &Server) -> Value {
    let r = serve
        .client()
        .get(serve.url("/api/v1/pipeline"))
        .send()
        .expect("pipeline request");
    assert!(
        r.status().is_success(),
        "GET /api/v1/pipeline: {}",
        r.status()
    );
    r.json().expect("pipeline json")
}

fn metrics(serve: &Server) -> String {
    serve
        .client()
        .get(serve.url("/metrics"))
        .send()
        .expect("metrics request")
        .text()
        .expect("metrics text")
}

/// Polls `/api/v1/pipeline` until `cond` holds; returns that status. Panics after `timeout`
/// showing the last status.
fn wait_status(
    serve: &Server,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let s = status(serve);
        if cond(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last status: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The ids of the fresh workers.
fn fresh_workers(s: &Value) -> Vec<String> {
    s["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .filter(|w| w["stale"] == false)
        .map(|w| w["id"].as_str().expect("id").to_string())
        .collect()
}

/// `partition -> owner` of the merged view.
fn owners(s: &Value) -> Vec<(i64, String)> {
    s["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                p["partition"].as_i64().expect("partition"),
                p["owner"].as_str().expect("owner").to_string(),
            )
        })
        .collect()
}

/// The id of the worker report with process id `pid`.
fn id_of(s: &Value, pid: u32) -> String {
    s["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["pid"] == pid)
        .and_then(|w| w["id"].as_str())
        .unwrap_or_else(|| panic!("no report of pid {pid} in {s:#}"))
        .to_string()
}

/// The committed offset of a partition entry (`null`: its shard holds nothing yet, 0).
fn committed(p: &Value) -> i64 {
    p["committed"].as_i64().unwrap_or(0)
}

/// Both partitions owned, `n` records committed, high watermarks fetched since and no lag.
/// (The keys are file paths under a random directory: one partition may get no line.)
fn settled(s: &Value, n: i64) -> bool {
    let parts = s["partitions"].as_array().expect("partitions");
    parts.len() == 2
        && parts.iter().map(committed).sum::<i64>() == n
        && parts
            .iter()
            .all(|p| p["lag"] == 0 && p["high_watermark"] == committed(p))
}

#[test]
fn pipeline_status_and_metrics_follow_the_workers() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let lines = 400;
    let n = (FILES * lines) as i64;
    write_lines(&logs, 0, lines);

    // The agent shares the workers' data directory, so serve sees its report too; its HTTP
    // ingest is off (no fixed port taken).
    let agent_cfg = tmp.path().join("agent.toml");
    std::fs::write(&agent_cfg, "[http]\nagent_listen = \"off\"\n").unwrap();
    let agent = agent_with(&kafka, &data, &logs, TOPIC, Some(&agent_cfg));
    let w1 = worker(&kafka, &cfg, &data, TOPIC, "worker 1");
    let w2 = worker(&kafka, &cfg, &data, TOPIC, "worker 2");
    let serve = Server::start_serve(&data);
    serve.wait_total("*", n as u64, Duration::from_secs(120));
    assert_eq!(stored(&serve), expected(lines));

    // The reports follow within a few report intervals: both workers, one partition each.
    let s = wait_status(
        &serve,
        Duration::from_secs(60),
        "two workers owning one partition each, no lag",
        |s| {
            let workers = fresh_workers(s);
            let owners = owners(s);
            workers.len() == 2
                && settled(s, n)
                && owners.iter().all(|(_, o)| workers.contains(o))
                && owners[0].1 != owners[1].1
                && s["agents"][0]["producer"]["delivered"] == n
        },
    );
    eprintln!("pipeline status: {s:#}");
    assert_eq!(s["enabled"], true);
    assert_eq!(s["topic"], TOPIC);
    assert_eq!(s["group"], "e2e");
    assert_eq!(s["totals"]["members"], 2);
    assert_eq!(s["totals"]["workers"], 2);
    assert_eq!(s["totals"]["lag"], 0);
    assert_eq!(s["totals"]["agents"], 1);
    assert_eq!(s["totals"]["missing"], 0, "no offset given up: {s:#}");
    assert_eq!(s["agents"][0]["pid"], agent.pid(), "{s:#}");
    assert_eq!(s["agents"][0]["producer"]["delivered"], n, "{s:#}");
    let (id1, id2) = (id_of(&s, w1.pid()), id_of(&s, w2.pid()));
    assert_eq!(owners(&s).len(), 2);
    for p in s["partitions"].as_array().unwrap() {
        assert_eq!(p["topic"], TOPIC);
        assert_eq!(p["high_watermark"], committed(p), "{p}");
        assert_eq!(p["position"], committed(p), "{p}");
        assert_eq!(p["missing"], 0, "{p}");
        // Listed by exactly one fresh worker's own report.
        let claimed = s["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                w["consumer"]["partitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["partition"] == p["partition"])
            })
            .count();
        assert_eq!(claimed, 1, "partition {p} in {s:#}");
    }
    let rebalances = s["rebalances"].as_array().expect("rebalances");
    assert!(
        rebalances.iter().any(|e| e["kind"] == "assign"
            && (e["worker"] == id1.as_str() || e["worker"] == id2.as_str())),
        "no assign event in {s:#}"
    );
    assert!(
        rebalances
            .windows(2)
            .all(|w| w[0]["at_ms"].as_u64() <= w[1]["at_ms"].as_u64()),
        "rebalances not oldest first: {s:#}"
    );

    let m = metrics(&serve);
    for line in [
        format!("loglynx_kafka_consumer_lag{{topic=\"{TOPIC}\",partition=\"0\"}} 0"),
        format!("loglynx_kafka_consumer_lag{{topic=\"{TOPIC}\",partition=\"1\"}} 0"),
        "loglynx_kafka_group_members{group=\"e2e\"} 2".to_string(),
        format!("loglynx_kafka_report_stale{{role=\"worker\",id=\"{id1}\"}} 0"),
        format!("loglynx_kafka_missing_offsets_total{{worker=\"{id1}\"}} 0"),
        format!("loglynx_kafka_partition_missing_offsets{{topic=\"{TOPIC}\",partition=\"0\"}} 0"),
        format!("loglynx_kafka_skipped_records_total{{worker=\"{id2}\",reason=\"resent\"}} 0"),
    ] {
        assert!(
            m.lines().any(|l| l == line),
            "{line:?} not in /metrics:\n{m}"
        );
    }
    assert_eq!(
        m.matches("# TYPE loglynx_kafka_partition_owner gauge")
            .count(),
        1,
        "{m}"
    );
    assert_eq!(
        m.lines()
            .filter(|l| l.starts_with("loglynx_kafka_partition_owner{"))
            .count(),
        2,
        "{m}"
    );

    // Worker 1 leaves cleanly: its report goes and worker 2 takes both partitions.
    let report1 = data.join(format!("health/worker-{id1}.json"));
    assert!(report1.is_file(), "{} missing", report1.display());
    w1.stop();
    assert!(
        !report1.exists(),
        "the report of a stopped worker must be removed"
    );
    // More lines, to see that the survivor indexes both partitions.
    write_lines(&logs, lines, lines + 100);
    let n = (FILES * (lines + 100)) as i64;
    let s = wait_status(
        &serve,
        Duration::from_secs(90),
        "worker 2 owning both partitions",
        |s| {
            fresh_workers(s) == vec![id2.clone()]
                && owners(s) == vec![(0, id2.clone()), (1, id2.clone())]
                && settled(s, n)
        },
    );
    assert_eq!(s["workers"].as_array().unwrap().len(), 1, "{s:#}");
    assert_eq!(s["totals"]["members"], 1);
    assert!(s["rebalances"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["worker"] == id2.as_str() && e["kind"] == "assign"));
    serve.wait_total("*", n as u64, Duration::from_secs(60));
    assert_eq!(stored(&serve), expected(lines + 100));
    let m = metrics(&serve);
    assert!(
        m.lines()
            .any(|l| l == "loglynx_kafka_group_members{group=\"e2e\"} 1"),
        "{m}"
    );

    agent.stop();
    w2.stop();
    assert!(!data.join(format!("health/worker-{id2}.json")).exists());
}

//! HTTP ingest into `loglynx agent` through a real Kafka-protocol broker (Tansu): NDJSON,
//! Elasticsearch `_bulk` and OTLP/HTTP (`/v1/logs`) requests are answered only once their records are delivered (the
//! agent's own `/metrics` already counts them when the reply arrives); a worker and
//! `loglynx serve` then find every accepted event exactly once. The agent's OTLP/gRPC
//! listener takes the Python OpenTelemetry SDK's gRPC exporter too. The agent, the worker and
//! serve share one data directory, where the agent keeps its health report while it runs.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::kafka::{config, log_level, worker};
use support::{otel_send, pyenv_python, start_proc_with_startup, Proc, Server, Tansu};

const TOPIC: &str = "e2e-http";

/// `loglynx agent` with HTTP ingest and OTLP/gRPC on free ports and no other source; returns
/// it with the HTTP address it printed on its ready line and the gRPC one printed before.
fn agent(kafka: &Tansu, data: &Path) -> (Proc, SocketAddr, String) {
    let level = log_level();
    let (p, line, startup) = start_proc_with_startup(
        "agent",
        &[
            "agent",
            "--data-dir",
            data.to_str().unwrap(),
            "--brokers",
            &kafka.brokers,
            "--topic",
            TOPIC,
            "--partitions",
            "2",
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
            "--http",
            "127.0.0.1:0",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--log",
            &level,
        ],
        "loglynx agent ready",
    );
    let prefix = format!("loglynx agent ready: topic {TOPIC} http ");
    let addr = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("no address in the ready line {line:?}: {e}"));
    let grpc = startup
        .iter()
        .find_map(|l| l.strip_prefix("otlp grpc: "))
        .unwrap_or_else(|| panic!("no otlp grpc address before the ready line: {startup:?}"))
        .to_string();
    (p, addr, grpc)
}

/// The value of the series `name{labels...}` (or `name`) whose line contains `label`.
fn metric(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Agent {
    base: String,
    client: reqwest::blocking::Client,
}

impl Agent {
    fn post(&self, path: &str, body: String) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .expect("post to the agent");
        let status = r.status().as_u16();
        (status, r.json().expect("json reply"))
    }

    fn metrics(&self) -> String {
        let r = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .expect("agent /metrics");
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    }

    /// Records the agent has delivered to Kafka or holds in its disk buffer (both count as
    /// accepted: the acks fire then).
    fn durable(&self) -> f64 {
        let m = self.metrics();
        let produced = metric(&m, "loglynx_kafka_produced_records_total", "agent=")
            .unwrap_or_else(|| panic!("no loglynx_kafka_produced_records_total in\n{m}"));
        let spooled = metric(&m, "loglynx_kafka_spool_records", "agent=").unwrap_or(0.0);
        produced + spooled
    }
}

#[test]
fn http_ingest_into_the_agent_is_delivered_then_stored_exactly_once() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = config(tmp.path());
    let python = pyenv_python();
    let (agent_proc, addr, grpc) = agent(&kafka, &data);
    let agent = Agent {
        base: format!("http://{addr}"),
        client: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap(),
    };
    let mut expected = BTreeSet::new();

    // 500 NDJSON lines in 5 requests; each reply comes once its records are delivered.
    for r in 0..5 {
        let mut body = String::new();
        for i in 0..100 {
            let msg = format!("agent http ndjson r{r} n{i:03}");
            body.push_str(&json!({"message": msg, "service.name": "e2e"}).to_string());
            body.push('\n');
            expected.insert(msg);
        }
        let (status, v) = agent.post("/api/v1/ingest", body);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["accepted"], 100, "{v}");
        let durable = agent.durable();
        assert!(
            durable >= (100 * (r + 1)) as f64,
            "answered before delivery: {durable}"
        );
    }

    // An Elasticsearch bulk of 100 documents.
    let mut bulk = String::new();
    for i in 0..100 {
        let msg = format!("agent http bulk n{i:03}");
        bulk.push_str("{\"index\":{\"_index\":\"e2e\"}}\n");
        bulk.push_str(&json!({"message": msg}).to_string());
        bulk.push('\n');
        expected.insert(msg);
    }
    let (status, v) = agent.post("/_bulk", bulk);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["errors"], false, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 100);
    assert!(agent.durable() >= 600.0);

    // 50 OpenTelemetry log records over OTLP/HTTP (JSON): answered once delivered too.
    let records: Vec<Value> = (0..50)
        .map(|i| {
            let msg = format!("agent otlp n{i:03}");
            expected.insert(msg.clone());
            json!({"severityNumber": 9, "body": {"stringValue": msg}})
        })
        .collect();
    let otlp = json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "e2e-otel"}}]},
        "scopeLogs": [{"logRecords": records}]}]});
    let r = agent
        .client
        .post(format!("{}/v1/logs", agent.base))
        .header("content-type", "application/json")
        .body(otlp.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap(), json!({}));
    assert!(agent.durable() >= 650.0);

    // A bad line is named; the good lines around it are kept (as with `run`).
    let body =
        "{\"message\":\"agent http mixed a\"}\n{not json\n{\"message\":\"agent http mixed b\"}\n";
    let (status, v) = agent.post("/api/v1/ingest", body.to_string());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected_count"], 1, "{v}");
    assert_eq!(v["rejected"][0]["line"], 2, "{v}");
    expected.insert("agent http mixed a".to_string());
    expected.insert("agent http mixed b".to_string());
    // Only bad lines: 400 naming each.
    let (status, v) = agent.post("/api/v1/ingest", "[1]\n".to_string());
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["rejected"][0]["line"], 1, "{v}");

    // The agent's /metrics: Kafka delivery and the ingest counters.
    let m = agent.metrics();
    let produced = metric(&m, "loglynx_kafka_produced_records_total", "agent=").unwrap();
    assert!(produced >= 652.0, "{m}");
    assert_eq!(
        metric(&m, "loglynx_events_ingested_total", "endpoint=\"otlp\""),
        Some(50.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "loglynx_events_ingested_total", "endpoint=\"ingest\""),
        Some(502.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "loglynx_events_ingested_total", "endpoint=\"bulk\""),
        Some(100.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "loglynx_ingest_rejected_total", "endpoint=\"ingest\""),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "loglynx_ingest_requests_total", "endpoint=\"ingest\""),
        Some(7.0),
        "{m}"
    );

    // Its health report is in the shared data directory while it runs.
    let health = data.join("health");
    let reports = || -> Vec<Value> {
        std::fs::read_dir(&health)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("agent-"))
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .filter_map(|e| std::fs::read(e.path()).ok())
                    .filter_map(|b| serde_json::from_slice(&b).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = reports();
        if r.len() == 1 && r[0]["producer"]["delivered"].as_u64() >= Some(652) {
            assert_eq!(r[0]["role"], "agent");
            assert_eq!(r[0]["topic"], TOPIC);
            assert_eq!(r[0]["pid"], agent_proc.pid());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no agent health report: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The Python OpenTelemetry SDK's gRPC exporter: three records, each export accepted.
    let (trace, _) = otel_send(&python, "grpc", &format!("http://{grpc}"), "e2e-agent-grpc");
    for m in ["order o-1 received", "payment retried for order o-1", "payment declined for order o-1"] {
        expected.insert(m.to_string());
    }

    // A worker indexes the topic; serve finds every accepted event exactly once.
    let w = worker(&kafka, &cfg, &data, TOPIC, "worker");
    let serve = Server::start_serve(&data);
    serve.wait_total("*", expected.len() as u64, Duration::from_secs(120));
    let msgs: Vec<String> = serve
        .all_hits("*")
        .iter()
        .map(|h| h["message"].as_str().expect("message").to_string())
        .collect();
    let got: BTreeSet<String> = msgs.iter().cloned().collect();
    assert_eq!(got.len(), msgs.len(), "some events are stored twice");
    assert_eq!(got, expected);
    assert_eq!(serve.total("labels.index:e2e"), 100);
    // The gRPC records with their trace id, severity and resource.
    let body = serve.search(&format!("labels.trace.id:{trace}"), 10, 0, "asc");
    let levels: BTreeSet<&str> = body["hits"].as_array().unwrap().iter().map(|h| h["log.level"].as_str().unwrap()).collect();
    assert_eq!(levels, BTreeSet::from(["info", "warn", "error"]), "{body}");
    assert_eq!(serve.total("labels.run:e2e-agent-grpc AND service.name:checkout-grpc"), 3);

    agent_proc.stop();
    assert!(
        reports().is_empty(),
        "the agent's health report outlived it"
    );
    w.stop();
}

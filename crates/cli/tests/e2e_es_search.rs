//! Elasticsearch-compatible search with the official `elasticsearch` Python client (8.x, whose
//! product check loglynx passes): searches, aggregations (date_histogram, terms, min, max, avg,
//! sum, cardinality), `_msearch` with the bodies Grafana's
//! data source sends, `_mapping`, `_field_caps` and a refused unsupported query, each compared
//! with what loglynx's own API says about the same events.
//!
//! The client comes from PyPI in the virtual environment `scripts/pyenv.sh` creates when missing.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::Server;

const CLIENT: &str = include_str!("support/es_client.py");
/// Events ingested: one every 7 s from 2024-05-01T10:00:00Z.
const N: usize = 600;
const START_MS: i64 = 1_714_557_600_000;

fn events() -> String {
    let words = ["disk full on /var", "upstream timeout", "request ok"];
    let levels = ["info", "warn", "error", "info", "debug"];
    let mut out = String::new();
    for i in 0..N {
        let ts = chrono::DateTime::from_timestamp_millis(START_MS + i as i64 * 7_000).unwrap();
        let mut e = json!({
            "@timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "host.name": format!("web{}", i % 3),
            "log.level": levels[i % 5],
            "message": format!("{} n{i}", words[i % 3]),
            "process.pid": 100 + (i * 13) % 50,
        });
        if i % 4 == 0 {
            e["source.ip"] = json!(format!("10.0.0.{}", i % 7));
        }
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out
}

fn pyenv_python() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = Command::new(root.join("scripts/pyenv.sh")).status().expect("run scripts/pyenv.sh");
    assert!(status.success(), "scripts/pyenv.sh failed: it installs the elasticsearch client from PyPI into target/pyenv");
    root.join("target/pyenv/bin/python")
}

fn get(server: &Server, path: &str, params: &[(&str, &str)]) -> Value {
    let r = server.client().get(server.url(path)).query(params).send().unwrap();
    assert!(r.status().is_success(), "{path} {params:?}: {}", r.status());
    r.json().unwrap()
}

#[test]
fn the_python_elasticsearch_client_gets_loglynx_numbers() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--syslog-udp", "off", "--syslog-tcp", "off"]);
    let r = server
        .client()
        .post(server.url("/api/v1/ingest"))
        .header("content-type", "application/x-ndjson")
        .body(events())
        .send()
        .unwrap();
    assert!(r.status().is_success());
    server.wait_total("*", N as u64, Duration::from_secs(30));

    let (from, to) = (START_MS + 600_000, START_MS + 3_000_000);
    let out = Command::new(&python)
        .args(["-c", CLIENT, &format!("http://{}", server.http), &from.to_string(), &to.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "client failed: {}", String::from_utf8_lossy(&out.stderr));
    let es: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = |q: &str| server.total(q);

    assert_eq!(es["info"], "8.11.0");
    assert_eq!(es["query_string"], total("timeout AND host.name:web1"));
    let bool_total = get(
        &server,
        "/api/v1/search",
        &[("q", "host.name:web0 AND NOT log.level:info"), ("start", "2024-05-01T10:10:00Z"), ("end", "2024-05-01T10:40:00Z"), ("limit", "1")],
    )["total"]
        .clone();
    assert_eq!(es["bool"], bool_total);
    assert_eq!(es["match_phrase"], total("\"disk full\""));
    assert_eq!(es["match"], total("disk OR timeout"));
    assert_eq!(es["exists"], total("source.ip:*"));
    assert_eq!(es["exists"], json!(N / 4));
    assert_eq!(es["terms"], total("log.level:(warn OR error)"));
    assert_eq!(es["should"], total("host.name:web2 OR \"disk full\""));
    for (name, v) in es.as_object().unwrap() {
        if v.is_u64() {
            assert!(v.as_u64().unwrap() > 0, "{name} matched nothing: the comparison would prove little");
        }
    }

    let page = get(&server, "/api/v1/search", &[("q", "*"), ("limit", "5"), ("offset", "3"), ("sort", "asc")]);
    let ids: Vec<&Value> = page["hits"].as_array().unwrap().iter().map(|h| &h["event.id"]).collect();
    assert_eq!(es["page"].as_array().unwrap().iter().collect::<Vec<_>>(), ids);
    assert_eq!(es["capped"], json!({"value": 100, "relation": "gte"}));

    let hist = get(&server, "/api/v1/histogram", &[("q", "*"), ("interval", "10m")]);
    for b in hist["buckets"].as_array().unwrap() {
        let key = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp_millis();
        assert_eq!(es["histogram"][key.to_string()], b["count"], "bucket {key}");
    }
    assert_eq!(es["histogram"].as_object().unwrap().len(), hist["buckets"].as_array().unwrap().len());
    let hosts = get(&server, "/api/v1/terms", &[("q", "*"), ("field", "host.name"), ("size", "2")]);
    for b in hosts["buckets"].as_array().unwrap() {
        assert_eq!(es["hosts"]["buckets"][b["value"].as_str().unwrap()], b["count"]);
    }
    assert_eq!(es["hosts"]["other"], hosts["other"]);
    // Elasticsearch's other count leaves out the events without the field.
    let ips = get(&server, "/api/v1/terms", &[("q", "*"), ("field", "source.ip"), ("size", "1")]);
    let top = ips["buckets"][0]["count"].as_u64().unwrap();
    assert_eq!(es["ips"]["other"], json!(N as u64 / 4 - top));

    // Grafana's time series: errors per 10 minutes inside its time range.
    let errors = get(
        &server,
        "/api/v1/histogram",
        &[("q", "log.level:error AND @timestamp:>=1714558200000 AND @timestamp:<=1714560600000"), ("interval", "10m")],
    );
    let want: serde_json::Map<String, Value> = errors["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["count"].as_u64() > Some(0))
        .map(|b| {
            let key = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp_millis();
            (key.to_string(), b["count"].clone())
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(es["grafana_series"], Value::Object(want));
    let logs_total = total("timeout AND @timestamp:>=1714558200000 AND @timestamp:<=1714560600000");
    assert_eq!(es["grafana_logs"]["total"], logs_total);
    assert_eq!(es["grafana_logs"]["hits"], logs_total.min(500));
    let newest = &es["grafana_logs"]["newest_first"];
    assert!(newest[0].as_str() > newest[1].as_str(), "{newest}");

    assert!(es["unsupported"].as_str().unwrap().contains("unsupported query type [wildcard]"), "{es}");
    assert!(es["unsupported_agg"].as_str().unwrap().contains("unsupported aggregation type [percentiles]"), "{es}");

    // min / max / avg / sum / cardinality against the exact value counts of /api/v1/terms.
    let counts = |field: &str| -> Vec<(String, u64)> {
        get(&server, "/api/v1/terms", &[("q", "*"), ("field", field), ("size", "10000")])["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["value"].as_str().unwrap().to_string(), b["count"].as_u64().unwrap()))
            .collect()
    };
    let pids: Vec<(u64, u64)> = counts("process.pid").into_iter().map(|(v, c)| (v.parse().unwrap(), c)).collect();
    let (n, sum) = pids.iter().fold((0, 0), |(n, s), (v, c)| (n + c, s + v * c));
    let m = &es["metrics"];
    assert_eq!(m["min_pid"], json!(pids.iter().map(|p| p.0).min().unwrap() as f64));
    assert_eq!(m["max_pid"], json!(pids.iter().map(|p| p.0).max().unwrap() as f64));
    assert_eq!(m["sum_pid"], json!(sum as f64));
    assert_eq!(m["avg_pid"], json!(sum as f64 / n as f64));
    assert_eq!(m["hosts_n"], json!(counts("host.name").len()));
    assert_eq!(m["ips_n"], json!(counts("source.ip").len()));
    assert_eq!(m["hosts_n"], json!(3));
    assert_eq!(es["mapping"], "keyword");
    assert_eq!(es["field_caps"], true);
}

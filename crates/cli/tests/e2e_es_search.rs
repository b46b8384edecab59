//! Elasticsearch-compatible search with the official `elasticsearch` Python client (8.x, whose
//! product check loglynx passes): searches, aggregations (date_histogram, terms, min, max, avg,
//! sum, value_count, cardinality) and sub-aggregations, `_msearch` with the bodies Grafana's
//! data source sends (its logs, time series, "metric per bucket" and "group by" requests),
//! `_mapping`, `_field_caps` and refused unsupported parts, each compared with what loglynx's
//! own API says about the same events.
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

    // A named zone: New York's local day (00:00 EDT is 04:00Z), the same bucket as the own
    // API's `tz=`, its key written with the day's offset.
    let ny = get(&server, "/api/v1/histogram", &[("q", "*"), ("interval", "1d"), ("tz", "America/New_York")]);
    let own_days: Vec<Value> = ny["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let key = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp_millis();
            json!([key, "2024-05-01T00:00:00.000-04:00", b["count"]])
        })
        .collect();
    assert_eq!(es["new_york_days"], Value::Array(own_days));
    assert_eq!(es["new_york_days"][0][0], json!(START_MS - 6 * 3_600_000), "local midnight is 04:00Z");
    assert_eq!(es["new_york_days"][0][2], json!(N));
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

    // Grafana's sub-aggregations: each bucket's numbers against loglynx's own API over the
    // bucket (its time range and / or its term).
    let range_q = format!("@timestamp:>={from} AND @timestamp:<={to}");
    let pid_values = |q: &str, start: Option<i64>| -> Vec<(u64, u64)> {
        let (s, e) = (start.map(|k| k.to_string()), start.map(|k| (k + 600_000).to_string()));
        let mut params = vec![("q", q), ("field", "process.pid"), ("size", "10000")];
        if let (Some(s), Some(e)) = (&s, &e) {
            params.push(("start", s));
            params.push(("end", e));
        }
        get(&server, "/api/v1/terms", &params)["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["value"].as_str().unwrap().parse().unwrap(), b["count"].as_u64().unwrap()))
            .collect()
    };
    let max = |v: &[(u64, u64)]| v.iter().map(|p| p.0).max().map(|m| json!(m as f64)).unwrap_or(Value::Null);
    let min = |v: &[(u64, u64)]| v.iter().map(|p| p.0).min().map(|m| json!(m as f64)).unwrap_or(Value::Null);
    let own_hist = |q: &str| -> Vec<(i64, u64)> {
        get(&server, "/api/v1/histogram", &[("q", q), ("interval", "10m")])["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let key = chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp_millis();
                (key, b["count"].as_u64().unwrap())
            })
            .collect()
    };
    let multi = es["grafana_multi"].as_object().unwrap();
    let all_buckets = own_hist(&range_q);
    assert_eq!(multi.len(), all_buckets.len(), "{multi:?}");
    for (key, count) in &all_buckets {
        let pids = pid_values(&range_q, Some(*key));
        assert_eq!(multi[&key.to_string()], json!([count, max(&pids)]), "bucket {key}");
    }
    assert_eq!(es["grafana_multi_keys"][0], json!(all_buckets[0].0.to_string()), "format epoch_millis");
    assert_eq!(es["grafana_simple_order"], json!(["web2", "web1", "web0"]), "_key desc");
    for host in ["web0", "web1", "web2"] {
        let q = format!("host.name:{host} AND {range_q}");
        let buckets = own_hist(&q);
        assert!(buckets.iter().any(|b| b.1 > 0));
        let simple = es["grafana_simple"][host].as_object().unwrap();
        let complex = es["grafana_complex"][host].as_object().unwrap();
        assert_eq!(simple.len(), buckets.len(), "{host}: {simple:?}");
        for (key, count) in &buckets {
            assert_eq!(simple[&key.to_string()], json!(count), "{host} {key}");
            let pids = pid_values(&q, Some(*key));
            assert_eq!(complex[&key.to_string()], json!([count, max(&pids), min(&pids)]), "{host} {key}");
        }
        // Two levels of terms: the two first levels by key, each with avg pid and source.ip count.
        let levels = get(&server, "/api/v1/terms", &[("q", &format!("host.name:{host}")), ("field", "log.level"), ("size", "10")]);
        let mut names: Vec<&str> = levels["buckets"].as_array().unwrap().iter().map(|b| b["value"].as_str().unwrap()).collect();
        names.sort();
        let got = es["two_terms"][host].as_object().unwrap();
        assert_eq!(got.keys().map(String::as_str).collect::<Vec<_>>(), names[..2].to_vec());
        for level in &names[..2] {
            let q = format!("host.name:{host} AND log.level:{level}");
            let pids = pid_values(&q, None);
            let (n, sum) = pids.iter().fold((0, 0), |(n, s), (v, c)| (n + c, s + v * c));
            let ips = total(&format!("{q} AND source.ip:*"));
            assert_eq!(got[*level], json!([n, sum as f64 / n as f64, ips]), "{host} {level}");
        }
    }
    // Terms ordered by a metric: the hosts by their largest pid, descending (ties by name).
    let by_max: Vec<(String, f64)> = es["order_by_max"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b[0].as_str().unwrap().to_string(), b[1].as_f64().unwrap()))
        .collect();
    assert!(!by_max.is_empty(), "{es}");
    for (host, max) in &by_max {
        let largest = pid_values(&format!("host.name:{host}"), None).iter().map(|(v, _)| *v).max().unwrap();
        assert_eq!(*max, largest as f64, "{host}");
    }
    assert!(by_max.windows(2).all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)), "{by_max:?}");

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

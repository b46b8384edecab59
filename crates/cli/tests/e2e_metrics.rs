//! `/metrics` as Prometheus and Grafana see it: a running `loglynx run` is scraped and the body
//! parsed by Prometheus's own Python client (`prometheus_client`, PyPI, in the venv
//! `scripts/pyenv.sh` makes); the counters move by exactly what was ingested; every series
//! follows the naming conventions and is in docs/METRICS.md; every metric the Grafana dashboard
//! (docs/grafana-dashboard.json) queries is documented and served, and each of its
//! Elasticsearch panels, sent as the `_msearch` body Grafana's data source sends, answers with
//! the numbers of loglynx's own API (no Grafana binary is reachable from this machine: not in
//! Debian, npm or PyPI).
//! The network monitor's series are checked by e2e_quickstart (it needs root). The syslog
//! servers' are checked here with a client too slow for `syslog.read_timeout`.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use support::metrics::{dashboard, documented, metric_names, targets, Scrape};
use support::{pyenv_python, Server};

const WAIT: Duration = Duration::from_secs(30);

/// Series a plain `loglynx run` has no sample of: the Kafka pipeline's (from agents' and
/// workers' reports), the network monitor's (`--tcp-states`) and per-rule matches (once a
/// rule matched).
fn conditional(name: &str) -> bool {
    name.starts_with("loglynx_kafka_")
        || name.starts_with("loglynx_netmon_")
        || name == "loglynx_detect_rule_matches_total"
}

#[test]
fn metrics_parse_with_prometheus_client_and_counters_move_with_ingest() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let before = Scrape::of(&server, &python);

    let n = 25;
    let body: String = (0..n)
        .map(|i| format!("{{\"message\": \"metricsmark {i}\"}}\n"))
        .collect();
    server.ingest_ndjson(body);
    server.wait_total("metricsmark", n, WAIT);
    // Searchable means committed: the store's counters have moved too.
    let after = Scrape::of(&server, &python);

    let moved = |name: &str, labels: &[(&str, &str)]| {
        after
            .value(name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?} missing"))
            - before.value(name, labels).unwrap_or(0.0)
    };
    let n = n as f64;
    assert_eq!(
        moved("loglynx_events_ingested_total", &[("endpoint", "ingest")]),
        n
    );
    assert_eq!(
        moved("loglynx_ingest_requests_total", &[("endpoint", "ingest")]),
        1.0
    );
    assert_eq!(moved("loglynx_pipeline_events_total", &[]), n);
    assert_eq!(moved("loglynx_store_docs_indexed_total", &[]), n);
    assert_eq!(after.value("loglynx_store_docs", &[]), Some(n));
    assert!(moved("loglynx_store_commits_total", &[]) >= 1.0);
    assert_eq!(
        moved(
            "loglynx_http_requests_total",
            &[("route", "/api/v1/ingest"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            "loglynx_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    // Conventions: the prefix, counters end in _total, base units, all documented.
    let docs = documented();
    for fam in &after.0 {
        let name = fam["name"].as_str().unwrap();
        assert!(
            name.starts_with("loglynx_"),
            "{name}: every series starts with loglynx_"
        );
        for unit in [
            "_ms",
            "_milliseconds",
            "_kb",
            "_mb",
            "_kib",
            "_mib",
            "_percent",
        ] {
            assert!(
                !name.contains(unit),
                "{name}: base units (_seconds, _bytes, ratios)"
            );
        }
        for s in fam["samples"].as_array().unwrap() {
            let sample = s["name"].as_str().unwrap();
            if fam["type"] == "counter" {
                assert!(
                    sample.ends_with("_total"),
                    "{sample}: a counter ends in _total"
                );
            } else {
                assert!(
                    !sample.ends_with("_total"),
                    "{sample}: only counters end in _total"
                );
            }
            assert!(
                docs.contains(sample),
                "{sample} is served but not listed in docs/METRICS.md"
            );
        }
    }

    // The dashboard: its metrics are documented and served, its log queries run.
    let served = after.sample_names();
    let dash = dashboard();
    let (mut prom, mut es) = (0, 0);
    let mut grafana_targets = Vec::new();
    for (ds, t) in targets(&dash) {
        match ds.as_str() {
            "prometheus" => {
                prom += 1;
                let expr = t["expr"].as_str().expect("a Prometheus target has an expr");
                let names = metric_names(expr);
                assert!(!names.is_empty(), "{expr}: queries no loglynx metric");
                for name in names {
                    assert!(
                        docs.contains(&name),
                        "the dashboard queries {name}, not in docs/METRICS.md"
                    );
                    assert!(
                        conditional(&name) || served.contains(&name),
                        "the dashboard queries {name}, which /metrics does not serve"
                    );
                }
            }
            "elasticsearch" => {
                es += 1;
                assert_eq!(t["timeField"], "@timestamp");
                grafana_targets.push(t.clone());
            }
            other => panic!("a dashboard target uses the data source type {other}"),
        }
    }
    assert!(
        prom >= 10 && es >= 5,
        "{prom} Prometheus and {es} Elasticsearch targets"
    );
    assert_eq!(dash["__inputs"][0]["pluginId"], "prometheus");
    assert_eq!(dash["__inputs"][1]["pluginId"], "elasticsearch");
    grafana_panels_answer_as_the_own_api(&server, &grafana_targets);
}

#[test]
fn regression_issue_11_a_syslog_tcp_read_timeout_is_counted_on_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("loglynx.toml");
    std::fs::write(&conf, "[syslog]\nread_timeout = \"1s\"\n").unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "-c",
            conf.to_str().unwrap(),
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "127.0.0.1:0",
        ],
    );
    // A whole message, then one that never ends: the server closes the connection after
    // read_timeout and keeps both.
    let mut c = TcpStream::connect(server.syslog_tcp.expect("tcp address printed")).unwrap();
    c.write_all(b"<13>slowmark whole\n<13>slowmark never ends")
        .unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    match c.read(&mut [0u8; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the connection was not closed: {other:?}"),
    }
    server.wait_total("slowmark", 2, WAIT);
    let text = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "loglynx_syslog_tcp_connections_closed_total{reason=\"read_timeout\"} 1",
        "loglynx_syslog_tcp_connections_closed_total{reason=\"idle\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

/// Every Elasticsearch target of the dashboard, sent as the `_msearch` Grafana's Elasticsearch
/// data source sends (one header line and one body per target; the body as its query builder
/// writes it: a `bool` filter of the time range in epoch_millis and the panel's
/// `query_string`, then a `date_histogram` with `extended_bounds`, a `terms`, or a logs
/// query of 500 hits newest first), answers with the numbers of loglynx's own API over the
/// same range: the histogram's non-empty buckets, the terms' buckets, the logs' total.
fn grafana_panels_answer_as_the_own_api(server: &Server, targets: &[Value]) {
    let now = chrono::Utc::now().timestamp_millis();
    let (from, to) = (now - 30 * 60_000, now);
    let mut body = String::new();
    for i in 0..90i64 {
        let ts = chrono::DateTime::from_timestamp_millis(from + 60_000 + i * 19_000).unwrap();
        let dataset = ["app.web", "app.db", "network.connection"][(i % 3) as usize];
        let level = if i % 4 == 0 { "error" } else { "info" };
        body.push_str(&json!({"@timestamp": ts.to_rfc3339(), "host.name": format!("gh{}", i % 5), "log.level": level,
            "event.dataset": dataset, "message": format!("grafanamark {i}")}).to_string());
        body.push('\n');
    }
    server.ingest_ndjson(body);
    server.wait_total("grafanamark", 90, WAIT);

    let header = json!({"search_type": "query_then_fetch", "ignore_unavailable": true, "index": "loglynx"});
    let mut msearch = String::new();
    for t in targets {
        for line in [header.clone(), grafana_body(t, from, to)] {
            msearch.push_str(&line.to_string());
            msearch.push('\n');
        }
    }
    let r = server
        .client()
        .post(server.url("/_msearch"))
        .header("content-type", "application/x-ndjson")
        .body(msearch)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "_msearch: {}", r.status());
    let answers: Value = r.json().unwrap();
    let answers = answers["responses"].as_array().expect("responses");
    assert_eq!(answers.len(), targets.len());
    let (start, end) = (from.to_string(), (to + 1).to_string());
    let own = |path: &str, extra: &[(&str, &str)], q: &str| -> Value {
        let mut params = vec![("q", q), ("start", start.as_str()), ("end", end.as_str())];
        params.extend_from_slice(extra);
        let r = server.client().get(server.url(path)).query(&params).send().unwrap();
        assert!(r.status().is_success(), "{path} {params:?}: {}", r.status());
        r.json().unwrap()
    };
    for (t, a) in targets.iter().zip(answers) {
        let q = t["query"].as_str().unwrap_or_default();
        assert_eq!(a["status"], 200, "{t}: {a}");
        let total = own("/api/v1/search", &[("limit", "1")], q)["total"].as_u64().unwrap();
        assert!(total > 0, "the panel query {q:?} matches nothing: the comparison would prove little");
        match t["metrics"][0]["type"].as_str() {
            Some("logs") => {
                assert_eq!(a["hits"]["total"]["value"], total, "{t}");
                let hits = a["hits"]["hits"].as_array().unwrap();
                assert_eq!(hits.len() as u64, total.min(500), "{t}");
                let times: Vec<i64> = hits
                    .iter()
                    .map(|h| chrono::DateTime::parse_from_rfc3339(h["_source"]["@timestamp"].as_str().unwrap()).unwrap().timestamp_micros())
                    .collect();
                assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
            }
            Some("count") => match t["bucketAggs"][0]["type"].as_str() {
                Some("date_histogram") => {
                    let hist = own("/api/v1/histogram", &[("interval", "1m")], q);
                    let want: Vec<(i64, u64)> = hist["buckets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|b| b["count"].as_u64() > Some(0))
                        .map(|b| (chrono::DateTime::parse_from_rfc3339(b["start"].as_str().unwrap()).unwrap().timestamp_millis(), b["count"].as_u64().unwrap()))
                        .collect();
                    let buckets = a["aggregations"]["2"]["buckets"].as_array().unwrap();
                    // Grafana draws every bucket of its range (min_doc_count 0, extended_bounds).
                    assert!(buckets.len() >= 30, "{} buckets over 30 minutes", buckets.len());
                    let got: Vec<(i64, u64)> = buckets
                        .iter()
                        .filter(|b| b["doc_count"].as_u64() > Some(0))
                        .map(|b| (b["key"].as_i64().unwrap(), b["doc_count"].as_u64().unwrap()))
                        .collect();
                    assert_eq!(got, want, "{t}");
                    assert_eq!(got.iter().map(|b| b.1).sum::<u64>(), total, "{t}");
                }
                Some("terms") => {
                    let field = t["bucketAggs"][0]["field"].as_str().unwrap();
                    let terms = own("/api/v1/terms", &[("field", field), ("size", "10")], q);
                    let want: Vec<(Value, Value)> =
                        terms["buckets"].as_array().unwrap().iter().map(|b| (b["value"].clone(), b["count"].clone())).collect();
                    let got: Vec<(Value, Value)> = a["aggregations"]["2"]["buckets"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|b| (b["key"].clone(), b["doc_count"].clone()))
                        .collect();
                    assert!(!got.is_empty(), "{t}");
                    assert_eq!(got, want, "{t}");
                }
                other => panic!("a dashboard panel groups by {other:?}: teach this test Grafana's body for it"),
            },
            other => panic!("a dashboard panel uses the metric {other:?}: teach this test Grafana's body for it"),
        }
    }
}

/// The body Grafana's Elasticsearch data source sends for a target over `[from, to]` (its
/// `$__interval` for 30 minutes taken as 1 minute, written in milliseconds as Grafana's backend
/// writes it: `60000ms`).
fn grafana_body(t: &Value, from: i64, to: i64) -> Value {
    let mut filter = vec![json!({"range": {"@timestamp": {"gte": from, "lte": to, "format": "epoch_millis"}}})];
    let q = t["query"].as_str().unwrap_or_default();
    if !q.is_empty() {
        filter.push(json!({"query_string": {"analyze_wildcard": true, "query": q}}));
    }
    let query = json!({"bool": {"filter": filter}});
    let histogram = json!({"date_histogram": {"field": "@timestamp", "min_doc_count": 0,
        "extended_bounds": {"min": from, "max": to}, "format": "epoch_millis", "fixed_interval": "60000ms"}});
    if t["metrics"][0]["type"] == "logs" {
        let limit: u64 = t["metrics"][0]["settings"]["limit"].as_str().unwrap_or("500").parse().unwrap();
        return json!({"size": limit, "query": query,
            "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "boolean"}}, {"_doc": {"order": "desc"}}],
            "script_fields": {},
            "highlight": {"fields": {"*": {}}, "pre_tags": ["@HIGHLIGHT@"], "post_tags": ["@/HIGHLIGHT@"], "fragment_size": 2147483647},
            "aggs": {"2": histogram}});
    }
    let b = &t["bucketAggs"][0];
    let agg = match b["type"].as_str() {
        Some("date_histogram") => histogram,
        Some("terms") => {
            let s = &b["settings"];
            let size: u64 = s["size"].as_str().unwrap_or("10").parse().unwrap();
            let min: u64 = s["min_doc_count"].as_str().unwrap_or("1").parse().unwrap();
            let order_by = s["orderBy"].as_str().unwrap_or("_count");
            json!({"terms": {"field": b["field"], "size": size, "order": {order_by: s["order"].as_str().unwrap_or("desc")},
                "min_doc_count": min}})
        }
        other => panic!("bucket aggregation {other:?}"),
    };
    json!({"size": 0, "query": query, "aggs": {"2": agg}})
}

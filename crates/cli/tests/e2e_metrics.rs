//! `/metrics` as Prometheus and Grafana see it: a running `loglynx run` is scraped and the body
//! parsed by Prometheus's own Python client (`prometheus_client`, PyPI, in the venv
//! `scripts/pyenv.sh` makes); the counters move by exactly what was ingested; every series
//! follows the naming conventions and is in docs/METRICS.md; every metric the Grafana dashboard
//! (docs/grafana-dashboard.json) queries is documented and served, and its log queries run.
//! The network monitor's series are checked by e2e_quickstart (it needs root).

mod support;

use std::time::Duration;

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
                let q = t["query"]
                    .as_str()
                    .expect("an Elasticsearch target has a query");
                assert_eq!(t["timeField"], "@timestamp");
                let r = server
                    .client()
                    .get(server.url("/api/v1/search"))
                    .query(&[("q", q), ("limit", "1")])
                    .send()
                    .unwrap();
                assert!(
                    r.status().is_success(),
                    "the dashboard's query {q:?}: {}",
                    r.text().unwrap()
                );
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
}

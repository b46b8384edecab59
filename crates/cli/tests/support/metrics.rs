//! `/metrics` read the way Prometheus reads it: parsed by Prometheus's own Python client
//! (`prometheus_client.parser`, from the test venv), and the documented list (docs/METRICS.md)
//! and the Grafana dashboard (docs/grafana-dashboard.json) they are checked against.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::Server;

const PARSER: &str = include_str!("prom_parse.py");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scrape, parsed: the families as the Python parser gives them.
pub struct Scrape(pub Vec<Value>);

impl Scrape {
    /// GETs `/metrics` of `server`, checks the content type and parses the body with
    /// `python` (the venv's); a body the parser refuses fails the test.
    pub fn of(server: &Server, python: &Path) -> Scrape {
        let r = server
            .client()
            .get(server.url("/metrics"))
            .send()
            .expect("GET /metrics");
        assert!(r.status().is_success(), "GET /metrics: {}", r.status());
        let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
        let text = r.text().unwrap();
        let mut child = Command::new(python)
            .args(["-c", PARSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the prometheus_client parser");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client could not parse /metrics: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        Scrape(serde_json::from_slice(&out.stdout).expect("parser json"))
    }

    /// The sample names (a counter's with `_total`).
    pub fn sample_names(&self) -> BTreeSet<String> {
        self.samples()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn samples(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().flat_map(|f| f["samples"].as_array().unwrap())
    }

    /// The sum of the samples named `name` whose labels include `labels`; `None` when there
    /// is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = None;
        for s in self.samples().filter(|s| s["name"] == name) {
            if labels.iter().all(|(k, v)| s["labels"][*k] == *v) {
                *found.get_or_insert(0.0) += s["value"].as_f64().unwrap();
            }
        }
        found
    }
}

/// The series names docs/METRICS.md lists: the first cell of its table rows.
pub fn documented() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("docs/METRICS.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("| `loglynx_"))
        .map(|rest| format!("loglynx_{}", &rest[..rest.find('`').unwrap()]))
        .collect()
}

/// The dashboard, parsed.
pub fn dashboard() -> Value {
    let text = std::fs::read_to_string(root().join("docs/grafana-dashboard.json")).unwrap();
    serde_json::from_str(&text).expect("docs/grafana-dashboard.json is JSON")
}

/// Every query target of the dashboard's panels (rows included) with its data source type.
pub fn targets(dash: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let ds = t["datasource"]["type"]
                .as_str()
                .expect("each target names its data source type");
            out.push((ds.to_string(), t.clone()));
        }
    }
    out
}

/// The `loglynx_*` names in a PromQL expression.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(i) = rest.find("loglynx_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

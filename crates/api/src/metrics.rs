//! Request and ingest counters, rendered in the Prometheus text format (hand-rolled: a few
//! counters do not need a metrics library).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

/// The endpoints that take data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestEndpoint {
    /// `POST /api/v1/ingest`.
    Ingest,
    /// `POST /_bulk` (Elasticsearch compatible).
    Bulk,
}

impl IngestEndpoint {
    /// The metric label value.
    pub fn name(self) -> &'static str {
        match self {
            IngestEndpoint::Ingest => "ingest",
            IngestEndpoint::Bulk => "bulk",
        }
    }
}

/// Counters of one ingest endpoint.
#[derive(Debug, Default)]
pub struct IngestCounters {
    /// Requests received.
    pub requests: AtomicU64,
    /// Events acknowledged as durable.
    pub accepted: AtomicU64,
    /// Lines or bulk items rejected.
    pub rejected: AtomicU64,
    /// Requests answered 503 because the ingest queue stayed full (nothing taken).
    pub queue_full: AtomicU64,
}

impl IngestCounters {
    fn json(&self) -> serde_json::Value {
        json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "events_accepted": self.accepted.load(Ordering::Relaxed),
            "lines_rejected": self.rejected.load(Ordering::Relaxed),
            "queue_full": self.queue_full.load(Ordering::Relaxed),
        })
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route template, status) -> requests.
    http: Mutex<BTreeMap<(String, u16), u64>>,
    ingest: IngestCounters,
    bulk: IngestCounters,
}

impl Metrics {
    /// Counts one answered request.
    pub fn record_http(&self, route: &str, status: u16) {
        let mut m = self.http.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((route.to_string(), status)).or_insert(0) += 1;
    }

    /// The counters of an ingest endpoint.
    pub fn ingest(&self, ep: IngestEndpoint) -> &IngestCounters {
        match ep {
            IngestEndpoint::Ingest => &self.ingest,
            IngestEndpoint::Bulk => &self.bulk,
        }
    }

    /// Requests answered so far with this route template and status (tests, stats).
    pub fn http_count(&self, route: &str, status: u16) -> u64 {
        let m = self.http.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(route.to_string(), status)).copied().unwrap_or(0)
    }

    /// Ingest counters as JSON, by endpoint (for `/api/v1/stats`).
    pub fn ingest_json(&self) -> serde_json::Value {
        json!({"ingest": self.ingest.json(), "bulk": self.bulk.json()})
    }

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let http: Vec<_> = {
            let m = self.http.lock().unwrap_or_else(|e| e.into_inner());
            m.iter().map(|((r, s), n)| (r.clone(), *s, *n)).collect()
        };
        header(
            out,
            "loglynx_http_requests_total",
            "HTTP requests answered, by route and status",
            "counter",
        );
        for (route, status, n) in http {
            let _ = writeln!(
                out,
                "loglynx_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape_label(&route)
            );
        }
        let eps = [IngestEndpoint::Ingest, IngestEndpoint::Bulk];
        let series: [(&str, &str, CounterOf); 4] = [
            (
                "loglynx_ingest_requests_total",
                "ingest requests received, by endpoint",
                |c| &c.requests,
            ),
            (
                "loglynx_events_ingested_total",
                "events acknowledged as durable, by endpoint",
                |c| &c.accepted,
            ),
            (
                "loglynx_ingest_rejected_total",
                "lines or bulk items rejected, by endpoint",
                |c| &c.rejected,
            ),
            (
                "loglynx_ingest_queue_full_total",
                "ingest requests answered 503 because the ingest queue stayed full, by endpoint",
                |c| &c.queue_full,
            ),
        ];
        for (name, help, get) in series {
            header(out, name, help, "counter");
            for ep in eps {
                let v = get(self.ingest(ep)).load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{endpoint=\"{}\"}} {v}", ep.name());
            }
        }
    }
}

/// Picks one counter of an endpoint.
type CounterOf = fn(&IngestCounters) -> &AtomicU64;

/// Writes the `# HELP` and `# TYPE` lines of a metric.
pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes a metric without labels, with its header.
pub(crate) fn single(out: &mut String, name: &str, help: &str, kind: &str, value: f64) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: counts every answered request by route template and status.
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    metrics.record_http(&route, resp.status().as_u16());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_in_text_format() {
        let m = Metrics::default();
        m.record_http("/api/v1/search", 200);
        m.record_http("/api/v1/search", 200);
        m.record_http("/api/v1/search", 400);
        m.ingest(IngestEndpoint::Bulk)
            .accepted
            .fetch_add(5, Ordering::Relaxed);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains(
                "loglynx_http_requests_total{route=\"/api/v1/search\",status=\"200\"} 2\n"
            ),
            "{out}"
        );
        assert!(out
            .contains("loglynx_http_requests_total{route=\"/api/v1/search\",status=\"400\"} 1\n"));
        assert!(out.contains("loglynx_events_ingested_total{endpoint=\"bulk\"} 5\n"));
        assert!(out.contains("loglynx_events_ingested_total{endpoint=\"ingest\"} 0\n"));
        assert!(out.contains("# TYPE loglynx_ingest_rejected_total counter\n"));
        assert_eq!(m.http_count("/api/v1/search", 200), 2);
    }
}

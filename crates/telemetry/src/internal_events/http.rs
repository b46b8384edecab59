//! Events of the HTTP server and its ingest endpoints, and [`HttpMetrics`], their metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::json;

use super::InternalEvent;
use crate::Registry;

/// The endpoints that take data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IngestEndpoint {
    /// `POST /api/v1/ingest`.
    Ingest,
    /// `POST /_bulk` (Elasticsearch compatible).
    Bulk,
    /// `POST /v1/logs` (OpenTelemetry OTLP/HTTP).
    Otlp,
}

impl IngestEndpoint {
    /// Every endpoint, in the order of `/api/v1/stats`.
    pub const ALL: [IngestEndpoint; 3] = [
        IngestEndpoint::Ingest,
        IngestEndpoint::Bulk,
        IngestEndpoint::Otlp,
    ];

    /// The metric label value.
    pub fn name(self) -> &'static str {
        match self {
            IngestEndpoint::Ingest => "ingest",
            IngestEndpoint::Bulk => "bulk",
            IngestEndpoint::Otlp => "otlp",
        }
    }

    fn labels(self) -> EndpointLabels {
        [("endpoint", self.name())]
    }
}

type EndpointLabels = [(&'static str, &'static str); 1];
type RouteLabels = [(&'static str, String); 2];

/// The counters of the HTTP server (`loglynx_http_requests_total`) and of its ingest
/// endpoints (`loglynx_ingest_*`, `loglynx_events_ingested_total`), by endpoint. Cheap to
/// clone (handles).
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    requests: Family<RouteLabels, Counter>,
    ingest_requests: Family<EndpointLabels, Counter>,
    accepted: Family<EndpointLabels, Counter>,
    rejected: Family<EndpointLabels, Counter>,
    queue_full: Family<EndpointLabels, Counter>,
}

impl HttpMetrics {
    /// The counters, registered in `registry`, every ingest series at 0.
    pub fn register(registry: &Registry) -> HttpMetrics {
        let m = HttpMetrics::default();
        for ep in IngestEndpoint::ALL {
            for f in [&m.ingest_requests, &m.accepted, &m.rejected, &m.queue_full] {
                let _ = f.get_or_create(&ep.labels());
            }
        }
        registry.register(
            "loglynx_http_requests",
            "HTTP requests answered, by route and status",
            m.requests.clone(),
        );
        registry.register(
            "loglynx_ingest_requests",
            "ingest requests received, by endpoint",
            m.ingest_requests.clone(),
        );
        registry.register(
            "loglynx_events_ingested",
            "events acknowledged as durable, by endpoint",
            m.accepted.clone(),
        );
        registry.register(
            "loglynx_ingest_rejected",
            "lines or bulk items rejected, by endpoint",
            m.rejected.clone(),
        );
        registry.register(
            "loglynx_ingest_queue_full",
            "ingest requests answered 503 because the ingest queue stayed full, by endpoint",
            m.queue_full.clone(),
        );
        m
    }

    /// Requests answered so far with this route template and status (tests, stats).
    pub fn http_count(&self, route: &str, status: u16) -> u64 {
        let labels = route_labels(route, status);
        self.requests.get(&labels).map(|c| c.get()).unwrap_or(0)
    }

    /// Ingest counters as JSON, by endpoint (for `/api/v1/stats`).
    pub fn ingest_json(&self) -> serde_json::Value {
        let one = |ep: IngestEndpoint| {
            let get = |f: &Family<EndpointLabels, Counter>| {
                f.get(&ep.labels()).map(|c| c.get()).unwrap_or(0)
            };
            json!({
                "requests": get(&self.ingest_requests),
                "events_accepted": get(&self.accepted),
                "lines_rejected": get(&self.rejected),
                "queue_full": get(&self.queue_full),
            })
        };
        json!({
            "ingest": one(IngestEndpoint::Ingest),
            "bulk": one(IngestEndpoint::Bulk),
            "otlp": one(IngestEndpoint::Otlp),
        })
    }
}

fn route_labels(route: &str, status: u16) -> RouteLabels {
    [("route", route.to_string()), ("status", status.to_string())]
}

/// An HTTP request was answered (counted by route template and status).
#[derive(Debug)]
pub struct HttpRequestServed<'a> {
    /// The route template (`/api/v1/search`), or `unmatched`.
    pub route: &'a str,
    /// The answer's status.
    pub status: u16,
}

impl InternalEvent for HttpRequestServed<'_> {
    type Metrics = HttpMetrics;

    fn emit(self, m: &HttpMetrics) {
        tracing::trace!(
            route = self.route,
            status = self.status,
            "http request served"
        );
        m.requests
            .get_or_create(&route_labels(self.route, self.status))
            .inc();
    }
}

/// An ingest request arrived.
#[derive(Debug)]
pub struct IngestRequestReceived {
    /// Which endpoint.
    pub endpoint: IngestEndpoint,
}

impl InternalEvent for IngestRequestReceived {
    type Metrics = HttpMetrics;

    fn emit(self, m: &HttpMetrics) {
        m.ingest_requests
            .get_or_create(&self.endpoint.labels())
            .inc();
    }
}

/// The events of an ingest request were acknowledged as durable.
#[derive(Debug)]
pub struct IngestEventsAccepted {
    /// Which endpoint.
    pub endpoint: IngestEndpoint,
    /// Events accepted.
    pub count: u64,
}

impl InternalEvent for IngestEventsAccepted {
    type Metrics = HttpMetrics;

    fn emit(self, m: &HttpMetrics) {
        tracing::trace!(
            endpoint = self.endpoint.name(),
            count = self.count,
            "ingest events accepted"
        );
        m.accepted
            .get_or_create(&self.endpoint.labels())
            .inc_by(self.count);
    }
}

/// Lines (or bulk items) of an ingest request were rejected (the client is told which).
#[derive(Debug)]
pub struct IngestLinesRejected {
    /// Which endpoint.
    pub endpoint: IngestEndpoint,
    /// Lines or items rejected (0 counts nothing).
    pub count: u64,
}

impl InternalEvent for IngestLinesRejected {
    type Metrics = HttpMetrics;

    fn emit(self, m: &HttpMetrics) {
        if self.count > 0 {
            tracing::debug!(
                endpoint = self.endpoint.name(),
                count = self.count,
                "ingest lines rejected"
            );
        }
        m.rejected
            .get_or_create(&self.endpoint.labels())
            .inc_by(self.count);
    }
}

/// An ingest request was answered 503: the queue stayed full (or the producer refused), and
/// nothing of it was taken.
#[derive(Debug)]
pub struct IngestQueueFull {
    /// Which endpoint.
    pub endpoint: IngestEndpoint,
}

impl InternalEvent for IngestQueueFull {
    type Metrics = HttpMetrics;

    fn emit(self, m: &HttpMetrics) {
        tracing::debug!(
            endpoint = self.endpoint.name(),
            "ingest queue full: request refused"
        );
        m.queue_full.get_or_create(&self.endpoint.labels()).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_update_the_registered_counters() {
        let reg = Registry::new();
        let m = HttpMetrics::register(&reg);
        for status in [200, 200, 400] {
            HttpRequestServed {
                route: "/api/v1/search",
                status,
            }
            .emit(&m);
        }
        IngestEventsAccepted {
            endpoint: IngestEndpoint::Bulk,
            count: 5,
        }
        .emit(&m);
        let out = reg.render();
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
        assert_eq!(m.http_count("/api/v1/search", 500), 0);
        assert_eq!(m.ingest_json()["bulk"]["events_accepted"], 5);
        assert_eq!(m.ingest_json()["ingest"]["requests"], 0);
    }
}

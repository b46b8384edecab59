//! The API's telemetry: the request-counting middleware and the figures read at scrape time
//! (store, parse stage, live tail, uptime). The counters themselves and their rendering are
//! in `loglynx_telemetry` ([`HttpMetrics`], [`loglynx_telemetry::Registry`]).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use loglynx_store::Store;
use loglynx_telemetry::internal_events::{HttpMetrics, HttpRequestServed};
use loglynx_telemetry::InternalEvent;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::Semaphore;

use crate::state::DEFAULT_MAX_STREAMS;

/// Middleware: counts every answered request by route template and status.
pub(crate) async fn track(
    State(metrics): State<HttpMetrics>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    HttpRequestServed {
        route: &route,
        status: resp.status().as_u16(),
    }
    .emit(&metrics);
    resp
}

/// `loglynx_uptime_seconds`, read at each scrape.
#[derive(Debug)]
pub(crate) struct Uptime(pub(crate) Instant);

impl Collector for Uptime {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        gauge(
            &mut encoder,
            "loglynx_uptime_seconds",
            "seconds since the server started",
            self.0.elapsed().as_secs_f64(),
        )
    }
}

/// The figures of a server with a store, read at each scrape: the store's counters and sizes
/// (blocking: render off the async threads), the parse stage's counters, open tail streams
/// and uptime.
pub(crate) struct ServerFigures {
    pub(crate) store: Store,
    pub(crate) pipeline: Arc<loglynx_pipeline::PipelineStats>,
    pub(crate) streams: Arc<Semaphore>,
    pub(crate) started: Instant,
}

impl fmt::Debug for ServerFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFigures").finish_non_exhaustive()
    }
}

impl Collector for ServerFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = self.store.stats();
        let (batches, events, flagged) = self.pipeline.snapshot();
        let counters = [
            (
                "loglynx_store_docs_indexed",
                "events committed by this process",
                s.docs_indexed,
            ),
            (
                "loglynx_store_commits",
                "successful store commits",
                s.commits,
            ),
            (
                "loglynx_store_commit_failures",
                "failed store commits",
                s.commit_failures,
            ),
            (
                "loglynx_store_windows_deleted",
                "windows deleted by retention",
                s.windows_deleted,
            ),
            ("loglynx_pipeline_batches", "batches parsed by the pipeline", batches),
            ("loglynx_pipeline_events", "events parsed by the pipeline", events),
            (
                "loglynx_pipeline_events_flagged",
                "parsed events with a flag (unparsed, truncated, invalid_utf8, bad_timestamp, malformed, multiline_truncated)",
                flagged,
            ),
        ];
        for (name, help, v) in counters {
            let m = ConstCounter::new(v);
            m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)?;
        }
        let tail = DEFAULT_MAX_STREAMS.saturating_sub(self.streams.available_permits()) as u64;
        let gauges = [
            ("loglynx_store_docs", "events searchable now", s.docs_stored),
            (
                "loglynx_store_docs_pending",
                "events waiting for the next commit",
                s.docs_pending,
            ),
            (
                "loglynx_store_windows",
                "time windows in the store",
                s.windows as u64,
            ),
            (
                "loglynx_store_bytes",
                "bytes on disk over all windows",
                s.bytes,
            ),
            ("loglynx_tail_streams", "live tail streams open", tail),
        ];
        for (name, help, v) in gauges {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)?;
        }
        Uptime(self.started).encode(encoder)
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: f64,
) -> Result<(), fmt::Error> {
    let m = ConstGauge::new(v);
    m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)
}

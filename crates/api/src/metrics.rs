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

/// Middleware: counts every answered request by route template and status, and says in a
/// `Server-Timing` header (W3C; browsers' developer tools show it) how long the server took to
/// produce the response head, in milliseconds with microseconds: `took_ms` in search bodies is
/// whole milliseconds, too coarse to tell a 0.4 ms query from a slow client.
pub(crate) async fn track(
    State(metrics): State<HttpMetrics>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let mut resp = next.run(req).await;
    let dur_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("app;dur={dur_ms:.3}")) {
        resp.headers_mut().insert("server-timing", v);
    }
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
            (
                "loglynx_store_disk_pauses",
                "times ingestion paused because the data directory's disk was below store.disk_watermark",
                s.disk_pauses,
            ),
            ("loglynx_pipeline_batches", "batches parsed by the pipeline", batches),
            ("loglynx_pipeline_events", "events parsed by the pipeline", events),
            (
                "loglynx_pipeline_events_flagged",
                "parsed events with a flag (unparsed, truncated, invalid_utf8, bad_timestamp, malformed, multiline_truncated, parse_panic, labels_capped)",
                flagged,
            ),
            (
                "loglynx_pipeline_labels_dropped",
                "labels dropped over pipeline.max_labels or pipeline.max_label_keys (kept in event.original)",
                self.pipeline.labels.dropped.load(std::sync::atomic::Ordering::Relaxed),
            ),
            (
                "loglynx_pipeline_parse_panics",
                "records whose parse panicked (a bug): stored raw, flagged parse_panic",
                self.pipeline.parse_panics(),
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
            (
                "loglynx_store_disk_paused",
                "1 while ingestion is paused for disk space (free space below store.disk_watermark)",
                u64::from(s.disk_paused),
            ),
            (
                "loglynx_store_disk_free_bytes",
                "free bytes of the data directory's file system at the last check",
                s.disk_free,
            ),
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

/// Detection's figures, read at each scrape: rules, matches per rule, alerts, correlation
/// groups, notifications.
pub(crate) struct DetectionFigures(pub(crate) Arc<loglynx_detect::Detection>);

impl fmt::Debug for DetectionFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectionFigures").finish_non_exhaustive()
    }
}

impl Collector for DetectionFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let det = &self.0;
        let d = det.detector();
        let (hits, groups, raised, alert_errors) = {
            let st = det.stats().lock().unwrap_or_else(|p| p.into_inner());
            (st.hits.clone(), st.groups.clone(), st.alerts_raised, st.alert_errors)
        };
        let n = det.notify_stats();
        for (name, help, v) in [
            ("loglynx_detect_alerts_raised", "alerts raised since start", raised),
            ("loglynx_detect_alert_write_failures", "batches whose alerts could not be written", alert_errors),
            ("loglynx_detect_rule_reloads", "rule reloads after a rule file changed", det.reloads()),
            ("loglynx_detect_notifications_delivered", "alert notifications delivered", n.delivered.load(Relaxed)),
            ("loglynx_detect_notification_failures", "failed alert notification attempts (retried)", n.failed_attempts.load(Relaxed)),
        ] {
            let m = ConstCounter::new(v);
            m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)?;
        }
        let set = d.rules();
        for (name, help, v) in [
            ("loglynx_detect_rules_active", "detection rules evaluated", set.active().len() as u64),
            ("loglynx_detect_rules_correlation", "correlation rules loaded", set.correlations().count() as u64),
            ("loglynx_detect_rules_rejected", "rules refused (GET /api/v1/rules says why)", set.rejected().len() as u64),
        ] {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)?;
        }
        if !hits.is_empty() {
            let mut m = encoder.encode_descriptor("loglynx_detect_rule_matches", "events matched (and correlation firings) per rule", None, prometheus_client::metrics::MetricType::Counter)?;
            for (rule, v) in &hits {
                let labels = [("rule", rule.as_str())];
                ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
            }
        }
        if !groups.is_empty() {
            let mut m = encoder.encode_descriptor("loglynx_detect_correlation_groups", "groups held in memory per correlation rule", None, prometheus_client::metrics::MetricType::Gauge)?;
            for (rule, (g, _)) in &groups {
                let labels = [("rule", rule.as_str())];
                ConstGauge::new(*g as u64).encode(m.encode_family(&labels)?)?;
            }
            let mut m = encoder.encode_descriptor("loglynx_detect_correlation_groups_evicted", "groups evicted because a rule held [detect] max_groups", None, prometheus_client::metrics::MetricType::Counter)?;
            for (rule, (_, e)) in &groups {
                let labels = [("rule", rule.as_str())];
                ConstCounter::new(*e).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

//! What every handler shares: the store, the query engine, the ingest queue and settings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use loglynx_collect::http::{
    HttpSettings, HttpSource, Refuse, DEFAULT_ACK_TIMEOUT, DEFAULT_MAX_LINE, DEFAULT_QUEUE_WAIT,
};
use loglynx_collect::otlp::OtlpLimits;
use loglynx_config::HttpConfig;
use loglynx_core::RawBatch;
use loglynx_query::QueryEngine;
use loglynx_store::{Store, StoreSchema};
use tokio::sync::{mpsc, watch, Semaphore};

use loglynx_telemetry::internal_events::HttpMetrics;
use loglynx_telemetry::Registry;

/// Most SSE tail streams served at once; further ones get 503.
pub const DEFAULT_MAX_STREAMS: usize = 64;

/// Shared state of the HTTP server; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The store: snapshots for queries, stats and checkpoint for `/api/v1/stats`.
    pub store: Store,
    /// The query engine (search, aggregations, tail).
    pub engine: Arc<QueryEngine>,
    /// The pipeline's input queue (bounded); ingest endpoints send here and await the ack.
    pub ingest: mpsc::Sender<RawBatch>,
    /// This machine's name, given to ingested records as the receiving host.
    pub host: String,
    /// Who may call: `http.auth_token`, the key file, whether a credential is required
    /// (built by `new` from the `[http]` section without a key file; the assemblies replace it
    /// with one that reads `<data_dir>/keys.json`).
    pub auth: crate::Auth,
    /// Largest accepted request body in bytes (after gzip decompression).
    pub max_body: usize,
    /// Records per request, `_bulk` error reports, ingest rate per key (`[http]`).
    pub ingest_limits: crate::IngestLimits,
    /// Queries at once and each query's budget (`[query]`; defaults until the assembly sets
    /// them from its config).
    pub query_limits: crate::QueryLimits,
    /// Longest text/plain line kept whole; longer lines are truncated and flagged.
    pub max_line: usize,
    /// How long ingest waits for the store to confirm a batch.
    pub ack_timeout: Duration,
    /// How long ingest waits for room in a full ingest queue before answering 503.
    pub queue_wait: Duration,
    /// The process's metrics, rendered on `/metrics`.
    pub telemetry: Registry,
    /// Request and ingest counters (registered in `telemetry`).
    pub metrics: HttpMetrics,
    /// The server's own figures are registered in `telemetry` once, whatever the number of
    /// routers built over clones of this state.
    pub(crate) figures: Arc<Once>,
    /// When the server state was built (uptime).
    pub started: Instant,
    /// The store schema (field list and kinds).
    pub schema: Arc<StoreSchema>,
    /// Permits for concurrent SSE streams.
    pub streams: Arc<Semaphore>,
    /// Elasticsearch-style `_seq_no` of bulk items.
    pub(crate) seq_no: Arc<AtomicU64>,
    /// Counters of the parse stage (batches, events, flagged events).
    pub pipeline: Arc<loglynx_pipeline::PipelineStats>,
    /// The TCP state monitor, when it runs (`/api/v1/network/*`; 404 when `None`).
    pub network: Option<Arc<dyn crate::NetworkView>>,
    /// The Kafka pipeline's health (`loglynx serve`; `/api/v1/pipeline` answers 404 when
    /// `None`). Its `loglynx_kafka_*` series are a collector registered in `telemetry`.
    pub pipeline_view: Option<Arc<dyn crate::PipelineView>>,
    /// Detection (rules, alerts), when on (`/api/v1/alerts`, `/api/v1/rules`; 404 when `None`).
    pub detection: Option<Arc<loglynx_detect::Detection>>,
    /// The per-record limits of OTLP ingest (`[otlp]`).
    pub otlp: OtlpLimits,
    /// The templates' dictionary, when mining is on (`/api/v1/patterns`; 404 when `None`):
    /// the miner itself (`loglynx run`) or the workers' saved states (`loglynx serve`).
    pub patterns: Option<Arc<dyn crate::PatternView>>,
    /// The root of a search across machines (`loglynx serve` over workers' leaf APIs): when
    /// set, search, histogram, terms, patterns and tail go to the leaves instead of `store`.
    pub root: Option<Arc<loglynx_search::Root>>,
    /// The parse stage's learned structures (`<data_dir>/parse/learned.json`), listed by
    /// `/api/v1/sources/learned` (404 when `None`).
    pub learned_state: Option<std::path::PathBuf>,
    /// The configuration the parse stage applies (`[files]` zones and layouts,
    /// `[[syslog.layouts]]`, `[[http.layouts]]`), shown beside the learned structures; its
    /// `[tcp_states]` RTT regression thresholds mark the perf history's intervals (defaults
    /// when `None`).
    pub learned_config: Option<Arc<loglynx_config::Config>>,
    /// Set to true when the server shuts down: ends the SSE streams.
    pub(crate) shutdown: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// Builds the state from the running parts and the `[http]` config section.
    pub fn new(
        store: Store,
        engine: Arc<QueryEngine>,
        ingest: mpsc::Sender<RawBatch>,
        host: String,
        http: &HttpConfig,
    ) -> AppState {
        let telemetry = Registry::new();
        let metrics = HttpMetrics::register(&telemetry);
        AppState {
            store,
            engine,
            ingest,
            host,
            auth: crate::Auth::from_config(http, None, http.listen, false),
            max_body: usize::try_from(http.max_body.0).unwrap_or(usize::MAX),
            ingest_limits: crate::IngestLimits::new(http),
            query_limits: crate::QueryLimits::default(),
            max_line: DEFAULT_MAX_LINE,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            queue_wait: DEFAULT_QUEUE_WAIT,
            telemetry,
            metrics,
            figures: Arc::new(Once::new()),
            started: Instant::now(),
            schema: Arc::new(StoreSchema::new()),
            streams: Arc::new(Semaphore::new(DEFAULT_MAX_STREAMS)),
            seq_no: Arc::new(AtomicU64::new(0)),
            pipeline: Arc::new(loglynx_pipeline::PipelineStats::default()),
            network: None,
            pipeline_view: None,
            detection: None,
            otlp: OtlpLimits::default(),
            patterns: None,
            root: None,
            learned_state: None,
            learned_config: None,
            shutdown: Arc::new(watch::Sender::new(false)),
        }
    }
}

/// What the ingest endpoints (`/api/v1/ingest`, `_bulk`, the Elasticsearch probes) need: no
/// store, so `loglynx agent` serves them over its Kafka producer with [`crate::ingest_router`].
/// Under [`crate::router`] it is taken from the [`AppState`] (same queue, counters and
/// settings).
#[derive(Clone)]
pub struct IngestState {
    /// The queue the accepted records go to (bounded); each batch carries an ack the reply
    /// waits for (the store's commit under `run`, the Kafka delivery under `agent`).
    pub ingest: mpsc::Sender<RawBatch>,
    /// This machine's name, given to ingested records as the receiving host.
    pub host: String,
    /// Who may call: `http.auth_token`, the key file, whether a credential is required
    /// (built by `new` from the `[http]` section without a key file; the assemblies replace it
    /// with one that reads `<data_dir>/keys.json`).
    pub auth: crate::Auth,
    /// Largest accepted request body in bytes (after gzip decompression).
    pub max_body: usize,
    /// Records per request, `_bulk` error reports, ingest rate per key (`[http]`).
    pub ingest_limits: crate::IngestLimits,
    /// Longest text/plain line kept whole; longer lines are truncated and flagged.
    pub max_line: usize,
    /// How long ingest waits for the acks of its batches before answering 503.
    pub ack_timeout: Duration,
    /// How long ingest waits for room in a full queue before answering 503 (`Retry-After`).
    pub queue_wait: Duration,
    /// The process's metrics, rendered on `/metrics`.
    pub telemetry: Registry,
    /// Request and ingest counters (registered in `telemetry`).
    pub metrics: HttpMetrics,
    /// See [`AppState::figures`].
    pub(crate) figures: Arc<Once>,
    /// When the server state was built (uptime).
    pub started: Instant,
    /// Elasticsearch-style `_seq_no` of bulk items.
    pub(crate) seq_no: Arc<AtomicU64>,
    /// Asked before a request's records are sent: `Some(reason)` answers 503 at once, with
    /// `Retry-After` (the agent: its disk buffer is full while the brokers are away, so a batch
    /// sent now would wait for them).
    pub refuse: Option<Refuse>,
    /// The per-record limits of OTLP ingest (`[otlp]`).
    pub otlp: OtlpLimits,
}

impl IngestState {
    /// The ingest state from the queue, the host name and the `[http]` config section, with
    /// the default line limit, ack timeout and queue wait.
    pub fn new(ingest: mpsc::Sender<RawBatch>, host: String, http: &HttpConfig) -> IngestState {
        let telemetry = Registry::new();
        let metrics = HttpMetrics::register(&telemetry);
        IngestState {
            ingest,
            host,
            auth: crate::Auth::from_config(
                http,
                None,
                http.agent_listen.unwrap_or(http.listen),
                false,
            ),
            max_body: usize::try_from(http.max_body.0).unwrap_or(usize::MAX),
            ingest_limits: crate::IngestLimits::new(http),
            max_line: DEFAULT_MAX_LINE,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            queue_wait: DEFAULT_QUEUE_WAIT,
            telemetry,
            metrics,
            figures: Arc::new(Once::new()),
            started: Instant::now(),
            seq_no: Arc::new(AtomicU64::new(0)),
            refuse: None,
            otlp: OtlpLimits::default(),
        }
    }

    /// The HTTP source over this state's queue, host, limits and refuse hook (built per
    /// request: the fields may be changed after [`IngestState::new`]).
    pub(crate) fn source(&self) -> HttpSource {
        HttpSource::new(
            self.ingest.clone(),
            self.host.clone(),
            HttpSettings {
                max_line: self.max_line,
                queue_wait: self.queue_wait,
                ack_timeout: self.ack_timeout,
            },
            self.refuse.clone(),
        )
    }

    /// Reserves `n` consecutive bulk sequence numbers and returns the first.
    pub(crate) fn next_seq_nos(&self, n: u64) -> u64 {
        self.seq_no.fetch_add(n, Ordering::Relaxed)
    }
}

impl FromRef<AppState> for IngestState {
    fn from_ref(st: &AppState) -> IngestState {
        IngestState {
            ingest: st.ingest.clone(),
            host: st.host.clone(),
            auth: st.auth.clone(),
            max_body: st.max_body,
            ingest_limits: st.ingest_limits.clone(),
            max_line: st.max_line,
            ack_timeout: st.ack_timeout,
            queue_wait: st.queue_wait,
            telemetry: st.telemetry.clone(),
            metrics: st.metrics.clone(),
            figures: st.figures.clone(),
            started: st.started,
            seq_no: st.seq_no.clone(),
            otlp: st.otlp,
            // The store's disk below its watermark: 503 with Retry-After at once.
            refuse: Some({
                let store = st.store.clone();
                Arc::new(move || store.disk_low())
            }),
        }
    }
}

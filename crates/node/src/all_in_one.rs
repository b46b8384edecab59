//! [`AllInOne`]: the whole pipeline in one process (`loglynx run`, the embedded default).
//!
//! Wiring, in reverse order of the data flow, each stage given its downstream handle:
//! store writer <- pipeline <- sources (file tail, syslog, TCP states, HTTP ingest); the API
//! reads the store. [`RunningAllInOne::shutdown`]: sources stop and drop their senders, the
//! pipeline drains, the writer makes its final commit. Nothing acknowledged is lost.

use std::net::SocketAddr;
use std::sync::Arc;

use loglynx_config::Config;
use loglynx_pipeline::{PipelineError, PipelineStats};
use loglynx_store::{Store, WriterHandle};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, Result};
use crate::lock::DirLock;
use crate::sources::{self, NetView, SourceAddrs, TcpStatesMode};

/// A validated all-in-one, not started yet, with the eBPF programs of `[tcp_states]`
/// attached.
pub struct AllInOne {
    cfg: Config,
    tcp_states: Option<loglynx_netmon::Attached>,
}

/// What a running all-in-one bound and is doing.
#[derive(Debug, Clone)]
pub struct AllInOneState {
    /// The API and dashboard.
    pub http: SocketAddr,
    /// Whether they speak HTTPS (`http.tls_cert`).
    pub https: bool,
    /// The syslog servers.
    pub sources: SourceAddrs,
    /// The TCP state monitor's mode, when it runs.
    pub tcp_states: Option<TcpStatesMode>,
}

/// A running all-in-one.
pub struct RunningAllInOne {
    state: AllInOneState,
    stats: Arc<PipelineStats>,
    shutdown: CancellationToken,
    tasks: JoinSet<Result<()>>,
    netmon: Option<loglynx_netmon::Monitor>,
    pipeline: JoinHandle<std::result::Result<(), PipelineError>>,
    detect_stage: Option<std::thread::JoinHandle<()>>,
    writer: WriterHandle,
    saver: Option<crate::patterns::Saver>,
    _lock: DirLock,
}

impl AllInOne {
    /// Checks what can be checked before anything starts.
    pub fn build(cfg: Config) -> Result<AllInOne> {
        cfg.validate()?;
        if cfg.tcp_states.enabled {
            cfg.tcp_states.validate()?;
        }
        // Attached now, before the runtime's threads exist: the caller may then drop the
        // capabilities attaching needed (commands/caps.rs of the CLI).
        let tcp_states = sources::attach_tcp_states(&cfg);
        Ok(AllInOne { cfg, tcp_states })
    }

    /// Locks the data directory, opens the store and starts every stage. Must run inside a
    /// tokio runtime.
    pub async fn start(self) -> Result<RunningAllInOne> {
        let (cfg, attached) = (self.cfg, self.tcp_states);
        let lock = DirLock::try_lock(&cfg.data_dir, "loglynx.lock", || {
            format!(
                "data directory {} is in use by another loglynx process: stop it or pass another --data-dir",
                cfg.data_dir.display()
            )
        })?;
        let host = cfg.host_name();

        // Store first: its checkpoint says where the sources resume.
        let store = Store::open(&cfg.data_dir, &cfg.store).map_err(|source| NodeError::Store {
            dir: cfg.data_dir.clone(),
            source,
        })?;
        let checkpoint = store.checkpoint();
        tracing::info!(sources = checkpoint.positions.len(), "store opened");

        // One query engine: the API's, and the detection stage's reads of the store at start.
        let engine = Arc::new(loglynx_query::QueryEngine::new(store.schema().clone()));

        // store writer <- detection <- pipeline <- transport
        let detection = crate::detection::open(&cfg)?;
        let patterns = crate::patterns::open(&cfg, &crate::patterns::state_path(&cfg.data_dir))?;
        let (event_tx, event_rx) = tokio::sync::mpsc::channel(cfg.pipeline.queue_batches);
        let writer = store
            .start_writer(event_rx)
            .map_err(|source| NodeError::Writer {
                what: "cannot start the store writer",
                source,
            })?;
        let (raw_tx, raw_rx) = loglynx_bus::embedded(cfg.pipeline.queue_batches);
        let (pipeline_tx, detect_stage) = match &detection {
            Some(det) => {
                let (tx, rx) = tokio::sync::mpsc::channel(cfg.pipeline.queue_batches);
                let (st, eng) = (store.clone(), engine.clone());
                let warm: crate::detection::Warm =
                    Box::new(move |lookback| crate::detection::stored_matches(&st, &eng, lookback));
                let (st, eng) = (store.clone(), engine.clone());
                let indexed: crate::detection::Indexed =
                    Box::new(move |book| crate::detection::unindexed_alerts(&st, &eng, book));
                let stage = crate::detection::spawn_stage(det.clone(), rx, event_tx, Some(warm), Some(indexed))?;
                (tx, Some(stage))
            }
            None => (event_tx, None),
        };
        let stats = Arc::new(PipelineStats::persisted(&cfg.pipeline, &cfg.data_dir).map_err(NodeError::Pipeline)?);
        let pipeline = loglynx_pipeline::spawn_pipeline(
            raw_rx,
            pipeline_tx,
            cfg.pipeline.parse_threads,
            cfg.pipeline.keep_original,
            Arc::new(
                loglynx_pipeline::FileRules::from_config(&cfg)
                    .with_state_file(cfg.data_dir.join("parse").join("learned.json"))
                    .with_learned_sources(cfg.pipeline.learned_sources),
            ),
            stats.clone(),
            crate::patterns::chain(
                patterns.as_ref().map(|p| crate::patterns::hook(p, cfg.patterns.signals, cfg.patterns.warmup)),
                detection.as_ref().map(crate::detection::hook),
            ),
        );
        let saver = match &patterns {
            Some(p) => Some(crate::patterns::Saver::start(
                p.clone(),
                Some(store.clone()),
                crate::patterns::Slot::unlocked(crate::patterns::state_path(&cfg.data_dir)),
                cfg.patterns.save_interval,
            )?),
            None => None,
        };

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let (mut addrs, syslog_stats) =
            sources::start(&cfg, &host, &checkpoint, &raw_tx, &shutdown, &mut tasks).await?;
        let disk_low: loglynx_collect::http::Refuse = {
            let store = store.clone();
            Arc::new(move || store.disk_low())
        };
        // One set of credentials and ingest rates for the API and OTLP/gRPC.
        let ingest = sources::IngestAuth::new(&cfg, cfg.http.listen);
        addrs.otlp_grpc = sources::start_otlp_grpc(
            &cfg,
            &host,
            &raw_tx,
            Some(disk_low),
            &ingest,
            &shutdown,
            &mut tasks,
        )
        .await?;

        // API and dashboard.
        let tls = sources::api_tls(&cfg)?;
        let https = tls.is_some();
        let (listener, http) =
            sources::bind_http(cfg.http.listen, "in use? pass --http ADDR").await?;
        let mut state = loglynx_api::AppState::new(store, engine, raw_tx.clone(), host, &cfg.http);
        state.auth = ingest.auth;
        state.ingest_limits = ingest.limits;
        let netmon = sources::start_tcp_states(&cfg, attached, &state.host, &raw_tx)?;
        if let Some(m) = &netmon {
            state.network = Some(Arc::new(NetView(m.shared())));
            state
                .telemetry
                .register_collector(loglynx_netmon::MonitorMetrics(m.shared()));
        }
        if let Some(s) = syslog_stats {
            state
                .telemetry
                .register_collector(loglynx_collect::syslog::SyslogMetrics(s));
        }
        state.pipeline = stats.clone();
        state.otlp = sources::otlp_limits(&cfg);
        state.query_limits = loglynx_api::QueryLimits::new(&cfg.query);
        state.detection = detection.clone();
        state.patterns = patterns.clone().map(|p| p as Arc<dyn loglynx_api::PatternView>);
        state.learned_state = Some(cfg.data_dir.join("parse").join("learned.json"));
        state.learned_config = Some(Arc::new(cfg.clone()));
        drop(raw_tx);
        let limits = loglynx_api::ServeLimits::from_config(&cfg.http);
        {
            let token = shutdown.clone();
            tasks.spawn(async move {
                loglynx_api::serve_with(listener, state, tls, limits, token.cancelled_owned())
                    .await
                    .map_err(NodeError::Http)
            });
        }
        tracing::info!(%http, "loglynx ready: dashboard http://{http}/ui/  api http://{http}/api/v1/");
        Ok(RunningAllInOne {
            state: AllInOneState {
                http,
                https,
                sources: addrs,
                tcp_states: netmon.as_ref().map(sources::mode_of),
            },
            stats,
            shutdown,
            tasks,
            netmon,
            pipeline,
            detect_stage,
            writer,
            saver,
            _lock: lock,
        })
    }
}

impl RunningAllInOne {
    /// What it bound and runs.
    pub fn state(&self) -> &AllInOneState {
        &self.state
    }

    /// The pipeline's counters (records parsed, by format).
    pub fn pipeline_stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    /// Resolves when a stage ends by itself: with its error, or `None` when it ended cleanly.
    /// Call [`RunningAllInOne::shutdown`] after it.
    pub async fn failed(&mut self) -> Option<NodeError> {
        sources::first_failure(&mut self.tasks).await
    }

    /// Stops the sources and the API (in-flight requests are answered), lets the pipeline drain
    /// and the writer make its last commit; its error if that commit failed (the events since
    /// the previous commit are read again at the next start).
    pub async fn shutdown(mut self) -> Result<()> {
        self.shutdown.cancel();
        sources::drain(&mut self.tasks).await;
        sources::stop_tcp_states(self.netmon.take()).await;
        // With the disk below its watermark the writer stops without taking what is queued.
        self.writer.stopping();
        // All senders are gone: the pipeline drains, then the writer commits and ends.
        // A stage that stopped early (the writer failed) has logged why; the writer's own
        // error follows.
        let _ = self.pipeline.await;
        if let Some(stage) = self.detect_stage.take() {
            let _ = tokio::task::spawn_blocking(move || stage.join()).await;
        }
        let writer = self.writer;
        let joined = tokio::task::spawn_blocking(move || writer.join()).await;
        if let Some(saver) = self.saver.take() {
            // after the last commit: the state is never behind the store
            let _ = tokio::task::spawn_blocking(move || saver.stop()).await;
        }
        tracing::info!("stopped");
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(NodeError::Writer {
                what: "store writer failed at shutdown",
                source,
            }),
            Err(e) => Err(NodeError::join("store writer panicked", e)),
        }
    }
}

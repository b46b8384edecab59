//! [`Agent`]: the same sources as `run` (file tail, syslog, TCP states, HTTP ingest), producing
//! raw records to a Kafka topic instead of a local store.
//!
//! Wiring: producer <- bounded channel <- sources. The file source resumes from the agent's
//! own checkpoint (`<data_dir>/agent/checkpoint.json`), which advances only when every record
//! of a batch (and of every batch before it) is delivered (delivery report) or fsynced in the
//! on-disk buffer (`<data_dir>/agent/spool`, sent first at the next start): no line is lost;
//! after a crash the lines delivered since the last checkpoint write are sent again
//! (at-least-once into Kafka; same event ids, see ARCHITECTURE.md).
//!
//! Brokers down at start: with a disk buffer (`kafka.spool_size` > 0) the agent starts anyway
//! (the topic is checked again in the background) and buffers to disk; a topic the brokers
//! refuse (invalid partitions, replication...) still stops it.
//!
//! HTTP ingest (`http.agent_listen`, default 127.0.0.1:7710): the ingest endpoints of `run`
//! (NDJSON, text, Elasticsearch `_bulk` and its start-up probes) without a store, feeding the
//! same channel as the sources; a request is answered once the producer fired its batches' acks
//! (delivered to Kafka, or in the on-disk buffer), and 503 with `Retry-After` when the channel
//! stays full. The same port serves `/metrics` (the ingest counters and the `loglynx_kafka_*`
//! series of this agent) and `/api/v1/health`.
//!
//! Health: every `health::REPORT_EVERY` the agent writes its report into `<data_dir>/health/`
//! (read by `loglynx serve` over the same data directory), removed on exit.

mod health;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use loglynx_bus::kafka::{ensure_topic, AgentCheckpoint, Producer, ProducerStats};
use loglynx_bus::BusError;
use loglynx_config::{Config, KafkaConfig};
use loglynx_core::RawBatch;
use loglynx_telemetry::health::{self as reports, ReportsCollector};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, Result};
use crate::lock::DirLock;
use crate::reporter::HealthReporter;
use crate::sources::{self, SourceAddrs, TcpStatesMode};
use health::AgentHealth;

/// How long the agent waits at shutdown for the brokers to confirm the last records.
const DRAIN: Duration = Duration::from_secs(10);
/// How long the start waits for the topic check when a disk buffer can take the records.
const TOPIC_WAIT: Duration = Duration::from_secs(10);
/// Pause between two topic checks in the background.
const TOPIC_RETRY: Duration = Duration::from_secs(5);
/// How often the produce counts are logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A validated agent, not started yet, with the eBPF programs of `[tcp_states]`
/// attached.
pub struct Agent {
    cfg: Config,
    tcp_states: Option<loglynx_netmon::Attached>,
}

/// What a running agent bound and is doing.
#[derive(Debug, Clone)]
pub struct AgentState {
    /// The HTTP ingest, when on.
    pub http: Option<SocketAddr>,
    /// The syslog servers.
    pub sources: SourceAddrs,
    /// The TCP state monitor's mode, when it runs.
    pub tcp_states: Option<TcpStatesMode>,
    /// The topic produced to.
    pub topic: String,
}

/// A running agent.
pub struct RunningAgent {
    state: AgentState,
    stats: Arc<ProducerStats>,
    shutdown: CancellationToken,
    tasks: JoinSet<Result<()>>,
    netmon: Option<loglynx_netmon::Monitor>,
    producing: JoinHandle<std::result::Result<(), BusError>>,
    /// The producer's result when it ended before the shutdown.
    produced: Option<Result<()>>,
    reporter: HealthReporter,
    _lock: DirLock,
}

impl Agent {
    /// Checks the configuration, including the rule that HTTP ingest off loopback needs a token.
    pub fn build(cfg: Config) -> Result<Agent> {
        cfg.validate()?;
        if cfg.tcp_states.enabled {
            cfg.tcp_states.validate()?;
        }
        check_http_auth(&cfg)?;
        // Attached now, before the runtime's threads exist: the caller may then drop the
        // capabilities attaching needed (commands/caps.rs of the CLI).
        let tcp_states = sources::attach_tcp_states(&cfg);
        Ok(Agent { cfg, tcp_states })
    }

    /// Locks the agent's directory, creates the producer (an invalid property stops the start
    /// here), checks the topic and starts the sources.
    pub async fn start(self) -> Result<RunningAgent> {
        let (cfg, attached) = (self.cfg, self.tcp_states);
        let agent_dir = cfg.data_dir.join("agent");
        let lock = DirLock::try_lock(&agent_dir, "agent.lock", || {
            format!(
                "{} is used by another loglynx agent: stop it or pass another --data-dir",
                agent_dir.display()
            )
        })?;
        let host = cfg.host_name();
        // Opening the disk buffer checksums it (up to kafka.spool_size): off the async threads.
        let producer = {
            let (kafka, dir) = (cfg.kafka.clone(), agent_dir.join("spool"));
            tokio::task::spawn_blocking(move || Producer::new(&kafka)?.with_spool_dir(&dir))
                .await
                .map_err(|e| NodeError::join("the producer could not be created", e))??
        };
        check_topic(&cfg.kafka).await?;
        let checkpoint = AgentCheckpoint::open(&cfg.data_dir)?;
        let positions = checkpoint.get().clone();
        tracing::info!(sources = positions.positions.len(), "agent checkpoint read");

        let stats = producer.stats();
        let (raw_tx, raw_rx) = loglynx_bus::embedded(cfg.pipeline.queue_batches);
        // The producer stops taking batches at most DRAIN after the shutdown, even when the
        // sources are blocked on a full channel (disk buffer full, brokers down).
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone().cancelled_owned();
        let producing =
            tokio::spawn(producer.run(raw_rx, checkpoint, cfg.pipeline.queue_batches, DRAIN, stop));

        let mut tasks = JoinSet::new();
        let (mut addrs, syslog_stats) =
            sources::start(&cfg, &host, &positions, &raw_tx, &shutdown, &mut tasks).await?;
        let netmon = sources::start_tcp_states(&cfg, attached, &host, &raw_tx)?;
        let agent_health = AgentHealth::new(&cfg, &host, stats.clone());
        let net = netmon.as_ref().map(|m| m.shared());
        // One set of credentials and ingest rates for the HTTP ingest and OTLP/gRPC (without
        // an HTTP ingest, those of an HTTP server on http.listen).
        let ingest =
            sources::IngestAuth::new(&cfg, cfg.http.agent_listen.unwrap_or(cfg.http.listen));
        let http = start_http(&cfg, &host, &raw_tx, &agent_health, net, syslog_stats, &ingest, &shutdown, &mut tasks)
            .await?;
        let full: loglynx_collect::http::Refuse = {
            let h = agent_health.clone();
            Arc::new(move || h.refuse_reason())
        };
        addrs.otlp_grpc =
            sources::start_otlp_grpc(&cfg, &host, &raw_tx, Some(full), &ingest, &shutdown, &mut tasks)
                .await?;
        drop(raw_tx);
        // Reports until the producer is done (it drains after the sources stop).
        let reporter = {
            let h = agent_health.clone();
            HealthReporter::start(reports::health_dir(&cfg.data_dir), move || {
                h.tick();
                h.report(reports::now_ms())
            })?
        };
        tokio::spawn(log_counts(stats.clone(), shutdown.clone()));
        let http_shown = http.map_or_else(|| "off".to_string(), |a| a.to_string());
        tracing::info!(topic = %cfg.kafka.topic, brokers = %cfg.kafka.brokers, http = %http_shown, "agent ready");
        Ok(RunningAgent {
            state: AgentState {
                http,
                sources: addrs,
                tcp_states: netmon.as_ref().map(sources::mode_of),
                topic: cfg.kafka.topic.clone(),
            },
            stats,
            shutdown,
            tasks,
            netmon,
            producing,
            produced: None,
            reporter,
            _lock: lock,
        })
    }
}

impl RunningAgent {
    /// What it bound and runs.
    pub fn state(&self) -> &AgentState {
        &self.state
    }

    /// The producer's counters.
    pub fn producer_stats(&self) -> &Arc<ProducerStats> {
        &self.stats
    }

    /// Resolves when a source or the producer ends by itself: with a source's error, or `None`
    /// (a source ended cleanly, or the producer ended: its error, if any, is what
    /// [`RunningAgent::shutdown`] returns). Call [`RunningAgent::shutdown`] after it.
    pub async fn failed(&mut self) -> Option<NodeError> {
        tokio::select! {
            f = sources::first_failure(&mut self.tasks) => f,
            res = &mut self.producing => {
                // Kept for the shutdown, which must not wait for it again.
                self.produced = Some(producer_result(res));
                None
            }
        }
    }

    /// Stops the sources (HTTP requests in flight are answered once their records are
    /// delivered or buffered), waits at most [`DRAIN`] for the last deliveries, saves the
    /// checkpoint and removes the health report.
    pub async fn shutdown(mut self) -> Result<()> {
        self.shutdown.cancel();
        sources::drain(&mut self.tasks).await;
        sources::stop_tcp_states(self.netmon.take()).await;
        let res = match self.produced.take() {
            Some(r) => r,
            None => producer_result((&mut self.producing).await),
        };
        // The report goes with the process (its file is removed).
        let reporter = self.reporter;
        let _ = tokio::task::spawn_blocking(move || reporter.stop()).await;
        tracing::info!("stopped");
        res
    }
}

fn producer_result(
    res: std::result::Result<std::result::Result<(), BusError>, tokio::task::JoinError>,
) -> Result<()> {
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(NodeError::Producer(e)),
        Err(e) => Err(NodeError::join("producer task failed", e)),
    }
}

/// Checks (creates) the topic. With a disk buffer, brokers that do not answer do not stop the
/// start: records are buffered and the topic is checked again in the background; a topic the
/// brokers refuse still stops it.
async fn check_topic(kafka: &KafkaConfig) -> Result<()> {
    if kafka.spool_size.0 == 0 {
        ensure_topic(kafka).await?;
        return Ok(());
    }
    let why = match tokio::time::timeout(TOPIC_WAIT, ensure_topic(kafka)).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) if !e.is_unreachable() => return Err(e.into()),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} s", TOPIC_WAIT.as_secs())),
    };
    if let Some(why) = why {
        tracing::warn!(
            "cannot check the topic now ({why}): starting anyway, records are buffered to disk until the brokers answer; the topic is checked again every {} s",
            TOPIC_RETRY.as_secs()
        );
        tokio::spawn(retry_topic(kafka.clone()));
    }
    Ok(())
}

/// Checks (creates) the topic every [`TOPIC_RETRY`] until the brokers answer.
async fn retry_topic(kafka: KafkaConfig) {
    loop {
        tokio::time::sleep(TOPIC_RETRY).await;
        match ensure_topic(&kafka).await {
            Ok(_) => {
                tracing::info!(topic = %kafka.topic, "brokers reachable: topic checked");
                return;
            }
            Err(e) if e.is_unreachable() => tracing::debug!("topic check: {e}"),
            Err(e) => {
                tracing::error!("{e}: records stay in the disk buffer until the topic exists");
                return;
            }
        }
    }
}

/// Refuses an agent HTTP address off loopback without a token or API keys (the rule of
/// `http.listen`).
fn check_http_auth(cfg: &Config) -> Result<()> {
    if let Some(addr) = cfg.http.agent_listen {
        if !addr.ip().is_loopback() && !cfg.http.has_credentials(&cfg.data_dir) {
            return Err(NodeError::OpenIngest { addr });
        }
    }
    Ok(())
}

/// Starts the HTTP ingest on `http.agent_listen` (when set) as a task of `tasks` that stops
/// accepting when `shutdown` is cancelled and ends once its in-flight requests are answered
/// (their acks need the producer: it keeps running until every sender is gone). Returns the
/// bound address; `None` when off. An address in use stops the start.
#[allow(clippy::too_many_arguments)]
async fn start_http(
    cfg: &Config,
    host: &str,
    raw_tx: &mpsc::Sender<RawBatch>,
    agent_health: &Arc<AgentHealth>,
    netmon: Option<Arc<loglynx_netmon::MonitorShared>>,
    syslog: Option<Arc<loglynx_collect::syslog::SyslogStats>>,
    ingest: &sources::IngestAuth,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<Option<SocketAddr>> {
    let Some(addr) = cfg.http.agent_listen else {
        return Ok(None);
    };
    let (listener, bound) = sources::bind_http(
        addr,
        "for HTTP ingest: in use? pass --http ADDR or --http off",
    )
    .await?;
    let mut state = loglynx_api::IngestState::new(raw_tx.clone(), host.to_string(), &cfg.http);
    state.auth = ingest.auth.clone();
    state.ingest_limits = ingest.limits.clone();
    let h = agent_health.clone();
    state.refuse = Some(Arc::new(move || h.refuse_reason()));
    state.otlp = sources::otlp_limits(cfg);
    // This agent's loglynx_kafka_* series on the port's /metrics.
    let h = agent_health.clone();
    state
        .telemetry
        .register_collector(ReportsCollector::from_fn(move || {
            vec![h.report(reports::now_ms())]
        }));
    // The TCP state monitor's loglynx_netmon_* series, when it runs here.
    if let Some(m) = netmon {
        state
            .telemetry
            .register_collector(loglynx_netmon::MonitorMetrics(m));
    }
    // The syslog servers' loglynx_syslog_* series, when they run here.
    if let Some(s) = syslog {
        state
            .telemetry
            .register_collector(loglynx_collect::syslog::SyslogMetrics(s));
    }
    let app = loglynx_api::ingest_router(state, None);
    let tls = crate::sources::api_tls(cfg)?;
    let limits = loglynx_api::ServeLimits::from_config(&cfg.http);
    let token = shutdown.clone();
    tasks.spawn(async move {
        loglynx_api::serve_router_with(listener, app, tls, limits, token.cancelled_owned())
            .await
            .map_err(NodeError::Http)
    });
    tracing::info!(%bound, "http ingest listening");
    Ok(Some(bound))
}

/// Logs the produce counts every [`LOG_EVERY`] until `stop`.
async fn log_counts(stats: Arc<ProducerStats>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(LOG_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => tracing::info!(
                enqueued = stats.enqueued.load(Ordering::Relaxed),
                delivered = stats.delivered.load(Ordering::Relaxed),
                failures = stats.failures.load(Ordering::Relaxed),
                "produce counts"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Listen;

    fn cfg_with(http: Option<&str>, token: Option<&str>) -> Config {
        let mut cfg = Config::default();
        if let Some(h) = http {
            cfg.http.agent_listen = Listen::parse("http", h).unwrap().addr();
        }
        cfg.http.auth_token = token.map(str::to_string);
        cfg
    }

    #[test]
    fn http_off_loopback_needs_a_token() {
        let cfg = cfg_with(None, None);
        assert_eq!(
            cfg.http.agent_listen,
            Some("127.0.0.1:7710".parse().unwrap())
        );
        check_http_auth(&cfg).unwrap();
        assert!(cfg_with(Some("off"), None).http.agent_listen.is_none());
        let e = check_http_auth(&cfg_with(Some("0.0.0.0:7710"), None))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("auth_token") && e.contains("0.0.0.0:7710"),
            "{e}"
        );
        check_http_auth(&cfg_with(Some("0.0.0.0:7710"), Some("s3cret"))).unwrap();
        check_http_auth(&cfg_with(Some("off"), None)).unwrap();
        assert!(
            Agent::build(cfg_with(Some("0.0.0.0:7710"), None)).is_err(),
            "build refuses it"
        );
    }
}

//! `loglynx agent`: the same sources as `run` (file tail, syslog), producing raw records to a
//! Kafka topic instead of a local store.
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
//! HTTP ingest (`--http ADDR|off`, `http.agent_listen`, default 127.0.0.1:7710): the ingest
//! endpoints of `run` (NDJSON, text, Elasticsearch `_bulk` and its start-up probes) without a
//! store, feeding the same channel as the sources; a request is answered once the producer
//! fired its batches' acks (delivered to Kafka, or in the on-disk buffer), and 503 with
//! `Retry-After` when the channel stays full. The same port serves `/metrics` (the ingest
//! counters and the `loglynx_kafka_*` series of this agent) and `/api/v1/health`.
//!
//! Health: every `health::REPORT_EVERY` the agent writes its [`HealthReport`] into
//! `<data_dir>/health/` (read by `loglynx serve` over the same data directory), removed on exit.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use loglynx_bus::kafka::health::{self, ProducerHealth, Role};
use loglynx_bus::kafka::{ensure_topic, AgentCheckpoint, HealthReport, Producer, ProducerStats};
use tokio_util::sync::CancellationToken;

use super::scaleout::{build_config, init_logging, runtime, CommonArgs, KafkaArgs};

/// How long the agent waits at shutdown for the brokers to confirm the last records.
const DRAIN: Duration = Duration::from_secs(10);
/// How long the start waits for the topic check when a disk buffer can take the records.
const TOPIC_WAIT: Duration = Duration::from_secs(10);
/// Pause between two topic checks in the background.
const TOPIC_RETRY: Duration = Duration::from_secs(5);

#[derive(Args, Debug, Default)]
pub struct AgentArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Partitions of the topic if the agent creates it [default: kafka.partitions, 0 = cores].
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Follow files matching this glob (repeatable; added to files.include).
    #[arg(long = "tail", value_name = "GLOB")]
    pub tail: Vec<String>,
    /// Syslog UDP address, or "off" [default: syslog.udp].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_udp: Option<String>,
    /// Syslog TCP address, or "off" [default: syslog.tcp].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_tcp: Option<String>,
    /// Run the TCP state monitor as a source (eBPF when permitted, else sock_diag snapshots;
    /// see [tcp_states] in loglynx.example.toml).
    #[arg(long)]
    pub tcp_states: bool,
    /// Address of the HTTP ingest, /metrics and health, or "off" [default: http.agent_listen,
    /// 127.0.0.1:7710]. Not a loopback address: an auth token is required.
    #[arg(long, value_name = "ADDR|off")]
    pub http: Option<String>,
}

pub fn main(args: AgentArgs) -> anyhow::Result<i32> {
    init_logging(&args.common.log);
    let mut cfg = build_config(&args.common, Some(&args.kafka))?;
    if let Some(p) = args.partitions {
        cfg.kafka.partitions = p;
    }
    if args.tcp_states {
        cfg.tcp_states.enabled = true;
    }
    if cfg.tcp_states.enabled {
        cfg.tcp_states.validate()?;
    }
    cfg.files.include.extend(args.tail.iter().cloned());
    if let Some(u) = &args.syslog_udp {
        cfg.syslog.udp = super::run::parse_opt_addr("syslog-udp", u)?;
    }
    if let Some(t) = &args.syslog_tcp {
        cfg.syslog.tcp = super::run::parse_opt_addr("syslog-tcp", t)?;
    }
    if let Some(h) = &args.http {
        cfg.http.agent_listen = super::run::parse_opt_addr("http", h)?;
    }
    check_http_auth(&cfg)?;
    runtime()?.block_on(run(cfg))?;
    Ok(0)
}

/// One agent per data directory: its checkpoint file has one writer.
fn lock_agent_dir(data_dir: &Path) -> anyhow::Result<File> {
    let dir = data_dir.join("agent");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}: check the path and its permissions", dir.display()))?;
    let path = dir.join("agent.lock");
    let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    if f.try_lock().is_err() {
        bail!("{} is used by another loglynx agent: stop it or pass another --data-dir", dir.display());
    }
    Ok(f)
}

async fn run(cfg: loglynx_config::Config) -> anyhow::Result<()> {
    let _lock = lock_agent_dir(&cfg.data_dir)?;
    let host = cfg.host_name();
    // The producer first: an invalid property stops the start before anything else. Opening
    // the disk buffer checksums it (up to kafka.spool_size): off the async threads.
    let producer = {
        let (kafka, dir) = (cfg.kafka.clone(), cfg.data_dir.join("agent").join("spool"));
        tokio::task::spawn_blocking(move || Producer::new(&kafka)?.with_spool_dir(&dir)).await??
    };
    if cfg.kafka.spool_size.0 > 0 {
        let why = match tokio::time::timeout(TOPIC_WAIT, ensure_topic(&cfg.kafka)).await {
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
            tokio::spawn(retry_topic(cfg.kafka.clone()));
        }
    } else {
        ensure_topic(&cfg.kafka).await?;
    }
    let checkpoint = AgentCheckpoint::open(&cfg.data_dir)?;
    let positions = checkpoint.get().clone();
    tracing::info!(sources = positions.positions.len(), "agent checkpoint read");

    let stats = producer.stats();
    let (raw_tx, raw_rx) = loglynx_bus::embedded(cfg.pipeline.queue_batches);
    // The producer stops taking batches at most DRAIN after the shutdown, even when the
    // sources are blocked on a full channel (disk buffer full, brokers down).
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone().cancelled_owned();
    let producing = tokio::spawn(producer.run(raw_rx, checkpoint, cfg.pipeline.queue_batches, DRAIN, stop));

    let mut tasks = tokio::task::JoinSet::new();
    super::run::start_sources(&cfg, &host, &positions, &raw_tx, &shutdown, &mut tasks).await?;
    let netmon = super::run::start_tcp_states(&cfg, &host, &raw_tx)?;
    let agent_health = AgentHealth::new(&cfg, &host, stats.clone());
    let http = start_http(&cfg, &host, &raw_tx, &agent_health, &shutdown, &mut tasks).await?;
    drop(raw_tx);
    // Reports until the producer is done (it drains after the sources stop).
    let report_stop = CancellationToken::new();
    let reporting = {
        let dir = health::health_dir(&cfg.data_dir);
        tokio::spawn(report_health(agent_health.clone(), dir, report_stop.clone()))
    };
    {
        let stats = stats.clone();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tick.tick() => tracing::info!(
                        enqueued = stats.enqueued.load(Ordering::Relaxed),
                        delivered = stats.delivered.load(Ordering::Relaxed),
                        failures = stats.failures.load(Ordering::Relaxed),
                        "produce counts"
                    ),
                }
            }
        });
    }
    let http_shown = http.map_or_else(|| "off".to_string(), |a| a.to_string());
    tracing::info!(topic = %cfg.kafka.topic, brokers = %cfg.kafka.brokers, http = %http_shown, "agent ready");
    let mut signals = super::scaleout::Shutdown::install();
    println!("loglynx agent ready: topic {} http {http_shown}", cfg.kafka.topic);

    let mut failure = None;
    let mut producing = producing;
    let mut produced = None;
    tokio::select! {
        _ = signals.wait() => tracing::info!("shutting down: waiting for the last deliveries"),
        Some(res) = tasks.join_next() => {
            if let Ok(Err(e)) = res { failure = Some(e); }
        }
        res = &mut producing => produced = Some(res),
    }
    shutdown.cancel();
    while let Some(res) = tasks.join_next().await {
        if let Ok(Err(e)) = res {
            tracing::error!("{e:#}");
        }
    }
    if let Some(m) = netmon {
        let _ = tokio::task::spawn_blocking(move || m.stop()).await;
    }
    let res = match produced {
        Some(r) => r,
        None => producing.await,
    };
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failure = failure.or(Some(anyhow::Error::new(e).context("kafka producer failed"))),
        Err(e) => failure = failure.or(Some(anyhow::anyhow!("producer task failed: {e}"))),
    }
    // The report goes with the process (its file is removed).
    report_stop.cancel();
    let _ = reporting.await;
    tracing::info!("stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Checks (creates) the topic every [`TOPIC_RETRY`] until the brokers answer.
async fn retry_topic(kafka: loglynx_config::KafkaConfig) {
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

/// Refuses an agent HTTP address off loopback without a token (the rule of `http.listen`).
fn check_http_auth(cfg: &loglynx_config::Config) -> anyhow::Result<()> {
    if let Some(addr) = cfg.http.agent_listen {
        let no_token = cfg.http.auth_token.as_deref().is_none_or(str::is_empty);
        if !addr.ip().is_loopback() && no_token {
            bail!(
                "the agent's HTTP ingest address {addr} is not a loopback address: set http.auth_token (or LOGLYNX_AUTH_TOKEN) so it is not open to the network, or pass --http off"
            );
        }
    }
    Ok(())
}

/// Starts the HTTP ingest on `http.agent_listen` (when set) as a task of `tasks` that stops
/// accepting when `shutdown` is cancelled and ends once its in-flight requests are answered
/// (their acks need the producer: it keeps running until every sender is gone). Returns the
/// bound address; `None` when off. An address in use stops the start (say another one).
async fn start_http(
    cfg: &loglynx_config::Config,
    host: &str,
    raw_tx: &tokio::sync::mpsc::Sender<loglynx_core::RawBatch>,
    agent_health: &Arc<AgentHealth>,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = cfg.http.agent_listen else {
        return Ok(None);
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot listen on {addr} for HTTP ingest (in use? pass --http ADDR or --http off)")
            })
        }
    };
    let bound = listener.local_addr()?;
    let mut state = loglynx_api::IngestState::new(raw_tx.clone(), host.to_string(), &cfg.http);
    // A full disk buffer means the brokers are away and the producer takes nothing more: answer
    // 503 at once rather than after the ack timeout.
    let stats = agent_health.stats.clone();
    state.refuse = Some(Arc::new(move || {
        let max = stats.spool_max_bytes.load(Ordering::Relaxed);
        let used = stats.spool_bytes.load(Ordering::Relaxed);
        (max > 0 && used >= max).then(|| {
            format!("the agent's disk buffer is full ({used} of {max} bytes) while the Kafka brokers are unreachable or slow")
        })
    }));
    let h = agent_health.clone();
    let extra: loglynx_api::ExtraMetrics = Arc::new(move |out: &mut String| {
        let now = health::now_ms();
        health::prometheus(&[h.report(now)], now, out);
    });
    let app = loglynx_api::ingest_router(state, Some(extra));
    let token = shutdown.clone();
    tasks.spawn(async move {
        loglynx_api::serve_router(listener, app, token.cancelled_owned())
            .await
            .context("http ingest server failed")
    });
    tracing::info!(%bound, "http ingest listening");
    Ok(Some(bound))
}

/// This agent's health report, rebuilt from the producer's counters on demand (`/metrics`)
/// and every [`health::REPORT_EVERY`] (the file).
struct AgentHealth {
    /// The fixed part (role, id, host, topic...).
    base: HealthReport,
    stats: Arc<ProducerStats>,
    rate: Mutex<Rate>,
}

/// Delivered records at the last tick, to compute the rate.
struct Rate {
    delivered: u64,
    at: Instant,
    per_sec: f64,
}

impl AgentHealth {
    fn new(cfg: &loglynx_config::Config, host: &str, stats: Arc<ProducerStats>) -> Arc<AgentHealth> {
        let pid = std::process::id();
        let now = health::now_ms();
        Arc::new(AgentHealth {
            base: HealthReport {
                role: Role::Agent,
                id: format!("{host}-{pid}"),
                host: host.to_string(),
                pid,
                topic: cfg.kafka.topic.clone(),
                brokers: cfg.kafka.brokers.clone(),
                started_ms: now,
                updated_ms: now,
                producer: None,
                consumer: None,
            },
            stats,
            rate: Mutex::new(Rate { delivered: 0, at: Instant::now(), per_sec: 0.0 }),
        })
    }

    /// Recomputes the delivery rate from the records delivered since the last tick.
    fn tick(&self) {
        let delivered = self.stats.delivered.load(Ordering::Relaxed);
        let mut r = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let secs = r.at.elapsed().as_secs_f64();
        if secs > 0.0 {
            r.per_sec = delivered.saturating_sub(r.delivered) as f64 / secs;
        }
        r.delivered = delivered;
        r.at = Instant::now();
    }

    /// The report as of now (`now_ms`), with the rate of the last tick.
    fn report(&self, now_ms: u64) -> HealthReport {
        let s = &self.stats;
        let enqueued = s.enqueued.load(Ordering::Relaxed);
        let delivered = s.delivered.load(Ordering::Relaxed);
        let spooling = s.spooling.load(Ordering::Relaxed);
        let rate = self.rate.lock().unwrap_or_else(|e| e.into_inner()).per_sec;
        let mut r = self.base.clone();
        r.updated_ms = now_ms;
        r.producer = Some(ProducerHealth {
            enqueued,
            delivered,
            failures: s.failures.load(Ordering::Relaxed),
            rate,
            in_flight: enqueued.saturating_sub(delivered),
            state: if spooling { "spooling" } else { "direct" }.to_string(),
            spool_bytes: s.spool_bytes.load(Ordering::Relaxed),
            spool_max_bytes: s.spool_max_bytes.load(Ordering::Relaxed),
            spool_records: s.spool_records.load(Ordering::Relaxed),
        });
        r
    }
}

/// Writes the agent's report into `dir` every [`health::REPORT_EVERY`] until `stop`, then
/// removes it. A failed write is logged once (the next one may succeed).
async fn report_health(agent: Arc<AgentHealth>, dir: PathBuf, stop: CancellationToken) {
    let mut tick = tokio::time::interval(health::REPORT_EVERY);
    let mut warned = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        agent.tick();
        let report = agent.report(health::now_ms());
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || report.write(&d)).await {
            Ok(Err(e)) if !warned => {
                tracing::warn!("cannot write the health report in {}: {e} (check the data directory)", dir.display());
                warned = true;
            }
            _ => {}
        }
    }
    let base = agent.base.clone();
    let _ = tokio::task::spawn_blocking(move || base.remove(&dir)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg_with(http: Option<&str>, token: Option<&str>) -> loglynx_config::Config {
        let mut cfg = loglynx_config::Config::default();
        if let Some(h) = http {
            cfg.http.agent_listen = crate::commands::run::parse_opt_addr("http", h).unwrap();
        }
        cfg.http.auth_token = token.map(str::to_string);
        cfg
    }

    #[test]
    fn http_off_loopback_needs_a_token() {
        let cfg = cfg_with(None, None);
        assert_eq!(cfg.http.agent_listen, Some("127.0.0.1:7710".parse().unwrap()));
        check_http_auth(&cfg).unwrap();
        assert!(cfg_with(Some("off"), None).http.agent_listen.is_none());
        let e = check_http_auth(&cfg_with(Some("0.0.0.0:7710"), None)).unwrap_err().to_string();
        assert!(e.contains("auth_token") && e.contains("0.0.0.0:7710"), "{e}");
        check_http_auth(&cfg_with(Some("0.0.0.0:7710"), Some("s3cret"))).unwrap();
        check_http_auth(&cfg_with(Some("off"), None)).unwrap();
    }

    #[test]
    fn the_report_has_counters_in_flight_and_state() {
        let stats = Arc::new(ProducerStats::default());
        let cfg = loglynx_config::Config::default();
        let h = AgentHealth::new(&cfg, "box", stats.clone());
        stats.enqueued.store(10, Ordering::Relaxed);
        stats.delivered.store(7, Ordering::Relaxed);
        stats.spooling.store(true, Ordering::Relaxed);
        stats.spool_records.store(3, Ordering::Relaxed);
        h.tick();
        let r = h.report(42);
        assert_eq!(r.role, Role::Agent);
        assert_eq!(r.id, format!("box-{}", std::process::id()));
        assert_eq!(r.updated_ms, 42);
        let p = r.producer.unwrap();
        assert_eq!((p.enqueued, p.delivered, p.in_flight), (10, 7, 3));
        assert_eq!(p.state, "spooling");
        assert_eq!(p.spool_records, 3);
        assert!(p.rate > 0.0);
    }
}

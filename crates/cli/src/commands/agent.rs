//! `loglynx agent`: the same sources as `run` (file tail, syslog), producing raw records to a
//! Kafka topic instead of a local store.
//!
//! Wiring: producer <- bounded channel <- sources. The file source resumes from the agent's
//! own checkpoint (`<data_dir>/agent/checkpoint.json`), which advances only when every record
//! of a batch (and of every batch before it) has a delivery report: no line is lost; after a
//! crash the lines delivered since the last checkpoint write are sent again (at-least-once
//! into Kafka; same event ids, see ARCHITECTURE.md).

use std::fs::File;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use loglynx_bus::kafka::{ensure_topic, AgentCheckpoint, Producer};
use tokio_util::sync::CancellationToken;

use super::scaleout::{build_config, init_logging, runtime, shutdown_signal, CommonArgs, KafkaArgs};

/// How long the agent waits at shutdown for the brokers to confirm the last records.
const DRAIN: Duration = Duration::from_secs(10);

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
    // The producer first: an invalid property stops the start before anything else.
    let producer = Producer::new(&cfg.kafka)?;
    ensure_topic(&cfg.kafka).await?;
    let checkpoint = AgentCheckpoint::open(&cfg.data_dir)?;
    let positions = checkpoint.get().clone();
    tracing::info!(sources = positions.positions.len(), "agent checkpoint read");

    let stats = producer.stats();
    let (raw_tx, raw_rx) = loglynx_bus::embedded(cfg.pipeline.queue_batches);
    let producing = tokio::spawn(producer.run(raw_rx, checkpoint, cfg.pipeline.queue_batches, DRAIN));

    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    super::run::start_sources(&cfg, &host, &positions, &raw_tx, &shutdown, &mut tasks).await?;
    let netmon = super::run::start_tcp_states(&cfg, &host, &raw_tx)?;
    drop(raw_tx);
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
    tracing::info!(topic = %cfg.kafka.topic, brokers = %cfg.kafka.brokers, "agent ready");
    println!("loglynx agent ready: topic {}", cfg.kafka.topic);

    let mut failure = None;
    let mut producing = producing;
    let mut produced = None;
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down: waiting for the last deliveries"),
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
    tracing::info!("stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

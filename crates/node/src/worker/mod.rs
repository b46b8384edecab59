//! [`Worker`]: a member of the consumer group that indexes the topic into one store shard per
//! partition it holds (`shard.rs`), in a generation of that partition
//! (`generations.rs`: `<data_dir>/shards/<topic>-<partition>-g<start>/`). Each Kafka offset is
//! stored once per worker; across workers a hand-over overlaps by nothing when clean and by at
//! most a commit interval after a crash. Generations no shard writes get retention too
//! ([`RETENTION_EVERY`]).
//!
//! Health: a [`HealthReporter`] rewrites `<data_dir>/health/worker-<host>-<pid>.json` every
//! [`health::REPORT_EVERY`] (partitions owned, positions, committed offsets, high watermarks
//! and lag, rates, rebalance events); `loglynx serve` reads it. A clean exit removes it.

mod correlator;
pub(crate) use correlator::merge_alert_records;
mod generations;
pub use generations::{generations, Generation};
mod leaf;
mod orphans;
pub(crate) mod rule_states;
mod shard;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_bus::kafka::{ConsumerGroup, ConsumerStats, Watermarks};
use loglynx_config::Config;
use loglynx_pipeline::PipelineStats;
use loglynx_telemetry::health::{self, ConsumerHealth, HealthReport, Role};

use crate::error::{NodeError, Result};
use crate::reporter::HealthReporter;
use shard::ShardSink;

/// How often the running worker checks its consumers and logs its counts.
const TICK: Duration = Duration::from_millis(200);
/// How often the counts are logged.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How often retention looks at the generations no shard of this process writes.
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// A validated worker, not started yet.
pub struct Worker {
    cfg: Config,
    consumers: usize,
}

/// What a running worker consumes and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerState {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// Consumers in this process.
    pub consumers: usize,
    /// The partitions its consumers own now, in order.
    pub partitions: Vec<i32>,
}

/// A running worker.
pub struct RunningWorker {
    cfg: Config,
    consumers: usize,
    group: Arc<ConsumerGroup>,
    cstats: Arc<ConsumerStats>,
    stats: Arc<PipelineStats>,
    reporter: HealthReporter,
    sink: Arc<ShardSink>,
    correlator: Option<correlator::Correlator>,
    saver: Option<crate::patterns::Saver>,
    sweeper: tokio::task::JoinHandle<()>,
    leaf: Option<leaf::LeafServer>,
    publisher: Option<crate::catalog::Publisher>,
    reaper: Option<orphans::Reaper>,
}

impl Worker {
    /// Checks the configuration and works out the number of consumers (`kafka.consumers`, 0 =
    /// the cores).
    pub fn build(cfg: Config) -> Result<Worker> {
        cfg.validate()?;
        let consumers = match cfg.kafka.consumers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n => n,
        };
        Ok(Worker { cfg, consumers })
    }

    /// Joins the group (must run inside a tokio runtime: the shards' pipelines run on it).
    pub async fn start(self) -> Result<RunningWorker> {
        let Worker { cfg, consumers } = self;
        let shards_dir = cfg.data_dir.join("shards");
        std::fs::create_dir_all(&shards_dir).map_err(|source| NodeError::CreateDir {
            dir: shards_dir.clone(),
            source,
        })?;
        let stats = Arc::new(PipelineStats::persisted(&cfg.pipeline, &cfg.data_dir).map_err(NodeError::Pipeline)?);
        // This worker's own state file: workers sharing the data directory write apart and
        // `loglynx serve` merges their states by id.
        let slot = match cfg.patterns.enabled {
            true => Some(crate::patterns::worker_slot(&cfg.data_dir, &cfg.host_name())?),
            false => None,
        };
        let patterns = match &slot {
            Some(slot) => crate::patterns::open(&cfg, &slot.path)?,
            None => None,
        };
        let saver = match (&patterns, slot) {
            (Some(p), Some(slot)) => Some(crate::patterns::Saver::start(p.clone(), None, slot, cfg.patterns.save_interval)?),
            _ => None,
        };
        let leaf_patterns = patterns.clone().map(|p| p as Arc<dyn loglynx_api::PatternView>);
        let detection = crate::detection::open_tagging(&cfg)?;
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Correlation across partitions: signals and alerts through side topics; rules
        // enabled or disabled through serve, read before consuming.
        let (signals, correlator) = match &detection {
            Some(det) => {
                let s = stopping.clone();
                rule_states::follow(&cfg.kafka, det.clone(), move || s.load(Ordering::Relaxed)).await?;
                let producer = Arc::new(loglynx_bus::kafka::SideProducer::new(&cfg.kafka)?);
                // Notifications of the alerts this worker's correlator raises, sent while it
                // correlates; each delivery is published to the alerts topic (the outbox).
                let active = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let delivered = {
                    let (producer, topic) = (producer.clone(), loglynx_bus::kafka::alerts_topic(&cfg.kafka.topic));
                    Box::new(move |a: &loglynx_detect::Alert| {
                        let value = serde_json::to_vec(a).map_err(|e| e.to_string())?;
                        producer.send(&topic, &[(a.id.clone(), value)], Duration::from_secs(10)).map_err(|e| e.to_string())
                    })
                };
                det.start_notifier_with(Some(active.clone()), Some(delivered)).map_err(|e| NodeError::Thread {
                    what: "alert notifier",
                    source: std::io::Error::other(e),
                })?;
                let c = correlator::Correlator::start(&cfg, det.clone(), producer.clone(), active)?;
                (Some(producer), Some(c))
            }
            None => (None, None),
        };
        let sink = Arc::new(ShardSink {
            stopping,
            detection,
            signals,
            patterns,
            pattern_signals: cfg.patterns.signals,
            pattern_warmup: cfg.patterns.warmup,
            shards_dir,
            topic: cfg.kafka.topic.clone(),
            store: cfg.store.clone(),
            pipeline: cfg.pipeline.clone(),
            file_rules: Arc::new(
                loglynx_pipeline::FileRules::from_config(&cfg)
                    .with_state_file(cfg.data_dir.join("parse").join("learned.json"))
                    .with_learned_sources(cfg.pipeline.learned_sources),
            ),
            rt: tokio::runtime::Handle::current(),
            stats: stats.clone(),
            consumers,
            open: AtomicUsize::new(0),
            live: std::sync::Mutex::new(std::collections::HashMap::new()),
            choosing: std::sync::Mutex::new(()),
        });
        // Before the consumers: a client that cannot be created stops the start cleanly.
        let watermarks = Watermarks::start(&cfg.kafka)?;
        // The partitions' dedup state and missing counts move through this compacted topic.
        let state = loglynx_bus::kafka::state_topic(&cfg.kafka.topic, &cfg.kafka.group);
        loglynx_bus::kafka::ensure_side_topic(&cfg.kafka, &state, true).await?;
        let instance = cfg.kafka.static_membership.then(|| instance_id(&cfg));
        let group = Arc::new(ConsumerGroup::start(
            &cfg.kafka,
            &cfg.kafka.group,
            consumers,
            sink.clone(),
            instance.as_deref(),
        )?);
        let sweeper = spawn_sweeper(sink.clone());
        let sink_keep = sink;
        let cstats = group.stats();
        let reporter = {
            let mut report = base_report(&cfg, consumers);
            let group = group.clone();
            let mut last = (Instant::now(), 0u64);
            HealthReporter::start(health::health_dir(&cfg.data_dir), move || {
                let owned = group.owned();
                let parts: Vec<i32> = owned.iter().map(|o| o.partition).collect();
                watermarks.watch(&parts);
                let stats = group.stats();
                let consumed = stats.consumed.load(Ordering::Relaxed);
                let secs = last.0.elapsed().as_secs_f64();
                if let Some(c) = report.consumer.as_mut() {
                    c.consumed = consumed;
                    if secs > 0.0 {
                        let rate = consumed.saturating_sub(last.1) as f64 / secs;
                        c.rate = (rate * 10.0).round() / 10.0;
                    }
                    c.undecodable = stats.undecodable.load(Ordering::Relaxed);
                    // Both are records not stored again: offsets the shard already had, and
                    // records an agent sent twice.
                    c.duplicates = stats.duplicates.load(Ordering::Relaxed);
                    c.skipped = stats.skipped.load(Ordering::Relaxed) + c.duplicates;
                    c.refetches = stats.refetches.load(Ordering::Relaxed);
                    c.missing = stats.missing.load(Ordering::Relaxed);
                    c.partitions = watermarks.partitions(&owned);
                    c.rebalances_total = stats.rebalances.load(Ordering::Relaxed);
                    c.rebalances = stats.rebalance_events();
                }
                last = (Instant::now(), consumed);
                report.updated_ms = health::now_ms();
                report.clone()
            })?
        };
        warn_on_idle_consumers(&cfg, consumers);
        let owned: leaf::Owned = {
            let group = group.clone();
            Arc::new(move || group.owned().iter().map(|o| o.partition).collect())
        };
        let leaf = leaf::LeafServer::start(&cfg, &worker_id(&cfg), owned, leaf_patterns).await?;
        // The leaf's address and generations, in the catalog topic for `serve`.
        let publisher = match &leaf {
            Some(l) => {
                let advertise = match cfg.search.advertise.trim() {
                    "" => l.addr.to_string(),
                    a => a.to_string(),
                };
                let view: Arc<dyn loglynx_api::GenerationView> = l.view.clone();
                let reaper = orphans::Reaper::start(&cfg, worker_id(&cfg), advertise.clone(), l.store.clone(), view.clone())?;
                Some((crate::catalog::Publisher::start(&cfg, worker_id(&cfg), advertise, l.store.clone(), view).await?, reaper))
            }
            None => None,
        };
        let (publisher, reaper) = publisher.map_or((None, None), |(p, r)| (Some(p), Some(r)));
        Ok(RunningWorker {
            cfg,
            consumers,
            group,
            cstats,
            stats,
            reporter,
            sink: sink_keep,
            correlator,
            saver,
            sweeper,
            leaf,
            publisher,
            reaper,
        })
    }
}

/// This worker's id: `<host>-<pid>` (its health report's, its catalog key).
fn worker_id(cfg: &Config) -> String {
    format!("{}-{}", cfg.host_name(), std::process::id())
}

impl RunningWorker {
    /// What it consumes and the partitions it holds now (reads the consumers' shard tables:
    /// call it off the async threads when the shards are busy).
    pub fn state(&self) -> WorkerState {
        WorkerState {
            group: self.cfg.kafka.group.clone(),
            topic: self.cfg.kafka.topic.clone(),
            consumers: self.consumers,
            partitions: self.group.owned().iter().map(|o| o.partition).collect(),
        }
    }

    /// The consumer group (for the ready line).
    pub fn group(&self) -> &str {
        &self.cfg.kafka.group
    }

    /// The address of its leaf search API, when on (`[search] listen`).
    pub fn search_addr(&self) -> Option<std::net::SocketAddr> {
        self.leaf.as_ref().map(|l| l.addr)
    }

    /// The topic consumed.
    pub fn topic(&self) -> &str {
        &self.cfg.kafka.topic
    }

    /// The shard generations on this worker's disk ([`generations`]), with the exact
    /// checkpoints of the ones it writes now: what the search catalog publishes. Reads every
    /// window: call it off the async threads.
    pub fn generations(&self) -> Result<Vec<Generation>> {
        let mut all = generations(&self.cfg.data_dir, &self.cfg.kafka.topic, &self.cfg.store)?;
        let live = self.sink.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for g in &mut all {
            if let Some(store) = live.get(&g.dir) {
                let key = loglynx_bus::kafka::source_key(&self.cfg.kafka.topic, g.partition);
                if let Some(next) = store.checkpoint().get(&key) {
                    g.next_offset = Some(next);
                }
            }
        }
        Ok(all)
    }

    /// The consumers' counters (records consumed, skipped, partitions assigned...).
    pub fn consumer_stats(&self) -> &Arc<ConsumerStats> {
        &self.cstats
    }

    /// Resolves when a consumer has stopped by itself (its shard failed, or the group is gone):
    /// the worker must then shut down so the group gives its partitions to another member.
    /// Logs the counts every 10 s meanwhile.
    pub async fn finished(&self) {
        let mut tick = tokio::time::interval(TICK);
        let mut last_log = Instant::now();
        loop {
            tick.tick().await;
            if self.group.any_finished() {
                return;
            }
            if last_log.elapsed() >= LOG_EVERY {
                last_log = Instant::now();
                let c = &self.cstats;
                tracing::info!(
                    consumed = c.consumed.load(Ordering::Relaxed),
                    undecodable = c.undecodable.load(Ordering::Relaxed),
                    skipped = c.skipped.load(Ordering::Relaxed),
                    refetches = c.refetches.load(Ordering::Relaxed),
                    missing = c.missing.load(Ordering::Relaxed),
                    assigned = c.assigned.load(Ordering::Relaxed),
                    rebalances = c.rebalances.load(Ordering::Relaxed),
                    parsed = self.stats.snapshot().1,
                    "consume counts"
                );
            }
        }
    }

    /// Leaves the group: every shard commits what it has and is released; the health report
    /// is removed.
    pub async fn shutdown(self) -> Result<()> {
        let RunningWorker {
            group, reporter, sink, correlator, saver, sweeper, leaf, publisher, reaper, ..
        } = self;
        if let Some(r) = reaper {
            r.stop();
        }
        if let Some(p) = publisher {
            let _ = tokio::task::spawn_blocking(move || p.stop()).await;
        }
        if let Some(leaf) = leaf {
            leaf.stop().await;
        }
        // A consumer waiting in a rebalance for a shard another worker holds gives up.
        sink.stopping.store(true, Ordering::Relaxed);
        sweeper.abort();
        group.stop();
        let last = tokio::task::spawn_blocking(move || reporter.stop_keeping())
            .await
            .map_err(|e| NodeError::join("health reporter failed", e))?;
        // The reporter thread has ended and dropped its handle: this is the last one.
        let group = Arc::try_unwrap(group).map_err(|_| NodeError::GroupInUse)?;
        let joined = tokio::task::spawn_blocking(move || group.join()).await;
        // Gone, cleanly or not: serve stops listing this worker once its shards have committed.
        if let Some(last) = last {
            last.remove();
        }
        if let Some(c) = correlator {
            tokio::task::spawn_blocking(move || c.stop())
                .await
                .map_err(|e| NodeError::join("correlator failed", e))?;
        }
        // the notifier and the rules watcher end at their next check
        if let Some(d) = &sink.detection {
            d.stop();
        }
        joined.map_err(|e| NodeError::join("consumer threads failed", e))??;
        if let Some(saver) = saver {
            let _ = tokio::task::spawn_blocking(move || saver.stop()).await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// This worker's static group membership id (`group.instance.id` without the consumer index):
/// its host name and a hash of its data directory, so two workers on one host (distinct data
/// directories) are distinct members and a restarted one is the same member.
fn instance_id(cfg: &Config) -> String {
    let dir = std::fs::canonicalize(&cfg.data_dir).unwrap_or_else(|_| cfg.data_dir.clone());
    let h = xxhash_rust::xxh3::xxh3_64(dir.to_string_lossy().as_bytes());
    format!("loglynx-{}-{:08x}", cfg.host_name(), h as u32)
}

/// Retention of the generations no shard of this process writes, every [`RETENTION_EVERY`]
/// (and once at start), on the blocking pool; ends with the worker.
fn spawn_sweeper(sink: Arc<ShardSink>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            if sink.stopping.load(Ordering::Relaxed) {
                return;
            }
            let s = sink.clone();
            let swept = tokio::task::spawn_blocking(move || s.sweep()).await;
            if let Ok(Err(e)) = swept {
                tracing::warn!("retention of the shard generations failed: {e}");
            }
        }
    })
}

/// The fixed part of the worker's report.
fn base_report(cfg: &Config, consumers: usize) -> HealthReport {
    let host = cfg.host_name();
    let pid = std::process::id();
    let now = health::now_ms();
    HealthReport {
        role: Role::Worker,
        id: format!("{host}-{pid}"),
        host,
        pid,
        topic: cfg.kafka.topic.clone(),
        brokers: cfg.kafka.brokers.clone(),
        started_ms: now,
        updated_ms: now,
        producer: None,
        consumer: Some(ConsumerHealth {
            group: cfg.kafka.group.clone(),
            consumers,
            ..Default::default()
        }),
    }
}

/// More consumers than partitions is allowed (spares take over when a member dies) but is
/// usually a mistake: say so (in the background: the brokers may be slow to answer).
fn warn_on_idle_consumers(cfg: &Config, consumers: usize) {
    let kafka = cfg.kafka.clone();
    tokio::task::spawn_blocking(move || {
        match loglynx_bus::kafka::topic_partitions(&kafka, Duration::from_secs(5)) {
        Ok(Some(p)) if p < consumers => tracing::warn!(
            partitions = p,
            consumers,
            "topic {} has {p} partitions for {consumers} consumers in this worker: {} of them stay idle; pass --consumers {p} or give the topic more partitions",
            kafka.topic,
            consumers - p
        ),
        Ok(Some(_)) => {}
        Ok(None) => tracing::info!("topic {} does not exist yet: waiting for an agent to create it", kafka.topic),
        Err(e) => tracing::warn!("cannot read the topic's partitions: {e}"),
    }
    });
}

//! `loglynx worker`: a member of the consumer group that indexes the topic exactly once into
//! one store shard per partition, `<data_dir>/shards/<topic>-<partition>/`.
//!
//! Per partition (opened in the rebalance callback, see loglynx_bus::kafka::consumer):
//! shard lock -> store (its checkpoint `kafka:<topic>:<partition>` says where to resume) ->
//! writer <- pipeline <- the consumer. Several workers may share a data directory: a shard is
//! written by the process holding its lock file; a worker assigned a shard that another still
//! holds waits until that one has committed and released it.
//!
//! Health: a reporter thread rewrites `<data_dir>/health/worker-<host>-<pid>.json` every
//! [`health::REPORT_EVERY`] (partitions owned, positions, committed offsets, high watermarks
//! and lag, rates, rebalance events); `loglynx serve` reads it. A clean exit removes it.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use loglynx_bus::kafka::health::{self, ConsumerHealth, HealthReport, Role};
use loglynx_bus::kafka::{source_key, ConsumerGroup, PartitionSink, Watermarks};
use loglynx_config::{PipelineConfig, StoreConfig};
use loglynx_core::RawBatch;
use loglynx_pipeline::PipelineStats;
use loglynx_store::{Store, StoreError, WriterHandle};
use tokio::sync::mpsc;

use super::scaleout::{build_config, init_logging, runtime, CommonArgs, KafkaArgs};

#[derive(Args, Debug, Default)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group [default: kafka.group].
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Consumers in this process, all in the group [default: kafka.consumers, 0 = cores].
    #[arg(long, value_name = "N")]
    pub consumers: Option<usize>,
}

pub fn main(args: WorkerArgs) -> anyhow::Result<i32> {
    init_logging(&args.common.log);
    let mut cfg = build_config(&args.common, Some(&args.kafka))?;
    if let Some(g) = &args.group {
        cfg.kafka.group = g.clone();
    }
    if let Some(n) = args.consumers {
        cfg.kafka.consumers = n;
    }
    runtime()?.block_on(run(cfg))?;
    Ok(0)
}

/// Opens, feeds and closes the shards of one worker process.
struct ShardSink {
    shards_dir: PathBuf,
    topic: String,
    /// The process's budgets (`writer_threads`, `writer_memory`, `parse_threads`): split
    /// between its shards, see [`shard_budget`].
    store: StoreConfig,
    pipeline: PipelineConfig,
    rt: tokio::runtime::Handle,
    stats: Arc<PipelineStats>,
    /// Consumers in this process: the shards it expects to hold at least.
    consumers: usize,
    /// Shards open now, in every consumer of the process.
    open: AtomicUsize,
}

/// The store and pipeline settings of one of `shards` shards of a worker process on `cores`
/// cores. In `run` one store has the whole budget; a worker has a store per partition it owns,
/// so what is automatic (`writer_threads`, `parse_threads` at 0) is divided between the shards,
/// and so is `writer_memory`. A thread count set explicitly applies to each shard as given.
/// `retention_size` stays per shard: a worker cannot know how many shards share the disk (other
/// workers may hold the rest), and dividing by a guess would delete data early.
///
/// `shards` is at least the process's consumers (one partition each, the default topic shape):
/// the consumers of a group get their first partitions in separate callbacks, and the first
/// shard opened must not take the whole budget. A worker that holds fewer shards than it has
/// consumers (e.g. two 8-consumer workers on an 8-partition topic) leaves some budget unused;
/// `--consumers` matching its share avoids that.
///
/// Measured (docs/BENCHMARKS.md): a worker holding 2 shards with 2 indexing threads each on 2
/// cores spent 11-18% more CPU per event than with one each (more, smaller segments to merge).
fn shard_budget(
    store: &StoreConfig,
    pipeline: &PipelineConfig,
    shards: usize,
    cores: usize,
) -> (StoreConfig, PipelineConfig) {
    let shards = shards.max(1);
    let mut store = store.clone();
    let mut pipeline = pipeline.clone();
    if store.writer_threads == 0 {
        store.writer_threads = (cores.clamp(1, 4) / shards).max(1);
    }
    store.writer_memory.0 /= shards as u64;
    if pipeline.parse_threads == 0 {
        pipeline.parse_threads = (cores / shards).max(1);
    }
    (store, pipeline)
}

/// Why a shard could not be opened: the worker stops, and the group gives its partitions to
/// another member.
#[derive(Debug, thiserror::Error)]
enum ShardError {
    /// The shard's directory or lock file could not be created or locked.
    #[error("cannot {action} {path}: {source}")]
    Lock {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The shard's store could not be opened or its writer started.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A shard being written by this process.
struct Shard {
    key: String,
    store: Store,
    writer: WriterHandle,
    _lock: File,
}

impl ShardSink {
    /// Takes the shard's lock file, waiting while another process holds it.
    fn lock(&self, dir: &std::path::Path, partition: i32) -> Result<File, ShardError> {
        let lock_err = |action, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| ShardError::Lock { action, path, source }
        };
        std::fs::create_dir_all(dir).map_err(lock_err("create", dir))?;
        let path = dir.join("shard.lock");
        let f = File::create(&path).map_err(lock_err("create", &path))?;
        let started = Instant::now();
        let mut told = Instant::now();
        loop {
            match f.try_lock() {
                Ok(()) => {
                    if started.elapsed() > Duration::from_millis(100) {
                        tracing::info!(partition, waited_ms = started.elapsed().as_millis() as u64, "shard released by its previous owner");
                    }
                    return Ok(f);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if told.elapsed() > Duration::from_secs(5) {
                        tracing::warn!(partition, dir = %dir.display(), "waiting for another worker to release the shard");
                        told = Instant::now();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_err("lock", &path)(e)),
            }
        }
    }
}

impl PartitionSink for ShardSink {
    type Shard = Shard;
    type Error = ShardError;

    fn open(
        &self,
        partition: i32,
        more: usize,
    ) -> Result<(Shard, Option<i64>, mpsc::Sender<RawBatch>), ShardError> {
        let dir = self.shards_dir.join(format!("{}-{partition}", self.topic));
        let lock = self.lock(&dir, partition)?;
        // Counted from here (two consumers opening at once see each other), given back if the
        // shard cannot be opened.
        let held = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        let opened = self.open_locked(&dir, partition, held + more, lock);
        if opened.is_err() {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        opened
    }

    fn committed(&self, shard: &Shard) -> Option<i64> {
        shard.store.checkpoint().get(&shard.key).map(|o| o as i64)
    }

    fn checkpoint(&self, shard: &Shard) -> loglynx_core::Checkpoint {
        shard.store.checkpoint()
    }

    fn close(&self, shard: Shard) -> Option<i64> {
        let Shard { key, store, writer, _lock } = shard;
        // The pipeline drains, drops its sender, and the writer makes its last commit.
        if let Err(e) = writer.join() {
            tracing::error!(shard = %key, "last commit failed: {e}; the next owner resumes from the previous commit");
        }
        // Its memory is given back only now.
        self.open.fetch_sub(1, Ordering::Relaxed);
        store.checkpoint().get(&key).map(|o| o as i64)
    }
}

impl ShardSink {
    /// [`PartitionSink::open`] once the shard's lock is held and counted: `held` is how many
    /// shards the process holds with this one and the rest of the assignment.
    fn open_locked(
        &self,
        dir: &std::path::Path,
        partition: i32,
        held: usize,
        lock: File,
    ) -> Result<(Shard, Option<i64>, mpsc::Sender<RawBatch>), ShardError> {
        let shards = self.consumers.max(held);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let (store_cfg, pipeline) = shard_budget(&self.store, &self.pipeline, shards, cores);
        tracing::debug!(
            partition,
            shards,
            writer_threads = store_cfg.writer_threads,
            writer_memory = store_cfg.writer_memory.0,
            parse_threads = pipeline.parse_threads,
            "shard budget"
        );
        // Opened under the lock: the checkpoint is the last one any process committed.
        let store = Store::open(dir, &store_cfg)?;
        let (event_tx, event_rx) = mpsc::channel(pipeline.queue_batches);
        let writer = store.start_writer(event_rx)?;
        let (raw_tx, raw_rx) = mpsc::channel(pipeline.queue_batches);
        {
            let _guard = self.rt.enter();
            loglynx_pipeline::spawn_pipeline(
                raw_rx,
                event_tx,
                pipeline.parse_threads,
                pipeline.keep_original,
                self.stats.clone(),
            );
        }
        let key = source_key(&self.topic, partition);
        let next = store.checkpoint().get(&key).map(|o| o as i64);
        Ok((Shard { key, store, writer, _lock: lock }, next, raw_tx))
    }
}

/// Writes the worker's health report every [`health::REPORT_EVERY`] on its own thread (taking
/// the owned partitions may wait for a consumer that is handing a batch to a full shard).
struct Reporter {
    stop: std_mpsc::Sender<()>,
    thread: JoinHandle<HealthReport>,
}

impl Reporter {
    fn start(
        cfg: &loglynx_config::Config,
        consumers: usize,
        group: Arc<ConsumerGroup>,
        watermarks: Watermarks,
    ) -> anyhow::Result<Reporter> {
        let dir = health::health_dir(&cfg.data_dir);
        let host = cfg.host_name();
        let pid = std::process::id();
        let now = health::now_ms();
        let mut report = HealthReport {
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
        };
        let (stop, stopped) = std_mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("loglynx-health".into())
            .spawn(move || {
                let stats = group.stats();
                let mut last = (Instant::now(), 0u64);
                let mut warned = false;
                loop {
                    let owned = group.owned();
                    let parts: Vec<i32> = owned.iter().map(|o| o.partition).collect();
                    watermarks.watch(&parts);
                    let consumed = stats.consumed.load(Ordering::Relaxed);
                    let secs = last.0.elapsed().as_secs_f64();
                    if let Some(c) = report.consumer.as_mut() {
                        c.consumed = consumed;
                        if secs > 0.0 {
                            let rate = consumed.saturating_sub(last.1) as f64 / secs;
                            c.rate = (rate * 10.0).round() / 10.0;
                        }
                        c.undecodable = stats.undecodable.load(Ordering::Relaxed);
                        // Both are records not stored again: offsets the shard already had,
                        // and records an agent sent twice.
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
                    match report.write(&dir) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!(dir = %dir.display(), "health report not written: {e}; check the directory's permissions");
                        }
                        Err(_) => {}
                    }
                    match stopped.recv_timeout(health::REPORT_EVERY) {
                        Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return report,
                    }
                }
            })
            .context("cannot start the health reporter thread")?;
        Ok(Reporter { stop, thread })
    }

    /// Stops the thread; returns the last report (to remove its file at exit).
    fn stop(self) -> Option<HealthReport> {
        let _ = self.stop.send(());
        self.thread.join().ok()
    }
}

async fn run(cfg: loglynx_config::Config) -> anyhow::Result<()> {
    let shards_dir = cfg.data_dir.join("shards");
    std::fs::create_dir_all(&shards_dir)
        .with_context(|| format!("cannot create {}: check the path and its permissions", shards_dir.display()))?;
    let stats = Arc::new(PipelineStats::default());
    let consumers = match cfg.kafka.consumers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let sink = Arc::new(ShardSink {
        shards_dir,
        topic: cfg.kafka.topic.clone(),
        store: cfg.store.clone(),
        pipeline: cfg.pipeline.clone(),
        rt: tokio::runtime::Handle::current(),
        stats: stats.clone(),
        consumers,
        open: AtomicUsize::new(0),
    });
    // Before the consumers: a client that cannot be created stops the start cleanly.
    let watermarks = Watermarks::start(&cfg.kafka)?;
    let group = Arc::new(ConsumerGroup::start(&cfg.kafka, &cfg.kafka.group, consumers, sink)?);
    let cstats = group.stats();
    let reporter = Reporter::start(&cfg, consumers, group.clone(), watermarks)?;
    let mut shutdown = super::scaleout::Shutdown::install();
    println!("loglynx worker ready: group {} topic {}", cfg.kafka.group, cfg.kafka.topic);
    {
        // More consumers than partitions is allowed (spares take over when a member dies) but
        // is usually a mistake: say so.
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

    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last_log = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.wait() => {
                tracing::info!("shutting down: the shards commit what they have");
                break;
            }
            _ = tick.tick() => {
                if group.any_finished() {
                    break;
                }
                if last_log.elapsed() >= Duration::from_secs(10) {
                    last_log = Instant::now();
                    tracing::info!(
                        consumed = cstats.consumed.load(Ordering::Relaxed),
                        undecodable = cstats.undecodable.load(Ordering::Relaxed),
                        skipped = cstats.skipped.load(Ordering::Relaxed),
                        refetches = cstats.refetches.load(Ordering::Relaxed),
                        missing = cstats.missing.load(Ordering::Relaxed),
                        assigned = cstats.assigned.load(Ordering::Relaxed),
                        rebalances = cstats.rebalances.load(Ordering::Relaxed),
                        parsed = stats.snapshot().1,
                        "consume counts"
                    );
                }
            }
        }
    }
    group.stop();
    let last = tokio::task::spawn_blocking(move || reporter.stop())
        .await
        .context("health reporter failed")?;
    // The reporter thread has ended and dropped its handle: this is the last one.
    let group = Arc::try_unwrap(group)
        .map_err(|_| anyhow::anyhow!("the consumer group is still in use at shutdown"))?;
    let joined = tokio::task::spawn_blocking(move || group.join())
        .await
        .context("consumer threads failed")?;
    // Gone, cleanly or not: serve stops listing this worker.
    if let Some(r) = last {
        r.remove(&health::health_dir(&cfg.data_dir));
    }
    joined?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_budgets_are_split_between_shards_and_explicit_ones_kept() {
        let store = StoreConfig::default();
        let pipeline = PipelineConfig::default();
        let mib = 1024 * 1024;
        assert_eq!(store.writer_memory.0, 256 * mib, "the example's default");

        // One shard: the whole budget, as in `run`.
        let (s, p) = shard_budget(&store, &pipeline, 1, 2);
        assert_eq!((s.writer_threads, s.writer_memory.0, p.parse_threads), (2, 256 * mib, 2));
        // Two shards on 2 cores: one indexing and one parsing thread each, half the memory.
        let (s, p) = shard_budget(&store, &pipeline, 2, 2);
        assert_eq!((s.writer_threads, s.writer_memory.0, p.parse_threads), (1, 128 * mib, 1));
        // Never less than one thread; 16 cores count as 4 indexing threads, as in `run`.
        let (s, p) = shard_budget(&store, &pipeline, 3, 2);
        assert_eq!((s.writer_threads, p.parse_threads), (1, 1));
        let (s, p) = shard_budget(&store, &pipeline, 2, 16);
        assert_eq!((s.writer_threads, p.parse_threads), (2, 8));

        // Set explicitly: per shard, as given (memory is still the process's, split).
        let mut explicit = store.clone();
        explicit.writer_threads = 3;
        let mut explicit_p = pipeline.clone();
        explicit_p.parse_threads = 5;
        let (s, p) = shard_budget(&explicit, &explicit_p, 2, 2);
        assert_eq!((s.writer_threads, s.writer_memory.0, p.parse_threads), (3, 128 * mib, 5));
        // Retention by size stays per shard.
        let mut limited = store.clone();
        limited.retention_size.0 = 100 * mib;
        assert_eq!(shard_budget(&limited, &pipeline, 4, 2).0.retention_size.0, 100 * mib);
        // Other settings pass through.
        assert_eq!(s.commit_interval, store.commit_interval);
        assert_eq!(p.queue_batches, pipeline.queue_batches);
    }
}

//! [`ConsumerGroup`]: the worker's side. N consumers of one group, each polling on its own
//! thread (librdkafka's rebalance callback is synchronous), each partition feeding the bounded
//! channel of its shard (a [`PartitionSink`]).
//!
//! Exactly once into a shard (DESIGN invariant 1): the shard's store holds
//! `kafka:<topic>:<partition>` -> next offset in the same commit as the events. Across workers
//! with their own disks the group's committed offsets are the hand-over point: they are
//! committed to Kafka only after the store commit (every second, and synchronously when a
//! partition is revoked or the worker stops). On assignment the callback reads the group's
//! committed offsets and the partitions' states (`changelog.rs`), then opens the shard through
//! the sink, which resumes its local generation when that is at or past the hand-over offset or
//! starts a new generation there (never from the beginning while the group has an offset), and
//! assigns the partition at that offset. On revocation it hands over what it has read, drops
//! the shard's sender, waits for the shard to commit and release it, commits the offset and
//! writes the state before returning. Records an agent sent twice (at new offsets, after it
//! crashed) are recognised by their file position and skipped (`dedup.rs`); those positions are
//! in the same store commit and move with the partition through the changelog.

//!
//! - `sink.rs`: [`PartitionSink`] (what a worker implements), [`ConsumerStats`], [`OwnedPartition`];
//! - `offsets.rs`: the offset decisions (gaps fetched again) and what a batch commits;
//! - `changelog.rs`: the partitions' dedup state and missing counts in `<topic>-state`;
//! - `context.rs`: one consumer's partitions and its rebalance callbacks.

mod changelog;
mod context;
mod offsets;
mod sink;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loglynx_config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::Offset;

use super::config::consumer_config;
use crate::BusError;
use context::{OwnedView, WorkerContext};
pub use changelog::{state_topic, PartitionState};
pub use sink::{ConsumerStats, Opened, OwnedPartition, PartitionSink};

/// How long a poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// Messages taken per poll burst at most (between two reads of the clock).
const BURST: usize = 256;
/// Records wait at most this long before their batch is handed to the shard.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How often the shards' committed offsets are committed to Kafka: a crashed worker's
/// partitions are handed over at most this much (plus a store commit interval) behind what it
/// stored, which the next owner stores again.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// The consumers of one worker process.
pub struct ConsumerGroup {
    threads: Vec<JoinHandle<Result<(), BusError>>>,
    stop: Arc<AtomicBool>,
    stats: Arc<ConsumerStats>,
    owners: Vec<Arc<dyn OwnedView>>,
    changelog: Arc<changelog::Changelog>,
}

impl ConsumerGroup {
    /// Starts `consumers` consumers (0: one per core) of `group` on `cfg.topic`, each on its
    /// own thread, feeding the shards of `sink`. With `instance`, the consumers are static
    /// members of the group (`group.instance.id` = `<instance>-<consumer index>`): a member
    /// that restarts within the session timeout gets its partitions back without a rebalance.
    /// The partitions' state changelog (`<topic>-state`) must exist (the worker creates it).
    /// Fails when a client cannot be created (an invalid property is named).
    pub fn start<S: PartitionSink>(
        cfg: &KafkaConfig,
        group: &str,
        consumers: usize,
        sink: Arc<S>,
        instance: Option<&str>,
    ) -> Result<ConsumerGroup, BusError> {
        let n = if consumers == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            consumers
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ConsumerStats::default());
        let mut threads = Vec::with_capacity(n);
        let mut owners: Vec<Arc<dyn OwnedView>> = Vec::with_capacity(n);
        let changelog = changelog::Changelog::start(cfg)?;
        for id in 0..n {
            let ctx = WorkerContext::new(
                id,
                cfg.topic.clone(),
                cfg.consume_batch.max(1),
                sink.clone(),
                changelog.clone(),
                stats.clone(),
            );
            let mut config = consumer_config(cfg, group);
            if let Some(instance) = instance {
                config.set("group.instance.id", format!("{instance}-{id}"));
            }
            let consumer: BaseConsumer<WorkerContext<S>> = config
                .create_with_context(ctx)
                .map_err(|e| BusError::kafka("consumer", e))?;
            consumer
                .subscribe(&[cfg.topic.as_str()])
                .map_err(|e| BusError::kafka("subscribe", e))?;
            let owner: Arc<dyn OwnedView> = consumer.context().clone();
            let stop = stop.clone();
            let t = std::thread::Builder::new()
                .name(format!("loglynx-consumer-{id}"))
                .spawn(move || poll_loop(consumer, stop))
                .map_err(BusError::Thread)?;
            threads.push(t);
            owners.push(owner);
        }
        tracing::info!(consumers = n, group, topic = %cfg.topic, instance, "consumers started");
        Ok(ConsumerGroup {
            threads,
            stop,
            stats,
            owners,
            changelog,
        })
    }

    /// The members' counters.
    pub fn stats(&self) -> Arc<ConsumerStats> {
        self.stats.clone()
    }

    /// The partitions the consumers own now, by partition (a read-only snapshot). Blocks
    /// while a consumer hands a batch to a full shard channel: call it off the async threads.
    pub fn owned(&self) -> Vec<OwnedPartition> {
        let mut all: Vec<OwnedPartition> = self.owners.iter().flat_map(|o| o.owned()).collect();
        all.sort_by_key(|o| o.partition);
        all
    }

    /// Whether some consumer has ended (on its own: an error).
    pub fn any_finished(&self) -> bool {
        self.threads.iter().any(|t| t.is_finished())
    }

    /// Asks every consumer to stop: each hands over what it read, closes its shards (final
    /// commits) and leaves the group.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Waits for every consumer (blocking); returns the first error.
    pub fn join(self) -> Result<(), BusError> {
        self.stop.store(true, Ordering::Release);
        let mut first = Ok(());
        for t in self.threads {
            let r = t.join().unwrap_or_else(|_| {
                Err(BusError::Thread(std::io::Error::other(
                    "a consumer thread panicked",
                )))
            });
            if first.is_ok() {
                first = r;
            }
        }
        self.changelog.stop();
        first
    }
}

fn poll_loop<S: PartitionSink>(
    consumer: BaseConsumer<WorkerContext<S>>,
    stop: Arc<AtomicBool>,
) -> Result<(), BusError> {
    let ctx = consumer.context().clone();
    let mut last_flush = Instant::now();
    let mut last_report = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Acquire) {
        if let Some(f) = ctx.take_fatal() {
            failure = Some(f);
            // Tells the other consumers of this process to stop too.
            stop.store(true, Ordering::Release);
            break;
        }
        // A burst of messages already fetched is taken without waiting and without reading
        // the clock per message; the clock is read after each burst.
        let mut wait = POLL;
        for _ in 0..BURST {
            match consumer.poll(wait) {
                Some(Ok(m)) => {
                    if let Some(from) = ctx.add(m.partition(), m.offset(), m.payload()) {
                        // librdkafka drops what it prefetched for the partition on a seek.
                        if let Err(e) = consumer.seek(
                            &ctx.topic,
                            m.partition(),
                            Offset::Offset(from),
                            Duration::from_secs(10),
                        ) {
                            ctx.fail(BusError::Refetch {
                                partition: m.partition(),
                                offset: from,
                                source: e,
                            });
                        }
                        break;
                    }
                }
                Some(Err(e)) => tracing::warn!(consumer = ctx.id, "consume error: {e}"),
                None => break,
            }
            wait = Duration::ZERO;
        }
        let now = Instant::now();
        if now.duration_since(last_flush) >= FLUSH_EVERY {
            ctx.flush_all();
            last_flush = now;
        }
        if now.duration_since(last_report) >= COMMIT_EVERY {
            ctx.report(&consumer);
            last_report = now;
        }
    }
    // Shutdown: hand over, let the shards commit, report, then leave the group (dropping the
    // consumer closes it; its revoke callback finds no shard left).
    let (last, states) = ctx.close_all();
    if last.count() > 0 {
        if let Err(e) = consumer.commit(&last, CommitMode::Sync) {
            tracing::warn!("offsets not committed to kafka at stop: {e}; the next owner starts at the partitions' states (written next) or the last commit");
        }
    }
    // After the store commits: the state's offset is one the shards hold, so the next owner may
    // start there even when the Kafka commit above failed.
    ctx.write_states(states);
    consumer.unsubscribe();
    drop(consumer);
    tracing::info!(consumer = ctx.id, "consumer stopped");
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

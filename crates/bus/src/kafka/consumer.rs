//! [`ConsumerGroup`]: the worker's side. N consumers of one group, each polling on its own
//! thread (librdkafka's rebalance callback is synchronous), each partition feeding the bounded
//! channel of its shard (a [`PartitionSink`]).
//!
//! Exactly once into the store (DESIGN invariant 1): the shard's store holds
//! `kafka:<topic>:<partition>` -> next offset in the same commit as the events. On assignment
//! the callback opens the shard (the sink waits for another process to release it) and
//! assigns the partition *at that offset*; on revocation it hands over what it has read,
//! drops the shard's sender and waits for the shard to commit and release it before
//! returning. Offsets are committed back to Kafka (after the store committed them) only so that
//! lag tools see progress; they are never read back. Records an agent sent twice (at new
//! offsets, after it crashed) are recognised by their file position and skipped
//! (`dedup.rs`); those positions are in the same store commit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loglynx_config::KafkaConfig;
use loglynx_core::{RawBatch, RawRecord};
use loglynx_telemetry::health::{now_ms, RebalanceEvent, RebalanceKind, MAX_REBALANCES};
use loglynx_telemetry::internal_events::{
    ConsumerRebalance, KafkaRefetchStarted, OffsetsGivenUpAsMissing, RecordUndecodable,
    RecordsConsumed, RecordsSkippedAsResent, RecordsSkippedAsStored,
};
use loglynx_telemetry::InternalEvent;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc;

use super::codec::{source_key, ValueDecoder};
use super::config::{consumer_config, log_error, log_line};
use super::dedup::Replays;
use crate::BusError;

/// How long a poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// Messages taken per poll burst at most (between two reads of the clock).
const BURST: usize = 256;
/// Records wait at most this long before their batch is handed to the shard.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// How often the shards' committed offsets are committed to Kafka (lag tools).
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// A partition is assigned this many offsets before the shard's checkpoint; the records
/// below the checkpoint are skipped by offset. Kafka answers a fetch with the whole record
/// batch holding the requested offset, but Tansu 0.6 answers with the batches *starting* at
/// or after it (`offsets.split_off(&offset)` in tansu-storage's dynostore `fetch`), which
/// silently drops the rest of a batch when the checkpoint falls inside one. A producer batch
/// holds at most `batch.num.messages` records (librdkafka's default: 10,000), so starting
/// that far back always includes it; with Kafka it costs one re-read of at most that many
/// records per assignment.
const REWIND: i64 = 10_000;
/// Re-fetches of one gap before it is accepted as offsets that are really gone.
const GAP_RETRIES: u32 = 3;

/// What to do with a message, given the shard's next offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Below the next offset: already handed over.
    Skip,
    /// The next offset, or past it where a gap is expected or accepted.
    Take,
    /// Past the next offset: the broker skipped records. Fetch again from this offset.
    Refetch(i64),
}

/// Offsets of a partition are contiguous (no compaction, no transactions on loglynx topics),
/// so a message past the next offset means the broker's answer skipped records: Tansu 0.6
/// serves a fetch from an offset inside a record batch with the *next* batch, which was seen to
/// drop 554 of 1,000,000 records of a partition in a benchmark. The consumer then fetches again
/// from [`REWIND`] offsets before the gap; after [`GAP_RETRIES`] tries the gap is accepted
/// (offsets deleted by retention), loudly.
fn step(next: i64, offset: i64, contiguous: bool, retries: u32) -> Step {
    if offset < next {
        Step::Skip
    } else if offset == next || !contiguous || retries >= GAP_RETRIES {
        Step::Take
    } else {
        Step::Refetch((next - REWIND).max(0))
    }
}

/// What [`PartitionSink::open`] returns: the shard, the next offset to consume and the sender
/// of the shard's pipeline.
pub type Opened<T> = (T, Option<i64>, mpsc::Sender<RawBatch>);

/// Where a worker's partitions go: one shard (store + pipeline) per partition.
pub trait PartitionSink: Send + Sync + 'static {
    /// A running shard.
    type Shard: Send + 'static;
    /// Why a shard could not be opened (the worker stops with it, see
    /// [`BusError::ShardOpen`]).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens the shard of `partition`, waiting while another process holds it. Returns the
    /// shard, the next offset to consume (its store's checkpoint; `None`: from the beginning)
    /// and the sender of its pipeline. Called inside the rebalance callback. An error stops
    /// this consumer (and so the worker): the group gives the partition to another member.
    /// `more` is how many partitions of the same assignment are still to be opened after this
    /// one (a sink that splits a budget between its shards counts them in).
    fn open(&self, partition: i32, more: usize) -> Result<Opened<Self::Shard>, Self::Error>;

    /// The next offset the shard has durably committed, if any.
    fn committed(&self, shard: &Self::Shard) -> Option<i64>;

    /// Called once the shard's sender is dropped: waits until it has committed everything it
    /// received, releases it and returns its last committed next offset.
    fn close(&self, shard: Self::Shard) -> Option<i64>;

    /// The whole checkpoint of the shard's store as opened: besides the partition's offset it
    /// holds the file positions of the records already stored (`seen:<stream>`, see
    /// [`Replays`]), so records an agent sent twice are skipped. The default (none) turns that
    /// off.
    fn checkpoint(&self, _shard: &Self::Shard) -> loglynx_core::Checkpoint {
        loglynx_core::Checkpoint::default()
    }
}

/// Counters of a consumer group member (all its consumers).
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Messages handed to shards.
    pub consumed: AtomicU64,
    /// Messages whose value was not a record (stored raw and flagged).
    pub undecodable: AtomicU64,
    /// Messages skipped because their offset was already in the shard.
    pub skipped: AtomicU64,
    /// Records skipped because the shard already had them from an earlier send (an agent that
    /// crashed sends again what was delivered since its last checkpoint write).
    pub duplicates: AtomicU64,
    /// Re-fetches after the broker's answer skipped records (see `step`).
    pub refetches: AtomicU64,
    /// Offsets accepted as missing after re-fetching (deleted by retention?).
    pub missing: AtomicU64,
    /// Partitions currently assigned.
    pub assigned: AtomicI64,
    /// Assignments and revocations seen.
    pub rebalances: AtomicU64,
    /// The last [`MAX_REBALANCES`] rebalance events of every consumer, oldest first.
    pub rebalance_log: Mutex<VecDeque<RebalanceEvent>>,
}

impl ConsumerStats {
    /// The last [`MAX_REBALANCES`] rebalance events, oldest first.
    pub fn rebalance_events(&self) -> Vec<RebalanceEvent> {
        let log = self.rebalance_log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }

    fn record_rebalance(&self, consumer: usize, kind: RebalanceKind, partitions: Vec<i32>) {
        let mut log = self.rebalance_log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= MAX_REBALANCES {
            log.pop_front();
        }
        log.push_back(RebalanceEvent {
            at_ms: now_ms(),
            consumer,
            kind,
            partitions,
        });
    }
}

/// A partition a consumer of this process owns now (see [`ConsumerGroup::owned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPartition {
    /// Partition number.
    pub partition: i32,
    /// Which consumer of the process owns it (0-based).
    pub consumer: usize,
    /// Next offset to hand to the shard (everything below was read).
    pub position: i64,
    /// Next offset durably committed in the shard's store, if any.
    pub committed: Option<i64>,
    /// Offsets of the partition given up as missing over the shard's life (kept in its
    /// checkpoint, see [`MISSING_PREFIX`]).
    pub missing: u64,
}

/// Prefix of the shard checkpoint key that counts the offsets of its partition given up as
/// missing (`missing:kafka:<topic>:<partition>`), committed with the records after the gap, so
/// the count survives restarts and moves with the shard. Only grows, like a position.
pub const MISSING_PREFIX: &str = "missing:";

/// The key of the missing count of the partition whose offset key is `offset_key`.
fn missing_key(offset_key: &str) -> String {
    format!("{MISSING_PREFIX}{offset_key}")
}

/// What a batch handed to a shard commits with its records: the partition's missing count when
/// it changed, the next offset, and the file positions taken (see [`Replays`]).
fn batch_checkpoint(
    offset_key: String,
    next: i64,
    missing: Option<u64>,
    replays: &mut Replays,
) -> Vec<(String, u64)> {
    let mut checkpoint = Vec::with_capacity(2);
    if let Some(m) = missing {
        checkpoint.push((missing_key(&offset_key), m));
    }
    checkpoint.push((offset_key, next as u64));
    checkpoint.extend(replays.take_checkpoint());
    checkpoint
}

/// Read access to one consumer's owned partitions, whatever its sink type.
trait OwnedView: Send + Sync {
    fn owned(&self) -> Vec<OwnedPartition>;
}

impl<S: PartitionSink> OwnedView for WorkerContext<S> {
    fn owned(&self) -> Vec<OwnedPartition> {
        self.shards()
            .iter()
            .map(|(p, s)| OwnedPartition {
                partition: *p,
                consumer: self.id,
                position: s.next,
                committed: self.sink.committed(&s.inner),
                missing: s.missing,
            })
            .collect()
    }
}

struct Shard<T> {
    inner: T,
    tx: mpsc::Sender<RawBatch>,
    pending: Vec<RawRecord>,
    /// Next offset to hand over (everything below is in the shard's channel or store).
    next: i64,
    /// Last offset committed to Kafka.
    reported: i64,
    /// File positions taken, to skip records sent twice (see [`Replays`]).
    replays: Replays,
    /// Records skipped as sent twice since the last hand-over.
    duplicates: u64,
    /// Whether the next message must be exactly `next` (false right after an assignment from
    /// the beginning: the first offset kept by the broker may be higher).
    contiguous: bool,
    /// Re-fetches of the current gap.
    gap_retries: u32,
    /// Offsets given up as missing over the shard's life; `missing_dirty` until the next batch
    /// carries it to the store.
    missing: u64,
    missing_dirty: bool,
    /// Decodes this partition's messages (consecutive records share their source).
    decoder: ValueDecoder,
}

struct WorkerContext<S: PartitionSink> {
    id: usize,
    topic: String,
    batch: usize,
    sink: Arc<S>,
    shards: Mutex<HashMap<i32, Shard<S::Shard>>>,
    stats: Arc<ConsumerStats>,
    /// The first error that stops this consumer (it is logged when it happens).
    fatal: Mutex<Option<BusError>>,
}

impl<S: PartitionSink> WorkerContext<S> {
    fn shards(&self) -> MutexGuard<'_, HashMap<i32, Shard<S::Shard>>> {
        self.shards.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, e: BusError) {
        tracing::error!(consumer = self.id, "{e}");
        self.fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }

    /// The error that stops this consumer, taken (the loop ends with it).
    fn take_fatal(&self) -> Option<BusError> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Hands the pending records of `shard` to its pipeline (blocking while its channel is full).
    fn flush_one(&self, partition: i32, shard: &mut Shard<S::Shard>) {
        if shard.pending.is_empty() && shard.duplicates == 0 && !shard.missing_dirty {
            return;
        }
        if shard.duplicates > 0 {
            tracing::info!(
                consumer = self.id,
                partition,
                count = shard.duplicates,
                "skipped records already stored (sent again by an agent after a crash)"
            );
            shard.duplicates = 0;
        }
        let records = std::mem::take(&mut shard.pending);
        let n = records.len() as u64;
        // The file positions go with the offset, in the same store commit as the records.
        let missing = std::mem::take(&mut shard.missing_dirty).then_some(shard.missing);
        let checkpoint = batch_checkpoint(
            source_key(&self.topic, partition),
            shard.next,
            missing,
            &mut shard.replays,
        );
        let batch = RawBatch {
            records,
            checkpoint,
            ack: None,
        };
        if shard.tx.blocking_send(batch).is_err() {
            self.fail(BusError::ShardStopped { partition });
            return;
        }
        RecordsConsumed { count: n }.emit(&self.stats.consumed);
    }

    fn flush_all(&self) {
        let mut shards = self.shards();
        for (p, s) in shards.iter_mut() {
            self.flush_one(*p, s);
        }
    }

    /// Takes one message: skips offsets the shard already has and records sent twice (see
    /// [`Replays`]), batches the others.
    /// Returns the offset to fetch again from when the broker's answer skipped records.
    fn add(&self, partition: i32, offset: i64, value: Option<&[u8]>) -> Option<i64> {
        let mut shards = self.shards();
        let Some(shard) = shards.get_mut(&partition) else {
            // Not (or no longer) ours: its owner resumes from its store.
            return None;
        };
        match step(shard.next, offset, shard.contiguous, shard.gap_retries) {
            Step::Skip => {
                RecordsSkippedAsStored.emit(&self.stats.skipped);
                return None;
            }
            Step::Refetch(from) => {
                shard.gap_retries += 1;
                KafkaRefetchStarted {
                    consumer: self.id,
                    partition,
                    missing: shard.next..offset,
                    from,
                }
                .emit(&self.stats.refetches);
                return Some(from);
            }
            Step::Take if offset > shard.next && shard.contiguous => {
                let n = (offset - shard.next) as u64;
                shard.missing += n;
                shard.missing_dirty = true;
                OffsetsGivenUpAsMissing {
                    consumer: self.id,
                    partition,
                    missing: shard.next..offset,
                    tries: GAP_RETRIES,
                }
                .emit(&self.stats.missing);
            }
            Step::Take => {}
        }
        shard.contiguous = true;
        shard.gap_retries = 0;
        let record = shard.decoder.decode(value, &self.topic, partition, offset);
        if record.source.name() == "kafka-undecodable" {
            RecordUndecodable.emit(&self.stats.undecodable);
        }
        shard.next = offset + 1;
        if !shard.replays.admit(&record) {
            RecordsSkippedAsResent.emit(&self.stats.duplicates);
            shard.duplicates += 1;
            return None;
        }
        shard.pending.push(record);
        if shard.pending.len() >= self.batch {
            self.flush_one(partition, shard);
        }
        None
    }

    fn assign(&self, tpl: &mut TopicPartitionList) {
        let parts: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let new: Vec<i32> = {
            let shards = self.shards();
            parts.iter().copied().filter(|p| !shards.contains_key(p)).collect()
        };
        for (i, p) in new.iter().enumerate() {
            match self.sink.open(*p, new.len() - i - 1) {
                Ok((inner, next, tx)) => {
                    let offset =
                        next.map_or(Offset::Beginning, |n| Offset::Offset((n - REWIND).max(0)));
                    if let Err(e) = tpl.set_partition_offset(&self.topic, *p, offset) {
                        self.fail(BusError::Seek {
                            partition: *p,
                            source: e,
                        });
                    }
                    let stored = self.sink.checkpoint(&inner);
                    let replays = Replays::load(&stored.positions);
                    let missing = stored
                        .get(&missing_key(&source_key(&self.topic, *p)))
                        .unwrap_or(0);
                    tracing::info!(
                        consumer = self.id,
                        partition = p,
                        checkpoint = ?next,
                        fetch_from = ?offset,
                        streams = replays.len(),
                        missing,
                        "partition assigned: resuming at the shard's checkpoint"
                    );
                    let checkpoint_known = next.is_some();
                    let next = next.unwrap_or(0);
                    self.shards().insert(
                        *p,
                        Shard {
                            inner,
                            tx,
                            pending: Vec::new(),
                            next,
                            reported: next,
                            replays,
                            duplicates: 0,
                            contiguous: checkpoint_known,
                            gap_retries: 0,
                            missing,
                            missing_dirty: false,
                            decoder: ValueDecoder::default(),
                        },
                    );
                }
                Err(e) => self.fail(BusError::ShardOpen {
                    partition: *p,
                    source: Box::new(e),
                }),
            }
        }
        self.stats
            .assigned
            .store(self.shards().len() as i64, Ordering::Relaxed);
    }

    /// Hands over what was read, closes the shards (their writers commit) and reports their
    /// final offsets to Kafka unless the assignment was lost.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let lost = consumer.assignment_lost();
        let parts: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let mut commit = TopicPartitionList::new();
        for p in &parts {
            let Some(mut shard) = self.shards().remove(p) else {
                continue;
            };
            self.flush_one(*p, &mut shard);
            let Shard { inner, tx, .. } = shard;
            drop(tx);
            let started = Instant::now();
            let last = self.sink.close(inner);
            tracing::info!(
                consumer = self.id,
                partition = p,
                lost,
                ms = started.elapsed().as_millis() as u64,
                committed = ?last,
                "partition revoked: shard committed and released"
            );
            if let Some(o) = last {
                let _ = commit.add_partition_offset(&self.topic, *p, Offset::Offset(o));
            }
        }
        if !lost && commit.count() > 0 {
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                tracing::debug!("offsets not committed to kafka (lag only): {e}");
            }
        }
        self.stats
            .assigned
            .store(self.shards().len() as i64, Ordering::Relaxed);
    }

    /// Commits the shards' durable offsets to Kafka (for lag tools).
    fn report(&self, consumer: &BaseConsumer<Self>) {
        let mut tpl = TopicPartitionList::new();
        for (p, s) in self.shards().iter_mut() {
            if let Some(o) = self.sink.committed(&s.inner) {
                if o > s.reported {
                    s.reported = o;
                    let _ = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(o));
                }
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                tracing::debug!("offsets not committed to kafka (lag only): {e}");
            }
        }
    }

    /// Closes every shard (shutdown); returns their last committed offsets.
    fn close_all(&self) -> TopicPartitionList {
        let all: Vec<(i32, Shard<S::Shard>)> = self.shards().drain().collect();
        let mut tpl = TopicPartitionList::new();
        for (p, mut shard) in all {
            self.flush_one(p, &mut shard);
            drop(shard.tx);
            let last = self.sink.close(shard.inner);
            tracing::info!(consumer = self.id, partition = p, committed = ?last, "shard closed");
            if let Some(o) = last {
                let _ = tpl.add_partition_offset(&self.topic, p, Offset::Offset(o));
            }
        }
        self.stats.assigned.store(0, Ordering::Relaxed);
        tpl
    }
}

impl<S: PartitionSink> ClientContext for WorkerContext<S> {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        log_error(error, reason);
    }
}

impl<S: PartitionSink> ConsumerContext for WorkerContext<S> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        // Recorded for the health report (empty incremental callbacks are not events).
        let mut parts: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        parts.sort_unstable();
        let kind = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => RebalanceKind::Assign,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if consumer.assignment_lost() => {
                RebalanceKind::Lost
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => RebalanceKind::Revoke,
            _ => RebalanceKind::Error,
        };
        if !parts.is_empty() || kind == RebalanceKind::Error {
            // Counted like the events: a cooperative rebalance calls every member, most with
            // nothing to add or take.
            ConsumerRebalance {
                consumer: self.id,
                kind,
                partitions: &parts,
            }
            .emit(&self.stats.rebalances);
            self.stats.record_rebalance(self.id, kind, parts);
        }
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assign(tpl);
                let res = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = res {
                    self.fail(BusError::Assign { source: e });
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(consumer, tpl);
                let res = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = res {
                    tracing::warn!(consumer = self.id, "unassign failed: {e}");
                }
            }
            other => {
                tracing::error!(consumer = self.id, "rebalance error: {other:?}");
                self.close_all();
                let _ = consumer.unassign();
            }
        }
        let mut held: Vec<i32> = self.shards().keys().copied().collect();
        held.sort_unstable();
        tracing::info!(consumer = self.id, partitions = ?held, "rebalance done");
    }
}

/// The consumers of one worker process.
pub struct ConsumerGroup {
    threads: Vec<JoinHandle<Result<(), BusError>>>,
    stop: Arc<AtomicBool>,
    stats: Arc<ConsumerStats>,
    owners: Vec<Arc<dyn OwnedView>>,
}

impl ConsumerGroup {
    /// Starts `consumers` consumers (0: one per core) of `group` on `cfg.topic`, each on its
    /// own thread, feeding the shards of `sink`. Fails when a client cannot be created (an
    /// invalid property is named).
    pub fn start<S: PartitionSink>(
        cfg: &KafkaConfig,
        group: &str,
        consumers: usize,
        sink: Arc<S>,
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
        for id in 0..n {
            let ctx = WorkerContext {
                id,
                topic: cfg.topic.clone(),
                batch: cfg.consume_batch.max(1),
                sink: sink.clone(),
                shards: Mutex::new(HashMap::new()),
                stats: stats.clone(),
                fatal: Mutex::new(None),
            };
            let consumer: BaseConsumer<WorkerContext<S>> = consumer_config(cfg, group)
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
        tracing::info!(consumers = n, group, topic = %cfg.topic, "consumers started");
        Ok(ConsumerGroup {
            threads,
            stop,
            stats,
            owners,
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
                        if let Err(e) = consumer.seek(&ctx.topic, m.partition(), Offset::Offset(from), Duration::from_secs(10)) {
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
    let last = ctx.close_all();
    if last.count() > 0 {
        if let Err(e) = consumer.commit(&last, CommitMode::Sync) {
            tracing::debug!("offsets not committed to kafka (lag only): {e}");
        }
    }
    consumer.unsubscribe();
    drop(consumer);
    tracing::info!(consumer = ctx.id, "consumer stopped");
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_in_offsets_is_fetched_again_then_accepted() {
        assert_eq!(step(10, 9, true, 0), Step::Skip);
        assert_eq!(step(10, 10, true, 0), Step::Take);
        // The broker skipped 10..15: fetch again from before the gap.
        assert_eq!(step(10, 15, true, 0), Step::Refetch(0));
        assert_eq!(step(20_010, 20_015, true, 2), Step::Refetch(10_010));
        // After GAP_RETRIES tries, the gap is taken as real.
        assert_eq!(step(20_010, 20_015, true, GAP_RETRIES), Step::Take);
        // Right after an assignment from the beginning the first offset may be anything.
        assert_eq!(step(0, 500, false, 0), Step::Take);
    }

    #[test]
    fn the_missing_count_is_committed_with_the_batch_after_a_gap_and_read_back() {
        let mut replays = Replays::default();
        // No gap: the offset only.
        assert_eq!(
            batch_checkpoint("kafka:logs:1".into(), 42, None, &mut replays),
            vec![("kafka:logs:1".to_string(), 42)]
        );
        // After a gap of 5 on top of 7 from an earlier owner: the count goes with the offset.
        let ck = batch_checkpoint("kafka:logs:1".into(), 60, Some(12), &mut replays);
        assert_eq!(
            ck,
            vec![
                ("missing:kafka:logs:1".to_string(), 12),
                ("kafka:logs:1".to_string(), 60)
            ]
        );
        // What the next owner of the shard reads back.
        let mut stored = loglynx_core::Checkpoint::default();
        stored.merge(&ck);
        assert_eq!(stored.get(&missing_key("kafka:logs:1")), Some(12));
        assert_eq!(stored.get(&missing_key("kafka:logs:0")), None);
    }
}

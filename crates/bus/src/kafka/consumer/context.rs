//! [`WorkerContext`]: one consumer's partitions and its rebalance callbacks (assign: read the
//! group's committed offsets and the partitions' states, open the shard generation and seek;
//! revoke: hand over, let the shard commit, commit its offset to Kafka and write its state).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use loglynx_core::{KafkaOrigin, RawBatch, RawRecord};
use loglynx_telemetry::health::RebalanceKind;
use loglynx_telemetry::internal_events::{
    ConsumerRebalance, KafkaRefetchStarted, OffsetsGivenUpAsMissing, RecordUndecodable,
    RecordsConsumed, RecordsSkippedAsResent, RecordsSkippedAsStored,
};
use loglynx_telemetry::InternalEvent;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc;

use super::super::codec::{source_key, ValueDecoder};
use super::super::config::{log_error, log_line};
use super::super::dedup::Replays;
use super::changelog::{Changelog, PartitionState, REPLAY_MAX, STATE_EVERY};
use super::offsets::{batch_checkpoint, missing_key, step, Step, GAP_RETRIES};
use super::sink::{ConsumerStats, OwnedPartition, PartitionSink};
use crate::BusError;

/// Read access to one consumer's owned partitions, whatever its sink type.
pub(super) trait OwnedView: Send + Sync {
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
    /// The offset of each pending record (its event's `kafka.offset`).
    pending_offsets: Vec<u64>,
    /// Next offset to hand over (everything below is in the shard's channel or store).
    next: i64,
    /// Last offset committed to Kafka.
    reported: i64,
    /// Offset of the last state written to the changelog, and when.
    state_offset: i64,
    state_written: Instant,
    /// While above `next`: the records below it are read only to rebuild the dedup state
    /// (the changelog was behind the hand-over offset), not stored. 0 once done.
    replay_until: i64,
    /// Records read for the dedup state only.
    replayed: u64,
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

pub(super) struct WorkerContext<S: PartitionSink> {
    pub(super) id: usize,
    pub(super) topic: String,
    batch: usize,
    sink: Arc<S>,
    /// The partitions' state changelog, shared by the process's consumers.
    changelog: Arc<Changelog>,
    shards: Mutex<HashMap<i32, Shard<S::Shard>>>,
    stats: Arc<ConsumerStats>,
    /// The first error that stops this consumer (it is logged when it happens).
    fatal: Mutex<Option<BusError>>,
}

impl<S: PartitionSink> WorkerContext<S> {
    /// Consumer `id` of `topic`, handing batches of up to `batch` records to `sink`'s shards.
    pub(super) fn new(
        id: usize,
        topic: String,
        batch: usize,
        sink: Arc<S>,
        changelog: Arc<Changelog>,
        stats: Arc<ConsumerStats>,
    ) -> Self {
        WorkerContext {
            id,
            topic,
            batch,
            sink,
            changelog,
            shards: Mutex::new(HashMap::new()),
            stats,
            fatal: Mutex::new(None),
        }
    }

    fn shards(&self) -> MutexGuard<'_, HashMap<i32, Shard<S::Shard>>> {
        self.shards.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn fail(&self, e: BusError) {
        tracing::error!(consumer = self.id, "{e}");
        self.fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }

    /// The error that stops this consumer, taken (the loop ends with it).
    pub(super) fn take_fatal(&self) -> Option<BusError> {
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
        let offsets = std::mem::take(&mut shard.pending_offsets);
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
            kafka: Some(KafkaOrigin {
                partition: partition as u64,
                offsets,
            }),
        };
        if shard.tx.blocking_send(batch).is_err() {
            self.fail(BusError::ShardStopped { partition });
            return;
        }
        RecordsConsumed { count: n }.emit(&self.stats.consumed);
    }

    pub(super) fn flush_all(&self) {
        let mut shards = self.shards();
        for (p, s) in shards.iter_mut() {
            self.flush_one(*p, s);
        }
    }

    /// Takes one message: skips offsets the shard already has and records sent twice (see
    /// [`Replays`]), batches the others.
    /// Returns the offset to fetch again from when the broker's answer skipped records.
    pub(super) fn add(&self, partition: i32, offset: i64, value: Option<&[u8]>) -> Option<i64> {
        let mut shards = self.shards();
        let Some(shard) = shards.get_mut(&partition) else {
            // Not (or no longer) ours: its owner resumes from its store.
            return None;
        };
        if shard.replay_until > 0 {
            if offset < shard.replay_until {
                // Before the hand-over offset: the previous owner stored it; only its file
                // position counts (gaps here are not this shard's to fetch or count).
                if offset >= shard.next {
                    let record = shard.decoder.decode(value, &self.topic, partition, offset);
                    shard.replays.admit(&record);
                    shard.next = offset + 1;
                    shard.replayed += 1;
                }
                return None;
            }
            tracing::info!(
                consumer = self.id,
                partition,
                records = shard.replayed,
                streams = shard.replays.len(),
                "dedup state rebuilt from the records before the hand-over"
            );
            shard.next = shard.replay_until;
            shard.replay_until = 0;
            shard.contiguous = true;
        }
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
        shard.pending_offsets.push(offset as u64);
        if shard.pending.len() >= self.batch {
            self.flush_one(partition, shard);
        }
        None
    }

    /// The group's committed offsets of `parts` (absent: never committed). Tried a few times:
    /// starting without them could store again what the group already has.
    fn group_committed(
        &self,
        consumer: &BaseConsumer<Self>,
        parts: &[i32],
    ) -> Result<HashMap<i32, i64>, BusError> {
        let mut tpl = TopicPartitionList::new();
        for p in parts {
            tpl.add_partition(&self.topic, *p);
        }
        let mut last = None;
        for _ in 0..COMMITTED_TRIES {
            match consumer.committed_offsets(tpl.clone(), COMMITTED_TIMEOUT) {
                Ok(list) => {
                    return Ok(list
                        .elements_for_topic(&self.topic)
                        .iter()
                        .filter_map(|e| match e.offset() {
                            Offset::Offset(o) if o >= 0 => Some((e.partition(), o)),
                            _ => None,
                        })
                        .collect())
                }
                Err(e) => {
                    tracing::warn!(consumer = self.id, "cannot read the group's committed offsets: {e}; trying again");
                    last = Some(e);
                }
            }
        }
        Err(BusError::Committed {
            source: last.unwrap_or(KafkaError::NoMessageReceived),
        })
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let parts: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let new: Vec<i32> = {
            let shards = self.shards();
            parts
                .iter()
                .copied()
                .filter(|p| !shards.contains_key(p))
                .collect()
        };
        if new.is_empty() {
            return;
        }
        if self.sink.stopping() {
            // A rebalance during shutdown: reading the group's offsets could wait on a group
            // that is itself rebalancing (three tries of COMMITTED_TIMEOUT) before the stop goes
            // on. Nothing is opened, so nothing is consumed into a shard or committed for them:
            // their next owner starts at the group's offset.
            tracing::info!(consumer = self.id, partitions = ?new, "partitions not opened: stopping");
            return;
        }
        // Where the group is: its committed offsets, and the states written after them.
        let committed = match self.group_committed(consumer, &new) {
            Ok(c) => c,
            Err(e) => {
                self.fail(e);
                return;
            }
        };
        let states = self.changelog.restore(&new);
        for (i, p) in new.iter().enumerate() {
            let group = committed.get(p).copied();
            let state = states.get(p);
            // Both are offsets the previous owner had durably stored below: the state is written
            // after the store commit, so it may be further than the Kafka commit.
            let handover = group.max(state.map(|s| s.offset));
            match self.sink.open(*p, new.len() - i - 1, handover) {
                Ok((inner, next, tx)) => {
                    let start = self.start(*p, &inner, next, handover, state);
                    let offset = start.fetch_from.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(e) = tpl.set_partition_offset(&self.topic, *p, offset) {
                        self.fail(BusError::Seek {
                            partition: *p,
                            source: e,
                        });
                    }
                    tracing::info!(
                        consumer = self.id,
                        partition = p,
                        group_committed = ?group,
                        state_offset = ?state.map(|s| s.offset),
                        resume_at = ?next,
                        fetch_from = ?offset,
                        generation = if start.kept { "kept" } else { "new" },
                        streams = start.replays.len(),
                        missing = start.missing,
                        "partition assigned"
                    );
                    let checkpoint_known = next.is_some();
                    let next_offset = next.unwrap_or(0);
                    self.shards().insert(
                        *p,
                        Shard {
                            inner,
                            tx,
                            pending: Vec::new(),
                            pending_offsets: Vec::new(),
                            next: start.fetch_from.unwrap_or(0),
                            // The first commit reports a kept generation ahead of the group.
                            reported: group.unwrap_or(-1),
                            state_offset: if start.kept { -1 } else { next_offset },
                            state_written: Instant::now(),
                            replay_until: start.replay_until,
                            replayed: 0,
                            replays: start.replays,
                            duplicates: 0,
                            contiguous: checkpoint_known,
                            gap_retries: 0,
                            missing: start.missing,
                            missing_dirty: false,
                            decoder: ValueDecoder::default(),
                        },
                    );
                }
                Err(e) if self.sink.stopping() => {
                    tracing::info!(consumer = self.id, partition = p, "partition not opened: stopping ({e})");
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

    /// Where a shard just opened starts, with which dedup state. A generation that goes on has
    /// its own (its checkpoint holds its offset); a new one takes the changelog's, and reads the
    /// records between the changelog's offset and the hand-over offset for the dedup state
    /// only when the changelog is behind.
    fn start(
        &self,
        partition: i32,
        inner: &S::Shard,
        next: Option<i64>,
        handover: Option<i64>,
        state: Option<&PartitionState>,
    ) -> Start {
        let stored = self.sink.checkpoint(inner);
        let missing_key = missing_key(&source_key(&self.topic, partition));
        if stored.get(&source_key(&self.topic, partition)).is_some() {
            return Start {
                kept: true,
                fetch_from: next,
                replay_until: 0,
                missing: stored.get(&missing_key).unwrap_or(0),
                replays: Replays::load(&stored.positions),
            };
        }
        let Some(at) = next else {
            // From the beginning: nothing before it to know.
            return Start {
                kept: false,
                fetch_from: None,
                replay_until: 0,
                missing: 0,
                replays: Replays::default(),
            };
        };
        let state = state.filter(|s| s.offset <= at);
        let (replays, missing) = match state {
            Some(s) => (
                Replays::load(&s.state),
                s.state.get(&missing_key).copied().unwrap_or(0),
            ),
            None => (Replays::default(), 0),
        };
        // Read again for the dedup state: from the state's offset (none: as far as allowed),
        // when the group handed over past it.
        let from = match state {
            Some(s) if s.offset == at => at,
            Some(s) => s.offset.max(at - REPLAY_MAX),
            None if handover.is_some() => (at - REPLAY_MAX).max(0),
            None => at,
        };
        if from < at {
            tracing::info!(
                partition,
                from,
                to = at,
                "the partition's state is behind the hand-over offset: reading the records between for the dedup state"
            );
        }
        Start {
            kept: false,
            fetch_from: Some(from),
            replay_until: if from < at { at } else { 0 },
            missing,
            replays,
        }
    }

    /// Hands over what was read, closes the shards (their writers commit), reports their
    /// final offsets to Kafka and writes their states unless the assignment was lost.
    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let lost = consumer.assignment_lost();
        let parts: Vec<i32> = tpl
            .elements_for_topic(&self.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        let mut commit = TopicPartitionList::new();
        let mut states = Vec::new();
        for p in &parts {
            let Some(mut shard) = self.shards().remove(p) else {
                continue;
            };
            self.flush_one(*p, &mut shard);
            let Shard { inner, tx, .. } = shard;
            drop(tx);
            let started = Instant::now();
            let cp = self.sink.close(inner);
            let last = cp.get(&source_key(&self.topic, *p)).map(|o| o as i64);
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
                states.push(PartitionState::from_checkpoint(*p, o, &cp));
            }
        }
        // Lost: another member may own the partitions already; what it commits wins.
        if !lost && commit.count() > 0 {
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                tracing::warn!("offsets not committed to kafka at revoke: {e}; the next owner starts at the last commit (a commit interval is stored twice)");
            }
            for s in states {
                self.changelog.write_now(s);
            }
        }
        self.stats
            .assigned
            .store(self.shards().len() as i64, Ordering::Relaxed);
    }

    /// Commits the shards' durable offsets to Kafka (the group's hand-over point) and queues
    /// their states for the changelog (every [`STATE_EVERY`] at most).
    pub(super) fn report(&self, consumer: &BaseConsumer<Self>) {
        let mut tpl = TopicPartitionList::new();
        for (p, s) in self.shards().iter_mut() {
            let cp = self.sink.checkpoint(&s.inner);
            let Some(o) = cp.get(&source_key(&self.topic, *p)).map(|o| o as i64) else {
                continue;
            };
            if o > s.reported {
                s.reported = o;
                let _ = tpl.add_partition_offset(&self.topic, *p, Offset::Offset(o));
            }
            if o > s.state_offset && s.state_written.elapsed() >= STATE_EVERY {
                s.state_offset = o;
                s.state_written = Instant::now();
                self.changelog.offer(PartitionState::from_checkpoint(*p, o, &cp));
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                tracing::debug!("offsets not committed to kafka (the next commit carries them): {e}");
            }
        }
    }

    /// Closes every shard (shutdown); returns their last committed offsets and states.
    pub(super) fn close_all(&self) -> (TopicPartitionList, Vec<PartitionState>) {
        let all: Vec<(i32, Shard<S::Shard>)> = self.shards().drain().collect();
        let mut tpl = TopicPartitionList::new();
        let mut states = Vec::new();
        for (p, mut shard) in all {
            self.flush_one(p, &mut shard);
            drop(shard.tx);
            let cp = self.sink.close(shard.inner);
            let last = cp.get(&source_key(&self.topic, p)).map(|o| o as i64);
            tracing::info!(consumer = self.id, partition = p, committed = ?last, "shard closed");
            if let Some(o) = last {
                let _ = tpl.add_partition_offset(&self.topic, p, Offset::Offset(o));
                states.push(PartitionState::from_checkpoint(p, o, &cp));
            }
        }
        self.stats.assigned.store(0, Ordering::Relaxed);
        (tpl, states)
    }

    /// Writes `states` to the changelog now (after their offsets were committed to Kafka).
    pub(super) fn write_states(&self, states: Vec<PartitionState>) {
        for s in states {
            self.changelog.write_now(s);
        }
    }
}

/// How often, and how long each time, a consumer asks for the group's committed offsets on
/// assignment before it gives up (and stops: the group gives the partitions to another member).
const COMMITTED_TRIES: u32 = 3;
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// How a shard just opened starts (see [`WorkerContext::start`]).
struct Start {
    /// The local generation goes on (its own dedup state).
    kept: bool,
    /// Where to fetch from (`None`: the beginning).
    fetch_from: Option<i64>,
    /// Records below this are read for the dedup state only (0: none).
    replay_until: i64,
    missing: u64,
    replays: Replays,
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
                self.assign(consumer, tpl);
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
                let _ = self.close_all();
                let _ = consumer.unassign();
            }
        }
        let mut held: Vec<i32> = self.shards().keys().copied().collect();
        held.sort_unstable();
        tracing::info!(consumer = self.id, partitions = ?held, "rebalance done");
    }
}

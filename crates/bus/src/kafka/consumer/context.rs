//! [`WorkerContext`]: one consumer's partitions and its rebalance callbacks (assign: open the
//! shard and seek to its checkpoint; revoke: hand over, let the shard commit, release it).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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
use super::offsets::{batch_checkpoint, missing_key, step, Step, GAP_RETRIES, REWIND};
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
        stats: Arc<ConsumerStats>,
    ) -> Self {
        WorkerContext {
            id,
            topic,
            batch,
            sink,
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

    fn assign(&self, tpl: &mut TopicPartitionList) {
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
                            pending_offsets: Vec::new(),
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
    pub(super) fn report(&self, consumer: &BaseConsumer<Self>) {
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
    pub(super) fn close_all(&self) -> TopicPartitionList {
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

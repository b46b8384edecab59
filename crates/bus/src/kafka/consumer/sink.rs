//! What the consumer group needs from a worker ([`PartitionSink`]) and what it shows of itself
//! ([`ConsumerStats`], [`OwnedPartition`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Mutex;

use loglynx_core::RawBatch;
use loglynx_telemetry::health::{now_ms, RebalanceEvent, RebalanceKind, MAX_REBALANCES};
use tokio::sync::mpsc;

/// What [`PartitionSink::open`] returns: the shard, the next offset to consume and the sender
/// of the shard's pipeline.
pub type Opened<T> = (T, Option<i64>, mpsc::Sender<RawBatch>);

/// Where a worker's partitions go: one shard (store + pipeline) per partition.
pub trait PartitionSink: Send + Sync + 'static {
    /// A running shard.
    type Shard: Send + 'static;
    /// Why a shard could not be opened (the worker stops with it, see
    /// [`crate::BusError::ShardOpen`]).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens the shard of `partition`, waiting while another process holds it. Returns the
    /// shard, the next offset to consume (`None`: from the beginning of what Kafka keeps) and
    /// the sender of its pipeline. Called inside the rebalance callback. An error stops this
    /// consumer (and so the worker): the group gives the partition to another member.
    /// `more` is how many partitions of the same assignment are still to be opened after this
    /// one (a sink that splits a budget between its shards counts them in).
    ///
    /// `handover` is the offset the group hands the partition over at: its committed offset,
    /// or its state changelog record's when that is further (`None`: the group never committed
    /// it). A sink whose local shard is behind it starts a new shard generation there; it never
    /// returns `None` while `handover` is set.
    fn open(&self, partition: i32, more: usize, handover: Option<i64>) -> Result<Opened<Self::Shard>, Self::Error>;

    /// Whether the process is stopping: an `open` that fails then (it gave up waiting for a
    /// shard another process holds) is not an error of the consumer.
    fn stopping(&self) -> bool {
        false
    }

    /// The next offset the shard has durably committed, if any.
    fn committed(&self, shard: &Self::Shard) -> Option<i64>;

    /// Called once the shard's sender is dropped: waits until it has committed everything it
    /// received, releases it and returns its last committed checkpoint (the offset and the
    /// state that moves with the partition, see `changelog.rs`).
    fn close(&self, shard: Self::Shard) -> loglynx_core::Checkpoint;

    /// The whole checkpoint of the shard's store as opened: besides the partition's offset it
    /// holds the file positions of the records already stored (`seen:<stream>`, see
    /// `Replays` in dedup.rs), so records an agent sent twice are skipped. The default (none) turns that
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

    pub(super) fn record_rebalance(
        &self,
        consumer: usize,
        kind: RebalanceKind,
        partitions: Vec<i32>,
    ) {
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

/// A partition a consumer of this process owns now (see [`super::ConsumerGroup::owned`]).
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
    /// checkpoint, see `offsets.rs`: `missing:<offset key>`).
    pub missing: u64,
}

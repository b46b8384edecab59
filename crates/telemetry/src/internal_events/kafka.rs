//! Events of the agent's Kafka producer and of the worker's consumers. Their metric is the
//! process's counter (an atomic of the producer's or consumers' stats) that its health report
//! carries: the report is rendered as `loglynx_kafka_*` by
//! [`crate::health::ReportsCollector`].

use std::fmt::Display;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::InternalEvent;
use crate::health::RebalanceKind;

/// Records were handed to librdkafka (`enqueued`).
#[derive(Debug)]
pub struct RecordsEnqueued {
    /// How many.
    pub count: u64,
}

impl InternalEvent for RecordsEnqueued {
    type Metrics = AtomicU64;

    fn emit(self, enqueued: &AtomicU64) {
        enqueued.fetch_add(self.count, Ordering::Relaxed);
    }
}

/// The brokers acknowledged a record (`delivered`, `loglynx_kafka_produced_records_total`).
#[derive(Debug)]
pub struct RecordDelivered;

impl InternalEvent for RecordDelivered {
    type Metrics = AtomicU64;

    fn emit(self, delivered: &AtomicU64) {
        delivered.fetch_add(1, Ordering::Relaxed);
    }
}

/// A record failed to deliver and is sent again (`failures`,
/// `loglynx_kafka_produce_failures_total`); `attempt` 0 counts without a log line (the
/// attempt that ends the retries is reported as an error by the caller).
pub struct RecordDeliveryFailed<'a> {
    /// The retry about to start (1-based), or 0 for none.
    pub attempt: u32,
    /// Why it failed.
    pub error: &'a dyn Display,
}

impl InternalEvent for RecordDeliveryFailed<'_> {
    type Metrics = AtomicU64;

    fn emit(self, failures: &AtomicU64) {
        failures.fetch_add(1, Ordering::Relaxed);
        if self.attempt > 0 {
            tracing::warn!(
                attempt = self.attempt,
                "delivery failed, sending again: {}",
                self.error
            );
        }
    }
}

/// A record was refused as too large (by the producer's `message.max.bytes` or the brokers')
/// and is sent again with its body cut to fit, flagged `truncated` (`truncated`,
/// `loglynx_kafka_produce_truncated_records_total`).
pub struct RecordTruncatedToFit<'a> {
    /// The record's key.
    pub key: &'a str,
    /// Its size in bytes.
    pub bytes: usize,
    /// Its size once cut.
    pub kept: usize,
}

impl InternalEvent for RecordTruncatedToFit<'_> {
    type Metrics = AtomicU64;

    fn emit(self, truncated: &AtomicU64) {
        truncated.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            key = self.key,
            bytes = self.bytes,
            kept = self.kept,
            "a record too large for Kafka is sent cut and flagged truncated; raise the topic's max.message.bytes (and message.max.bytes in [kafka.properties]) or lower the sources' maximum line length"
        );
    }
}

/// The brokers refused a record for good (invalid, or too large even cut): it is skipped
/// (`rejected`).
pub struct RecordRejected<'a> {
    /// The record's key.
    pub key: &'a str,
    /// Its size in bytes.
    pub bytes: usize,
    /// The brokers' answer.
    pub error: &'a dyn Display,
}

impl InternalEvent for RecordRejected<'_> {
    type Metrics = AtomicU64;

    fn emit(self, rejected: &AtomicU64) {
        rejected.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            key = self.key,
            bytes = self.bytes,
            "a record was refused by the brokers and is skipped: {}; raise the topic's max.message.bytes (and message.max.bytes in [kafka.properties]) or lower the sources' maximum line length",
            self.error
        );
    }
}

/// The producer started buffering on disk (`spooling`, `loglynx_kafka_spooling`).
#[derive(Debug)]
pub struct SpoolingStarted<'a> {
    /// Why (the oldest batch waited too long, or librdkafka's queue stayed full).
    pub reason: &'a str,
    /// The spool directory.
    pub dir: &'a Path,
}

impl InternalEvent for SpoolingStarted<'_> {
    type Metrics = AtomicBool;

    fn emit(self, spooling: &AtomicBool) {
        spooling.store(true, Ordering::Relaxed);
        tracing::warn!(
            reason = self.reason,
            "broker unreachable or stalled: buffering to disk at {}",
            self.dir.display()
        );
    }
}

/// The disk buffer drained: the producer sends directly again.
#[derive(Debug)]
pub struct SpoolingEnded {
    /// Records drained from disk in the episode.
    pub records: u64,
    /// How long the episode lasted.
    pub took: Duration,
}

impl InternalEvent for SpoolingEnded {
    type Metrics = AtomicBool;

    fn emit(self, spooling: &AtomicBool) {
        tracing::info!(
            records = self.records,
            "broker back: {} records drained from disk in {:.1} s",
            self.records,
            self.took.as_secs_f64()
        );
        spooling.store(false, Ordering::Relaxed);
    }
}

/// What the agent's disk buffer lost to damaged frames since start (`spool_lost_frames`,
/// `spool_lost_bytes` in the health report).
#[derive(Debug, Default)]
pub struct SpoolLoss {
    /// Damaged frames skipped (about: the frame markers counted in the damaged stretches).
    pub frames: AtomicU64,
    /// Bytes of the damaged stretches.
    pub bytes: AtomicU64,
}

/// A damaged stretch of a disk buffer segment (bad checksum, length or marker) was skipped:
/// the records in it are lost; reading goes on at the next good frame (`resumed`) or the next
/// segment.
#[derive(Debug)]
pub struct SpoolDamageSkipped<'a> {
    /// The segment file.
    pub file: &'a Path,
    /// Where the damage starts.
    pub offset: u64,
    /// Bytes skipped.
    pub bytes: u64,
    /// Frames skipped (about).
    pub frames: u64,
    /// True when a good frame follows in the same segment.
    pub resumed: bool,
}

impl InternalEvent for SpoolDamageSkipped<'_> {
    type Metrics = SpoolLoss;

    fn emit(self, loss: &SpoolLoss) {
        loss.frames.fetch_add(self.frames, Ordering::Relaxed);
        loss.bytes.fetch_add(self.bytes, Ordering::Relaxed);
        let after = if self.resumed {
            "reading goes on at the next good frame"
        } else {
            "no good frame follows in this segment"
        };
        tracing::error!(
            file = %self.file.display(),
            offset = self.offset,
            bytes = self.bytes,
            frames = self.frames,
            "disk buffer: damaged frames skipped, their records are lost ({after}); check the disk (SMART, dmesg)"
        );
    }
}

/// Records were handed to a shard (`consumed`, `loglynx_kafka_consumed_records_total`).
#[derive(Debug)]
pub struct RecordsConsumed {
    /// How many.
    pub count: u64,
}

impl InternalEvent for RecordsConsumed {
    type Metrics = AtomicU64;

    fn emit(self, consumed: &AtomicU64) {
        consumed.fetch_add(self.count, Ordering::Relaxed);
    }
}

/// A message was skipped because its offset was already in the shard (`skipped`,
/// `loglynx_kafka_skipped_records_total{reason="offset"}`).
#[derive(Debug)]
pub struct RecordsSkippedAsStored;

impl InternalEvent for RecordsSkippedAsStored {
    type Metrics = AtomicU64;

    fn emit(self, skipped: &AtomicU64) {
        skipped.fetch_add(1, Ordering::Relaxed);
    }
}

/// A record an agent sent twice was skipped (`duplicates`,
/// `loglynx_kafka_skipped_records_total{reason="resent"}`).
#[derive(Debug)]
pub struct RecordsSkippedAsResent;

impl InternalEvent for RecordsSkippedAsResent {
    type Metrics = AtomicU64;

    fn emit(self, duplicates: &AtomicU64) {
        duplicates.fetch_add(1, Ordering::Relaxed);
    }
}

/// A message's value was not a loglynx record: stored raw and flagged (`undecodable`).
#[derive(Debug)]
pub struct RecordUndecodable;

impl InternalEvent for RecordUndecodable {
    type Metrics = AtomicU64;

    fn emit(self, undecodable: &AtomicU64) {
        undecodable.fetch_add(1, Ordering::Relaxed);
    }
}

/// The broker's answer skipped offsets: the consumer fetches again (`refetches`,
/// `loglynx_kafka_refetches_total`).
#[derive(Debug)]
pub struct KafkaRefetchStarted {
    /// Which consumer of the process.
    pub consumer: usize,
    /// The partition.
    pub partition: i32,
    /// The offsets the answer skipped.
    pub missing: Range<i64>,
    /// The offset fetched again from.
    pub from: i64,
}

impl InternalEvent for KafkaRefetchStarted {
    type Metrics = AtomicU64;

    fn emit(self, refetches: &AtomicU64) {
        refetches.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            consumer = self.consumer,
            partition = self.partition,
            missing = ?self.missing,
            from = self.from,
            "the broker's answer skipped records (Tansu 0.6 serves a fetch inside a record batch from the next batch): fetching again"
        );
    }
}

/// Offsets still missing after re-fetching are given up (`missing`,
/// `loglynx_kafka_missing_offsets_total`).
#[derive(Debug)]
pub struct OffsetsGivenUpAsMissing {
    /// Which consumer of the process.
    pub consumer: usize,
    /// The partition.
    pub partition: i32,
    /// The offsets given up.
    pub missing: Range<i64>,
    /// Fetches tried.
    pub tries: u32,
}

impl OffsetsGivenUpAsMissing {
    /// How many offsets.
    pub fn count(&self) -> u64 {
        (self.missing.end - self.missing.start).max(0) as u64
    }
}

impl InternalEvent for OffsetsGivenUpAsMissing {
    type Metrics = AtomicU64;

    fn emit(self, missing: &AtomicU64) {
        missing.fetch_add(self.count(), Ordering::Relaxed);
        tracing::error!(
            consumer = self.consumer,
            partition = self.partition,
            missing = ?self.missing,
            "offsets still missing after {} fetches (deleted by retention?): going on without them",
            self.tries
        );
    }
}

/// A rebalance callback assigned, revoked or lost partitions, or reported an error
/// (`rebalances_total`, `loglynx_kafka_rebalances_total`).
#[derive(Debug)]
pub struct ConsumerRebalance<'a> {
    /// Which consumer of the process.
    pub consumer: usize,
    /// What happened.
    pub kind: RebalanceKind,
    /// The partitions concerned.
    pub partitions: &'a [i32],
}

impl InternalEvent for ConsumerRebalance<'_> {
    type Metrics = AtomicU64;

    fn emit(self, rebalances: &AtomicU64) {
        rebalances.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            consumer = self.consumer,
            kind = self.kind.as_str(),
            partitions = ?self.partitions,
            "rebalance callback"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_update_their_counter() {
        let n = AtomicU64::new(0);
        RecordsConsumed { count: 3 }.emit(&n);
        RecordsSkippedAsStored.emit(&n);
        OffsetsGivenUpAsMissing {
            consumer: 0,
            partition: 1,
            missing: 10..14,
            tries: 3,
        }
        .emit(&n);
        RecordDeliveryFailed {
            attempt: 0,
            error: &"boom",
        }
        .emit(&n);
        assert_eq!(n.load(Ordering::Relaxed), 3 + 1 + 4 + 1);
        let spooling = AtomicBool::new(false);
        SpoolingStarted {
            reason: "stalled",
            dir: Path::new("/tmp/spool"),
        }
        .emit(&spooling);
        assert!(spooling.load(Ordering::Relaxed));
        SpoolingEnded {
            records: 5,
            took: Duration::from_secs(1),
        }
        .emit(&spooling);
        assert!(!spooling.load(Ordering::Relaxed));
    }
}

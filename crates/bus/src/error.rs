//! [`BusError`]: every failure of the transports, with what to do next.

use std::path::PathBuf;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// Errors of the bus crate.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// librdkafka refused a property (unknown name or bad value).
    #[error("invalid kafka property {key} = {value:?}: {reason}; fix it in [kafka] or [kafka.properties] (see librdkafka's CONFIGURATION.md)")]
    Property {
        /// The property name.
        key: String,
        /// The value given.
        value: String,
        /// librdkafka's explanation (or why loglynx needs another value).
        reason: String,
    },
    /// A Kafka client could not be created or an operation failed.
    #[error("kafka {what} failed: {source}; check that the brokers are reachable (--brokers / kafka.brokers)")]
    Kafka {
        /// What was being done.
        what: String,
        /// The client error.
        source: KafkaError,
    },
    /// The topic could not be created.
    #[error(
        "cannot create topic {topic}: {code}; create it by hand or check the broker's permissions"
    )]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's answer.
        code: RDKafkaErrorCode,
    },
    /// The agent's checkpoint file could not be read or written.
    #[error("agent checkpoint {path}: {source}; check the data directory (--data-dir)")]
    CheckpointIo {
        /// The file (or its directory).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The agent's checkpoint file holds something else than a checkpoint.
    #[error("agent checkpoint {path}: invalid content ({source}): move it away to start over")]
    CheckpointContent {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// A file of the agent's on-disk buffer could not be created, read or written.
    #[error("agent spool {path}: cannot {action} ({source}){hint}")]
    Spool {
        /// The directory or file.
        path: PathBuf,
        /// What was being done ("write", "fsync", ...).
        action: &'static str,
        /// What to do next, starting with ": " (or empty).
        hint: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The on-disk buffer reached `kafka.spool_size`.
    #[error("agent spool {path}: full ({bytes} of {max_bytes} bytes): wait for the brokers or raise kafka.spool_size")]
    SpoolFull {
        /// The spool's directory.
        path: PathBuf,
        /// Bytes of its segment files.
        bytes: u64,
        /// Its capacity.
        max_bytes: u64,
    },
    /// One record does not fit in a frame of the on-disk buffer.
    #[error("agent spool {path}: a record of {bytes} bytes is larger than a frame allows: lower the sources' maximum line length")]
    SpoolRecordTooLarge {
        /// The spool's directory.
        path: PathBuf,
        /// The encoded frame's size.
        bytes: u64,
    },
    /// A file of the spool directory is not a segment, or a frame in it is damaged.
    #[error("agent spool {path}: {problem}")]
    SpoolDamaged {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do next.
        problem: SpoolDamage,
    },
    /// The brokers refused a record as too large: the topic's `max.message.bytes` is below the
    /// producer's `message.max.bytes` (records above that are cut before sending).
    #[error("the brokers refused a record of {bytes} bytes (key {key}) as too large, below the producer's message.max.bytes ({max_message}): set message.max.bytes in [kafka.properties] to at most the topic's max.message.bytes (longer records are then sent cut, flagged truncated) and restart; its batch was not acknowledged and is sent again")]
    TooLargeForTopic {
        /// The record's key.
        key: String,
        /// Its size.
        bytes: usize,
        /// The producer's `message.max.bytes`.
        max_message: usize,
    },
    /// The producer was asked to spool without a disk buffer (a bug).
    #[error("agent spool: no disk buffer configured; set kafka.spool_size above 0")]
    NoSpool,
    /// A task of the producer (the spool's blocking work, the drainer) panicked or was
    /// cancelled.
    #[error("the {what} task failed ({source}); restart the agent (the disk buffer and the checkpoint are kept)")]
    Task {
        /// Which task.
        what: &'static str,
        /// How it ended.
        source: tokio::task::JoinError,
    },
    /// A worker's shard could not be opened; the worker stops so the group gives its
    /// partitions to another member.
    #[error("cannot open the shard of partition {partition}: {source}")]
    ShardOpen {
        /// The partition.
        partition: i32,
        /// The sink's error ([`crate::kafka::PartitionSink::Error`]).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A worker's shard stopped taking batches (its store or pipeline failed and logged why).
    #[error("the shard of partition {partition} stopped: see its error above")]
    ShardStopped {
        /// The partition.
        partition: i32,
    },
    /// A consumer could not start reading an assigned partition at the shard's checkpoint.
    #[error("cannot seek partition {partition}: {source}")]
    Seek {
        /// The partition.
        partition: i32,
        /// The client error.
        source: KafkaError,
    },
    /// A consumer could not fetch a partition again after a gap in its offsets.
    #[error("cannot fetch partition {partition} again from offset {offset}: {source}")]
    Refetch {
        /// The partition.
        partition: i32,
        /// Where the fetch was to start.
        offset: i64,
        /// The client error.
        source: KafkaError,
    },
    /// A consumer could not read the group's committed offsets of the partitions assigned to
    /// it (without them it could store again what the group already has).
    #[error("cannot read the consumer group's committed offsets: {source}; the worker stops so the group gives its partitions to another member (check the brokers)")]
    Committed {
        /// The client error.
        source: KafkaError,
    },
    /// A consumer could not take the partitions the group assigned to it.
    #[error("cannot take the assigned partitions: {source}")]
    Assign {
        /// The client error.
        source: KafkaError,
    },
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// What is wrong with a file of the on-disk buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpoolDamage {
    /// The file does not start with a segment header.
    #[error("not a loglynx spool segment (bad header): move it out of the spool directory")]
    BadHeader,
    /// A segment of a format this version does not know (written by a newer loglynx).
    #[error("written by a newer loglynx (spool format {0}): run that version until its disk buffer is empty, or move the file out of the spool directory (its records will not be sent)")]
    UnknownVersion(u32),
    /// A frame read back has a bad length or checksum.
    #[error("corrupt frame at offset {0}: the disk buffer is damaged; move the file away to skip it (its records are lost)")]
    CorruptFrame(u64),
    /// The cursor file does not hold `<segment> <offset>`.
    #[error("invalid content: delete it to send the whole disk buffer again (records may be duplicated)")]
    BadCursor,
    /// The spool has no segment to write to (a bug).
    #[error("no segment to write to; restart the agent")]
    NoSegment,
}

impl BusError {
    /// Wraps a client error, turning configuration errors into [`BusError::Property`].
    pub(crate) fn kafka(what: impl Into<String>, e: KafkaError) -> BusError {
        match e {
            KafkaError::ClientConfig(_, reason, key, value) => {
                BusError::Property { key, value, reason }
            }
            source => BusError::Kafka {
                what: what.into(),
                source,
            },
        }
    }

    /// True when the brokers did not answer (down, no controller or leader yet, timed out),
    /// as opposed to refusing what was asked: the same request may succeed later.
    pub fn is_unreachable(&self) -> bool {
        use RDKafkaErrorCode as C;
        match self {
            BusError::Kafka { .. } => true,
            BusError::CreateTopic { code, .. } => matches!(
                code,
                C::BrokerTransportFailure
                    | C::AllBrokersDown
                    | C::MessageTimedOut
                    | C::OperationTimedOut
                    | C::TimedOutQueue
                    | C::RequestTimedOut
                    | C::LeaderNotAvailable
                    | C::BrokerNotAvailable
                    | C::ReplicaNotAvailable
                    | C::CoordinatorNotAvailable
                    | C::PreferredLeaderNotAvailable
                    | C::EligibleLeadersNotAvailable
                    | C::NotController
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_broker_is_told_from_a_refused_topic() {
        let topic = |code| BusError::CreateTopic {
            topic: "logs".into(),
            code,
        };
        assert!(topic(RDKafkaErrorCode::RequestTimedOut).is_unreachable());
        assert!(topic(RDKafkaErrorCode::NotController).is_unreachable());
        assert!(!topic(RDKafkaErrorCode::InvalidPartitions).is_unreachable());
        assert!(!topic(RDKafkaErrorCode::InvalidReplicationFactor).is_unreachable());
        let property = BusError::Property {
            key: "acks".into(),
            value: "x".into(),
            reason: "bad".into(),
        };
        assert!(!property.is_unreachable());
    }
}

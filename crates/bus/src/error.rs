//! [`BusError`]: every failure of the transports, with what to do next.

use std::path::PathBuf;

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
        /// librdkafka's explanation.
        reason: String,
    },
    /// A Kafka client could not be created or an operation failed.
    #[error("kafka {what} failed: {source}; check that the brokers are reachable (--brokers / kafka.brokers)")]
    Kafka {
        /// What was being done.
        what: String,
        /// The client error.
        source: rdkafka::error::KafkaError,
    },
    /// The topic could not be created.
    #[error("cannot create topic {topic}: {reason}; create it by hand or check the broker's permissions")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// The agent's checkpoint file could not be read or written.
    #[error("agent checkpoint {path}: {reason}; check the data directory (--data-dir)")]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The agent's on-disk buffer could not be opened, read or written.
    #[error("agent spool {path}: {reason}")]
    Spool {
        /// The directory or file.
        path: PathBuf,
        /// What went wrong and what to do next.
        reason: String,
    },
    /// A shard of a worker failed (its store or pipeline); the worker stops so the group gives
    /// its partitions to another member.
    #[error("{0}")]
    Shard(String),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

impl BusError {
    /// Wraps a client error, turning configuration errors into [`BusError::Property`].
    pub(crate) fn kafka(what: impl Into<String>, e: rdkafka::error::KafkaError) -> BusError {
        match e {
            rdkafka::error::KafkaError::ClientConfig(_, reason, key, value) => {
                BusError::Property { key, value, reason }
            }
            source => BusError::Kafka {
                what: what.into(),
                source,
            },
        }
    }
}

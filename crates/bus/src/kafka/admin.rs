//! Topic creation: the agent creates the topic when absent, with its partitions, replication
//! factor and retention.

use std::time::Duration;

use loglynx_config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use super::config::{admin_config, LogContext};
use crate::BusError;

/// Creates `cfg.topic` unless it exists; returns whether it was created. Partitions 0 means
/// this machine's CPU cores.
pub async fn ensure_topic(cfg: &KafkaConfig) -> Result<bool, BusError> {
    let partitions = if cfg.partitions > 0 {
        cfg.partitions
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get() as i32)
            .unwrap_or(1)
    };
    let retention_ms = cfg.retention.as_millis().to_string();
    let retention_bytes = cfg.retention_bytes.0.to_string();
    let mut topic = NewTopic::new(
        &cfg.topic,
        partitions,
        TopicReplication::Fixed(cfg.replication_factor),
    );
    if !cfg.retention.is_zero() {
        topic = topic.set("retention.ms", &retention_ms);
    }
    if cfg.retention_bytes.0 > 0 {
        topic = topic.set("retention.bytes", &retention_bytes);
    }
    create(cfg, &topic).await
}

/// Creates `topic` unless it exists; returns whether it was created.
pub(crate) async fn create(cfg: &KafkaConfig, topic: &NewTopic<'_>) -> Result<bool, BusError> {
    let admin: AdminClient<LogContext> = admin_config(cfg)
        .create_with_context(LogContext)
        .map_err(|e| BusError::kafka("admin client", e))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([topic], &opts)
        .await
        .map_err(|e| BusError::kafka("create topic", e))?;
    match results.into_iter().next() {
        None => Ok(false),
        Some(r) => match r {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = topic.num_partitions, "topic created");
                Ok(true)
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::info!(topic = %topic.name, "topic exists");
                Ok(false)
            }
            Err((name, code)) => Err(BusError::CreateTopic { topic: name, code }),
        },
    }
}

/// The number of partitions of `cfg.topic`, asked of the brokers (blocking, at most
/// `timeout`). `Ok(None)`: the topic does not exist (yet). An unreachable broker is an error.
pub fn topic_partitions(cfg: &KafkaConfig, timeout: Duration) -> Result<Option<usize>, BusError> {
    let admin: AdminClient<LogContext> = admin_config(cfg)
        .create_with_context(LogContext)
        .map_err(|e| BusError::kafka("metadata client", e))?;
    let md = admin
        .inner()
        .fetch_metadata(Some(&cfg.topic), timeout)
        .map_err(|e| BusError::kafka("metadata", e))?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == cfg.topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .filter(|n| *n > 0))
}

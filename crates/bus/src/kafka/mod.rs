//! The Kafka transport of the scale-out shape.
//!
//! ```text
//! agent:  sources --RawBatch--> producer (producer.rs) --records--> topic (admin.rs creates it)
//! worker: topic --> consumers (consumer.rs, one group) --RawBatch per partition--> shard sink
//! ```
//!
//! - `config.rs`: librdkafka client configs from `[kafka]`, overrides last.
//! - `admin.rs`: [`ensure_topic`].
//! - `producer.rs`: [`Producer`] (records -> topic, delivery reports -> acks and positions).
//! - `spool/`: [`Spool`], the agent's bounded on-disk buffer for broker outages (format,
//!   segments, cursor, recovery).
//! - `checkpoint.rs`: [`AgentCheckpoint`], the agent's file of delivered source positions.
//! - `codec.rs`: record <-> message value and key.
//! - `dedup.rs`: records an agent sent twice (after a crash), skipped by the worker.
//! - `consumer.rs`: [`ConsumerGroup`] and the [`PartitionSink`] a worker implements.
//! - `lag.rs`: [`Watermarks`], the high watermarks of a worker's partitions (its lag).
//! - `side.rs`: the side topics of detection (signals, alerts) and their producer and readers.
//!
//! What agents and workers report about themselves (health reports, metrics) lives in
//! `loglynx_telemetry`.

mod admin;
mod checkpoint;
mod codec;
mod committed;
mod config;
mod consumer;
mod dedup;
mod lag;
mod producer;
mod side;
mod spool;

pub use admin::{ensure_topic, topic_partitions};
pub use checkpoint::AgentCheckpoint;
pub use codec::{decode_record, encode_record, record_key, source_key};
pub use committed::GroupOffsets;
pub use config::{admin_config, consumer_config, producer_config, reader_config, LogContext};
pub use dedup::Replays;
pub use consumer::{state_topic, ConsumerGroup, ConsumerStats, Opened, OwnedPartition, PartitionSink, PartitionState};
pub use lag::Watermarks;
pub use producer::{Producer, ProducerStats};
pub use side::{alerts_topic, ensure_side_topic, rules_topic, signals_topic, GroupReader, SideProducer, SideRecord, TopicReader};
pub use spool::{FrameId, Spool, SpoolBatch, SEGMENT_BYTES};

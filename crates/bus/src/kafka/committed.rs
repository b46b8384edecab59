//! [`GroupOffsets`]: a consumer group's committed offsets of a topic, read without joining the
//! group (an OffsetFetch, as `kafka-consumer-groups --describe` does). `loglynx serve` uses
//! them to know, per partition, up to where the workers have stored: an offset below the
//! committed one was stored by some worker, so when no live leaf holds it the answer names it
//! as missing.

use std::collections::BTreeMap;
use std::time::Duration;

use loglynx_config::KafkaConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::config::{admin_config, LogContext};
use crate::BusError;

/// Reads the committed offsets of one group on one topic. The client never subscribes, so it
/// never joins the group, commits nothing and cannot cause a rebalance.
pub struct GroupOffsets {
    consumer: BaseConsumer<LogContext>,
    group: String,
    topic: String,
}

impl GroupOffsets {
    /// A reader of `group`'s offsets of `topic`.
    pub fn new(cfg: &KafkaConfig, group: &str, topic: &str) -> Result<GroupOffsets, BusError> {
        let mut c = admin_config(cfg);
        c.set("group.id", group).set("enable.auto.commit", "false").set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer<LogContext> =
            c.create_with_context(LogContext).map_err(|e| BusError::kafka("group offsets client", e))?;
        Ok(GroupOffsets { consumer, group: group.to_string(), topic: topic.to_string() })
    }

    /// The group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Per partition of the topic, the group's committed offset (partitions it never
    /// committed are left out; an unknown topic gives none).
    pub fn read(&self, timeout: Duration) -> Result<BTreeMap<i32, i64>, BusError> {
        let md = self
            .consumer
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(|e| BusError::kafka("metadata", e))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == self.topic && t.error().is_none()) else {
            return Ok(BTreeMap::new());
        };
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            tpl.add_partition(&self.topic, p.id());
        }
        if tpl.count() == 0 {
            return Ok(BTreeMap::new());
        }
        let list = self
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(|e| BusError::kafka("read the group's committed offsets", e))?;
        Ok(list
            .elements_for_topic(&self.topic)
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if o >= 0 => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    }
}

//! [`HealthReport`]: one process's report, and its parts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often a process rewrites its report.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// A report not rewritten for this long is shown as stale (its process is gone).
pub const STALE_AFTER: Duration = Duration::from_secs(10);
/// Rebalance events kept in a worker's report (newest last).
pub const MAX_REBALANCES: usize = 50;

/// The role of a reporting process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `loglynx agent`: sources -> producer.
    Agent,
    /// `loglynx worker`: consumer group member -> shards.
    Worker,
}

impl Role {
    /// `agent` or `worker`, as in the JSON and the report's file name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Worker => "worker",
        }
    }
}

/// One process's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Agent or worker.
    pub role: Role,
    /// `<host>-<pid>`: unique among the reports of a data directory.
    pub id: String,
    /// Machine name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Topic produced to / consumed from.
    pub topic: String,
    /// Bootstrap brokers.
    pub brokers: String,
    /// When the process started, ms since the Unix epoch.
    pub started_ms: u64,
    /// When this report was written, ms since the Unix epoch.
    pub updated_ms: u64,
    /// Producer side (agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerHealth>,
    /// Consumer side (workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerHealth>,
}

impl HealthReport {
    /// Whether the report was last written more than [`STALE_AFTER`] before `now_ms`.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.updated_ms) > STALE_AFTER.as_millis() as u64
    }
}

/// Where an agent's batches go (`state` in the JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProducerState {
    /// Records go straight to librdkafka.
    #[default]
    Direct,
    /// The broker is unreachable or stalled: batches go to the on-disk buffer, drained in
    /// order when it returns.
    Spooling,
}

impl ProducerState {
    /// [`ProducerState::Spooling`] when `spooling`, else [`ProducerState::Direct`].
    pub fn from_spooling(spooling: bool) -> ProducerState {
        if spooling {
            ProducerState::Spooling
        } else {
            ProducerState::Direct
        }
    }

    /// `direct` or `spooling`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProducerState::Direct => "direct",
            ProducerState::Spooling => "spooling",
        }
    }
}

/// Compares with the JSON's string (`state == "spooling"`).
impl PartialEq<&str> for ProducerState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An agent's producer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerHealth {
    /// Records handed to librdkafka since start.
    pub enqueued: u64,
    /// Records acknowledged by the brokers since start.
    pub delivered: u64,
    /// Delivery failures (each retried) since start.
    pub failures: u64,
    /// Records refused as too large and sent cut to fit, flagged `truncated`, since start.
    #[serde(default)]
    pub truncated: u64,
    /// Records delivered per second over the last report interval.
    pub rate: f64,
    /// Records waiting in librdkafka's memory queue (sent, no report yet).
    pub in_flight: u64,
    /// Direct or spooling.
    pub state: ProducerState,
    /// Bytes in the on-disk buffer.
    pub spool_bytes: u64,
    /// Capacity of the on-disk buffer; when full, sources wait and HTTP ingest answers 503.
    pub spool_max_bytes: u64,
    /// Records in the on-disk buffer not yet delivered.
    pub spool_records: u64,
    /// Damaged frames of the on-disk buffer skipped since start (about: the frame markers in
    /// the damaged stretches); their records are lost. Anything but 0 needs a look at the disk.
    #[serde(default)]
    pub spool_lost_frames: u64,
    /// Bytes of those damaged stretches.
    #[serde(default)]
    pub spool_lost_bytes: u64,
}

/// A worker's consumers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerHealth {
    /// Consumer group.
    pub group: String,
    /// Consumers (group members) in this process.
    pub consumers: usize,
    /// Records handed to shards since start.
    pub consumed: u64,
    /// Records consumed per second over the last report interval.
    pub rate: f64,
    /// Records that were not loglynx records (stored raw and flagged) since start.
    pub undecodable: u64,
    /// Records skipped as already stored since start: offsets the shard already had (a
    /// re-fetch, a new owner resuming) and records an agent sent twice (see `duplicates`).
    pub skipped: u64,
    /// Of `skipped`, records an agent sent twice (after a crash, or copied to its disk buffer).
    #[serde(default)]
    pub duplicates: u64,
    /// Fetches started again because the broker's answer skipped offsets.
    #[serde(default)]
    pub refetches: u64,
    /// Offsets given up as missing after re-fetching (deleted by retention before they were
    /// read, or lost by the broker). Anything but 0 needs a look.
    #[serde(default)]
    pub missing: u64,
    /// Partitions this process owns now, with their lag.
    pub partitions: Vec<PartitionHealth>,
    /// Assignments and revocations seen since start.
    pub rebalances_total: u64,
    /// The last [`MAX_REBALANCES`] rebalance events, oldest first.
    pub rebalances: Vec<RebalanceEvent>,
}

/// One owned partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionHealth {
    /// Partition number.
    pub partition: i32,
    /// Which consumer of the process owns it (0-based).
    pub consumer: usize,
    /// Next offset to read (everything below was handed to the shard).
    pub position: i64,
    /// Next offset durably committed in the shard's store.
    pub committed: Option<i64>,
    /// The partition's high watermark (next offset the broker will write), when known.
    pub high_watermark: Option<i64>,
    /// `high_watermark - committed` (records not yet searchable), when both are known.
    pub lag: Option<i64>,
    /// Offsets of the partition given up as missing over its shard's life (kept in the shard's
    /// checkpoint: survives restarts and hand-overs).
    #[serde(default)]
    pub missing: u64,
}

/// What a rebalance callback did (`kind` in the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RebalanceKind {
    /// Partitions assigned.
    Assign,
    /// Partitions revoked (handed over in order).
    Revoke,
    /// Partitions lost (revoked without a hand-over: the member was thrown out).
    Lost,
    /// The callback reported an error.
    Error,
}

impl RebalanceKind {
    /// `assign`, `revoke`, `lost` or `error`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RebalanceKind::Assign => "assign",
            RebalanceKind::Revoke => "revoke",
            RebalanceKind::Lost => "lost",
            RebalanceKind::Error => "error",
        }
    }
}

/// Compares with the JSON's string (`kind == "assign"`).
impl PartialEq<&str> for RebalanceKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One rebalance callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebalanceEvent {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Which consumer of the process.
    pub consumer: usize,
    /// Assign, revoke, lost or error.
    pub kind: RebalanceKind,
    /// The partitions concerned.
    pub partitions: Vec<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_states_serialise_to_the_strings_of_the_json() {
        let states = [ProducerState::Direct, ProducerState::Spooling];
        for s in states {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let kinds = [
            RebalanceKind::Assign,
            RebalanceKind::Revoke,
            RebalanceKind::Lost,
            RebalanceKind::Error,
        ];
        for k in kinds {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            let back: RebalanceKind = serde_json::from_value(k.as_str().into()).unwrap();
            assert_eq!(back, k);
        }
        assert_eq!(ProducerState::from_spooling(true), ProducerState::Spooling);
        assert_eq!(ProducerState::Spooling, "spooling");
        assert_eq!(RebalanceKind::Lost, "lost");
        assert_eq!(serde_json::to_value(Role::Worker).unwrap(), "worker");
    }
}

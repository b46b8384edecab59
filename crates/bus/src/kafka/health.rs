//! Pipeline health of the scale-out shape: what each agent and worker process reports about
//! itself, written every [`REPORT_EVERY`] to `<data_dir>/health/<role>-<host>-<pid>.json` and
//! read back by `loglynx serve` (same data directory, same machine) for `/api/v1/pipeline`,
//! `/metrics` and the dashboard's Pipeline page. The agent also serves its own report on its
//! `/metrics`. Across machines, scrape each process's `/metrics` (see ARCHITECTURE.md).
//!
//! A report older than [`STALE_AFTER`] belongs to a process that is gone (SIGKILL, crash);
//! a clean exit removes its file.
//!
//! [`summarize`] and [`prometheus`] (in `stats.rs`) turn the reports into the JSON of
//! `/api/v1/pipeline` and the `loglynx_kafka_*` series of `/metrics`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::stats::{prometheus, summarize};

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

/// An agent's producer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProducerHealth {
    /// Records handed to librdkafka since start.
    pub enqueued: u64,
    /// Records acknowledged by the brokers since start.
    pub delivered: u64,
    /// Delivery failures (each retried) since start.
    pub failures: u64,
    /// Records delivered per second over the last report interval.
    pub rate: f64,
    /// Records waiting in librdkafka's memory queue (sent, no report yet).
    pub in_flight: u64,
    /// `direct` (records go straight to librdkafka) or `spooling` (the broker is unreachable
    /// or stalled: batches go to the on-disk buffer, drained in order when it returns).
    pub state: String,
    /// Bytes in the on-disk buffer.
    pub spool_bytes: u64,
    /// Capacity of the on-disk buffer; when full, sources wait and HTTP ingest answers 503.
    pub spool_max_bytes: u64,
    /// Records in the on-disk buffer not yet delivered.
    pub spool_records: u64,
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

/// One rebalance callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebalanceEvent {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Which consumer of the process.
    pub consumer: usize,
    /// `assign`, `revoke`, `lost` or `error`.
    pub kind: String,
    /// The partitions concerned.
    pub partitions: Vec<i32>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `<data_dir>/health`.
pub fn health_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("health")
}

impl HealthReport {
    /// The file of this report in `dir` (`<role>-<id>.json`).
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-{}.json", self.role.as_str(), self.id))
    }

    /// Whether the report was last written more than [`STALE_AFTER`] before `now_ms`.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.updated_ms) > STALE_AFTER.as_millis() as u64
    }

    /// Writes the report into `dir` atomically (write a temporary file, rename). No fsync: a
    /// report lost in a crash is rewritten a second later.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = self.path_in(dir);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)
    }

    /// Removes the report's file (clean exit).
    pub fn remove(&self, dir: &Path) {
        let _ = std::fs::remove_file(self.path_in(dir));
    }
}

/// Reads every report in `dir`, sorted by role then id. Unreadable or half-written files are
/// skipped (they are rewritten within [`REPORT_EVERY`]); an absent directory is no reports.
pub fn read_reports(dir: &Path) -> Vec<HealthReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<HealthReport> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a, b| (a.role as u8, &a.id).cmp(&(b.role as u8, &b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(role: Role, id: &str) -> HealthReport {
        HealthReport {
            role,
            id: id.into(),
            host: "h".into(),
            pid: 1,
            topic: "t".into(),
            brokers: "b:9092".into(),
            started_ms: 1,
            updated_ms: 1_000,
            producer: None,
            consumer: Some(ConsumerHealth {
                group: "g".into(),
                partitions: vec![PartitionHealth {
                    partition: 1,
                    committed: Some(5),
                    high_watermark: Some(9),
                    lag: Some(4),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn reports_round_trip_through_the_directory_and_go_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = health_dir(tmp.path());
        let w = report(Role::Worker, "h-2");
        let a = report(Role::Agent, "h-1");
        w.write(&dir).unwrap();
        a.write(&dir).unwrap();
        std::fs::write(dir.join("worker-broken.json"), b"{half").unwrap();
        assert_eq!(read_reports(&dir), vec![a.clone(), w.clone()]);
        assert!(!w.is_stale(1_000 + STALE_AFTER.as_millis() as u64));
        assert!(w.is_stale(1_001 + STALE_AFTER.as_millis() as u64));
        w.remove(&dir);
        assert_eq!(read_reports(&dir), vec![a]);
        assert!(read_reports(&tmp.path().join("absent")).is_empty());
    }
}

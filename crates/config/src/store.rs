//! `[store]`: the tantivy store (commits, windows, retention, the index writer).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, ConfigError};

/// The tantivy store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// How often new events are committed (and so become searchable and durable).
    #[serde(default = "default_commit", with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Length of a time window: a new index is started when the current one is this old
    /// (by ingest time) or `window_max_size` large. Whole windows are deleted by retention.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// A window is closed once its index reaches this size.
    #[serde(default = "default_window_max")]
    pub window_max_size: ByteSize,
    /// Delete windows whose newest event was ingested longer ago than this (0s: keep forever).
    #[serde(default = "default_retention_age", with = "humantime_serde")]
    pub retention_age: Duration,
    /// Delete the oldest windows while the store is larger than this (0: no limit).
    #[serde(default)]
    pub retention_size: ByteSize,
    /// Memory budget of the index writer (split over its threads).
    #[serde(default = "default_writer_memory")]
    pub writer_memory: ByteSize,
    /// Indexing threads (0: one per core, at most 4).
    #[serde(default)]
    pub writer_threads: usize,
    /// Ingestion pauses while the file system of the data directory has less free space than
    /// this (the store stops taking batches: sources wait, HTTP ingest answers 503 with
    /// `Retry-After`), and resumes once it has a quarter more than this free again (retention
    /// or an operator freed space). What was acknowledged stays stored; 0 turns the check off.
    #[serde(default = "default_disk_watermark")]
    pub disk_watermark: ByteSize,
    /// Niceness (0-19) of the store's own threads: the writer, tantivy's indexing, merge and
    /// doc store threads, sealing. Above 0 the kernel's scheduler runs searches and the HTTP
    /// server (nice 0) first when both want a core, so queries stay fast under a heavy ingest
    /// while indexing still takes every idle cycle. 0 runs them like every other thread.
    #[serde(default = "default_indexing_nice")]
    pub indexing_nice: u8,
}

impl Default for StoreConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl StoreConfig {
    /// A commit interval and a window length the writer can work with.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.commit_interval.is_zero() {
            return bad("store.commit_interval must be greater than 0");
        }
        if self.window < Duration::from_secs(60) {
            return bad("store.window must be at least 1m");
        }
        if self.indexing_nice > 19 {
            return bad("store.indexing_nice must be between 0 and 19 (the range of nice values)");
        }
        Ok(())
    }
}

fn default_commit() -> Duration {
    Duration::from_secs(1)
}
fn default_window() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_window_max() -> ByteSize {
    ByteSize(8 << 30)
}
fn default_retention_age() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_writer_memory() -> ByteSize {
    ByteSize(256 << 20)
}
fn default_disk_watermark() -> ByteSize {
    ByteSize(1 << 30)
}
fn default_indexing_nice() -> u8 {
    10
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::Config;

    #[test]
    fn sizes_and_durations_read_like_a_human_writes_them() {
        let c: Config = toml::from_str(
            "[store]\nretention_size = \"10GiB\"\nretention_age = \"7d\"\nwindow = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(c.store.retention_size.0, 10 << 30);
        assert_eq!(c.store.retention_age, Duration::from_secs(7 * 86400));
    }
}

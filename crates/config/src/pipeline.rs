//! `[pipeline]`: parsing and the queues between stages.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Parsing and the queues between stages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Batches that may wait between sources and the parser, and between the parser and the
    /// store. Bounded: when the store falls behind, sources slow down.
    #[serde(default = "default_queue")]
    pub queue_batches: usize,
    /// Keep the raw line in `event.original` (costs index space).
    #[serde(default)]
    pub keep_original: bool,
    /// Parser threads (0: one per core).
    #[serde(default)]
    pub parse_threads: usize,
    /// `labels.*` keys one event keeps at most (the first in key order); the rest are dropped
    /// from the indexed labels, kept in the raw event (`event.original`) and counted
    /// (`loglynx_pipeline_labels_dropped_total`); the event is flagged `labels_capped`.
    #[serde(default = "default_max_labels")]
    pub max_labels: usize,
    /// Distinct `labels.*` keys the data directory indexes at most (each becomes a column of
    /// the store); labels with a new key beyond it are handled like those over `max_labels`.
    /// The admitted keys are kept in `<data_dir>/parse/label_keys.jsonl`, so restarts and
    /// workers sharing the directory count against the same cap.
    #[serde(default = "default_max_label_keys")]
    pub max_label_keys: usize,
    /// Sources whose header structure the parser learns and keeps at most: files (by host and
    /// path), syslog senders and programs, HTTP streams. Beyond it the source used least
    /// recently is forgotten (it learns again when it comes back). About 8 KiB each while
    /// learning, under 1 KiB once learned.
    #[serde(default = "default_learned_sources")]
    pub learned_sources: usize,
}

/// Default of `pipeline.learned_sources`.
pub const DEFAULT_LEARNED_SOURCES: usize = 10_000;

fn default_learned_sources() -> usize {
    DEFAULT_LEARNED_SOURCES
}

/// Default of `pipeline.max_labels`.
pub const DEFAULT_MAX_LABELS: usize = 256;
/// Default of `pipeline.max_label_keys` (Elasticsearch's `index.mapping.total_fields.limit`).
pub const DEFAULT_MAX_LABEL_KEYS: usize = 1_000;

fn default_max_labels() -> usize {
    DEFAULT_MAX_LABELS
}
fn default_max_label_keys() -> usize {
    DEFAULT_MAX_LABEL_KEYS
}

impl Default for PipelineConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl PipelineConfig {
    /// Queues that can hold a batch.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.queue_batches == 0 {
            return Err(ConfigError::Invalid("pipeline.queue_batches must be at least 1".into()));
        }
        if self.max_labels == 0 || self.max_label_keys == 0 {
            return Err(ConfigError::Invalid(
                "pipeline.max_labels and pipeline.max_label_keys must be at least 1: e.g. 100 and 1000".into(),
            ));
        }
        if self.learned_sources == 0 {
            return Err(ConfigError::Invalid(
                "pipeline.learned_sources must be at least 1: e.g. 10000".into(),
            ));
        }
        Ok(())
    }
}

/// Default of `pipeline.queue_batches`. Each batch holds up to `files.batch_lines` (2048)
/// events: at 16, the queues held ~150 MiB of events under a heavy file ingest (peak anonymous
/// RSS 536 MiB at 16, 387 MiB at 4, `bench/ingest.sh` 1 M lines, docs/BENCHMARKS.md).
pub const DEFAULT_QUEUE_BATCHES: usize = 4;

fn default_queue() -> usize {
    DEFAULT_QUEUE_BATCHES
}

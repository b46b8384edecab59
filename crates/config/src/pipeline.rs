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
        Ok(())
    }
}

fn default_queue() -> usize {
    16
}

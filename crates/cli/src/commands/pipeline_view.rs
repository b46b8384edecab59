//! [`HealthFiles`]: the [`PipelineView`] of `loglynx serve`, built from the health reports the
//! agents and workers write in `<data_dir>/health/` (read again on each call: a few small
//! files). Their `loglynx_kafka_*` series are `loglynx_telemetry::health::ReportsCollector`.

use std::path::{Path, PathBuf};

use loglynx_api::PipelineView;
use loglynx_telemetry::health;

/// Reads the reports of one data directory.
pub struct HealthFiles {
    dir: PathBuf,
}

impl HealthFiles {
    /// The reports under `<data_dir>/health/`.
    pub fn new(data_dir: &Path) -> HealthFiles {
        HealthFiles {
            dir: health::health_dir(data_dir),
        }
    }
}

impl PipelineView for HealthFiles {
    fn status(&self) -> serde_json::Value {
        health::summarize(&health::read_reports(&self.dir), health::now_ms())
    }
}

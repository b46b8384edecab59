//! [`TelemetryError`]: what can go wrong writing a health report.

use std::path::PathBuf;

/// An error of the telemetry crate.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A health report file could not be written.
    #[error("cannot write health report {path}: {source}")]
    Write {
        /// The file (or its directory).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A health report could not be encoded as JSON.
    #[error("cannot encode health report: {0}")]
    Encode(#[from] serde_json::Error),
}

//! [`ConfigError`]: every way a configuration can be refused.

use std::path::PathBuf;

/// Errors of the config crate.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML, names an unknown key or has a value of the wrong type.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
    /// Values that parse but break a rule; the message names the key and what to set.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

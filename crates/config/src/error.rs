//! [`ConfigError`]: every way a configuration can be refused, with what to do next.

use std::path::PathBuf;

/// Errors of the config crate.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}; check the path given to --config (or LOGLYNX_CONFIG)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML, or names an unknown key, or a value has the wrong type or is not
    /// one of the values a closed setting accepts (the message names the key and the choices).
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's error, with the line and column.
        source: toml::de::Error,
    },
    /// A glob of `files.include` or `files.exclude` is not a valid pattern.
    #[error("invalid configuration: invalid glob {pattern:?} in files: {source}; fix the pattern in files.include / files.exclude")]
    Glob {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        source: glob::PatternError,
    },
    /// Values that parse but break a rule (a zero that must be at least 1, a listen address
    /// open to the network without a token); the message names the key and what to set.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

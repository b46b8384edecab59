//! The errors of loglynx-detect.

use std::path::PathBuf;

/// What can go wrong in loglynx-detect outside a single rule (a rule that does not compile is a
/// [`crate::Rejection`], not an error: the others still load).
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A path given to load rules from could not be read.
    #[error("cannot read rules at {path}: {source} (check the path and its permissions)")]
    ReadPath {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The processing pipeline shipped in the crate does not parse (a bug in loglynx).
    #[error("the built-in sigma pipeline does not parse: {source} (report this as a loglynx bug)")]
    Pipeline {
        /// rsigma's error.
        #[source]
        source: rsigma_eval::EvalError,
    },
    /// A processing pipeline of the user's (`[detect] pipelines`) does not parse.
    #[error("sigma pipeline {path} does not parse: {reason} (see loglynx.example.toml, [detect] pipelines)")]
    UserPipeline {
        /// The pipeline file.
        path: PathBuf,
        /// rsigma's error, as text.
        reason: String,
    },
    /// The alerts database could not be opened, read or written.
    #[error("{what} ({path}): {reason}; check the data directory's disk space and permissions")]
    Alerts {
        /// The database file or its directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// redb's error, as text (its error types differ per operation).
        reason: String,
    },
    /// A lifecycle change was kept here but could not be sent to the other processes (the
    /// alerts topic of the scale-out shape).
    #[error("alert {alert} changed here but not published: {reason}; check the brokers and try again")]
    Publish {
        /// The alert id.
        alert: String,
        /// Why.
        reason: String,
    },
    /// A rule was enabled or disabled here but the change could not be sent to the other
    /// processes (the rules topic of the scale-out shape).
    #[error("rule {rule} changed here but not published: {reason}; check the brokers and try again")]
    PublishRule {
        /// The rule key.
        rule: String,
        /// Why.
        reason: String,
    },
}

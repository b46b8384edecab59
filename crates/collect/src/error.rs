//! The one error type of the sources.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can stop a source. Per-file and per-connection problems are logged and skipped, not
/// returned: a source only fails when it cannot start or cannot go on at all.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The configuration cannot be used as given.
    #[error("invalid collect configuration: {0}")]
    Config(String),
    /// A listening socket could not be opened.
    #[error(
        "cannot listen on {addr} ({transport}): {source}: pick a free port or set it to \"off\""
    )]
    Bind {
        /// `udp` or `tcp`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An I/O operation that the source cannot do without failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `cannot accept tcp connection`.
        context: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file could not be read (kept for callers that read one file directly).
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A background task of the source panicked or was cancelled by the runtime.
    #[error("source task failed: {0}: this is a bug, please report it")]
    Task(String),
}

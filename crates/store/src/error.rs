//! The store's one error type.

use std::path::PathBuf;

/// What can go wrong opening, writing or cleaning the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store directory cannot be created, listed or written.
    #[error(
        "cannot use store directory {path}: {source}: check that it exists and is writable by this user (data_dir in the config)"
    )]
    DataDir {
        /// The directory at fault.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A window index cannot be opened or its commit metadata cannot be read.
    #[error(
        "window {window} ({path}) cannot be opened: {reason}: move that directory out of the store directory and restart (its events will no longer be searchable)"
    )]
    CorruptWindow {
        /// The window id (its directory name).
        window: String,
        /// Its directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A window's fields cannot be read by this version: one was removed or changed type.
    #[error(
        "window {window} ({path}) has fields this loglynx version cannot read: {reason}: run the loglynx version that wrote it, or move that directory out of the store directory and restart (its events will no longer be searchable)"
    )]
    SchemaChanged {
        /// The window id (its directory name).
        window: String,
        /// Its directory.
        path: PathBuf,
        /// Which field and how it differs.
        reason: String,
    },
    /// Another writer holds the store.
    #[error(
        "the store in {path} is already being written (another loglynx process, or start_writer called twice): stop the other writer or use another data_dir"
    )]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// A read-only view cannot be written.
    #[error("the store view of {path} is read-only: open the shard with Store::open to write it")]
    ReadOnly {
        /// The shards directory.
        path: PathBuf,
    },
    /// A tantivy operation on a window failed.
    #[error("tantivy failed on window {window}: {source}")]
    Index {
        /// The window id.
        window: String,
        /// The tantivy error.
        source: tantivy::TantivyError,
    },
    /// A commit failed: the batches since the previous commit were not stored.
    #[error(
        "commit failed on window {window}: {reason}: the batches since the previous commit were not stored; check free disk space and the log"
    )]
    Commit {
        /// The window id.
        window: String,
        /// The underlying error.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the store writer thread: {0}")]
    Thread(std::io::Error),
    /// The writer thread panicked (a bug: please report it with the log).
    #[error("the store writer thread panicked: this is a bug, please report it with the log")]
    WriterPanicked,
}

impl StoreError {
    /// Wraps a tantivy error with the window it happened on.
    pub(crate) fn index(window: impl std::fmt::Display, source: tantivy::TantivyError) -> Self {
        StoreError::Index {
            window: window.to_string(),
            source,
        }
    }
}

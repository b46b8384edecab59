//! The one error type of the search crate.

use thiserror::Error;

/// Why the root could not answer a query at all (a leaf that fails is a partial answer, not
/// an error: see [`crate::Missing`]).
#[derive(Debug, Error)]
pub enum SearchError {
    /// The request is wrong (a leaf said so with a 400, or the root saw it first): the same
    /// request would fail on every leaf.
    #[error("{0}")]
    BadRequest(String),
    /// No leaf is known: no catalog record and no `[serve] leaves`.
    #[error("no search leaf is known: start workers with --search-listen ADDR (they publish it to the catalog topic) or list them in [serve] leaves")]
    NoLeaves,
    /// A catalog record that cannot be read.
    #[error("catalog record of {key:?} unreadable: {reason}")]
    Catalog {
        /// The record's key (the worker id).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A leaf needed for the whole answer did not give it (a point in time's page): ask again.
    #[error("{0}")]
    Unavailable(String),
    /// A leaf answered 429 (its `query.max_open_pits` is full): the request cannot be
    /// answered whole now; ask again in `retry_after` seconds.
    #[error("{reason} (ask again in {retry_after} s)")]
    Busy {
        /// The leaf's address and its reason.
        reason: String,
        /// Seconds the leaf asked to wait (its `Retry-After`).
        retry_after: u64,
    },
    /// The HTTP client could not be built.
    #[error("search client: {0}")]
    Client(String),
}

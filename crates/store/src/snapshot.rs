//! What readers see: one searcher per time window, with the window's time bounds for pruning.

use loglynx_core::Timestamp;

/// A point-in-time view of one window index.
#[derive(Clone)]
pub struct WindowSnapshot {
    /// Window id (its directory name under `<data_dir>/store/`).
    pub id: String,
    /// Smallest and largest `@timestamp` in the window (None when it holds no events yet).
    pub min_timestamp: Option<Timestamp>,
    pub max_timestamp: Option<Timestamp>,
    /// A searcher over the window's last commit.
    pub searcher: tantivy::Searcher,
}

impl WindowSnapshot {
    /// Whether the window may hold events with `start <= @timestamp < end`.
    pub fn overlaps(&self, start: Option<Timestamp>, end: Option<Timestamp>) -> bool {
        match (self.min_timestamp, self.max_timestamp) {
            (Some(lo), Some(hi)) => start.is_none_or(|s| hi >= s) && end.is_none_or(|e| lo < e),
            _ => true,
        }
    }
}

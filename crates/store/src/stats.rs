//! What the store reports to the health page: counters kept by the writer, read without locks.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use loglynx_core::{Checkpoint, Timestamp};
use serde::Serialize;

/// A point-in-time view of the store, for the health page and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// The checkpoint of the last commit (what sources resume from).
    pub checkpoint: Checkpoint,
    /// Events committed by this process since it started.
    pub docs_indexed: u64,
    /// Events handed to the index writer and waiting for the next commit.
    pub docs_pending: u64,
    /// Events searchable now, over all windows.
    pub docs_stored: u64,
    /// Successful commits by this process.
    pub commits: u64,
    /// Failed commits by this process (their batches were answered with an error).
    pub commit_failures: u64,
    /// When the last successful commit of this process happened.
    pub last_commit: Option<Timestamp>,
    /// Bytes on disk over all windows (measured after commits and retention checks).
    pub bytes: u64,
    /// Windows in the store.
    pub windows: usize,
    /// Windows deleted by retention since this process started.
    pub windows_deleted: u64,
    /// True while ingestion is paused because the data directory's disk is below
    /// `store.disk_watermark`.
    pub disk_paused: bool,
    /// Free bytes of the data directory's file system at the last check (0 before the first).
    pub disk_free: u64,
    /// Times ingestion paused for disk space since this process started.
    pub disk_pauses: u64,
}

/// One window as the stats page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowInfo {
    /// The window id (`<shard>/<id>` in a read-only view).
    pub id: String,
    /// Written, sealing, sealed...
    pub state: WindowPhase,
    /// `@timestamp` bounds of its events (None before its first commit).
    pub min_timestamp: Option<Timestamp>,
    pub max_timestamp: Option<Timestamp>,
    /// Events searchable in it.
    pub docs: u64,
    /// Bytes of its directory now (during a seal: the old segments and the new one).
    pub bytes: u64,
    /// Segments of its last commit (one once sealed).
    pub segments: usize,
    /// Compression of its doc store as tantivy names it (`zstd(compression_level=1)` while written, level 9
    /// once sealed).
    pub doc_store: String,
    /// The running seal, if one runs.
    pub seal: Option<SealProgress>,
}

/// Where a window is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowPhase {
    /// The writer adds events to it.
    Live,
    /// Closed; its merges are finishing or it waits for its turn to be sealed (one window is
    /// sealed at a time).
    Closing,
    /// Being sealed: merged into one segment, its doc store recompressed.
    Sealing,
    /// One segment, zstd doc store: nothing more is done to it.
    Sealed,
    /// Closed and not sealed: left by a shutdown (sealed at the next start), skipped for lack
    /// of disk space, or seen through a read-only view (which cannot tell its writer's live
    /// window from others).
    Unsealed,
}

/// A running seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealProgress {
    /// When it started.
    pub started: Timestamp,
    /// The window's bytes when it started.
    pub bytes_before: u64,
    /// Bytes of the sealed segment written so far (it ends near the doc store's share of
    /// `bytes_before` smaller; then the old segments are deleted).
    pub bytes_written: u64,
}

/// The writer's counters, shared with readers of [`StoreStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub docs_indexed: AtomicU64,
    pub docs_pending: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    /// Nanoseconds since the epoch of the last commit, 0 when none.
    pub last_commit_ns: AtomicI64,
    pub windows_deleted: AtomicU64,
    pub disk_paused: AtomicBool,
    pub disk_free: AtomicU64,
    pub disk_pauses: AtomicU64,
}

impl Counters {
    /// Records a successful commit of `docs` events at `at`.
    pub fn committed(&self, docs: u64, at: Timestamp) {
        self.docs_indexed.fetch_add(docs, Ordering::Relaxed);
        self.docs_pending.store(0, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.last_commit_ns.store(at.as_nanos(), Ordering::Relaxed);
    }

    /// Records a failed commit (its pending events are dropped).
    pub fn failed(&self) {
        self.docs_pending.store(0, Ordering::Relaxed);
        self.commit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Fills the counter part of `s`.
    pub fn fill(&self, s: &mut StoreStats) {
        s.docs_indexed = self.docs_indexed.load(Ordering::Relaxed);
        s.docs_pending = self.docs_pending.load(Ordering::Relaxed);
        s.commits = self.commits.load(Ordering::Relaxed);
        s.commit_failures = self.commit_failures.load(Ordering::Relaxed);
        let ns = self.last_commit_ns.load(Ordering::Relaxed);
        s.last_commit = (ns != 0).then_some(Timestamp(ns));
        s.windows_deleted = self.windows_deleted.load(Ordering::Relaxed);
        s.disk_paused = self.disk_paused.load(Ordering::Relaxed);
        s.disk_free = self.disk_free.load(Ordering::Relaxed);
        s.disk_pauses = self.disk_pauses.load(Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_fill_stats() {
        let c = Counters::default();
        let mut s = StoreStats::default();
        c.fill(&mut s);
        assert_eq!(s.last_commit, None);
        c.docs_pending.store(7, Ordering::Relaxed);
        c.committed(7, Timestamp(99));
        c.docs_pending.store(3, Ordering::Relaxed);
        c.failed();
        c.fill(&mut s);
        assert_eq!(
            (s.docs_indexed, s.docs_pending, s.commits, s.commit_failures),
            (7, 0, 1, 1)
        );
        assert_eq!(s.last_commit, Some(Timestamp(99)));
    }
}

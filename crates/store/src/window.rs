//! One window: a tantivy index in `<data_dir>/store/<window id>/`, its reader and its last
//! commit payload.
//!
//! A window id is `w-` followed by the creation time in Unix milliseconds (13 digits, zero
//! padded), so ids sort by creation both as numbers and as directory names. Windows are
//! created under a `.tmp-` name and renamed once the empty index exists, so a crash never
//! leaves a half-created window behind.
//!
//! Every commit carries a [`CommitPayload`] (tantivy's commit payload, stored in `meta.json`
//! atomically with the segment list): the cumulative checkpoint of all sources, the
//! `@timestamp` bounds of the window and a global commit sequence number.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use loglynx_core::{Checkpoint, Timestamp};
use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, ReloadPolicy};

use crate::error::StoreError;
use crate::schema::StoreSchema;
use crate::snapshot::WindowSnapshot;
use crate::stats::{SealProgress, WindowInfo, WindowPhase};

/// Prefix of window directory names.
const PREFIX: &str = "w-";
/// Prefix of windows being created.
pub(crate) const TMP_PREFIX: &str = ".tmp-";
/// A window id: its creation time in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WindowId(pub u64);

impl WindowId {
    /// Parses a directory name (`w-1714557600000`).
    pub fn parse(name: &str) -> Option<WindowId> {
        let digits = name.strip_prefix(PREFIX)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(WindowId)
    }

    /// The id for a window created now: never before (or equal to) the previous one, even if the
    /// clock went back.
    pub fn next(previous: Option<WindowId>, now_ms: u64) -> WindowId {
        match previous {
            Some(p) if p.0 >= now_ms => WindowId(p.0 + 1),
            _ => WindowId(now_ms),
        }
    }
}

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{:013}", self.0)
    }
}

/// What every commit records, as JSON in tantivy's commit payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommitPayload {
    /// Global commit sequence number (across windows): the highest one holds the checkpoint.
    pub seq: u64,
    /// Next position of every source, cumulative over all windows.
    pub checkpoint: Checkpoint,
    /// Smallest and largest `@timestamp` in the window, truncated to the index precision (µs).
    pub min_ts: Option<Timestamp>,
    pub max_ts: Option<Timestamp>,
    /// When the commit was made (retention by age).
    pub committed_at: Timestamp,
}

/// One window index with its reader and cached snapshot.
pub(crate) struct Window {
    pub id: WindowId,
    /// The id readers see: the window id, prefixed by `<shard>/` in a read-only shard view.
    pub label: String,
    pub dir: PathBuf,
    pub index: Index,
    reader: IndexReader,
    state: RwLock<WindowState>,
    size: AtomicU64,
    merging: AtomicBool,
    /// Whether the writer has it open (the window being written).
    live: AtomicBool,
    /// While a seal runs: when it started (ns since the epoch, 0 otherwise) and the bytes the
    /// window had then.
    seal_started_ns: AtomicI64,
    seal_bytes_before: AtomicU64,
}

struct WindowState {
    payload: Option<CommitPayload>,
    snapshot: WindowSnapshot,
}

impl Window {
    /// Creates an empty window `id` under `root`.
    pub fn create(root: &Path, id: WindowId, schema: &StoreSchema) -> Result<Window, StoreError> {
        let dir = root.join(id.to_string());
        let tmp = root.join(format!("{TMP_PREFIX}{id}"));
        let io_err = |source| StoreError::DataDir {
            path: tmp.clone(),
            source,
        };
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err)?;
        }
        std::fs::create_dir(&tmp).map_err(io_err)?;
        Index::builder()
            .schema(schema.schema.clone())
            .settings(crate::seal::live_settings())
            .create_in_dir(&tmp)
            .map_err(|e| StoreError::index(id, e))?;
        std::fs::rename(&tmp, &dir).map_err(|source| StoreError::DataDir {
            path: dir.clone(),
            source,
        })?;
        sync_dir(root);
        Window::open(root, id, schema)
    }

    /// Opens the existing window `id` under `root`.
    pub fn open(root: &Path, id: WindowId, schema: &StoreSchema) -> Result<Window, StoreError> {
        let dir = root.join(id.to_string());
        let corrupt = |reason: String| StoreError::CorruptWindow {
            window: id.to_string(),
            path: dir.clone(),
            reason,
        };
        let mmap = MmapDirectory::open(&dir).map_err(|e| corrupt(e.to_string()))?;
        let index = Index::open(mmap).map_err(|e| corrupt(e.to_string()))?;
        if index.schema() != schema.schema {
            return Err(corrupt(
                "its fields differ from this loglynx version's (a window of an earlier version is \
                 upgraded when the writer of its store starts: start it, or run the version that \
                 wrote it)"
                    .into(),
            ));
        }
        let meta = index.load_metas().map_err(|e| corrupt(e.to_string()))?;
        let payload = match meta.payload.as_deref() {
            None => None,
            Some(p) => Some(
                serde_json::from_str::<CommitPayload>(p)
                    .map_err(|e| corrupt(format!("invalid commit payload ({e})")))?,
            ),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| corrupt(e.to_string()))?;
        let label = id.to_string();
        let snapshot = make_snapshot(&label, payload.as_ref(), &reader);
        let w = Window {
            id,
            label,
            dir,
            index,
            reader,
            state: RwLock::new(WindowState { payload, snapshot }),
            size: AtomicU64::new(0),
            merging: AtomicBool::new(false),
            live: AtomicBool::new(false),
            seal_started_ns: AtomicI64::new(0),
            seal_bytes_before: AtomicU64::new(0),
        };
        w.update_size();
        Ok(w)
    }

    /// The window's current snapshot (a cheap clone of the cached searcher).
    pub fn snapshot(&self) -> WindowSnapshot {
        self.read().snapshot.clone()
    }

    /// The payload of the window's last commit, if any.
    pub fn payload(&self) -> Option<CommitPayload> {
        self.read().payload.clone()
    }

    /// The commit sequence number of the window's last commit and the position of `key` in
    /// its checkpoint (without copying the checkpoint), if it has a commit of ours.
    pub fn position(&self, key: &str) -> Option<(u64, Option<u64>)> {
        self.read()
            .payload
            .as_ref()
            .map(|p| (p.seq, p.checkpoint.get(key)))
    }

    /// Whether the window has at least one commit of ours.
    pub fn has_payload(&self) -> bool {
        self.read().payload.is_some()
    }

    /// Reloads the reader after a commit or merge and caches the new snapshot. `payload` is
    /// the payload just committed (None after a merge: the last one stays).
    pub fn refresh(&self, payload: Option<CommitPayload>) -> Result<(), StoreError> {
        self.reader
            .reload()
            .map_err(|e| StoreError::index(self.id, e))?;
        let mut st = self.write();
        if payload.is_some() {
            st.payload = payload;
        }
        st.snapshot = make_snapshot(&self.label, st.payload.as_ref(), &self.reader);
        drop(st);
        self.update_size();
        Ok(())
    }

    /// Gives the window the id readers see (read-only shard views prefix the shard name).
    pub fn with_label(mut self, label: String) -> Window {
        self.label = label;
        let mut st = self.write();
        st.snapshot.id = self.label.clone();
        drop(st);
        self
    }

    /// Reloads the last commit written by another process: the reader first, then the payload
    /// (so the recorded time bounds cover at least what the reader sees).
    pub fn reload_from_disk(&self) -> Result<(), StoreError> {
        self.reader
            .reload()
            .map_err(|e| StoreError::index(self.id, e))?;
        let meta = self
            .index
            .load_metas()
            .map_err(|e| StoreError::index(self.id, e))?;
        let payload = meta
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<CommitPayload>(p).ok());
        let mut st = self.write();
        if payload.is_some() {
            st.payload = payload;
        }
        st.snapshot = make_snapshot(&self.label, st.payload.as_ref(), &self.reader);
        drop(st);
        self.update_size();
        Ok(())
    }

    /// Unix milliseconds of the last write: the last commit, or the creation for a window
    /// never committed.
    pub fn last_write_ms(&self) -> u64 {
        self.read()
            .payload
            .as_ref()
            .map(|p| p.committed_at.as_millis().max(0) as u64)
            .unwrap_or(self.id.0)
            .max(self.id.0)
    }

    /// Bytes on disk (as of the last [`Window::update_size`]).
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// Measures the window's directory again.
    pub fn update_size(&self) {
        self.size.store(dir_size(&self.dir), Ordering::Relaxed);
    }

    /// Whether merges of a closed window are still running.
    pub fn is_merging(&self) -> bool {
        self.merging.load(Ordering::Acquire)
    }

    /// Marks merges as running or done.
    pub fn set_merging(&self, on: bool) {
        self.merging.store(on, Ordering::Release);
    }

    /// Marks the window as being written (or not).
    pub fn set_live(&self, on: bool) {
        self.live.store(on, Ordering::Release);
    }

    /// Records that a seal starts now (`Some`, with the window's bytes) or ended (`None`).
    pub fn set_sealing(&self, bytes_before: Option<u64>) {
        let started = bytes_before.map_or(0, |_| Timestamp::now().as_nanos());
        self.seal_bytes_before
            .store(bytes_before.unwrap_or(0), Ordering::Relaxed);
        self.seal_started_ns.store(started, Ordering::Release);
    }

    /// What the stats page shows of the window: its state, size and the progress of a
    /// running seal (bytes the merge wrote so far: a closed window gets no other files).
    pub fn info(&self) -> WindowInfo {
        let snapshot = self.snapshot();
        let meta = self.index.load_metas().ok();
        let segments = meta.as_ref().map_or(0, |m| m.segments.len());
        let doc_store = meta
            .as_ref()
            .and_then(|m| serde_json::to_value(&m.index_settings.docstore_compression).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let bytes = dir_size(&self.dir);
        let started = self.seal_started_ns.load(Ordering::Acquire);
        let sealed = meta.as_ref().is_some_and(|m| {
            m.segments.len() <= 1 && m.index_settings == crate::seal::sealed_settings()
        });
        let seal = (started != 0).then(|| {
            let before = self.seal_bytes_before.load(Ordering::Relaxed);
            SealProgress {
                started: Timestamp(started),
                bytes_before: before,
                bytes_written: bytes.saturating_sub(before),
            }
        });
        let state = if self.live.load(Ordering::Acquire) {
            WindowPhase::Live
        } else if seal.is_some() {
            WindowPhase::Sealing
        } else if sealed {
            WindowPhase::Sealed
        } else if self.is_merging() {
            WindowPhase::Closing
        } else {
            WindowPhase::Unsealed
        };
        WindowInfo {
            id: self.label.clone(),
            state,
            min_timestamp: snapshot.min_timestamp,
            max_timestamp: snapshot.max_timestamp,
            docs: snapshot.searcher.num_docs(),
            bytes,
            segments,
            doc_store,
            seal,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, WindowState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, WindowState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn make_snapshot(
    id: &str,
    payload: Option<&CommitPayload>,
    reader: &IndexReader,
) -> WindowSnapshot {
    WindowSnapshot {
        id: id.to_string(),
        min_timestamp: payload.and_then(|p| p.min_ts),
        max_timestamp: payload.and_then(|p| p.max_ts),
        searcher: reader.searcher(),
    }
}

/// Total size of the files in a window directory (tantivy directories are flat).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Makes a rename in `dir` durable (best effort: not every platform can fsync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_sort_and_never_go_back() {
        let a = WindowId(1_714_557_600_000);
        assert_eq!(a.to_string(), "w-1714557600000");
        assert_eq!(WindowId::parse("w-1714557600000"), Some(a));
        assert_eq!(WindowId(5).to_string(), "w-0000000000005");
        assert_eq!(WindowId::parse("w-"), None);
        assert_eq!(WindowId::parse("w-12a"), None);
        assert_eq!(WindowId::parse(".tmp-w-12"), None);
        assert_eq!(WindowId::next(Some(a), a.0 - 10), WindowId(a.0 + 1));
        assert_eq!(WindowId::next(Some(a), a.0), WindowId(a.0 + 1));
        assert_eq!(WindowId::next(Some(a), a.0 + 7), WindowId(a.0 + 7));
        assert_eq!(WindowId::next(None, 42), WindowId(42));
    }

    #[test]
    fn info_tells_live_sealing_and_unsealed_windows_apart() {
        use crate::stats::WindowPhase;
        let tmp = tempfile::tempdir().unwrap();
        let w = Window::create(tmp.path(), WindowId(1000), &StoreSchema::new()).unwrap();
        let i = w.info();
        assert_eq!(
            (i.state, i.docs, i.segments, i.seal.clone()),
            (WindowPhase::Unsealed, 0, 0, None)
        );
        assert_eq!(i.id, "w-0000000001000");
        assert_eq!(i.doc_store, "zstd(compression_level=1)");
        assert_eq!(i.bytes, dir_size(&w.dir));
        w.set_live(true);
        assert_eq!(w.info().state, WindowPhase::Live);
        w.set_live(false);
        w.set_merging(true);
        assert_eq!(w.info().state, WindowPhase::Closing);
        // A seal that started when the window had 10 bytes less than now has written 10.
        w.set_sealing(Some(dir_size(&w.dir) - 10));
        let i = w.info();
        assert_eq!(i.state, WindowPhase::Sealing);
        assert_eq!(i.seal.unwrap().bytes_written, 10);
        w.set_sealing(None);
        w.set_merging(false);
        assert_eq!(w.info().state, WindowPhase::Unsealed);
        assert_eq!(w.info().seal, None);
    }

    #[test]
    fn created_window_reopens_empty_and_schema_mismatch_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let schema = StoreSchema::new();
        let w = Window::create(tmp.path(), WindowId(1000), &schema).unwrap();
        assert!(!w.has_payload());
        assert_eq!(w.snapshot().searcher.num_docs(), 0);
        assert_eq!(w.last_write_ms(), 1000);
        assert!(w.size() > 0);
        drop(w);
        assert!(!tmp.path().join(".tmp-w-0000000001000").exists());
        Window::open(tmp.path(), WindowId(1000), &schema).unwrap();

        let mut b = tantivy::schema::Schema::builder();
        b.add_text_field("other", tantivy::schema::STORED);
        let dir = tmp.path().join("w-0000000002000");
        std::fs::create_dir(&dir).unwrap();
        Index::create_in_dir(&dir, b.build()).unwrap();
        let e = Window::open(tmp.path(), WindowId(2000), &schema)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("w-0000000002000") && e.contains("fields differ"),
            "{e}"
        );
    }
}

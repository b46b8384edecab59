//! [`Store`]: the windows on disk, the last committed checkpoint and the snapshots readers use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use loglynx_config::StoreConfig;
use loglynx_core::{Checkpoint, EventBatch, Timestamp};
use tokio::sync::mpsc::Receiver;

use crate::error::StoreError;
use crate::retention;
use crate::schema::StoreSchema;
use crate::snapshot::WindowSnapshot;
use crate::stats::{Counters, StoreStats, WindowInfo};
use crate::window::{Window, WindowId, TMP_PREFIX};
use crate::writer::{self, WriterHandle};

/// The store: time windows of tantivy indexes under `<data_dir>/store/`.
///
/// Cheap to clone (an `Arc` inside); every clone sees the same windows. Reading
/// ([`Store::snapshot`], [`Store::checkpoint`], [`Store::stats`]) never blocks on the writer
/// for longer than a pointer swap.
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
}

/// State shared by the store handles and the writer thread.
pub(crate) struct Shared {
    /// `<data_dir>/store`.
    pub root: PathBuf,
    pub cfg: StoreConfig,
    pub schema: StoreSchema,
    /// A read-only view over the shards under `root` (see [`Store::open_read_only`]).
    pub read_only: bool,
    /// Oldest first.
    windows: RwLock<Vec<Arc<Window>>>,
    /// The checkpoint of the last commit and its sequence number.
    committed: RwLock<(Checkpoint, u64)>,
    pub counters: Counters,
}

impl Shared {
    /// The windows, oldest first.
    pub fn windows(&self) -> RwLockReadGuard<'_, Vec<Arc<Window>>> {
        self.windows.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The windows for changing the list.
    pub fn windows_mut(&self) -> RwLockWriteGuard<'_, Vec<Arc<Window>>> {
        self.windows.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The checkpoint of the last commit and its sequence number.
    pub fn committed(&self) -> (Checkpoint, u64) {
        self.committed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Publishes a new committed checkpoint.
    pub fn set_committed(&self, checkpoint: Checkpoint, seq: u64) {
        *self.committed.write().unwrap_or_else(|p| p.into_inner()) = (checkpoint, seq);
    }
}

impl Store {
    /// Opens (or creates) the store in `<data_dir>/store/`: every window is opened, and the
    /// checkpoint is read from the newest commit.
    ///
    /// Fails with [`StoreError::DataDir`] when the directory cannot be created or written, and
    /// with [`StoreError::CorruptWindow`] (naming the window) when an index cannot be read.
    ///
    /// Windows written by an earlier version with fewer fields are upgraded first (see
    /// `upgrade.rs`); one with a field removed or changed is refused with
    /// [`StoreError::SchemaChanged`].
    pub fn open(data_dir: &Path, cfg: &StoreConfig) -> Result<Store, StoreError> {
        Store::open_as(data_dir, cfg, StoreSchema::new())
    }

    /// [`Store::open`] as a version whose schema is `code` would: for tests that write a store
    /// as an earlier version did ([`StoreSchema::without_fields`]). Not for production use.
    #[doc(hidden)]
    pub fn open_as(
        data_dir: &Path,
        cfg: &StoreConfig,
        code: StoreSchema,
    ) -> Result<Store, StoreError> {
        let root = data_dir.join("store");
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::DataDir { path, source }
        };
        std::fs::create_dir_all(&root).map_err(io_err(&root))?;
        let probe = root.join(".write-probe");
        std::fs::write(&probe, b"loglynx").map_err(io_err(&root))?;
        std::fs::remove_file(&probe).map_err(io_err(&root))?;

        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&root).map_err(io_err(&root))? {
            let entry = entry.map_err(io_err(&root))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if name.starts_with(TMP_PREFIX) {
                // A window whose creation was interrupted: it never held a commit.
                tracing::info!(dir = %entry.path().display(), "removing an unfinished window");
                std::fs::remove_dir_all(entry.path()).map_err(io_err(&entry.path()))?;
            } else if let Some(id) = WindowId::parse(&name) {
                ids.push(id);
            } else {
                tracing::warn!(dir = %entry.path().display(), "ignoring a directory that is not a window");
            }
        }
        ids.sort();
        let schema = crate::upgrade::upgrade_store(&root, &ids, &code)?;
        let mut windows = Vec::with_capacity(ids.len());
        for id in ids {
            windows.push(Arc::new(Window::open(&root, id, &schema)?));
        }
        let (checkpoint, seq) = windows
            .iter()
            .filter_map(|w| w.payload())
            .max_by_key(|p| p.seq)
            .map(|p| (p.checkpoint, p.seq))
            .unwrap_or_default();
        tracing::info!(
            windows = windows.len(),
            seq,
            sources = checkpoint.positions.len(),
            "store opened"
        );
        Ok(Store {
            shared: Arc::new(Shared {
                root,
                cfg: cfg.clone(),
                schema,
                read_only: false,
                windows: RwLock::new(windows),
                committed: RwLock::new((checkpoint, seq)),
                counters: Counters::default(),
            }),
        })
    }

    /// Opens the shard stores under `shards_dir` (`<shards_dir>/<shard>/store/`, written by
    /// other processes) for reading only: nothing is created, locked or deleted. Snapshot ids
    /// are `<shard>/<window id>`; the checkpoint merges every shard's. Call
    /// [`Store::refresh`] to see new commits, windows and shards.
    pub fn open_read_only(shards_dir: &Path, cfg: &StoreConfig) -> Result<Store, StoreError> {
        let store = Store {
            shared: Arc::new(Shared {
                root: shards_dir.to_path_buf(),
                cfg: cfg.clone(),
                schema: crate::upgrade::view_schema(shards_dir, &StoreSchema::new()),
                read_only: true,
                windows: RwLock::new(Vec::new()),
                committed: RwLock::new((Checkpoint::default(), 0)),
                counters: Counters::default(),
            }),
        };
        store.refresh()?;
        Ok(store)
    }

    /// Whether this is a read-only view ([`Store::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    /// Read-only views: lists the shards and windows again, reloads the known windows' last
    /// commits, opens new ones and forgets deleted ones (retention). A window that cannot be
    /// read right now (being created or deleted by its writer) is skipped until the next
    /// refresh. A writable store is always current: this does nothing.
    ///
    /// Fails only when `shards_dir` cannot be listed (an absent directory is empty).
    pub fn refresh(&self) -> Result<(), StoreError> {
        if !self.shared.read_only {
            return Ok(());
        }
        let shards_dir = &self.shared.root;
        let io_err = |source| StoreError::DataDir {
            path: shards_dir.clone(),
            source,
        };
        let known: std::collections::HashMap<PathBuf, Arc<Window>> = self
            .shared
            .windows()
            .iter()
            .map(|w| (w.dir.clone(), w.clone()))
            .collect();
        let mut windows: Vec<Arc<Window>> = Vec::new();
        let mut checkpoint = Checkpoint::default();
        let mut top_seq = 0;
        let entries = match std::fs::read_dir(shards_dir) {
            Ok(e) => e.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(e)),
        };
        for shard in entries {
            let shard_name = shard.file_name().to_string_lossy().into_owned();
            let root = shard.path().join("store");
            let Ok(list) = std::fs::read_dir(&root) else {
                continue;
            };
            let mut shard_windows = Vec::new();
            for entry in list.filter_map(Result::ok) {
                let name = entry.file_name();
                let Some(id) = WindowId::parse(&name.to_string_lossy()) else {
                    continue;
                };
                let dir = entry.path();
                let w = match known.get(&dir) {
                    Some(w) => match w.reload_from_disk() {
                        Ok(()) => w.clone(),
                        Err(e) => {
                            tracing::debug!(dir = %dir.display(), "window not reloaded this time: {e}");
                            w.clone()
                        }
                    },
                    None => match Window::open(&root, id, &self.shared.schema) {
                        Ok(w) => Arc::new(w.with_label(format!("{shard_name}/{id}"))),
                        Err(e) => {
                            tracing::debug!(dir = %dir.display(), "window skipped this time: {e}");
                            continue;
                        }
                    },
                };
                shard_windows.push(w);
            }
            // Each shard's checkpoint is the payload of its highest commit sequence number.
            if let Some(p) = shard_windows
                .iter()
                .filter_map(|w| w.payload())
                .max_by_key(|p| p.seq)
            {
                top_seq = top_seq.max(p.seq);
                for (k, v) in p.checkpoint.positions {
                    checkpoint.advance(&k, v);
                }
            }
            windows.extend(shard_windows);
        }
        windows.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| a.label.cmp(&b.label)));
        *self.shared.windows_mut() = windows;
        self.shared.set_committed(checkpoint, top_seq);
        Ok(())
    }

    /// The checkpoint of the last commit: where every source resumes.
    pub fn checkpoint(&self) -> Checkpoint {
        self.shared.committed().0
    }

    /// Read-only views: the position of `key` in the checkpoint of the shard `shard` (the
    /// directory under the shards folder) alone, i.e. the payload of that shard's highest commit,
    /// where [`Store::checkpoint`] merges every shard's. `None` when the shard has no commit
    /// or its checkpoint lacks `key`.
    pub fn shard_position(&self, shard: &str, key: &str) -> Option<u64> {
        let prefix = format!("{shard}/");
        self.shared
            .windows()
            .iter()
            .filter(|w| w.label.starts_with(&prefix))
            .filter_map(|w| w.position(key))
            .max_by_key(|(seq, _)| *seq)
            .and_then(|(_, pos)| pos)
    }

    /// One snapshot per window, newest window first. Cheap: the searchers are cached and
    /// replaced after each commit, so a snapshot sees exactly the committed events.
    pub fn snapshot(&self) -> Vec<WindowSnapshot> {
        self.shared
            .windows()
            .iter()
            .rev()
            .map(|w| w.snapshot())
            .collect()
    }

    /// The tantivy schema and field handles.
    pub fn schema(&self) -> &StoreSchema {
        &self.shared.schema
    }

    /// Counters, sizes and the committed checkpoint, for the health page.
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats {
            checkpoint: self.checkpoint(),
            ..StoreStats::default()
        };
        self.shared.counters.fill(&mut s);
        let windows = self.shared.windows();
        s.windows = windows.len();
        s.bytes = windows.iter().map(|w| w.size()).sum();
        s.docs_stored = windows
            .iter()
            .map(|w| w.snapshot().searcher.num_docs())
            .sum();
        s
    }

    /// Every window, newest first: whether it is written, sealing or sealed, its size and the
    /// progress of a running seal. Reads each window's `meta.json` and lists its directory.
    pub fn windows(&self) -> Vec<WindowInfo> {
        let windows: Vec<Arc<Window>> = self.shared.windows().clone();
        windows.iter().rev().map(|w| w.info()).collect()
    }

    /// Applies the retention limits of the config as if the clock read `now`; returns the ids
    /// of the windows deleted. The writer does this at start and every 30 s; it never deletes
    /// the newest window nor the one holding the newest checkpoint.
    pub fn apply_retention(&self, now: Timestamp) -> Vec<String> {
        if self.shared.read_only {
            return Vec::new();
        }
        let ms = u64::try_from(now.as_millis()).unwrap_or(0);
        retention::enforce(&self.shared, ms)
            .into_iter()
            .map(|id| id.to_string())
            .collect()
    }

    /// Why ingestion is paused, while the data directory's disk is below `store.disk_watermark`
    /// (the writer takes no batches until a quarter more is free); `None` otherwise. HTTP
    /// ingest asks this to answer 503 with `Retry-After` at once.
    pub fn disk_low(&self) -> Option<String> {
        let c = &self.shared.counters;
        if !c.disk_paused.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let watermark = self.shared.cfg.disk_watermark.0;
        Some(format!(
            "the data directory's disk is nearly full ({} bytes free, below store.disk_watermark = {watermark}): ingestion resumes once {} bytes are free",
            c.disk_free.load(std::sync::atomic::Ordering::Relaxed),
            crate::disk::resume_at(watermark)
        ))
    }

    /// The store directory (`<data_dir>/store`).
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Starts the writer on its own thread: it indexes the batches of `rx`, commits them with
    /// their checkpoint, fires their acks once durable, rolls windows over and applies
    /// retention. It ends (after a last commit) when every sender of `rx` is dropped; wait for
    /// that with [`WriterHandle::join`].
    ///
    /// Fails with [`StoreError::ReadOnly`] on a read-only view, with [`StoreError::Locked`] when another writer (in this or another process) holds
    /// the store, or when the newest window cannot be opened for writing.
    pub fn start_writer(&self, rx: Receiver<EventBatch>) -> Result<WriterHandle, StoreError> {
        if self.shared.read_only {
            return Err(StoreError::ReadOnly {
                path: self.shared.root.clone(),
            });
        }
        writer::start(self.shared.clone(), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_opens_with_an_empty_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store::open(tmp.path(), &StoreConfig::default()).unwrap();
        assert_eq!(s.checkpoint(), Checkpoint::default());
        assert!(s.snapshot().is_empty());
        assert!(tmp.path().join("store").is_dir());
        assert_eq!(s.stats().windows, 0);
    }

    #[test]
    fn an_unwritable_data_dir_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let e = Store::open(&file, &StoreConfig::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not-a-dir") && e.contains("writable"), "{e}");
    }

    #[test]
    fn a_corrupt_window_is_named_and_unfinished_ones_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("store");
        std::fs::create_dir_all(root.join(".tmp-w-0000000000001")).unwrap();
        std::fs::create_dir_all(root.join("w-0000000000002")).unwrap();
        std::fs::write(root.join("w-0000000000002").join("meta.json"), b"{not json").unwrap();
        let e = Store::open(tmp.path(), &StoreConfig::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("w-0000000000002") && e.contains("move that directory"),
            "{e}"
        );
        assert!(!root.join(".tmp-w-0000000000001").exists());
    }
}

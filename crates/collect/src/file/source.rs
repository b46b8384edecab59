//! The file source: scans the globs, follows every matching file, sends batches downstream.
//!
//! One task owns all [`Tailer`]s and works in passes. A pass
//! 1. re-evaluates the globs when `poll_interval` has passed (new files are opened; a followed
//!    file no longer at any matching path is *orphaned*: renamed away or deleted);
//! 2. steps every file for at most [`STEPS_PER_PASS`] batches (so one busy file cannot starve
//!    the others), each step on the blocking pool, each batch awaited into the bounded channel
//!    (back-pressure: a slow store slows the reads);
//! 3. closes orphaned files that are drained (see below);
//! 4. sleeps `poll_interval` unless some file still had more to read.
//!
//! Rotation:
//! - *rename + create*: the old file keeps its descriptor and is read to its end under its own
//!   key; the new file at the path is a new inode and is read from 0. Orphaned files are
//!   stepped before newer ones, so the old file's lines come first.
//! - *copytruncate*: see [`super::tailer`] (size below the read offset -> from 0 under a new
//!   key, logged; the same first line again gives the next generation of the key).
//! - *deleted* (link count 0): closed once drained and idle for the partial-line timeout
//!   (1 s), so a writer still holding it can finish its last line. A renamed file no longer
//!   matching: closed after `close_inactive` without growth.
//!
//! The unfinished last line of a file is emitted once the file has been idle for the
//! partial-line timeout (1 s), and at close. If the writer completes it later, the rest arrives
//! as a second record. Likewise the multi-line event being held (see [`super::multiline`]) is
//! emitted after `files.multiline_timeout` idle, and at close.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_config::{FilesConfig, Multiline, StartAt};
use loglynx_core::{Checkpoint, RawBatch};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::discover::Discovery;
use super::identity::{generation_of, FileId};
use super::multiline::MultilineSettings;
use super::tailer::{Step, Tailer, TailerSettings};
use crate::error::CollectError;

/// Batches read from one file before the pass moves on to the next file.
pub const STEPS_PER_PASS: usize = 8;
/// Default time a file must be idle before its unfinished last line is emitted.
pub const PARTIAL_LINE_TIMEOUT: Duration = Duration::from_secs(1);

/// Follows the files matched by [`FilesConfig`]; see the module documentation.
pub struct FileSource {
    cfg: FilesConfig,
    discovery: Discovery,
    settings: TailerSettings,
    positions: Checkpoint,
    tx: mpsc::Sender<RawBatch>,
    state: FileSourceState,
}

/// A shared, cheap-to-clone view of a running [`FileSource`] (health page, tests).
#[derive(Debug, Clone, Default)]
pub struct FileSourceState {
    inner: Arc<StateInner>,
}

#[derive(Debug, Default)]
struct StateInner {
    files: Mutex<Vec<FileStatus>>,
    lines: AtomicU64,
    bytes: AtomicU64,
}

/// One followed file, as of the end of the last pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// Where the file was found (its old name after a rename to a non-matching name).
    pub path: String,
    /// Checkpoint key; `None` while the first line is not complete (see
    /// [`super::identity`]).
    pub key: Option<String>,
    /// Offset after the last emitted line (what the checkpoint records).
    pub offset: u64,
    /// Offset up to which the file was read.
    pub read: u64,
    /// Size at the last look.
    pub size: u64,
    /// The file is no longer at a matching path (renamed away or deleted) and is being drained.
    pub orphaned: bool,
}

/// A snapshot of [`FileSourceState`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSourceSnapshot {
    /// Files currently followed.
    pub files: Vec<FileStatus>,
    /// Records emitted since start.
    pub lines_read: u64,
    /// Bytes read since start (includes skipped parts of long lines).
    pub bytes_read: u64,
}

impl FileSourceState {
    /// The current figures.
    pub fn snapshot(&self) -> FileSourceSnapshot {
        FileSourceSnapshot {
            files: self
                .inner
                .files
                .lock()
                .map(|f| f.clone())
                .unwrap_or_default(),
            lines_read: self.inner.lines.load(Ordering::Relaxed),
            bytes_read: self.inner.bytes.load(Ordering::Relaxed),
        }
    }
}

/// A followed file and what the source knows about it.
struct Followed {
    tailer: Tailer,
    orphaned: bool,
}

enum Flow {
    Go,
    Stop,
}

impl FileSource {
    /// Checks the configuration; nothing is opened until [`FileSource::run`]. Files whose key
    /// is in `checkpoint` resume at its offset exactly.
    pub fn new(
        cfg: FilesConfig,
        host: String,
        checkpoint: Checkpoint,
        tx: mpsc::Sender<RawBatch>,
    ) -> Result<Self, CollectError> {
        if cfg.batch_lines == 0 {
            return Err(CollectError::Config(
                "files.batch_lines must be at least 1".into(),
            ));
        }
        if cfg.max_line.0 == 0 {
            return Err(CollectError::Config(
                "files.max_line must be at least 1".into(),
            ));
        }
        if cfg.poll_interval.is_zero() {
            return Err(CollectError::Config(
                "files.poll_interval must be greater than 0".into(),
            ));
        }
        let discovery = Discovery::new(&cfg.include, &cfg.exclude)?.follow_symlinks(cfg.follow_symlinks);
        let settings = TailerSettings {
            max_line: usize::try_from(cfg.max_line.0).unwrap_or(usize::MAX),
            fingerprint_bytes: cfg.fingerprint_bytes,
            partial_line_timeout: PARTIAL_LINE_TIMEOUT,
            host,
            multiline: MultilineSettings {
                enabled: cfg.multiline == Multiline::Auto,
                max_lines: cfg.multiline_max_lines.max(1),
                max_bytes: usize::try_from(cfg.multiline_max_bytes.0).unwrap_or(usize::MAX).max(1),
            },
            multiline_timeout: cfg.multiline_timeout,
        };
        Ok(FileSource {
            cfg,
            discovery,
            settings,
            positions: checkpoint,
            tx,
            state: Default::default(),
        })
    }

    /// Changes how long a file must be idle before its unfinished last line is emitted
    /// (default [`PARTIAL_LINE_TIMEOUT`]), and its held multi-line event when
    /// `files.multiline_timeout` is longer.
    pub fn with_partial_line_timeout(mut self, timeout: Duration) -> Self {
        self.settings.partial_line_timeout = timeout;
        self.settings.multiline_timeout = self.settings.multiline_timeout.min(timeout);
        self
    }

    /// A handle on the source's figures; stays valid while and after it runs.
    pub fn state(&self) -> FileSourceState {
        self.state.clone()
    }

    /// Follows files until `shutdown` is cancelled or the receiver is dropped (both end with
    /// `Ok`). Per-file errors are logged and the file is opened again at the next scan.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), CollectError> {
        let settings = Arc::new(self.settings.clone());
        let mut files: Vec<Followed> = Vec::new();
        let mut first_scan = true;
        let mut next_scan = Instant::now();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if Instant::now() >= next_scan {
                self.scan(&mut files, first_scan, &settings).await?;
                first_scan = false;
                next_scan = Instant::now() + self.cfg.poll_interval;
            }
            let mut busy = false;
            let mut kept = Vec::with_capacity(files.len());
            // Orphans first: a rotated file is drained before the new file at its path.
            files.sort_by_key(|f| !f.orphaned);
            for f in std::mem::take(&mut files) {
                let (f, more, flow) = self.pass_one(f, &shutdown).await?;
                busy |= more;
                if let Some(f) = f {
                    kept.push(f);
                }
                if let Flow::Stop = flow {
                    return Ok(());
                }
            }
            files = kept;
            self.publish(&files);
            if !busy {
                let wait = next_scan.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                }
            }
        }
    }

    /// Evaluates the globs, opens new files and marks orphans.
    async fn scan(
        &self,
        files: &mut Vec<Followed>,
        first_scan: bool,
        settings: &Arc<TailerSettings>,
    ) -> Result<(), CollectError> {
        let disc = self.discovery.clone();
        let followed: Vec<FileId> = files.iter().map(|f| f.tailer.id()).collect();
        let settings = Arc::clone(settings);
        let (found, opened) = blocking(move || {
            let found = disc.scan();
            let mut opened = Vec::new();
            for (path, id) in &found {
                if followed.contains(id) {
                    continue;
                }
                let file = match std::fs::File::open(path) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot open file, will retry at the next scan");
                        continue;
                    }
                };
                // The descriptor's identity is the truth (the path may have moved meanwhile).
                let Ok(meta) = file.metadata() else { continue };
                let real = FileId::of(&meta);
                if followed.contains(&real) || opened.iter().any(|t: &Tailer| t.id() == real) {
                    continue;
                }
                tracing::info!(path = %path.display(), dev = real.dev, ino = real.ino, "following file");
                opened.push(Tailer::new(file, real, path.clone(), first_scan, Arc::clone(&settings)));
            }
            (found, opened)
        })
        .await?;
        let at: HashMap<FileId, &std::path::PathBuf> =
            found.iter().map(|(p, id)| (*id, p)).collect();
        for f in files.iter_mut() {
            match at.get(&f.tailer.id()) {
                Some(p) => {
                    f.tailer.set_path((*p).clone());
                    f.orphaned = false;
                }
                None => {
                    if !f.orphaned {
                        tracing::info!(path = %f.tailer.path().display(), "file renamed away or deleted, reading it to its end");
                    }
                    f.orphaned = true;
                }
            }
        }
        files.extend(opened.into_iter().map(|tailer| Followed {
            tailer,
            orphaned: false,
        }));
        Ok(())
    }

    /// Steps one file for up to [`STEPS_PER_PASS`] batches, then closes it if it is done.
    /// Returns the file (unless closed), whether it has more to read, and whether to go on.
    async fn pass_one(
        &mut self,
        mut f: Followed,
        shutdown: &CancellationToken,
    ) -> Result<(Option<Followed>, bool, Flow), CollectError> {
        let limit = self.cfg.batch_lines;
        let mut steps = 0;
        let mut more = false;
        while steps < STEPS_PER_PASS {
            let mut tailer = f.tailer;
            let read_before = tailer.read_offset();
            let (tailer, res) = blocking(move || {
                let r = tailer.step(limit);
                (tailer, r)
            })
            .await?;
            f.tailer = tailer;
            self.count_bytes(f.tailer.read_offset().saturating_sub(read_before));
            match res {
                Err(e) => {
                    tracing::warn!(path = %f.tailer.path().display(), error = %e, "cannot read file, closing it; it is opened again at the next scan");
                    return Ok((None, false, Flow::Go));
                }
                Ok(Step::Idle) => break,
                Ok(Step::Identified) => {
                    let offset = self.start_offset(&mut f.tailer);
                    f.tailer.start_at(offset);
                }
                Ok(Step::Batch { batch, more: m }) => {
                    steps += 1;
                    more = m;
                    if let Flow::Stop = self.send(batch, shutdown).await {
                        return Ok((Some(f), false, Flow::Stop));
                    }
                    if !m {
                        break;
                    }
                }
            }
        }
        if f.orphaned && f.tailer.at_eof() && self.done(&f.tailer) {
            tracing::info!(path = %f.tailer.path().display(), key = f.tailer.key().unwrap_or("-"), "closing drained file");
            if let Some(batch) = f.tailer.close() {
                if let Flow::Stop = self.send(batch, shutdown).await {
                    return Ok((None, false, Flow::Stop));
                }
            }
            return Ok((None, false, Flow::Go));
        }
        Ok((Some(f), more, Flow::Go))
    }

    /// An orphaned, drained file may be closed.
    fn done(&self, t: &Tailer) -> bool {
        let idle = t.idle_for(Instant::now());
        if t.nlink() == 0 {
            idle >= self.settings.partial_line_timeout
        } else {
            idle >= self.cfg.close_inactive
        }
    }

    /// Where a newly identified file starts: its checkpoint (the last generation of its key the
    /// checkpoint knows), else per `start_at`. A checkpoint beyond the end of the file means it
    /// was truncated or replaced: the next generation, from 0.
    fn start_offset(&self, t: &mut Tailer) -> u64 {
        if t.generation() == 0 {
            if let Some(g) = self.last_generation(t.base_key().unwrap_or_default()) {
                t.set_generation(g);
            }
        }
        let key = t.key().unwrap_or_default().to_string();
        match self.positions.get(&key) {
            Some(off) if off <= t.size() => {
                tracing::info!(path = %t.path().display(), key, offset = off, "resuming file from checkpoint");
                off
            }
            Some(off) => {
                t.set_generation(t.generation() + 1);
                tracing::warn!(path = %t.path().display(), key, offset = off, size = t.size(),
                    new_key = t.key().unwrap_or_default(),
                    "checkpoint is beyond the end of the file (truncated or replaced?), reading it from the start under a new key");
                0
            }
            None if t.seen_at_start() && self.cfg.start_at == StartAt::End => t.size(),
            None => 0,
        }
    }

    /// The highest generation of the file keyed `base` in the checkpoint.
    fn last_generation(&self, base: &str) -> Option<u32> {
        self.positions
            .positions
            .range(base.to_string()..)
            .take_while(|(k, _)| k.starts_with(base))
            .filter_map(|(k, _)| generation_of(k, base))
            .max()
    }

    /// Awaits room in the channel, unless shutdown comes first or the receiver is gone.
    async fn send(&mut self, batch: RawBatch, shutdown: &CancellationToken) -> Flow {
        self.positions.merge(&batch.checkpoint);
        self.inner()
            .lines
            .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => Flow::Stop,
            r = self.tx.send(batch) => match r {
                Ok(()) => Flow::Go,
                Err(_) => {
                    tracing::info!("file source stopping: the pipeline closed its input");
                    Flow::Stop
                }
            },
        }
    }

    fn inner(&self) -> &StateInner {
        &self.state.inner
    }

    fn count_bytes(&self, n: u64) {
        self.inner().bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn publish(&self, files: &[Followed]) {
        let list = files
            .iter()
            .map(|f| FileStatus {
                path: f.tailer.path().to_string_lossy().into_owned(),
                key: f.tailer.key().map(str::to_string),
                offset: f.tailer.committed(),
                read: f.tailer.read_offset(),
                size: f.tailer.size(),
                orphaned: f.orphaned,
            })
            .collect();
        if let Ok(mut g) = self.inner().files.lock() {
            *g = list;
        }
    }
}

/// Runs blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CollectError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CollectError::Task(e.to_string()))
}

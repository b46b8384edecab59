//! The writer: one dedicated thread that indexes [`EventBatch`]es into the active window and
//! commits them together with their checkpoint.
//!
//! - Batches come from a bounded channel; the thread holds at most one commit's worth of
//!   documents (inside tantivy's memory budget) plus the acks waiting for that commit.
//! - A commit happens when `commit_interval` has passed since the last one, or [`ACK_LINGER`]
//!   after the first ack arrived (so HTTP ingest answers fast while concurrent requests still
//!   share a commit). Acks fire only after the commit is durable and the readers are reloaded,
//!   so a client that got its 2xx finds its events.
//! - A failed commit rolls tantivy back, answers the held acks with an error and *freezes* the
//!   checkpoint of the sources involved: their position is never advanced again by this
//!   process, so on restart they replay from the last durable position (at-least-once rather
//!   than loss).
//! - After a commit the window rolls over when it is older than `window` or larger than
//!   `window_max_size`; the next batch opens a new window, whose first commit carries the whole
//!   cumulative checkpoint. Merges of the closed window finish on a helper thread.
//! - Retention runs at start (before this returns) and every [`RETENTION_EVERY`].
//! - While the data directory's disk is below `store.disk_watermark` (`disk.rs`) no batch is
//!   taken: the pipeline's queue fills and the sources wait; what is pending is still
//!   committed (and acknowledged), retention still runs.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loglynx_core::{Ack, AckError, Checkpoint, EventBatch, Timestamp};
use tantivy::directory::error::LockError;
use tantivy::directory::{DirectoryLock, Lock, MmapDirectory};
use tantivy::indexer::{IndexWriterOptions, LogMergePolicy, UserOperation};
use tantivy::{Directory, IndexWriter, TantivyError};
use tokio::sync::mpsc::Receiver;
use tokio::sync::Notify;

use crate::disk::{DiskWatch, CHECK_EVERY};
use crate::error::StoreError;
use crate::retention;
use crate::seal;
use crate::store::Shared;
use crate::window::{CommitPayload, Window, WindowId};

/// How long a waiting ack may delay its commit.
pub(crate) const ACK_LINGER: Duration = Duration::from_millis(100);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(30);
/// How long shutdown waits for running merges before leaving them (they are safe to abandon).
const SHUTDOWN_MERGE_WAIT: Duration = Duration::from_secs(10);
/// tantivy's smallest and largest per-thread memory budgets.
const MIN_THREAD_MEMORY: usize = 15_000_000;
const MAX_THREAD_MEMORY: usize = (u32::MAX as usize) - 2_000_000;
/// Merge threads per window: merges of small segments must not wait behind a large one, but
/// indexing keeps most of the CPU.
const MERGE_THREADS: usize = 2;

/// The running writer. Dropping it detaches the thread, which still ends (with a last
/// commit) when the channel closes.
pub struct WriterHandle {
    thread: Option<JoinHandle<Result<(), StoreError>>>,
    kill: Arc<Notify>,
    stopping: Arc<AtomicBool>,
}

impl WriterHandle {
    /// Waits until the writer has ended: every sender dropped, the last batches committed and
    /// their acks fired. Returns the error of that last commit, if it failed.
    pub fn join(mut self) -> Result<(), StoreError> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| StoreError::WriterPanicked)?,
            None => Ok(()),
        }
    }

    /// Says the process is stopping: from now on, while the disk is below its watermark, the
    /// writer does not wait for space to take the batches still queued. It commits what it
    /// holds and ends, dropping its queue (those batches are not acknowledged: their sources
    /// send them again at the next start), so a shutdown never waits for an operator to free
    /// space. With room on disk it changes nothing: the queue drains as usual.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Test hook simulating a crash: the writer stops at once, without committing what it
    /// holds (its acks are dropped unanswered), and this waits for the thread to end.
    #[doc(hidden)]
    pub fn crash(mut self) {
        self.kill.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Takes the store's writer lock, applies retention once, and starts the writer thread, which
/// first lowers its priority (`store.indexing_nice`, inherited by every thread it and tantivy
/// start from it), then resumes the newest window when it is still young and small enough and
/// seals closed windows; an error there is returned here.
pub(crate) fn start(
    shared: Arc<Shared>,
    rx: Receiver<EventBatch>,
) -> Result<WriterHandle, StoreError> {
    let lock = lock_store(&shared)?;
    let (committed, seq) = shared.committed();
    retention::enforce(&shared, now_ms());
    let mut w = WriterLoop {
        opts: writer_options(&shared),
        checkpoint: committed.clone(),
        committed,
        seq,
        frozen: BTreeSet::new(),
        pending: Pending::default(),
        active: None,
        last_commit: Instant::now(),
        next_retention: Instant::now() + RETENTION_EVERY,
        closing: Vec::new(),
        disk: DiskWatch::new(shared.root.clone(), shared.cfg.disk_watermark.0),
        shared,
        _lock: lock,
    };
    let kill = Arc::new(Notify::new());
    let k = kill.clone();
    let stopping = Arc::new(AtomicBool::new(false));
    let s = stopping.clone();
    let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("loglynx-store-writer".into())
        .spawn(move || {
            // The kernel's slice, not the short one of the runtime thread that may have
            // started this one: tantivy's threads, started from here, inherit it.
            if let Err(e) = loglynx_core::sched::set_slice(None) {
                tracing::debug!("cannot reset the store writer's scheduler slice: {e}");
            }
            lower_priority(w.shared.cfg.indexing_nice);
            if let Err(e) = w.resume() {
                let _ = ready_tx.send(Err(e));
                return Ok(());
            }
            let _ = ready_tx.send(Ok(()));
            w.run(rx, k, s)
        })
        .map_err(StoreError::Thread)?;
    match ready.recv() {
        Ok(Ok(())) => Ok(WriterHandle {
            thread: Some(thread),
            kill,
            stopping,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        // the thread ended without a word: it panicked
        Err(_) => {
            let _ = thread.join();
            Err(StoreError::WriterPanicked)
        }
    }
}

/// Lowers the calling thread's scheduling priority to `nice` (Linux: niceness is per thread,
/// and threads inherit their creator's). A refusal is logged, not fatal: the store works the
/// same at any priority.
fn lower_priority(nice: u8) {
    if nice == 0 {
        return;
    }
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, libc::c_int::from(nice))
    };
    if rc != 0 {
        tracing::warn!(
            nice,
            "cannot lower the store threads' priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn lock_store(shared: &Shared) -> Result<DirectoryLock, StoreError> {
    let io = |e: std::io::Error| StoreError::DataDir {
        path: shared.root.clone(),
        source: e,
    };
    let dir =
        MmapDirectory::open(&shared.root).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    dir.acquire_lock(&Lock {
        filepath: ".writer.lock".into(),
        is_blocking: false,
    })
    .map_err(|e| match e {
        LockError::LockBusy => StoreError::Locked {
            path: shared.root.clone(),
        },
        LockError::IoError(e) => io(std::io::Error::new(e.kind(), e.to_string())),
    })
}

/// Index writer threads and per-thread memory from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriterOptions {
    pub threads: usize,
    pub memory_per_thread: usize,
}

fn writer_options(shared: &Shared) -> WriterOptions {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    options_for(shared.cfg.writer_threads, shared.cfg.writer_memory.0, cores)
}

/// `threads` 0 means one per core, at most 4; threads are reduced so each gets tantivy's
/// minimum budget.
pub(crate) fn options_for(threads: usize, memory: u64, cores: usize) -> WriterOptions {
    let memory = usize::try_from(memory).unwrap_or(usize::MAX);
    let wanted = if threads == 0 {
        cores.clamp(1, 4)
    } else {
        threads
    };
    let threads = wanted.min((memory / MIN_THREAD_MEMORY).max(1));
    let memory_per_thread = (memory / threads).clamp(MIN_THREAD_MEMORY, MAX_THREAD_MEMORY);
    WriterOptions {
        threads,
        memory_per_thread,
    }
}

/// The merge policy of every window.
///
/// Under a steady trickle (one small commit per second) every commit makes one segment; under
/// a heavy load, every commit makes one segment per indexing thread. Merging is most of the
/// indexing cost after the indexing itself (a third of the CPU in the first profile, with 4-way
/// merges), so the policy trades a few more segments for fewer rewrites:
/// - segments under 20k docs form one level (`min_layer_size`) so a trickle's tiny segments
///   are merged together early (cheap: a merge of small segments takes milliseconds);
/// - 8 segments are merged at a time and levels are 8x apart (`level_log_size` 3.0), so an
///   event is rewritten about log8(5M / 20k) ~ 2.7 times instead of ~5 with 4-way merges, with
///   at most 7 segments waiting per level (~25 segments in a very large window);
/// - segments over 5M docs are left alone: merging them costs more than searching one more
///   segment, and a window is closed by age or size anyway.
pub(crate) fn merge_policy() -> LogMergePolicy {
    let mut p = LogMergePolicy::default();
    p.set_min_num_segments(8);
    p.set_min_layer_size(20_000);
    p.set_level_log_size(3.0);
    p.set_max_docs_before_merge(5_000_000);
    p
}

fn open_writer(window: &Window, opts: &WriterOptions) -> Result<IndexWriter, StoreError> {
    let options = IndexWriterOptions::builder()
        .num_worker_threads(opts.threads)
        .memory_budget_per_thread(opts.memory_per_thread)
        .num_merge_threads(MERGE_THREADS)
        .build();
    // A window resumed after it was sealed is written with the live settings again (and
    // sealed again when it is closed).
    let mut index = window.index.clone();
    *index.settings_mut() = seal::live_settings();
    let writer = index.writer_with_options(options).map_err(|e| match e {
        TantivyError::LockFailure(LockError::LockBusy, _) => StoreError::Locked {
            path: window.dir.clone(),
        },
        e => StoreError::index(window.id, e),
    })?;
    writer.set_merge_policy(Box::new(merge_policy()));
    window.set_live(true);
    Ok(writer)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The window being written.
struct Active {
    window: Arc<Window>,
    writer: IndexWriter,
}

/// What was added since the last commit.
#[derive(Default)]
struct Pending {
    /// Something to commit: events or checkpoint positions.
    dirty: bool,
    docs: u64,
    acks: Vec<Ack>,
    first_ack_at: Option<Instant>,
    min_ts: Option<Timestamp>,
    max_ts: Option<Timestamp>,
    /// Checkpoint keys advanced since the last commit (frozen if the commit fails).
    touched: BTreeSet<String>,
    /// Adding failed (the index writer died): the commit must not happen.
    error: Option<String>,
}

/// A closed window whose merges are finishing on a helper thread.
struct Closing {
    thread: JoinHandle<()>,
    done: std::sync::mpsc::Receiver<()>,
}

enum Wake {
    Batch(EventBatch),
    Closed,
    Kill,
    Tick,
}

struct WriterLoop {
    shared: Arc<Shared>,
    opts: WriterOptions,
    active: Option<Active>,
    /// Cumulative checkpoint including what is pending.
    checkpoint: Checkpoint,
    /// The checkpoint of the last commit, and its sequence number.
    committed: Checkpoint,
    seq: u64,
    /// Sources whose position may no longer advance (a commit with their events failed).
    frozen: BTreeSet<String>,
    pending: Pending,
    last_commit: Instant,
    next_retention: Instant,
    closing: Vec<Closing>,
    disk: DiskWatch,
    _lock: DirectoryLock,
}

impl WriterLoop {
    /// Resumes the newest window when it is still young and small enough, and seals the
    /// closed windows not sealed yet.
    fn resume(&mut self) -> Result<(), StoreError> {
        if let Some(newest) = self.shared.windows().last().cloned() {
            if self.fits(&newest) {
                let writer = open_writer(&newest, &self.opts)?;
                tracing::info!(window = %newest.id, "resuming the newest window");
                self.active = Some(Active {
                    window: newest,
                    writer,
                });
            }
        }
        self.seal_closed_windows();
        Ok(())
    }

    fn run(
        mut self,
        mut rx: Receiver<EventBatch>,
        kill: Arc<Notify>,
        stopping: Arc<AtomicBool>,
    ) -> Result<(), StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(StoreError::Thread)?;
        loop {
            let now = Instant::now();
            if self.commit_due().is_some_and(|due| now >= due) {
                let _ = self.commit();
                continue;
            }
            if now >= self.next_retention {
                self.housekeeping();
            }
            let paused = self.disk.paused(&self.shared.counters);
            if paused && (rx.is_closed() || stopping.load(Ordering::Relaxed)) {
                // Stopping while paused: the batches still queued are not taken (their acks
                // are dropped, their sources send them again after the restart).
                tracing::warn!("store writer stopping with the disk below its watermark: queued batches are left for the next start");
                return self.shutdown();
            }
            let mut wake_at = self
                .commit_due()
                .map_or(self.next_retention, |d| d.min(self.next_retention));
            if self.disk.enabled() {
                // Looked at again while idle too, so HTTP ingest learns of a full disk at once.
                wake_at = wake_at.min(now + CHECK_EVERY);
            }
            let wake = rt.block_on(async {
                tokio::select! {
                    biased;
                    _ = kill.notified() => Wake::Kill,
                    b = rx.recv(), if !paused => b.map_or(Wake::Closed, Wake::Batch),
                    _ = tokio::time::sleep_until(wake_at.into()) => Wake::Tick,
                }
            });
            match wake {
                Wake::Batch(b) => self.add(b),
                Wake::Tick => {}
                Wake::Kill => {
                    tracing::warn!(
                        pending = self.pending.docs,
                        "store writer killed without committing"
                    );
                    return Ok(());
                }
                Wake::Closed => return self.shutdown(),
            }
        }
    }

    /// When the pending batches must be committed (None when nothing is pending).
    fn commit_due(&self) -> Option<Instant> {
        if !self.pending.dirty {
            return None;
        }
        let interval = self
            .shared
            .cfg
            .commit_interval
            .max(Duration::from_millis(1));
        let due = self.last_commit + interval;
        Some(
            self.pending
                .first_ack_at
                .map_or(due, |t| due.min(t + ACK_LINGER)),
        )
    }

    /// Whether `w` may still receive events (young and small enough, not being closed).
    fn fits(&self, w: &Window) -> bool {
        let age = Duration::from_millis(now_ms().saturating_sub(w.id.0));
        age < self.shared.cfg.window
            && w.size() < self.shared.cfg.window_max_size.0
            && !w.is_merging()
    }

    fn add(&mut self, batch: EventBatch) {
        let EventBatch {
            events,
            checkpoint,
            ack,
        } = batch;
        let advances = checkpoint.iter().any(|(k, p)| {
            !self.frozen.contains(k)
                && match self.checkpoint.get(k) {
                    // Forgetting a key changes the checkpoint only if it is there.
                    c if *p == loglynx_core::FORGET => c.is_some(),
                    c => c.is_none_or(|c| *p > c),
                }
        });
        if events.is_empty() && !advances {
            match ack {
                Some(a) if !self.pending.dirty => {
                    let _ = a.send(Ok(()));
                }
                Some(a) => self.hold(a),
                None => {}
            }
            return;
        }
        if !self.pending.dirty {
            self.roll_if_due();
        }
        if let Err(e) = self.ensure_active() {
            tracing::error!("cannot store a batch of {} events: {e}", events.len());
            self.shared.counters.failed();
            self.frozen.extend(checkpoint.into_iter().map(|(k, _)| k));
            if let Some(a) = ack {
                let _ = a.send(Err(AckError(e.to_string())));
            }
            return;
        }
        let Some(active) = self.active.as_ref() else {
            return;
        };
        if self.pending.error.is_none() && !events.is_empty() {
            let schema = &self.shared.schema;
            let ops = events
                .iter()
                .map(|e| UserOperation::Add(schema.to_document(e)));
            if let Err(e) = active.writer.run(ops) {
                self.pending.error = Some(e.to_string());
            }
        }
        for e in &events {
            let t = Timestamp::from_micros(e.timestamp.as_micros());
            self.pending.min_ts = Some(self.pending.min_ts.map_or(t, |m| m.min(t)));
            self.pending.max_ts = Some(self.pending.max_ts.map_or(t, |m| m.max(t)));
        }
        self.pending.docs += events.len() as u64;
        self.shared
            .counters
            .docs_pending
            .store(self.pending.docs, std::sync::atomic::Ordering::Relaxed);
        for (k, p) in checkpoint {
            if !self.frozen.contains(&k) {
                self.checkpoint.advance(&k, p);
                self.pending.touched.insert(k);
            }
        }
        self.pending.dirty = true;
        if let Some(a) = ack {
            self.hold(a);
        }
    }

    fn hold(&mut self, ack: Ack) {
        self.pending.first_ack_at.get_or_insert_with(Instant::now);
        self.pending.acks.push(ack);
    }

    /// Opens the newest window for writing if it fits, or creates a new one.
    fn ensure_active(&mut self) -> Result<(), StoreError> {
        if self.active.is_some() {
            return Ok(());
        }
        let newest = self.shared.windows().last().cloned();
        if let Some(w) = newest.as_ref().filter(|w| self.fits(w)) {
            let writer = open_writer(w, &self.opts)?;
            self.active = Some(Active {
                window: w.clone(),
                writer,
            });
            return Ok(());
        }
        let id = WindowId::next(newest.map(|w| w.id), now_ms());
        let window = Arc::new(Window::create(&self.shared.root, id, &self.shared.schema)?);
        let writer = open_writer(&window, &self.opts)?;
        self.shared.windows_mut().push(window.clone());
        tracing::info!(window = %id, "new window");
        self.active = Some(Active { window, writer });
        Ok(())
    }

    /// Commits the pending batches with the cumulative checkpoint, then fires their acks.
    fn commit(&mut self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        self.last_commit = Instant::now();
        let result = match self.active.as_mut() {
            None => Err(StoreError::Commit {
                window: "-".into(),
                reason: "no window is open".into(),
            }),
            Some(a) => {
                let previous = a.window.payload().unwrap_or_default();
                let payload = CommitPayload {
                    seq: self.seq + 1,
                    checkpoint: self.checkpoint.clone(),
                    min_ts: min_opt(previous.min_ts, pending.min_ts),
                    max_ts: max_opt(previous.max_ts, pending.max_ts),
                    committed_at: Timestamp::now(),
                };
                commit_window(a, &payload, pending.error.as_deref()).map(|()| payload)
            }
        };
        match result {
            Ok(payload) => {
                self.seq = payload.seq;
                self.committed = self.checkpoint.clone();
                self.shared.set_committed(self.committed.clone(), self.seq);
                self.shared
                    .counters
                    .committed(pending.docs, payload.committed_at);
                if let Some(a) = &self.active {
                    // The events are durable; a reader that cannot reload only delays search.
                    if let Err(e) = a.window.refresh(Some(payload)) {
                        tracing::error!("committed, but the searcher was not reloaded: {e}");
                    }
                }
                for ack in pending.acks {
                    let _ = ack.send(Ok(()));
                }
                self.roll_if_due();
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    "{e}; sources {:?} will not advance until loglynx restarts and re-reads them",
                    pending.touched
                );
                self.shared.counters.failed();
                self.checkpoint = self.committed.clone();
                self.frozen.extend(pending.touched);
                if let Some(a) = self.active.as_mut() {
                    if let Err(re) = a.writer.rollback() {
                        tracing::error!(window = %a.window.id, "rollback failed, closing the window: {re}");
                        a.window.set_live(false);
                        self.active = None;
                    }
                }
                for ack in pending.acks {
                    let _ = ack.send(Err(AckError(e.to_string())));
                }
                Err(e)
            }
        }
    }

    /// Closes the active window if it is too old or too large.
    fn roll_if_due(&mut self) {
        if self.active.as_ref().is_some_and(|a| !self.fits(&a.window)) {
            self.close_active(true);
        }
    }

    /// Hands the active window to a helper thread that lets its merges finish, then seals it
    /// (`seal.rs`) when `seal` (not at shutdown: a seal is restarted at the next start).
    fn close_active(&mut self, seal: bool) {
        let Some(Active { window, writer }) = self.active.take() else {
            return;
        };
        tracing::info!(window = %window.id, bytes = window.size(), "closing window");
        window.set_merging(true);
        window.set_live(false);
        let (tx, done) = std::sync::mpsc::channel();
        let w = window.clone();
        let watermark = self.shared.cfg.disk_watermark.0;
        let spawned = std::thread::Builder::new()
            .name("loglynx-store-merge".into())
            .spawn(move || {
                if let Err(e) = writer.wait_merging_threads() {
                    tracing::warn!(window = %w.id, "merges of a closed window failed: {e}");
                }
                if let Err(e) = w.refresh(None) {
                    tracing::warn!(window = %w.id, "cannot reload a closed window: {e}");
                }
                if seal {
                    seal_logged(&w, watermark);
                }
                w.set_merging(false);
                let _ = tx.send(());
            });
        match spawned {
            Ok(thread) => self.closing.push(Closing { thread, done }),
            Err(e) => {
                tracing::warn!(window = %window.id, "merges abandoned (cannot start a thread: {e})");
                window.set_merging(false);
            }
        }
    }

    /// Seals, on a helper thread, the windows not being written that are not sealed yet
    /// (closed before a shutdown or a crash, or written by an earlier version).
    fn seal_closed_windows(&mut self) {
        let active = self.active.as_ref().map(|a| a.window.id);
        let todo: Vec<Arc<Window>> = self
            .shared
            .windows()
            .iter()
            .filter(|w| Some(w.id) != active)
            .filter(|w| !seal::is_sealed(w).unwrap_or(true))
            .cloned()
            .collect();
        if todo.is_empty() {
            return;
        }
        for w in &todo {
            w.set_merging(true);
        }
        let (tx, done) = std::sync::mpsc::channel();
        let watermark = self.shared.cfg.disk_watermark.0;
        let spawned = std::thread::Builder::new()
            .name("loglynx-store-seal".into())
            .spawn({
                let todo = todo.clone();
                move || {
                    for w in todo {
                        seal_logged(&w, watermark);
                        w.set_merging(false);
                    }
                    let _ = tx.send(());
                }
            });
        match spawned {
            Ok(thread) => self.closing.push(Closing { thread, done }),
            Err(e) => {
                tracing::warn!("windows left unsealed (cannot start a thread: {e})");
                for w in todo {
                    w.set_merging(false);
                }
            }
        }
    }

    /// Periodic work: retention, rollover of an idle window, forgetting finished merges.
    fn housekeeping(&mut self) {
        self.next_retention = Instant::now() + RETENTION_EVERY;
        if !self.pending.dirty {
            self.roll_if_due();
        }
        self.closing.retain(|c| !c.thread.is_finished());
        retention::enforce(&self.shared, now_ms());
    }

    /// The channel closed: last commit, then let merges finish for a while.
    fn shutdown(mut self) -> Result<(), StoreError> {
        let result = if self.pending.dirty {
            self.commit()
        } else {
            Ok(())
        };
        self.close_active(false);
        let deadline = Instant::now() + SHUTDOWN_MERGE_WAIT;
        for c in std::mem::take(&mut self.closing) {
            match c
                .done
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        "leaving merges unfinished at shutdown (safe: they restart later)"
                    );
                }
                _ => {
                    let _ = c.thread.join();
                }
            }
        }
        tracing::info!(seq = self.seq, "store writer stopped");
        result
    }
}

/// Seals `w`, logging the outcome (a failed seal leaves the window as it was: still searched).
/// A seal writes a second copy of the window before the first is deleted: it is skipped (and
/// tried again at the next start) unless the disk keeps `watermark` free after that copy, so
/// sealing never brings ingestion to the disk watermark.
fn seal_logged(w: &Window, watermark: u64) {
    let before = w.size();
    if let Ok(free) = fs4::available_space(&w.dir) {
        if free < before.saturating_add(watermark) {
            tracing::warn!(
                window = %w.id,
                bytes = before,
                free,
                "closed window left unsealed: sealing needs its size free above store.disk_watermark; it is tried again at the next start"
            );
            return;
        }
    }
    let started = Instant::now();
    match seal::seal(w) {
        Ok(true) => tracing::info!(
            window = %w.id,
            bytes_before = before,
            bytes_after = w.size(),
            ms = started.elapsed().as_millis() as u64,
            "window sealed"
        ),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(window = %w.id, "cannot seal a closed window (it stays searchable as it is): {e}")
        }
    }
}

/// One tantivy commit with its payload; `add_error` refuses the commit (documents were lost
/// when adding).
fn commit_window(
    a: &mut Active,
    payload: &CommitPayload,
    add_error: Option<&str>,
) -> Result<(), StoreError> {
    let fail = |reason: String| StoreError::Commit {
        window: a.window.id.to_string(),
        reason,
    };
    if let Some(e) = add_error {
        return Err(fail(format!("indexing failed: {e}")));
    }
    let json = serde_json::to_string(payload).map_err(|e| fail(e.to_string()))?;
    let window = a.window.id;
    let mut prepared = a.writer.prepare_commit().map_err(|e| StoreError::Commit {
        window: window.to_string(),
        reason: e.to_string(),
    })?;
    prepared.set_payload(&json);
    prepared
        .commit()
        .map(|_| ())
        .map_err(|e| StoreError::Commit {
            window: window.to_string(),
            reason: e.to_string(),
        })
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_threads_and_memory_follow_the_config() {
        let mib = 1u64 << 20;
        assert_eq!(
            options_for(0, 256 * mib, 2),
            WriterOptions {
                threads: 2,
                memory_per_thread: 128 << 20
            }
        );
        assert_eq!(options_for(0, 256 * mib, 16).threads, 4);
        // Too little memory for 4 threads of 15 MB: fewer threads.
        assert_eq!(
            options_for(4, 40 * mib, 8),
            WriterOptions {
                threads: 2,
                memory_per_thread: 20 << 20
            }
        );
        // Less than the minimum: one thread at the minimum.
        assert_eq!(
            options_for(0, mib, 2),
            WriterOptions {
                threads: 1,
                memory_per_thread: MIN_THREAD_MEMORY
            }
        );
    }

    #[test]
    fn bounds_merge() {
        assert_eq!(min_opt(None, Some(Timestamp(3))), Some(Timestamp(3)));
        assert_eq!(
            min_opt(Some(Timestamp(2)), Some(Timestamp(3))),
            Some(Timestamp(2))
        );
        assert_eq!(
            max_opt(Some(Timestamp(2)), Some(Timestamp(3))),
            Some(Timestamp(3))
        );
        assert_eq!(max_opt(None, None), None);
    }
}

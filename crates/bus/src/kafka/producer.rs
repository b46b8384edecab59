//! [`Producer`]: the agent's side. Raw batches in, records to the topic, and each batch's
//! positions advanced (and its ack fired) only once every record of it, and of every batch
//! before it from the same source, is delivered or safe in the on-disk buffer.
//!
//! - Records are enqueued in batch order; a full librdkafka queue
//!   (`queue.buffering.max.messages` / `.kbytes`) makes the loop wait, so the bounded source
//!   channel fills and the sources slow down (back-pressure, bounded memory).
//! - At most `max_in_flight` batches wait for their reports; their completions are taken in
//!   order (`FuturesOrdered`), so a position is never written before the records before it.
//! - A failed delivery is retried [`DELIVERY_RETRIES`] times; then the producer stops with an
//!   error and the positions stay before the batch: the agent's restart sends it again. A
//!   record librdkafka refuses as larger than `message.max.bytes` (before sending it) is sent
//!   again at once, in its place, with its body cut to fit and flagged `truncated`
//!   (`ProducerStats::truncated`). One the brokers refuse as too large (the topic's limit is
//!   lower) stops the producer with [`BusError::TooLargeForTopic`], its batch unacknowledged
//!   (with the gapless guarantee librdkafka stored nothing after it); one they refuse for good
//!   otherwise (invalid) is logged, counted (`ProducerStats::rejected`) and skipped.
//!
//! With a [`Spool`] (`kafka.spool_size` > 0) the producer has two states:
//!
//! ```text
//!            oldest unconfirmed batch older than spool_after, or queue full that long
//!   direct ─────────────────────────────────────────────────────────────────────────► spooling
//!     ▲    batches -> librdkafka                      batches -> spool (fsync, then ack)   │
//!     └──── every spooled record and every direct batch delivered (the drainer caught up) ──┘
//! ```
//!
//! - Entering spooling, a copy of every direct batch not yet confirmed is written to the spool
//!   first, in order, then the new batches. The spool thus holds, per source, every record
//!   after its last delivered position in order: after a crash it is sent first and the
//!   sources resume after it, so the first copy of each record reaches Kafka in source order
//!   (a record may arrive twice; the workers drop the second copy). A batch cut because
//!   librdkafka's queue stayed full is spooled whole (its head copied too).
//! - spooling: batches are appended to the spool (several per fsync); a batch's ack fires and
//!   its positions advance once it is fsynced (or delivered, for a direct one).
//! - The drainer (`producer/drain.rs`) reads the spool in order and enqueues its records
//!   (`max_in_flight` frames at a time, behind the direct records already queued: the
//!   idempotent producer keeps that order per partition); a frame's delivery moves the cursor.
//! - Catch-up: when the spool is nearly drained and deliveries flow, the source channel is
//!   not read until it is empty, so the producer returns to direct under a steady load.
//! - A full spool, or one that cannot be written (disk full, I/O error: the group is kept in
//!   memory and written again every [`RETRY_WRITE`]), stops the reading of the source
//!   channel: files slow down, HTTP answers 503.
//! - A spool left non-empty by the previous run is sent first.
//! - Shutdown: the `stop` future of [`Producer::run`] (or the channel closing) starts a drain
//!   of at most `drain`, whether the spool is full or not.
//!
//! The states (`Mode`: direct / spooling; `Phase`: running / stopping / closed) and what the
//! loop decides from them each turn (read the channel? go spooling when? catch up until?)
//! are plain data in `producer/state.rs`, unit-tested without librdkafka; `run` does the I/O.

mod deliver;
mod drain;
mod state;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::FuturesOrdered;
use futures::{Future, StreamExt};
use loglynx_config::KafkaConfig;
use loglynx_core::{Ack, AckError, RawBatch};
use loglynx_telemetry::internal_events::{RecordsEnqueued, SpoolingEnded, SpoolingStarted};
use loglynx_telemetry::InternalEvent;
use rdkafka::producer::Producer as _;
use tokio::sync::{mpsc, watch, Notify};

use self::deliver::{Batch, Encoded, Kafka, SendContext, Sent};
use self::state::{finished, Episode, Limits, Mode, Phase, SpoolLevel, View};
use super::checkpoint::AgentCheckpoint;
use super::codec::{KeyCache, ValueEncoder};
use super::config::producer_config;
use super::spool::{Spool, SpoolBatch};
use crate::BusError;

/// Delivery attempts of one record after its first failure.
pub const DELIVERY_RETRIES: u32 = 5;
/// How often the checkpoint file is rewritten at most.
const SAVE_EVERY: Duration = Duration::from_millis(200);
/// Most batches written to the spool with one fsync.
const GROUP_BATCHES: usize = 64;
/// Most bytes written to the spool with one fsync.
const GROUP_BYTES: u64 = 8 << 20;
/// Wait before writing a group again after the spool refused it (write error).
pub const RETRY_WRITE: Duration = Duration::from_secs(1);

/// Counters of the producer (logs, health).
#[derive(Debug, Default)]
pub struct ProducerStats {
    /// Records handed to librdkafka.
    pub enqueued: AtomicU64,
    /// Records acknowledged by the brokers.
    pub delivered: AtomicU64,
    /// Delivery failures (each retried).
    pub failures: AtomicU64,
    /// Records the brokers refused for good (invalid, or too large even cut): skipped.
    pub rejected: AtomicU64,
    /// Records refused as too large and sent again cut to fit (flagged `truncated`).
    pub truncated: AtomicU64,
    /// Batches whose positions were advanced.
    pub batches: AtomicU64,
    /// True while batches go to the on-disk buffer (broker unreachable or stalled, or the
    /// buffer still draining).
    pub spooling: std::sync::atomic::AtomicBool,
    /// Bytes in the on-disk buffer.
    pub spool_bytes: AtomicU64,
    /// Capacity of the on-disk buffer.
    pub spool_max_bytes: AtomicU64,
    /// Records in the on-disk buffer not yet delivered.
    pub spool_records: AtomicU64,
    /// Damaged frames of the on-disk buffer skipped since start (their records are lost).
    pub spool_lost_frames: AtomicU64,
    /// Bytes of the damaged stretches skipped.
    pub spool_lost_bytes: AtomicU64,
}

/// The agent's Kafka producer.
pub struct Producer {
    inner: Kafka,
    topic: Arc<str>,
    stats: Arc<ProducerStats>,
    spool: Option<Arc<Mutex<Spool>>>,
    spool_dir: PathBuf,
    spool_size: u64,
    spool_after: Duration,
}

type Done = Pin<Box<dyn Future<Output = Result<(), BusError>> + Send>>;

/// A batch handed to librdkafka and not yet confirmed (in step with the `in_flight` futures).
struct Direct {
    /// The records enqueued (kept to copy them into the spool): the first `len` of `records`.
    records: Encoded,
    len: usize,
    positions: Vec<(String, u64)>,
    ack: Option<Ack>,
    sent: tokio::time::Instant,
    /// A whole batch (counted in `stats.batches`), not the head of a cut one.
    whole: bool,
    /// Its copy is in the spool (or being written): its ack went with the copy.
    copied: bool,
}

/// Batches for one spool write, with what fires once they are fsynced.
#[derive(Default)]
struct Group {
    frames: Vec<SpoolBatch>,
    /// Per frame: its ack, and whether it is a whole batch.
    tails: Vec<(Option<Ack>, bool)>,
}

impl Group {
    fn push(&mut self, frame: SpoolBatch, ack: Option<Ack>, whole: bool) {
        self.frames.push(frame);
        self.tails.push((ack, whole));
    }

    fn records(&self) -> u64 {
        self.frames.iter().map(|f| f.records.len() as u64).sum()
    }
}

/// The run loop's state.
struct State {
    checkpoint: AgentCheckpoint,
    in_flight: FuturesOrdered<Done>,
    direct: VecDeque<Direct>,
    mode: Mode,
    /// A group the spool refused, written again at `retry_at`.
    retry: Option<Group>,
    retry_at: tokio::time::Instant,
    last_save: Instant,
    keys: KeyCache,
    values: ValueEncoder,
}

impl Producer {
    /// Creates the producer (idempotent, acks=all; see `config.rs`). Fails on an invalid
    /// property, naming it. Connecting to the brokers happens in the background. Without
    /// [`Producer::with_spool_dir`] it has no on-disk buffer.
    pub fn new(cfg: &KafkaConfig) -> Result<Producer, BusError> {
        super::config::check_producer_overrides(cfg)?;
        let stats: Arc<ProducerStats> = Arc::default();
        let context = SendContext {
            delivered: stats.clone(),
            max_message: super::config::max_message_bytes(cfg),
        };
        let inner: Kafka = producer_config(cfg)
            .create_with_context(context)
            .map_err(|e| BusError::kafka("producer", e))?;
        Ok(Producer {
            inner,
            topic: cfg.topic.as_str().into(),
            stats,
            spool: None,
            spool_dir: PathBuf::new(),
            spool_size: cfg.spool_size.0,
            spool_after: cfg.spool_after,
        })
    }

    /// Opens the on-disk buffer in `dir` (the agent's is `<data_dir>/agent/spool`) with the
    /// capacity `kafka.spool_size`; 0 leaves the producer without one. Fails, naming the
    /// directory, when it cannot be written. Blocking (checksums the spool): call it before
    /// the runtime or from `spawn_blocking`.
    pub fn with_spool_dir(self, dir: &Path) -> Result<Producer, BusError> {
        if self.spool_size == 0 {
            tracing::info!("kafka.spool_size = 0: no disk buffer, batches wait in memory while the brokers are away");
            return Ok(self);
        }
        let spool = Spool::open(dir, self.spool_size)?;
        Ok(self.with_spool(spool))
    }

    /// Uses `spool` as the on-disk buffer (see [`Producer::with_spool_dir`]).
    pub fn with_spool(mut self, spool: Spool) -> Producer {
        publish(&spool, &self.stats);
        self.spool_dir = spool.dir().to_path_buf();
        self.stats
            .spool_max_bytes
            .store(spool.max_bytes(), Ordering::Relaxed);
        self.spool = Some(Arc::new(Mutex::new(spool)));
        self
    }

    /// The producer's counters.
    pub fn stats(&self) -> Arc<ProducerStats> {
        self.stats.clone()
    }

    /// Sends the batches of `rx`, advancing `checkpoint` as batches are delivered (or
    /// spooled), until `rx` is closed or `stop` completes; then waits at most `drain` for the
    /// last reports (and for `rx` to close). Batches still unconfirmed then are not advanced
    /// (their sources send them again after a restart), batches still in `rx` are not read,
    /// and the spool keeps what it holds for the next start.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<RawBatch>,
        checkpoint: AgentCheckpoint,
        max_in_flight: usize,
        drain: Duration,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BusError> {
        let max_in_flight = max_in_flight.max(1);
        let mut st = State {
            checkpoint,
            in_flight: FuturesOrdered::new(),
            direct: VecDeque::new(),
            mode: Mode::Direct,
            retry: None,
            retry_at: tokio::time::Instant::now(),
            last_save: Instant::now(),
            keys: KeyCache::default(),
            values: ValueEncoder::default(),
        };
        let limits = Limits {
            max_in_flight,
            spool_after: self.spool_after,
        };
        let mut phase = Phase::Running;
        let mut stopped = false;
        let mut save_tick = tokio::time::interval(SAVE_EVERY);
        let wake = Arc::new(Notify::new());
        let progress = Arc::new(Notify::new());
        let mut last_progress = tokio::time::Instant::now();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut drainer = self.spool.as_ref().map(|spool| {
            let d = drain::Drainer {
                spool: spool.clone(),
                producer: self.inner.clone(),
                topic: self.topic.clone(),
                stats: self.stats.clone(),
                wake: wake.clone(),
                progress: progress.clone(),
                max_in_flight,
            };
            tokio::spawn(d.run(stop_rx))
        });
        tokio::pin!(stop);
        if self.stats.spool_records.load(Ordering::Relaxed) > 0 {
            st.mode = Mode::Spooling(self.start_spooling("records left by the previous run"));
        }
        let result = loop {
            let v = View {
                now: tokio::time::Instant::now(),
                in_flight: st.in_flight.len(),
                retry_pending: st.retry.is_some(),
                spool: self.spool.as_ref().map(|_| SpoolLevel {
                    records: self.stats.spool_records.load(Ordering::Relaxed),
                    bytes: self.stats.spool_bytes.load(Ordering::Relaxed),
                    max_bytes: self.stats.spool_max_bytes.load(Ordering::Relaxed),
                }),
                oldest_direct: st.direct.front().map(|d| d.sent),
                last_progress,
            };
            if finished(phase, &v) {
                break Ok(());
            }
            if let Some(ep) = st.mode.leave_if_caught_up(&v) {
                SpoolingEnded {
                    records: ep.records,
                    took: ep.start.elapsed(),
                }
                .emit(&self.stats.spooling);
            }
            let plan = st.mode.plan(phase, &v, limits);
            let spooling = matches!(st.mode, Mode::Spooling(_));
            if let Some(ep) = st.mode.episode_mut() {
                if plan.full && !ep.full_warned {
                    tracing::warn!(
                        bytes = v.spool.map_or(0, |l| l.bytes),
                        "disk buffer full: sources are slowed down and HTTP ingest answers 503 until the brokers take records again (kafka.spool_size)"
                    );
                }
                ep.full_warned = plan.full;
            }
            let give_up = self.spool.is_some().then_some(self.spool_after);
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let deadline = phase.deadline();
            let retry_at = st.retry_at;
            tokio::select! {
                b = rx.recv(), if plan.take => match b {
                    Some(batch) if spooling => {
                        let mut group = Group::default();
                        let room = self.stats.spool_max_bytes.load(Ordering::Relaxed)
                            .saturating_sub(self.stats.spool_bytes.load(Ordering::Relaxed))
                            .min(GROUP_BYTES);
                        let mut bytes = 0;
                        let mut next = Some(batch);
                        while let Some(b) = next.take() {
                            let (frame, ack) = encode_batch(b, &mut st.keys, &mut st.values);
                            bytes += frame.disk_bytes();
                            group.push(frame, ack, true);
                            if bytes >= room || group.frames.len() >= GROUP_BATCHES {
                                break;
                            }
                            next = rx.try_recv().ok();
                        }
                        if let Some(ep) = st.mode.episode_mut() {
                            ep.records += group.records();
                        }
                        if let Err(e) = self.write(&mut st, group).await {
                            break Err(e);
                        }
                        wake.notify_one();
                    }
                    Some(batch) => match self.enqueue(batch, give_up, &mut st.keys, &mut st.values).await {
                        Ok((done, direct, None)) => {
                            st.in_flight.push_back(done);
                            st.direct.push_back(direct);
                        }
                        Ok((done, head, Some((rest, ack)))) => {
                            // The batch goes to disk whole: its head (already in
                            // librdkafka) is copied with the other direct batches.
                            st.in_flight.push_back(done);
                            st.direct.push_back(head);
                            st.mode = Mode::Spooling(self.start_spooling("librdkafka's queue stayed full"));
                            let mut group = Group::default();
                            group.push(rest, ack, true);
                            if let Err(e) = self.copy_direct(&mut st, group).await {
                                break Err(e);
                            }
                            wake.notify_one();
                        }
                        Err(e) => break Err(e),
                    },
                    None => phase.close(tokio::time::Instant::now() + drain),
                },
                Some(res) = st.in_flight.next() => {
                    let d = st.direct.pop_front();
                    match res {
                        Ok(()) => {
                            if let Some(d) = d {
                                st.checkpoint.advance(&d.positions);
                                if d.whole && !d.copied {
                                    self.stats.batches.fetch_add(1, Ordering::Relaxed);
                                }
                                if let Some(a) = d.ack {
                                    let _ = a.send(Ok(()));
                                }
                            }
                            if st.last_save.elapsed() >= SAVE_EVERY {
                                if let Err(e) = st.checkpoint.save_async().await {
                                    break Err(e);
                                }
                                st.last_save = Instant::now();
                            }
                        }
                        Err(e) if d.as_ref().is_some_and(|d| d.copied) => {
                            tracing::warn!("a batch failed to deliver, its copy in the disk buffer is sent instead: {e}");
                        }
                        Err(e) => {
                            if let Some(a) = d.and_then(|d| d.ack) {
                                let _ = a.send(Err(AckError(e.to_string())));
                            }
                            break Err(e);
                        }
                    }
                }
                _ = tokio::time::sleep_until(plan.stall_at.unwrap_or(far)), if plan.stall_at.is_some() => {
                    st.mode = Mode::Spooling(self.start_spooling("no delivery report within kafka.spool_after"));
                    if let Err(e) = self.copy_direct(&mut st, Group::default()).await {
                        break Err(e);
                    }
                    wake.notify_one();
                }
                _ = progress.notified(), if spooling => last_progress = tokio::time::Instant::now(),
                // The catch-up ends when deliveries stop flowing.
                _ = tokio::time::sleep_until(plan.catch_up_until.unwrap_or(far)), if plan.catch_up_until.is_some() => {}
                _ = tokio::time::sleep_until(retry_at), if st.retry.is_some() => {
                    let group = st.retry.take().unwrap_or_default();
                    if let Err(e) = self.write(&mut st, group).await {
                        break Err(e);
                    }
                    wake.notify_one();
                }
                res = async {
                    match drainer.as_mut() {
                        Some(h) => h.await,
                        None => std::future::pending().await,
                    }
                }, if drainer.is_some() => {
                    drainer = None;
                    match res {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => break Err(e),
                        Err(e) => break Err(BusError::Task { what: "drainer", source: e }),
                    }
                }
                // Positions delivered since the last write reach the file within SAVE_EVERY.
                _ = save_tick.tick() => {
                    if let Err(e) = st.checkpoint.save_async().await {
                        break Err(e);
                    }
                    st.last_save = Instant::now();
                }
                _ = &mut stop, if !stopped => {
                    stopped = true;
                    phase.stop(tokio::time::Instant::now() + drain);
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    let queued = rx.len();
                    tracing::warn!(
                        batches = st.in_flight.len(),
                        queued,
                        "stopping with batches not confirmed by the brokers or not read yet: their sources send them again at the next start"
                    );
                    break Ok(());
                }
            }
        };
        let result = result.and(
            self.stop_drainer(stop_tx, drainer, phase.deadline(), drain)
                .await,
        );
        let saved = st.checkpoint.save_async().await;
        let s = &self.stats;
        tracing::info!(
            enqueued = s.enqueued.load(Ordering::Relaxed),
            delivered = s.delivered.load(Ordering::Relaxed),
            failures = s.failures.load(Ordering::Relaxed),
            rejected = s.rejected.load(Ordering::Relaxed),
            spooled = s.spool_records.load(Ordering::Relaxed),
            "producer stopped"
        );
        result.and(saved)
    }

    /// Enters the spooling state.
    fn start_spooling(&self, why: &str) -> Episode {
        SpoolingStarted {
            reason: why,
            dir: &self.spool_dir,
        }
        .emit(&self.stats.spooling);
        Episode::new(self.stats.spool_records.load(Ordering::Relaxed))
    }

    /// Writes a copy of every direct batch not yet confirmed (in order), then `then`, to the
    /// spool: the spool holds every unconfirmed record of a source before its newer ones.
    async fn copy_direct(&self, st: &mut State, then: Group) -> Result<(), BusError> {
        let mut group = Group::default();
        for d in st.direct.iter_mut().filter(|d| !d.copied) {
            d.copied = true;
            let frame = SpoolBatch {
                records: d.records.records(0, d.len),
                positions: d.positions.clone(),
            };
            group.push(frame, d.ack.take(), d.whole);
        }
        group.frames.extend(then.frames);
        group.tails.extend(then.tails);
        if let Some(ep) = st.mode.episode_mut() {
            ep.records += group.records();
        }
        self.write(st, group).await
    }

    /// Writes `group` (after a group refused earlier) to the spool with one fsync, then fires
    /// the acks and advances the positions. When the spool refuses it (disk full, I/O error)
    /// the group is kept for a new attempt after [`RETRY_WRITE`] and nothing is advanced.
    async fn write(&self, st: &mut State, group: Group) -> Result<(), BusError> {
        let Some(spool) = &self.spool else {
            return Err(BusError::NoSpool);
        };
        let group = match st.retry.take() {
            Some(mut earlier) => {
                earlier.frames.extend(group.frames);
                earlier.tails.extend(group.tails);
                earlier
            }
            None => group,
        };
        let Group { frames, tails } = group;
        let (frames, res) = spool_op(spool, &self.stats, move |s| {
            let r = s.append(&frames);
            Ok((frames, r))
        })
        .await?;
        match res {
            Ok(()) => {
                for (frame, (ack, whole)) in frames.iter().zip(tails) {
                    st.checkpoint.advance(&frame.positions);
                    if whole {
                        self.stats.batches.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(a) = ack {
                        let _ = a.send(Ok(()));
                    }
                }
                if let Some(ep) = st.mode.episode_mut() {
                    ep.write_warned = false;
                }
            }
            Err(e) => {
                let warned = st
                    .mode
                    .episode_mut()
                    .map(|ep| std::mem::replace(&mut ep.write_warned, true));
                if warned != Some(true) {
                    tracing::warn!(
                        "{e}; sources are slowed down and HTTP ingest answers 503 meanwhile; free disk space on that volume (or lower kafka.spool_size): the write is retried every {} s",
                        RETRY_WRITE.as_secs()
                    );
                }
                st.retry = Some(Group { frames, tails });
                st.retry_at = tokio::time::Instant::now() + RETRY_WRITE;
            }
        }
        Ok(())
    }

    /// Enqueues every record of `batch` (waiting while librdkafka's queue is full) and returns
    /// the future of the batch's delivery and what it holds. With `give_up`, a queue full for
    /// that long cuts the batch: the head enqueued is returned as a direct batch without
    /// positions nor ack, the records not enqueued with its positions and ack, to be spooled.
    #[allow(clippy::type_complexity)]
    async fn enqueue(
        &self,
        batch: RawBatch,
        give_up: Option<Duration>,
        keys: &mut KeyCache,
        values: &mut ValueEncoder,
    ) -> Result<(Done, Direct, Option<(SpoolBatch, Option<Ack>)>), BusError> {
        let RawBatch {
            records,
            checkpoint,
            ack,
            ..
        } = batch;
        let all = Encoded::from_records(&records, keys, values);
        drop(records);
        let mut out = Batch::new();
        let mut cut = None;
        for (i, (key, value)) in all.iter().enumerate() {
            match out
                .send(&self.inner, &self.topic, key, value, give_up, &self.stats)
                .await?
            {
                Sent::Queued | Sent::Rejected => {}
                Sent::Full => {
                    cut = Some(i);
                    break;
                }
            }
        }
        RecordsEnqueued { count: out.queued }.emit(&self.stats.enqueued);
        let sent = tokio::time::Instant::now();
        let (direct, rest) = match cut {
            None => {
                let d = Direct {
                    len: all.len(),
                    records: all,
                    positions: checkpoint,
                    ack,
                    sent,
                    whole: true,
                    copied: false,
                };
                (d, None)
            }
            Some(i) => {
                let rest = SpoolBatch {
                    records: all.records(i, all.len()),
                    positions: checkpoint,
                };
                let d = Direct {
                    records: all,
                    len: i,
                    positions: Vec::new(),
                    ack: None,
                    sent,
                    whole: false,
                    copied: false,
                };
                (d, Some((rest, ack)))
            }
        };
        let done: Done =
            Box::pin(out.seal(self.inner.clone(), self.topic.clone(), self.stats.clone()));
        Ok((done, direct, rest))
    }

    /// Stops the drainer: it finishes the frames it has in librdkafka (until the drain
    /// deadline), then the spool's cursor is written.
    async fn stop_drainer(
        &self,
        stop: watch::Sender<bool>,
        drainer: Option<tokio::task::JoinHandle<Result<(), BusError>>>,
        drain_until: Option<tokio::time::Instant>,
        drain: Duration,
    ) -> Result<(), BusError> {
        let _ = stop.send(true);
        let Some(spool) = &self.spool else {
            return Ok(());
        };
        let mut res = Ok(());
        if let Some(mut h) = drainer {
            let until = drain_until.unwrap_or_else(|| tokio::time::Instant::now() + drain);
            res = match tokio::time::timeout_at(until, &mut h).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(BusError::Task {
                    what: "drainer",
                    source: e,
                }),
                Err(_) => {
                    h.abort();
                    tracing::warn!("stopping with disk buffer frames not confirmed by the brokers: they are sent again at the next start");
                    Ok(())
                }
            };
        }
        let records = self.stats.spool_records.load(Ordering::Relaxed);
        if records > 0 {
            tracing::info!(records, "disk buffer kept for the next start");
        }
        res.and(spool_op(spool, &self.stats, |s| s.sync_cursor()).await)
    }

    /// Waits up to `timeout` for every enqueued record to be delivered (used at shutdown and
    /// by tests).
    pub fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        self.inner
            .flush(timeout)
            .map_err(|e| BusError::kafka("flush", e))
    }
}

/// A batch as a spool frame (all its positions) and its ack.
fn encode_batch(
    b: RawBatch,
    keys: &mut KeyCache,
    values: &mut ValueEncoder,
) -> (SpoolBatch, Option<Ack>) {
    let records = b
        .records
        .iter()
        .map(|r| {
            let mut v = Vec::with_capacity(r.body.len() + 224);
            values.encode_into(r, &mut v);
            (keys.key(r).0.to_string(), v)
        })
        .collect();
    let frame = SpoolBatch {
        records,
        positions: b.checkpoint,
    };
    (frame, b.ack)
}

fn publish(s: &Spool, stats: &ProducerStats) {
    stats.spool_bytes.store(s.bytes(), Ordering::Relaxed);
    stats.spool_records.store(s.records(), Ordering::Relaxed);
    stats.spool_lost_frames.store(s.lost_frames(), Ordering::Relaxed);
    stats.spool_lost_bytes.store(s.lost_bytes(), Ordering::Relaxed);
}

/// Runs `f` on the spool in a blocking thread, then publishes its counters.
async fn spool_op<T: Send + 'static>(
    spool: &Arc<Mutex<Spool>>,
    stats: &Arc<ProducerStats>,
    f: impl FnOnce(&mut Spool) -> Result<T, BusError> + Send + 'static,
) -> Result<T, BusError> {
    let (spool, stats) = (spool.clone(), stats.clone());
    tokio::task::spawn_blocking(move || {
        let mut s = spool.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut s);
        publish(&s, &stats);
        r
    })
    .await
    .unwrap_or_else(|e| {
        Err(BusError::Task {
            what: "disk buffer",
            source: e,
        })
    })
}

//! The TCP state monitor of `loglynx run`: eBPF transitions when permitted, sock_diag
//! snapshots always, socket counts, and events into the pipeline.
//!
//! Two plain threads (the tracer's `poll(2)` and the /proc scan block):
//! - `netmon-bpf` (bpf mode): drains the ring buffers, updates the state table, and sends the
//!   transitions and finished connections (`[tcp_states] connections`) as `FormatHint::Event` records in batches with `try_send`, so the reader never
//!   waits on the pipeline: when the queue stays full, at most [`MAX_PENDING_BATCHES`] batches
//!   wait and further transitions are dropped and counted (`drops.queue`).
//! - `netmon-snapshot`: every `snapshot_interval`, a sock_diag dump + /proc scan (the whole
//!   monitor in sock_diag mode; TIME_WAIT counts and owner refresh in bpf mode), then the
//!   per-group counts of CLOSE_WAIT / TIME_WAIT / FIN_WAIT2 sockets sent as `network.sockets`
//!   events (`counts.rs`), on which the detection pack's rules alert.

mod metrics;
mod shared;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loglynx_config::TcpStatesConfig;
use loglynx_core::{Event, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use tokio::sync::mpsc::{self, error::TrySendError};

pub use metrics::MonitorMetrics;
pub use shared::{Mode, MonitorShared, PerfNow, SocketsNow, Status};

use crate::counts::{Counter, Thresholds};
use crate::diag::Snapshot;
use crate::error::{NetmonError, Result};
use crate::filter::Filter;
use crate::lifetime::ConnLife;
use crate::summary::Summarizer;
use crate::table::StateTable;
use crate::tracer::{Tracer, TracerConfig};
use crate::transition::TcpTransition;
use crate::view::TimeInState;
use shared::{rows_of, Inner};

/// Batches waiting for room in the pipeline queue before transitions are dropped.
pub const MAX_PENDING_BATCHES: usize = 8;
/// Longest time a partial batch of transitions waits before it is sent.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// A running monitor; stop it with [`Monitor::stop`] (dropping it stops it too, unjoined).
pub struct Monitor {
    shared: Arc<MonitorShared>,
    ctx: Arc<Ctx>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// What the threads share besides the state.
struct Ctx {
    filter: Filter,
    host: String,
    tx: mpsc::Sender<RawBatch>,
    source: Arc<SourceKind>,
}

/// The kernel's monotonic clock (what `bpf_ktime_get_ns` reads and the events' `monotonic_ns`
/// carry), in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The port filter of `[tcp_states]`.
pub fn filter_of(cfg: &TcpStatesConfig) -> Filter {
    Filter {
        family: None,
        local_ports: cfg.local_ports.clone(),
        remote_ports: cfg.remote_ports.clone(),
        any_ports: cfg.ports.clone(),
    }
}

/// The eBPF programs of the monitor, attached (or the reason they are not) before the monitor
/// starts: `loglynx run` and `loglynx agent` attach them before any other thread exists, then
/// drop the capabilities attaching needed (capabilities are per thread; threads made later
/// inherit the reduced sets), then start the monitor with them ([`Monitor::start_attached`]).
pub struct Attached {
    tracer: Option<Tracer>,
    mode: Mode,
    reason: String,
}

impl Attached {
    /// Starts the tracer when `cfg.bpf` and permitted (without the connection lifetimes when
    /// the kernel has no BTF); else sock_diag mode, with the reason.
    pub fn attach(cfg: &TcpStatesConfig) -> Attached {
        if !cfg.bpf {
            return Attached {
                tracer: None,
                mode: Mode::SockDiag,
                reason: "ebpf switched off in the configuration ([tcp_states] bpf = false)".to_string(),
            };
        }
        let tcfg = TracerConfig {
            filter: filter_of(cfg),
            ring_buffer_bytes: cfg.ring_buffer_bytes,
            lifetimes: cfg.connections,
            perf: cfg.perf,
            max_map_entries: None,
        };
        let started = match Tracer::start(&tcfg) {
            Err(NetmonError::NoBtf { view }) => {
                tracing::warn!("tcp states: {view} unavailable: no kernel BTF; state changes only");
                Tracer::start(&TracerConfig { lifetimes: false, ..tcfg })
            }
            other => other,
        };
        match started {
            Ok(t) => Attached {
                tracer: Some(t),
                mode: Mode::Bpf,
                reason: "ebpf permitted: following every transition".to_string(),
            },
            Err(e) => Attached {
                tracer: None,
                mode: Mode::SockDiag,
                reason: format!("ebpf unavailable, falling back to sock_diag snapshots: {e}"),
            },
        }
    }

    /// Whether the eBPF programs are attached (bpf mode).
    pub fn is_bpf(&self) -> bool {
        self.tracer.is_some()
    }
}

impl Monitor {
    /// Attaches the eBPF programs ([`Attached::attach`]) and starts the monitor with them.
    ///
    /// Fails only when sockets cannot be listed at all (sock_diag unavailable).
    pub fn start(
        cfg: &TcpStatesConfig,
        host: String,
        tx: mpsc::Sender<RawBatch>,
    ) -> Result<Monitor> {
        Monitor::start_attached(Attached::attach(cfg), cfg, host, tx)
    }

    /// Takes the first snapshot (seeding the state table) and starts the threads with the
    /// tracer of `attached` (sock_diag mode without one, the reason in
    /// [`MonitorShared::reason`] and a log line). Events go to `tx`, records named `host`.
    ///
    /// Fails only when sockets cannot be listed at all (sock_diag unavailable).
    pub fn start_attached(
        attached: Attached,
        cfg: &TcpStatesConfig,
        host: String,
        tx: mpsc::Sender<RawBatch>,
    ) -> Result<Monitor> {
        let filter = filter_of(cfg);
        let first = Snapshot::take(&filter).map_err(NetmonError::Snapshot)?;
        let Attached { tracer, mode, reason } = attached;
        let hooks = tracer
            .as_ref()
            .map(|t| t.hooks().to_vec())
            .unwrap_or_default();
        if let Some(t) = &tracer {
            for (hook, why) in t.missing_hooks() {
                tracing::info!("tcp states: optional hook {hook} unavailable ({why})");
            }
        }
        match mode {
            Mode::Bpf => tracing::info!(
                "tcp states: mode bpf (every transition, snapshots every {})",
                humantime::format_duration(cfg.snapshot_interval)
            ),
            Mode::SockDiag => tracing::warn!(
                "tcp states: mode sock_diag (snapshots every {}, no individual transitions): {reason}",
                humantime::format_duration(cfg.snapshot_interval)
            ),
        }

        let mut table = StateTable::default();
        table.seed(&first);
        let inner = Inner {
            table,
            last: Some(first),
            counter: Counter::new(Thresholds::from(cfg), cfg.socket_counts_interval),
            time_in_state: TimeInState::default(),
        };
        let shared = Arc::new(MonitorShared::new(
            mode,
            reason,
            hooks,
            cfg.snapshot_interval.as_secs_f64(),
            inner,
        ));
        shared.counters.snapshots.fetch_add(1, Ordering::Relaxed);
        let ctx = Arc::new(Ctx {
            filter,
            host,
            tx,
            source: Arc::new(SourceKind::TcpStates),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        if let Some(tracer) = tracer {
            let (sh, cx, st, bs) = (shared.clone(), ctx.clone(), stop.clone(), cfg.batch_size);
            let perf_every = cfg.perf.then_some(cfg.perf_interval);
            let summary_every = (cfg.perf && !cfg.perf_summary_interval.is_zero())
                .then_some(cfg.perf_summary_interval);
            threads.push(
                std::thread::Builder::new()
                    .name("netmon-bpf".into())
                    .spawn(move || bpf_loop(tracer, &sh, &cx, &st, bs, perf_every, summary_every))
                    .map_err(NetmonError::Thread)?,
            );
        }
        let (sh, cx, st, every) = (
            shared.clone(),
            ctx.clone(),
            stop.clone(),
            cfg.snapshot_interval,
        );
        threads.push(
            std::thread::Builder::new()
                .name("netmon-snapshot".into())
                .spawn(move || snapshot_loop(&sh, &cx, &st, every))
                .map_err(NetmonError::Thread)?,
        );
        Ok(Monitor {
            shared,
            ctx,
            stop,
            threads,
        })
    }

    /// The state the API reads.
    pub fn shared(&self) -> Arc<MonitorShared> {
        self.shared.clone()
    }

    /// Takes a snapshot and sends the socket counts now (as the snapshot thread does each
    /// interval); returns how many `network.sockets` events were sent. Blocks while the
    /// pipeline queue is full.
    pub fn snapshot_now(&self) -> Result<usize> {
        snapshot_and_detect(&self.shared, &self.ctx).map_err(NetmonError::Snapshot)
    }

    /// Stops the threads, sends what they hold and waits for them; their senders are dropped.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn record(cx: &Ctx, e: &Event) -> Option<RawRecord> {
    Some(RawRecord {
        body: serde_json::to_vec(e).ok()?,
        truncated: false,
        hint: FormatHint::Event,
        source: cx.source.clone(),
        host: Some(cx.host.clone()),
        received: Timestamp::now(),
        id: e.id.clone(),
    })
}

fn batch(records: Vec<RawRecord>) -> RawBatch {
    RawBatch {
        records,
        checkpoint: Vec::new(),
        ack: None,
        kafka: None,
    }
}

fn bpf_loop(
    mut tracer: Tracer,
    sh: &MonitorShared,
    cx: &Ctx,
    stop: &AtomicBool,
    batch_size: usize,
    perf_every: Option<Duration>,
    summary_every: Option<Duration>,
) {
    let mut last_perf = Instant::now();
    // The kernel maps start empty with the tracer: the first summary counts from here.
    let mut summary = summary_every.map(|every| {
        (
            Summarizer::starting_at(Timestamp::now()),
            Instant::now(),
            every,
        )
    });
    let c = &sh.counters;
    let mut got: Vec<TcpTransition> = Vec::new();
    let mut lives: Vec<ConnLife> = Vec::new();
    let mut current: Vec<RawRecord> = Vec::with_capacity(batch_size);
    let mut pending: VecDeque<RawBatch> = VecDeque::new();
    let mut last_flush = Instant::now();
    let mut last_drops = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        got.clear();
        lives.clear();
        if let Err(e) = tracer.poll_all(Duration::from_millis(50), &mut |t| got.push(t), &mut |l| {
            lives.push(l)
        }) {
            tracing::error!("tcp states: {e}; the eBPF reader stops (snapshots go on)");
            break;
        }
        if !got.is_empty() {
            sh.apply(&got);
            c.transitions.fetch_add(got.len() as u64, Ordering::Relaxed);
        }
        c.connections
            .fetch_add(lives.len() as u64, Ordering::Relaxed);
        let events = got
            .iter()
            .map(TcpTransition::to_event)
            .chain(lives.iter().map(ConnLife::to_event));
        for e in events {
            if let Some(r) = record(cx, &e) {
                current.push(r);
            }
            if current.len() >= batch_size {
                pending.push_back(batch(std::mem::replace(
                    &mut current,
                    Vec::with_capacity(batch_size),
                )));
            }
        }
        if !current.is_empty() && (pending.is_empty() && last_flush.elapsed() >= FLUSH_EVERY) {
            pending.push_back(batch(std::mem::take(&mut current)));
        }
        while let Some(b) = pending.pop_front() {
            let n = b.records.len() as u64;
            match cx.tx.try_send(b) {
                Ok(()) => {
                    c.events_sent.fetch_add(n, Ordering::Relaxed);
                    last_flush = Instant::now();
                }
                Err(TrySendError::Full(b)) => {
                    pending.push_front(b);
                    break;
                }
                Err(TrySendError::Closed(_)) => return,
            }
        }
        while pending.len() > MAX_PENDING_BATCHES {
            if let Some(b) = pending.pop_front() {
                c.queue_drops
                    .fetch_add(b.records.len() as u64, Ordering::Relaxed);
            }
        }
        if last_drops.elapsed() >= Duration::from_secs(1) {
            store_drops(&tracer, c);
            last_drops = Instant::now();
        }
        if let Some(every) = perf_every {
            if last_perf.elapsed() >= every {
                match tracer.perf_snapshot() {
                    Ok(p) => {
                        if let Some((s, last, every)) = summary.as_mut() {
                            if last.elapsed() >= *every {
                                *last = Instant::now();
                                for e in s.events(&p, Timestamp::now(), &cx.host) {
                                    current.extend(record(cx, &e));
                                }
                                // Exited processes' counts are summed: their entries go, so
                                // the bounded maps keep room for the processes after them.
                                let gone = s.exited(|pid| {
                                    std::path::Path::new(&format!("/proc/{pid}")).exists()
                                });
                                match tracer.forget_owners(&gone) {
                                    Ok(_) => s.forget(&gone),
                                    Err(e) => tracing::warn!(
                                        "tcp states: forgetting exited processes' counters: {e}"
                                    ),
                                }
                            }
                        }
                        sh.set_perf(p)
                    }
                    Err(e) => tracing::warn!("tcp states: reading the performance counters: {e}"),
                }
                last_perf = Instant::now();
            }
        }
    }
    // Stopping: the last partial interval's summary, then wait for room for what is held
    // (the pipeline still drains).
    if let Some((s, _, _)) = summary.as_mut() {
        if let Ok(p) = tracer.perf_snapshot() {
            for e in s.events(&p, Timestamp::now(), &cx.host) {
                current.extend(record(cx, &e));
            }
        }
    }
    if !current.is_empty() {
        pending.push_back(batch(current));
    }
    for b in pending {
        let n = b.records.len() as u64;
        if cx.tx.blocking_send(b).is_ok() {
            c.events_sent.fetch_add(n, Ordering::Relaxed);
        }
    }
    store_drops(&tracer, c);
}

fn store_drops(tracer: &Tracer, c: &shared::Counters) {
    if let Ok(d) = tracer.drops() {
        c.kernel_drops.store(d, Ordering::Relaxed);
    }
    if let Ok((full, no_birth)) = tracer.life_drops() {
        c.connection_drops.store(full, Ordering::Relaxed);
        c.connections_unborn.store(no_birth, Ordering::Relaxed);
    }
}

fn snapshot_loop(sh: &MonitorShared, cx: &Ctx, stop: &AtomicBool, every: Duration) {
    // The first evaluation runs at once, over the snapshot taken at start.
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(Duration::from_millis(100)));
            continue;
        }
        next = now + every;
        if let Err(e) = snapshot_and_detect(sh, cx) {
            sh.counters.snapshot_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "tcp states: snapshot failed: {e}; retrying in {}",
                humantime::format_duration(every)
            );
        }
    }
}

fn snapshot_and_detect(sh: &MonitorShared, cx: &Ctx) -> std::io::Result<usize> {
    let snap = Snapshot::take(&cx.filter)?;
    sh.counters.snapshots.fetch_add(1, Ordering::Relaxed);
    let now = Timestamp::now();
    let events = {
        let mut g = sh.lock();
        if sh.mode == Mode::Bpf {
            g.table.reconcile(&snap);
        }
        g.last = Some(snap);
        let (_, rows) = rows_of(sh.mode, &g);
        let refs: Vec<_> = rows.iter().collect();
        g.counter.events(&refs, monotonic_ns(), now, &cx.host)
    };
    let n = events.len();
    if n == 0 {
        return Ok(0);
    }
    let records: Vec<RawRecord> = events.iter().filter_map(|e| record(cx, e)).collect();
    let sent = records.len() as u64;
    if cx.tx.blocking_send(batch(records)).is_ok() {
        sh.counters.events_sent.fetch_add(sent, Ordering::Relaxed);
    }
    Ok(n)
}

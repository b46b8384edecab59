//! The monitor's observable state, shared by its threads and read by the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use loglynx_core::Timestamp;
use serde::Serialize;

use crate::counts::Counter;
use crate::diag::{Snapshot, SocketRow};
use crate::perf::PerfSnapshot;
use crate::states::TcpState;
use crate::table::StateTable;
use crate::transition::TcpTransition;
use crate::view::{SocketsView, TimeInState};

/// How the monitor follows sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// eBPF tracer (every transition) plus periodic sock_diag snapshots.
    Bpf,
    /// Periodic sock_diag snapshots only (no individual transitions).
    SockDiag,
}

impl Mode {
    /// `bpf` or `sock_diag`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bpf => "bpf",
            Mode::SockDiag => "sock_diag",
        }
    }
}

/// Counters, updated without the lock.
#[derive(Debug, Default)]
pub struct Counters {
    /// Transitions read from the ring buffer.
    pub transitions: AtomicU64,
    /// Finished connections read from their ring buffer.
    pub connections: AtomicU64,
    /// Finished connections the kernel could not report because their ring buffer was full.
    pub connection_drops: AtomicU64,
    /// Connections that closed without their start recorded (opened before the tracer, or
    /// evicted from the bounded birth map), so not reported.
    pub connections_unborn: AtomicU64,
    /// Records dropped by the kernel because the ring buffer was full.
    pub kernel_drops: AtomicU64,
    /// Transitions dropped in user space because the pipeline queue stayed full.
    pub queue_drops: AtomicU64,
    /// Events handed to the pipeline (transitions and alerts).
    pub events_sent: AtomicU64,
    /// Snapshots taken.
    pub snapshots: AtomicU64,
    /// Snapshots that failed.
    pub snapshot_errors: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) table: StateTable,
    pub(crate) last: Option<Snapshot>,
    pub(crate) counter: Counter,
    pub(crate) time_in_state: TimeInState,
}

/// Shared between the monitor's threads and the API (cheap reads under a short lock).
pub struct MonitorShared {
    /// The mode that runs.
    pub mode: Mode,
    /// Why this mode (e.g. why eBPF is not used).
    pub reason: String,
    /// eBPF hooks attached (empty in sock_diag mode).
    pub hooks: Vec<String>,
    /// Seconds between snapshots.
    pub snapshot_interval_s: f64,
    /// Counters.
    pub counters: Counters,
    pub(crate) inner: Mutex<Inner>,
    perf: Mutex<Option<(Timestamp, PerfSnapshot)>>,
}

/// `GET /api/v1/network/perf`.
#[derive(Debug, Clone, Serialize)]
pub struct PerfNow {
    /// When the kernel maps were read (none: not read yet).
    pub as_of: Option<Timestamp>,
    /// The counters, cumulative since the monitor started.
    #[serde(flatten)]
    pub counters: PerfSnapshot,
}

/// `GET /api/v1/network/status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Always true (the route answers `{"enabled":false}` when the monitor is off).
    pub enabled: bool,
    /// `bpf` or `sock_diag`.
    pub mode: Mode,
    /// Why this mode.
    pub reason: String,
    /// eBPF hooks attached.
    pub hooks: Vec<String>,
    /// Transitions read from the kernel.
    pub transitions: u64,
    /// Finished connections read from the kernel (`network.connection` events).
    pub connections: u64,
    /// Events sent into the pipeline (transitions and alerts).
    pub events_sent: u64,
    /// Lost records: `kernel` (ring buffer full), `queue` (pipeline queue full).
    pub drops: Drops,
    /// Time of the last snapshot.
    pub last_snapshot: Option<Timestamp>,
    /// How long the last snapshot took, ms.
    pub last_snapshot_ms: Option<f64>,
    /// Seconds between snapshots.
    pub snapshot_interval_s: f64,
    /// Snapshots taken and failed.
    pub snapshots: u64,
    /// Failed snapshots.
    pub snapshot_errors: u64,
    /// Sockets tracked now (TIME_WAIT included).
    pub sockets: usize,
    /// Times a socket group (CLOSE_WAIT per process, TIME_WAIT per endpoint, FIN_WAIT2 per
    /// process or endpoint) went over the `[tcp_states]` thresholds since start. The alerts
    /// themselves are the detection rules' (`/api/v1/alerts`), which use those thresholds
    /// unless overridden.
    pub alerts_raised: u64,
    /// Socket groups over the `[tcp_states]` thresholds now (`close_wait:pid:42`, ...).
    pub alerts_active: Vec<String>,
}

/// Lost records.
#[derive(Debug, Clone, Serialize)]
pub struct Drops {
    /// Records the kernel could not put in the full ring buffer.
    pub kernel: u64,
    /// Transitions dropped because the pipeline queue stayed full.
    pub queue: u64,
    /// Finished connections the kernel could not put in their full ring buffer.
    pub connections_kernel: u64,
    /// Connections that closed without their start recorded (opened before the monitor
    /// started, or evicted from the bounded birth map): no `network.connection` event.
    pub connections_unseen_start: u64,
}

/// `GET /api/v1/network/sockets`.
#[derive(Debug, Clone, Serialize)]
pub struct SocketsNow {
    /// `bpf` or `sock_diag`.
    pub mode: Mode,
    /// When the socket states were read: now in bpf mode (TIME_WAIT from the last snapshot),
    /// the last snapshot in sock_diag mode.
    pub as_of: Timestamp,
    /// The summary.
    #[serde(flatten)]
    pub view: SocketsView,
    /// Time spent in each state before leaving it (bpf mode only).
    pub time_in_state: TimeInState,
}

impl MonitorShared {
    pub(crate) fn new(
        mode: Mode,
        reason: String,
        hooks: Vec<String>,
        interval_s: f64,
        inner: Inner,
    ) -> Self {
        MonitorShared {
            mode,
            reason,
            hooks,
            snapshot_interval_s: interval_s,
            counters: Counters::default(),
            inner: Mutex::new(inner),
            perf: Mutex::new(None),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_perf(&self, p: PerfSnapshot) {
        let mut g = self.perf.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some((Timestamp::now(), p));
    }

    /// The performance counters last read (empty before the first read, and in sock_diag
    /// mode or with `[tcp_states] perf = false`).
    pub fn perf(&self) -> PerfNow {
        let g = self.perf.lock().unwrap_or_else(|e| e.into_inner());
        match &*g {
            Some((t, p)) => PerfNow {
                as_of: Some(*t),
                counters: p.clone(),
            },
            None => PerfNow {
                as_of: None,
                counters: PerfSnapshot::default(),
            },
        }
    }

    /// Applies transitions to the table and the time-in-state histogram.
    pub(crate) fn apply(&self, ts: &[TcpTransition]) {
        let mut g = self.lock();
        for t in ts {
            g.table.apply(t);
            g.time_in_state.record(t.old_state, t.state_duration_us);
        }
    }

    /// The sockets now, per the mode (see [`SocketsNow::as_of`]).
    pub fn rows(&self) -> (Timestamp, Vec<SocketRow>) {
        let g = self.lock();
        rows_of(self.mode, &g)
    }

    /// Per-state counts now (TIME_WAIT included).
    pub fn state_counts(&self) -> std::collections::BTreeMap<TcpState, usize> {
        let (_, rows) = self.rows();
        let mut m = std::collections::BTreeMap::new();
        for r in rows {
            *m.entry(r.state).or_default() += 1;
        }
        m
    }

    /// The status report.
    pub fn status(&self) -> Status {
        let c = &self.counters;
        let g = self.lock();
        let sockets = rows_of(self.mode, &g).1.len();
        let mut active: Vec<String> = g.counter.over().cloned().collect();
        active.sort();
        Status {
            enabled: true,
            mode: self.mode,
            reason: self.reason.clone(),
            hooks: self.hooks.clone(),
            transitions: c.transitions.load(Ordering::Relaxed),
            connections: c.connections.load(Ordering::Relaxed),
            events_sent: c.events_sent.load(Ordering::Relaxed),
            drops: Drops {
                kernel: c.kernel_drops.load(Ordering::Relaxed),
                queue: c.queue_drops.load(Ordering::Relaxed),
                connections_kernel: c.connection_drops.load(Ordering::Relaxed),
                connections_unseen_start: c.connections_unborn.load(Ordering::Relaxed),
            },
            last_snapshot: g.last.as_ref().map(|s| s.taken),
            last_snapshot_ms: g.last.as_ref().map(|s| s.took_us as f64 / 1000.0),
            snapshot_interval_s: self.snapshot_interval_s,
            snapshots: c.snapshots.load(Ordering::Relaxed),
            snapshot_errors: c.snapshot_errors.load(Ordering::Relaxed),
            sockets,
            alerts_raised: g.counter.crossings(),
            alerts_active: active,
        }
    }

    /// The sockets report.
    pub fn sockets(&self) -> SocketsNow {
        let g = self.lock();
        let (as_of, rows) = rows_of(self.mode, &g);
        let refs: Vec<&SocketRow> = rows.iter().collect();
        SocketsNow {
            mode: self.mode,
            as_of,
            view: SocketsView::build(&refs),
            time_in_state: g.time_in_state.clone(),
        }
    }
}

/// Rows per mode: bpf = table + TIME_WAIT of the last snapshot; sock_diag = the last snapshot.
pub(crate) fn rows_of(mode: Mode, g: &Inner) -> (Timestamp, Vec<SocketRow>) {
    match mode {
        Mode::Bpf => {
            let mut rows: Vec<SocketRow> = g.table.rows().cloned().collect();
            if let Some(s) = &g.last {
                // Mini-sockets the tracer never sees: TIME_WAIT, and orphaned FIN_WAIT2 (a
                // closed socket's FIN_WAIT2 is a timewait socket once its full socket is CLOSE).
                let tracked: std::collections::HashSet<_> =
                    rows.iter().map(SocketRow::tuple).collect();
                rows.extend(
                    s.sockets
                        .iter()
                        .filter(|r| {
                            r.state == TcpState::TimeWait
                                || (r.state == TcpState::FinWait2
                                    && r.owner.is_none()
                                    && !tracked.contains(&r.tuple()))
                        })
                        .cloned(),
                );
            }
            (Timestamp::now(), rows)
        }
        Mode::SockDiag => match &g.last {
            Some(s) => (s.taken, s.sockets.clone()),
            None => (Timestamp::now(), Vec::new()),
        },
    }
}

//! The producer's states and the decisions its loop takes from them, as plain data (no
//! librdkafka, no clock but the instants given), so they are tested on their own.
//!
//! ```text
//! Mode   direct ──── oldest batch unconfirmed for spool_after, or queue full ────► spooling
//!          ▲                                                                          │
//!          └──── nothing in flight, no write to retry, spool empty (caught up) ◄──────┘
//!
//! Phase  running ── stop ──► stopping (still taking batches) ──┐
//!           │                                                 ├─ channel closed ─► closed
//!           └───────────────── channel closed ────────────────┘
//!        stopping and closed end at their deadline; closed also once nothing is in flight
//! ```

use std::time::{Duration, Instant as StdInstant};

use tokio::time::Instant;

/// Records left in the spool under which the catch-up starts.
pub(super) const CATCH_UP_RECORDS: u64 = 20_000;

/// Where new batches go.
pub(super) enum Mode {
    /// To librdkafka.
    Direct,
    /// To the spool (fsync, then ack); the drainer sends them.
    Spooling(Episode),
}

/// One episode of spooling (for the log lines).
pub(super) struct Episode {
    pub(super) start: StdInstant,
    /// Records spooled since it started (with those already in the spool then).
    pub(super) records: u64,
    pub(super) full_warned: bool,
    pub(super) write_warned: bool,
}

impl Episode {
    /// An episode starting now with `records` already in the spool.
    pub(super) fn new(records: u64) -> Episode {
        Episode {
            start: StdInstant::now(),
            records,
            full_warned: false,
            write_warned: false,
        }
    }
}

/// Whether the run is ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Reading the source channel.
    Running,
    /// `stop` fired: batches are still taken (the channel is open) until `until`.
    Stopping { until: Instant },
    /// The source channel is closed: the run ends once nothing is in flight, or at `until`.
    Closed { until: Instant },
}

impl Phase {
    /// The source channel is still read.
    pub(super) fn open(self) -> bool {
        !matches!(self, Phase::Closed { .. })
    }

    /// When the run ends at the latest.
    pub(super) fn deadline(self) -> Option<Instant> {
        match self {
            Phase::Running => None,
            Phase::Stopping { until } | Phase::Closed { until } => Some(until),
        }
    }

    /// `stop` fired: the run ends by `until` (or earlier if it already had to).
    pub(super) fn stop(&mut self, until: Instant) {
        let until = self.deadline().map_or(until, |d| d.min(until));
        *self = match self {
            Phase::Closed { .. } => Phase::Closed { until },
            _ => Phase::Stopping { until },
        };
    }

    /// The source channel closed: the run ends by `until` (or earlier if it already had to).
    pub(super) fn close(&mut self, until: Instant) {
        let until = self.deadline().map_or(until, |d| d.min(until));
        *self = Phase::Closed { until };
    }
}

/// What the loop sees at the top of an iteration.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    pub(super) now: Instant,
    /// Batches (and frames of copies) waiting for their delivery reports.
    pub(super) in_flight: usize,
    /// A group the spool refused waits to be written again.
    pub(super) retry_pending: bool,
    /// The spool's level; `None` without a spool.
    pub(super) spool: Option<SpoolLevel>,
    /// When the oldest unconfirmed direct batch was enqueued.
    pub(super) oldest_direct: Option<Instant>,
    /// The drainer's last delivery.
    pub(super) last_progress: Instant,
}

/// How much the spool holds.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SpoolLevel {
    pub(super) records: u64,
    pub(super) bytes: u64,
    pub(super) max_bytes: u64,
}

/// The producer's fixed limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_in_flight: usize,
    pub(super) spool_after: Duration,
}

/// What the loop does in one iteration (besides the reports, ticks and stop it always
/// waits for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    /// Read the source channel.
    pub(super) take: bool,
    /// The spool is at capacity (spooling only).
    pub(super) full: bool,
    /// Catch-up: the channel is not read until the spool is empty or this instant passes.
    pub(super) catch_up_until: Option<Instant>,
    /// Go spooling at this instant unless the oldest direct batch is confirmed before.
    pub(super) stall_at: Option<Instant>,
}

/// The run ends: the channel is closed and nothing waits for a report or a write.
pub(super) fn finished(phase: Phase, v: &View) -> bool {
    !phase.open() && v.in_flight == 0 && !v.retry_pending
}

impl Mode {
    /// The episode, while spooling.
    pub(super) fn episode_mut(&mut self) -> Option<&mut Episode> {
        match self {
            Mode::Direct => None,
            Mode::Spooling(ep) => Some(ep),
        }
    }

    /// Back to direct once every record sent before or spooled since is delivered (what is
    /// enqueued from now on comes after all of them): returns the episode that ended.
    pub(super) fn leave_if_caught_up(&mut self, v: &View) -> Option<Episode> {
        let spooled = v.spool.map_or(0, |s| s.records);
        if matches!(self, Mode::Spooling(_)) && v.in_flight == 0 && !v.retry_pending && spooled == 0
        {
            match std::mem::replace(self, Mode::Direct) {
                Mode::Spooling(ep) => return Some(ep),
                Mode::Direct => return None,
            }
        }
        None
    }

    /// What to do in this iteration.
    pub(super) fn plan(&self, phase: Phase, v: &View, limits: Limits) -> Plan {
        let spooling = matches!(self, Mode::Spooling(_));
        let level = v.spool.unwrap_or_default();
        let full = spooling && level.bytes >= level.max_bytes;
        // Nearly drained while deliveries flow: new batches wait until it is empty.
        let catch_up_until = v.last_progress + limits.spool_after;
        let catch_up = spooling
            && level.records > 0
            && level.records <= CATCH_UP_RECORDS
            && v.now < catch_up_until;
        // When the oldest unconfirmed batch has waited too long, batches go to disk.
        let stall_at = match (v.spool.is_some(), spooling, phase.open()) {
            (true, false, true) => v.oldest_direct.map(|sent| sent + limits.spool_after),
            _ => None,
        };
        let take = phase.open()
            && !full
            && !catch_up
            && !v.retry_pending
            && (spooling || v.in_flight < limits.max_in_flight);
        Plan {
            take,
            full,
            catch_up_until: catch_up.then_some(catch_up_until),
            stall_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(5);
    const LIMITS: Limits = Limits {
        max_in_flight: 2,
        spool_after: AFTER,
    };

    fn view(now: Instant) -> View {
        View {
            now,
            in_flight: 0,
            retry_pending: false,
            spool: Some(SpoolLevel {
                records: 0,
                bytes: 0,
                max_bytes: 1000,
            }),
            oldest_direct: None,
            last_progress: now,
        }
    }

    fn spooling() -> Mode {
        Mode::Spooling(Episode::new(0))
    }

    #[test]
    fn direct_takes_batches_up_to_max_in_flight_and_schedules_the_stall() {
        let now = Instant::now();
        let mut v = view(now);
        let p = Mode::Direct.plan(Phase::Running, &v, LIMITS);
        assert!(p.take && !p.full);
        assert_eq!((p.stall_at, p.catch_up_until), (None, None));
        v.in_flight = 2;
        v.oldest_direct = Some(now);
        let p = Mode::Direct.plan(Phase::Running, &v, LIMITS);
        assert!(!p.take);
        assert_eq!(p.stall_at, Some(now + AFTER));
        // Without a spool there is nowhere to go: no stall.
        v.spool = None;
        assert_eq!(Mode::Direct.plan(Phase::Running, &v, LIMITS).stall_at, None);
        // Nor once the channel is closed.
        v.spool = Some(SpoolLevel::default());
        let closed = Phase::Closed { until: now };
        assert_eq!(Mode::Direct.plan(closed, &v, LIMITS).stall_at, None);
        assert!(!Mode::Direct.plan(closed, &v, LIMITS).take);
    }

    #[test]
    fn spooling_takes_regardless_of_in_flight_until_the_spool_is_full() {
        let now = Instant::now();
        let mut v = view(now);
        v.in_flight = 10;
        v.oldest_direct = Some(now);
        let p = spooling().plan(Phase::Running, &v, LIMITS);
        assert!(p.take && !p.full);
        assert_eq!(p.stall_at, None);
        v.spool = Some(SpoolLevel {
            records: 50_000,
            bytes: 1000,
            max_bytes: 1000,
        });
        let p = spooling().plan(Phase::Running, &v, LIMITS);
        assert!(!p.take && p.full);
        // A write to retry holds the channel too.
        v.spool = Some(SpoolLevel::default());
        v.retry_pending = true;
        assert!(!spooling().plan(Phase::Running, &v, LIMITS).take);
    }

    #[test]
    fn a_nearly_drained_spool_holds_new_batches_while_deliveries_flow() {
        let now = Instant::now();
        let mut v = view(now);
        v.spool = Some(SpoolLevel {
            records: CATCH_UP_RECORDS,
            bytes: 10,
            max_bytes: 1000,
        });
        let p = spooling().plan(Phase::Running, &v, LIMITS);
        assert!(!p.take);
        assert_eq!(p.catch_up_until, Some(now + AFTER));
        // Deliveries stopped flowing: batches are taken again.
        v.now = now + AFTER;
        let p = spooling().plan(Phase::Running, &v, LIMITS);
        assert!(p.take);
        assert_eq!(p.catch_up_until, None);
        // Far from drained: no catch-up.
        v.now = now;
        v.spool = Some(SpoolLevel {
            records: CATCH_UP_RECORDS + 1,
            bytes: 10,
            max_bytes: 1000,
        });
        assert!(spooling().plan(Phase::Running, &v, LIMITS).take);
    }

    #[test]
    fn spooling_ends_only_when_nothing_is_in_flight_queued_or_spooled() {
        let now = Instant::now();
        let mut v = view(now);
        v.in_flight = 1;
        let mut m = spooling();
        assert!(m.leave_if_caught_up(&v).is_none());
        v.in_flight = 0;
        v.retry_pending = true;
        assert!(m.leave_if_caught_up(&v).is_none());
        v.retry_pending = false;
        v.spool = Some(SpoolLevel {
            records: 1,
            bytes: 100,
            max_bytes: 1000,
        });
        assert!(m.leave_if_caught_up(&v).is_none());
        assert!(m.episode_mut().is_some());
        v.spool = Some(SpoolLevel::default());
        assert!(m.leave_if_caught_up(&v).is_some());
        assert!(matches!(m, Mode::Direct));
        assert!(m.leave_if_caught_up(&v).is_none());
    }

    #[test]
    fn stopping_keeps_the_earliest_deadline_and_ends_once_closed_and_confirmed() {
        let now = Instant::now();
        let mut phase = Phase::Running;
        assert_eq!(phase.deadline(), None);
        phase.stop(now + AFTER);
        assert_eq!(phase, Phase::Stopping { until: now + AFTER });
        assert!(phase.open());
        let mut v = view(now);
        assert!(!finished(phase, &v));
        // The channel closing later does not push the deadline back.
        phase.close(now + AFTER * 2);
        assert_eq!(phase, Phase::Closed { until: now + AFTER });
        assert!(!phase.open());
        v.in_flight = 1;
        assert!(!finished(phase, &v));
        v.in_flight = 0;
        assert!(finished(phase, &v));
        // Closed first, then stopped with a nearer deadline: still closed, nearer deadline.
        let mut phase = Phase::Running;
        phase.close(now + AFTER);
        phase.stop(now + Duration::from_secs(1));
        assert_eq!(
            phase,
            Phase::Closed {
                until: now + Duration::from_secs(1)
            }
        );
    }
}

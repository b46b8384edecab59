//! The live state of every TCP socket, kept from eBPF transitions and seeded by a snapshot.
//!
//! Sockets seen changing state are keyed by their kernel address (`skaddr`), which is stable
//! for a socket's life while its endpoints are not (a connecting socket has local port 0 in
//! SYN_SENT). Sockets that existed before the tracer started come from the first snapshot and
//! are keyed by their endpoints until their first transition moves them to the first map.
//! TIME_WAIT never appears as a transition: it is counted from snapshots only.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::diag::{Process, Snapshot, SocketRow};
use crate::states::TcpState;
use crate::transition::{Owner, TcpTransition};

type Tuple = (IpAddr, u16, IpAddr, u16);

/// Sockets by state, from transitions (see the module docs).
#[derive(Debug, Default)]
pub struct StateTable {
    by_sk: HashMap<u64, SocketRow>,
    seeded: HashMap<Tuple, SocketRow>,
}

impl StateTable {
    /// Seeds the table with the sockets of `snap` not tracked yet (TIME_WAIT excluded).
    pub fn seed(&mut self, snap: &Snapshot) {
        let tracked: HashSet<Tuple> = self.by_sk.values().map(SocketRow::tuple).collect();
        for s in &snap.sockets {
            if s.state != TcpState::TimeWait && !tracked.contains(&s.tuple()) {
                self.seeded.insert(s.tuple(), s.clone());
            }
        }
    }

    /// Applies one transition: the socket moves to its new state, or leaves on CLOSE.
    pub fn apply(&mut self, t: &TcpTransition) {
        let tuple = (t.laddr, t.lport, t.raddr, t.rport);
        let seeded = self.seeded.remove(&tuple);
        if t.new_state == TcpState::Close {
            self.by_sk.remove(&t.skaddr);
            return;
        }
        let prev = self.by_sk.remove(&t.skaddr).or(seeded);
        let stats = prev.as_ref().and_then(|r| r.stats.clone());
        let prev_owner = prev.and_then(|r| r.owner);
        let owner = if t.owner == Owner::Current {
            prev_owner
        } else {
            Some(Process {
                pid: t.pid,
                comm: t.comm.clone(),
            })
        };
        self.by_sk.insert(
            t.skaddr,
            SocketRow {
                state: t.new_state,
                laddr: t.laddr,
                lport: t.lport,
                raddr: t.raddr,
                rport: t.rport,
                owner,
                stats,
            },
        );
    }

    /// After a later snapshot: drops seeded sockets that no longer exist (their end was missed)
    /// and takes the owner /proc reports, which holds even after fd passing or fork, and the
    /// counters of the dump (RTT, retransmits, bytes, queues, cgroup).
    pub fn reconcile(&mut self, snap: &Snapshot) {
        let now: HashMap<Tuple, &SocketRow> = snap
            .sockets
            .iter()
            .filter(|s| s.state != TcpState::TimeWait)
            .map(|s| (s.tuple(), s))
            .collect();
        let present: HashSet<Tuple> = snap.sockets.iter().map(SocketRow::tuple).collect();
        self.seeded.retain(|t, _| present.contains(t));
        for row in self.by_sk.values_mut().chain(self.seeded.values_mut()) {
            if let Some(s) = now.get(&row.tuple()) {
                if let Some(p) = &s.owner {
                    row.owner = Some(p.clone());
                }
                if s.stats.is_some() {
                    row.stats = s.stats.clone();
                }
            }
        }
    }

    /// Every socket in the table.
    pub fn rows(&self) -> impl Iterator<Item = &SocketRow> {
        self.by_sk.values().chain(self.seeded.values())
    }

    /// Sockets in the table.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_sk.len() + self.seeded.len()
    }

    /// Whether the table is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;
    use TcpState::*;

    fn ip() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    fn t(sk: u64, lport: u16, old: TcpState, new: TcpState, owner: Owner) -> TcpTransition {
        TcpTransition {
            timestamp: Timestamp(0),
            monotonic_ns: 0,
            skaddr: sk,
            pid: 7,
            comm: "srv".into(),
            owner,
            laddr: ip(),
            lport,
            raddr: ip(),
            rport: 9000,
            old_state: old,
            new_state: new,
            state_duration_us: 0,
        }
    }

    fn row(state: TcpState, lport: u16, owner: Option<Process>) -> SocketRow {
        SocketRow {
            state,
            laddr: ip(),
            lport,
            raddr: ip(),
            rport: 9000,
            owner,
            stats: None,
        }
    }

    fn snap(sockets: Vec<SocketRow>) -> Snapshot {
        Snapshot {
            taken: Timestamp(0),
            took_us: 0,
            sockets,
        }
    }

    #[test]
    fn follows_a_socket_from_connect_to_close() {
        let mut tb = StateTable::default();
        tb.apply(&t(1, 0, Close, SynSent, Owner::Connect));
        tb.apply(&t(1, 5000, SynSent, Established, Owner::Connect));
        assert_eq!(tb.len(), 1);
        let r = tb.rows().next().unwrap();
        assert_eq!((r.state, r.lport), (Established, 5000));
        assert_eq!(r.owner.as_ref().unwrap().pid, 7);
        tb.apply(&t(1, 5000, Established, CloseWait, Owner::Current));
        assert_eq!(
            tb.rows().next().unwrap().owner.as_ref().unwrap().pid,
            7,
            "kept"
        );
        tb.apply(&t(1, 5000, CloseWait, Close, Owner::Current));
        assert!(tb.is_empty());
    }

    #[test]
    fn seeded_sockets_move_on_their_first_transition_and_leave_when_gone() {
        let mut tb = StateTable::default();
        let p = Process {
            pid: 3,
            comm: "old".into(),
        };
        tb.seed(&snap(vec![
            row(Established, 1, Some(p.clone())),
            row(Established, 2, None),
            row(TimeWait, 3, None),
        ]));
        assert_eq!(tb.len(), 2, "TIME_WAIT is not tracked");
        tb.apply(&t(9, 1, Established, CloseWait, Owner::Current));
        assert_eq!(tb.len(), 2);
        let moved: Vec<_> = tb.rows().filter(|r| r.state == CloseWait).collect();
        assert_eq!(
            moved[0].owner.as_ref(),
            Some(&p),
            "owner carried from the snapshot"
        );
        // Port 2 vanished without a transition (missed): reconcile drops it.
        tb.reconcile(&snap(vec![row(
            CloseWait,
            1,
            Some(Process {
                pid: 4,
                comm: "new".into(),
            }),
        )]));
        assert_eq!(tb.len(), 1);
        assert_eq!(
            tb.rows().next().unwrap().owner.as_ref().unwrap().pid,
            4,
            "/proc wins"
        );
    }
}

//! What the API serves about sockets "now": counts per state and process, CLOSE_WAIT leaders
//! with their peers, TIME_WAIT per endpoint, and the time-in-state distribution.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::diag::SocketRow;
use crate::states::TcpState;

/// Most processes listed in [`SocketsView::processes`].
pub const MAX_PROCESSES: usize = 200;
/// Most entries in the leader and endpoint lists.
pub const MAX_LEADERS: usize = 20;

/// Socket counts of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessSockets {
    /// Process id.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Sockets held.
    pub total: usize,
    /// Sockets per state name.
    pub states: BTreeMap<&'static str, usize>,
}

/// A remote address and how many sockets point to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerCount {
    /// Remote IP address.
    pub ip: IpAddr,
    /// Sockets.
    pub count: usize,
}

/// A process holding sockets in CLOSE_WAIT (its peers closed; it did not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseWaitLeader {
    /// Process id.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Sockets in CLOSE_WAIT.
    pub count: usize,
    /// Local ports of those sockets (sorted, distinct).
    pub local_ports: Vec<u16>,
    /// Remote addresses, most sockets first.
    pub peers: Vec<PeerCount>,
}

/// Which end of a socket groups it (see [`endpoint_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A local listening port: the server side of many connections.
    Local,
    /// The remote address and port: the client side of many connections.
    Remote,
}

/// An endpoint shared by many sockets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    /// Which end.
    pub side: Side,
    /// Address of that end.
    pub ip: IpAddr,
    /// Port of that end.
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = match self.side {
            Side::Local => "local",
            Side::Remote => "remote",
        };
        match self.ip {
            IpAddr::V4(a) => write!(f, "{side} {a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "{side} [{a}]:{}", self.port),
        }
    }
}

/// The stable end of a socket: its local end when the local port is listening (server side),
/// else its remote end (client side, whose local port is ephemeral).
pub fn endpoint_of(row: &SocketRow, listening: &HashSet<u16>) -> Endpoint {
    if listening.contains(&row.lport) {
        Endpoint {
            side: Side::Local,
            ip: row.laddr,
            port: row.lport,
        }
    } else {
        Endpoint {
            side: Side::Remote,
            ip: row.raddr,
            port: row.rport,
        }
    }
}

/// Local ports in LISTEN among `rows`.
pub fn listening_ports<'a>(rows: impl IntoIterator<Item = &'a SocketRow>) -> HashSet<u16> {
    rows.into_iter()
        .filter(|r| r.state == TcpState::Listen)
        .map(|r| r.lport)
        .collect()
}

/// Sockets in one state per endpoint, most first.
pub fn count_by_endpoint(rows: &[&SocketRow], state: TcpState) -> Vec<(Endpoint, usize)> {
    let listening = listening_ports(rows.iter().copied());
    let mut by: HashMap<Endpoint, usize> = HashMap::new();
    for r in rows.iter().filter(|r| r.state == state) {
        *by.entry(endpoint_of(r, &listening)).or_default() += 1;
    }
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// CLOSE_WAIT sockets per owning process, most first.
pub fn close_wait_leaders(rows: &[&SocketRow]) -> Vec<CloseWaitLeader> {
    let mut by: HashMap<u32, (String, Vec<&SocketRow>)> = HashMap::new();
    for r in rows.iter().filter(|r| r.state == TcpState::CloseWait) {
        if let Some(p) = &r.owner {
            by.entry(p.pid)
                .or_insert_with(|| (p.comm.clone(), Vec::new()))
                .1
                .push(r);
        }
    }
    let mut out: Vec<CloseWaitLeader> = by
        .into_iter()
        .map(|(pid, (comm, socks))| {
            let mut peers: HashMap<IpAddr, usize> = HashMap::new();
            for s in &socks {
                *peers.entry(s.raddr).or_default() += 1;
            }
            let mut peers: Vec<PeerCount> = peers
                .into_iter()
                .map(|(ip, count)| PeerCount { ip, count })
                .collect();
            peers.sort_by(|a, b| b.count.cmp(&a.count).then(a.ip.cmp(&b.ip)));
            let mut local_ports: Vec<u16> = socks.iter().map(|s| s.lport).collect();
            local_ports.sort_unstable();
            local_ports.dedup();
            CloseWaitLeader {
                pid,
                comm,
                count: socks.len(),
                local_ports,
                peers,
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.pid.cmp(&b.pid)));
    out
}

/// TIME_WAIT sockets: the total and the busiest endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeWaitSummary {
    /// All TIME_WAIT sockets.
    pub total: usize,
    /// Per endpoint, most first (at most [`MAX_LEADERS`]).
    pub by_endpoint: Vec<EndpointCount>,
}

/// An endpoint and a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointCount {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// Sockets.
    pub count: usize,
}

/// Sockets now, summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketsView {
    /// All sockets (TIME_WAIT included).
    pub total: usize,
    /// Sockets per state.
    pub by_state: BTreeMap<&'static str, usize>,
    /// Per process, most sockets first (at most [`MAX_PROCESSES`]).
    pub processes: Vec<ProcessSockets>,
    /// Sockets with no known owner, per state (TIME_WAIT, orphans, unreadable processes).
    pub unowned: BTreeMap<&'static str, usize>,
    /// Processes holding CLOSE_WAIT sockets, most first (at most [`MAX_LEADERS`]).
    pub close_wait_leaders: Vec<CloseWaitLeader>,
    /// TIME_WAIT sockets.
    pub time_wait: TimeWaitSummary,
}

impl SocketsView {
    /// Summarises `rows`.
    pub fn build(rows: &[&SocketRow]) -> SocketsView {
        let mut by_state = BTreeMap::new();
        let mut unowned = BTreeMap::new();
        let mut procs: HashMap<u32, ProcessSockets> = HashMap::new();
        for r in rows {
            *by_state.entry(r.state.name()).or_default() += 1;
            match &r.owner {
                Some(p) => {
                    let e = procs.entry(p.pid).or_insert_with(|| ProcessSockets {
                        pid: p.pid,
                        comm: p.comm.clone(),
                        total: 0,
                        states: BTreeMap::new(),
                    });
                    e.total += 1;
                    *e.states.entry(r.state.name()).or_default() += 1;
                }
                None => *unowned.entry(r.state.name()).or_default() += 1,
            }
        }
        let mut processes: Vec<_> = procs.into_values().collect();
        processes.sort_by(|a, b| b.total.cmp(&a.total).then(a.pid.cmp(&b.pid)));
        processes.truncate(MAX_PROCESSES);
        let mut close_wait_leaders = close_wait_leaders(rows);
        close_wait_leaders.truncate(MAX_LEADERS);
        let tw = count_by_endpoint(rows, TcpState::TimeWait);
        SocketsView {
            total: rows.len(),
            by_state,
            processes,
            unowned,
            close_wait_leaders,
            time_wait: TimeWaitSummary {
                total: tw.iter().map(|(_, n)| n).sum(),
                by_endpoint: tw
                    .into_iter()
                    .take(MAX_LEADERS)
                    .map(|(endpoint, count)| EndpointCount { endpoint, count })
                    .collect(),
            },
        }
    }
}

/// Upper bounds (µs) of the time-in-state buckets; the last bucket has no bound.
pub const DURATION_BOUNDS_US: [u64; 6] =
    [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 60_000_000];
/// Labels of the buckets, one more than the bounds.
pub const DURATION_LABELS: [&str; 7] = [
    "<1ms", "1-10ms", "10-100ms", "0.1-1s", "1-10s", "10s-1m", ">=1m",
];

/// Time spent in each state before leaving it (from `tcp.state_duration_us` of transitions
/// whose entry was seen), bucketed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TimeInState {
    /// Bucket labels, for every state alike.
    pub labels: Vec<&'static str>,
    /// Per state left: counts per bucket.
    pub states: BTreeMap<&'static str, Vec<u64>>,
}

impl TimeInState {
    /// Counts one transition (ignored when its duration is unknown, i.e. 0).
    pub fn record(&mut self, old: TcpState, duration_us: u64) {
        if duration_us == 0 {
            return;
        }
        if self.labels.is_empty() {
            self.labels = DURATION_LABELS.to_vec();
        }
        let i = DURATION_BOUNDS_US
            .iter()
            .position(|b| duration_us < *b)
            .unwrap_or(DURATION_BOUNDS_US.len());
        self.states
            .entry(old.name())
            .or_insert_with(|| vec![0; DURATION_LABELS.len()])[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Process;
    use TcpState::*;

    fn r(state: TcpState, l: (&str, u16), rm: (&str, u16), pid: Option<u32>) -> SocketRow {
        SocketRow {
            state,
            laddr: l.0.parse().unwrap(),
            lport: l.1,
            raddr: rm.0.parse().unwrap(),
            rport: rm.1,
            owner: pid.map(|pid| Process {
                pid,
                comm: format!("p{pid}"),
            }),
            stats: None,
        }
    }

    #[test]
    fn summarises_per_state_process_and_endpoint() {
        let rows = [
            r(Listen, ("0.0.0.0", 80), ("0.0.0.0", 0), Some(1)),
            r(CloseWait, ("10.0.0.1", 80), ("10.0.0.7", 5000), Some(1)),
            r(CloseWait, ("10.0.0.1", 80), ("10.0.0.7", 5001), Some(1)),
            r(CloseWait, ("10.0.0.1", 80), ("10.0.0.8", 5002), Some(1)),
            r(CloseWait, ("10.0.0.1", 9000), ("10.0.0.9", 443), Some(2)),
            r(TimeWait, ("10.0.0.1", 80), ("10.0.0.7", 5003), None),
            r(TimeWait, ("10.0.0.1", 80), ("10.0.0.7", 5004), None),
            r(TimeWait, ("10.0.0.1", 40000), ("10.0.0.9", 443), None),
        ];
        let refs: Vec<&SocketRow> = rows.iter().collect();
        let v = SocketsView::build(&refs);
        assert_eq!(v.total, 8);
        assert_eq!(v.by_state["CLOSE_WAIT"], 4);
        assert_eq!(v.by_state["TIME_WAIT"], 3);
        assert_eq!(v.unowned["TIME_WAIT"], 3);
        assert_eq!(v.processes[0].pid, 1);
        assert_eq!(v.processes[0].total, 4);
        assert_eq!(v.processes[0].states["CLOSE_WAIT"], 3);
        let lead = &v.close_wait_leaders[0];
        assert_eq!(
            (lead.pid, lead.count, lead.local_ports.clone()),
            (1, 3, vec![80])
        );
        assert_eq!(
            lead.peers[0],
            PeerCount {
                ip: "10.0.0.7".parse().unwrap(),
                count: 2
            }
        );
        assert_eq!(v.time_wait.total, 3);
        assert_eq!(v.time_wait.by_endpoint[0].count, 2);
        assert_eq!(
            v.time_wait.by_endpoint[0].endpoint.to_string(),
            "local 10.0.0.1:80"
        );
        assert_eq!(
            v.time_wait.by_endpoint[1].endpoint.to_string(),
            "remote 10.0.0.9:443"
        );
    }

    #[test]
    fn time_in_state_buckets() {
        let mut h = TimeInState::default();
        h.record(Established, 0);
        assert!(h.states.is_empty());
        h.record(Established, 999);
        h.record(Established, 1_000);
        h.record(CloseWait, 3_600_000_000);
        assert_eq!(h.states["ESTABLISHED"], vec![1, 1, 0, 0, 0, 0, 0]);
        assert_eq!(h.states["CLOSE_WAIT"][6], 1);
        assert_eq!(h.labels.len(), 7);
    }
}

//! `loglynx netstat`: every TCP socket now, per state and process, with what `ss -tinp` shows
//! (queues, RTT, retransmits, bytes) and the service (cgroup path, systemd unit or container)
//! behind it. sock_diag and /proc only: no eBPF, no privilege (other users' processes are
//! not named without it). The same sockets in `loglynx tcpstates`' shape: [`SeenAtStart`].

use std::cmp::Ordering;
use std::net::IpAddr;

use loglynx_core::Timestamp;
use serde::Serialize;

use crate::cgroup::{cgroup_under, proc_cgroup, service_of, CgroupNames};
use crate::diag::{Snapshot, SocketRow};
use crate::filter::Filter;
use crate::states::TcpState;
use crate::transition::{sock_addr, Layout};

/// One socket of the snapshot with its service.
#[derive(Debug, Clone, Serialize)]
pub struct NetstatEntry {
    /// The socket, its owner and counters.
    #[serde(flatten)]
    pub socket: SocketRow,
    /// The cgroup path of the socket (from its cgroup id, or the owner's /proc/<pid>/cgroup
    /// when the id does not name one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// The systemd unit or container the cgroup stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct NetstatQuery {
    /// Family and ports.
    pub filter: Filter,
    /// Only sockets in these states (empty: all).
    pub states: Vec<TcpState>,
    /// Only sockets whose cgroup path is this one or below it.
    pub cgroup: Option<String>,
}

/// Takes a snapshot and returns the sockets `q` asks for, by state, then process, then ports.
pub fn netstat(q: &NetstatQuery) -> std::io::Result<Vec<NetstatEntry>> {
    let snap = Snapshot::take(&q.filter)?;
    let mut names = CgroupNames::new();
    Ok(entries(snap, q, &mut names))
}

pub(crate) fn entries(
    snap: Snapshot,
    q: &NetstatQuery,
    names: &mut CgroupNames,
) -> Vec<NetstatEntry> {
    let mut out: Vec<NetstatEntry> = snap
        .sockets
        .into_iter()
        .filter(|s| q.states.is_empty() || q.states.contains(&s.state))
        .map(|socket| {
            let by_id = socket
                .stats
                .as_ref()
                .and_then(|s| s.cgroup_id)
                .and_then(|id| names.path(id))
                .filter(|p| p != "/");
            let cgroup = by_id.or_else(|| socket.owner.as_ref().and_then(|o| proc_cgroup(o.pid)));
            let service = cgroup.as_deref().and_then(service_of);
            NetstatEntry {
                socket,
                cgroup,
                service,
            }
        })
        .filter(|e| match &q.cgroup {
            None => true,
            Some(p) => e.cgroup.as_deref().is_some_and(|c| cgroup_under(c, p)),
        })
        .collect();
    out.sort_by(order);
    out
}

fn order(a: &NetstatEntry, b: &NetstatEntry) -> Ordering {
    let key = |e: &NetstatEntry| {
        (
            e.socket.state,
            e.socket.owner.as_ref().map(|o| o.pid),
            e.socket.lport,
            e.socket.raddr,
            e.socket.rport,
        )
    };
    key(a).cmp(&key(b))
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    if ip.is_unspecified() && port == 0 {
        "*:*".into()
    } else {
        sock_addr(ip, port)
    }
}

impl NetstatEntry {
    /// The header for [`NetstatEntry::row`].
    pub fn header(layout: Layout) -> String {
        let aw = layout.addr_width() + 8;
        format!(
            "{:<11} {:>7} {:>7} {:<aw$} {:<aw$} {:<24} {:>15} {:>9} {:>11} {:>11} {}",
            "STATE",
            "RECV-Q",
            "SEND-Q",
            "LOCAL",
            "PEER",
            "PROCESS",
            "RTT/VAR_MS",
            "RETRANS",
            "BYTES_SENT",
            "BYTES_RECV",
            "SERVICE"
        )
    }

    /// One line like `ss -tinp`'s: state, queues, ends, `comm(pid)`, RTT and its variance
    /// (ms), retransmits (unacknowledged / total), bytes sent (acknowledged) and received, and
    /// the service or cgroup path. `-` where the kernel gave nothing (TIME_WAIT).
    pub fn row(&self, layout: Layout) -> String {
        let aw = layout.addr_width() + 8;
        let s = &self.socket;
        let st = s.stats.as_deref();
        let tcp = st.and_then(|x| x.tcp.as_ref());
        let dash = || "-".to_string();
        let process = s
            .owner
            .as_ref()
            .map(|o| format!("{}({})", o.comm, o.pid))
            .unwrap_or_else(dash);
        let rtt = tcp
            .map(|t| {
                format!(
                    "{:.3}/{:.3}",
                    t.rtt_us as f64 / 1e3,
                    t.rttvar_us as f64 / 1e3
                )
            })
            .unwrap_or_else(dash);
        let retrans = tcp
            .map(|t| format!("{}/{}", t.retrans, t.total_retrans))
            .unwrap_or_else(dash);
        let sent = tcp.map(|t| t.bytes_acked.to_string()).unwrap_or_else(dash);
        let recv = tcp
            .map(|t| t.bytes_received.to_string())
            .unwrap_or_else(dash);
        let service = self
            .service
            .clone()
            .or_else(|| self.cgroup.clone())
            .unwrap_or_else(dash);
        format!(
            "{:<11} {:>7} {:>7} {:<aw$} {:<aw$} {:<24} {:>15} {:>9} {:>11} {:>11} {}",
            s.state.name(),
            st.map(|x| x.recv_q).unwrap_or(0),
            st.map(|x| x.send_q).unwrap_or(0),
            endpoint(s.laddr, s.lport),
            endpoint(s.raddr, s.rport),
            process,
            rtt,
            retrans,
            sent,
            recv,
            service,
        )
    }
}

/// A socket of a snapshot in `loglynx tcpstates`' shape (its `--snapshot` rows): the state it
/// is in now as the new state, and nothing where a change would say more: no old state (`-` in
/// the table, `null` in JSON: "seen at start", not seen changing), no time in it, no kernel
/// address (sock_diag does not give it). The JSON keys are a
/// [`TcpTransition`](crate::TcpTransition)'s, plus the cgroup and service; `owner` is `proc` (found by the
/// socket's inode under /proc/<pid>/fd), `pid` / `comm` / `owner` null when unknown.
#[derive(Debug, Clone, Serialize)]
pub struct SeenAtStart<'a> {
    /// When the snapshot was taken.
    pub time: Timestamp,
    /// Always null (a change's kernel time).
    pub monotonic_ns: Option<u64>,
    /// Always null (a change's kernel socket address).
    pub skaddr: Option<u64>,
    /// Owner pid, when /proc names it.
    pub pid: Option<u32>,
    /// Owner command name.
    pub comm: Option<&'a str>,
    /// `proc` when the owner is known.
    pub owner: Option<&'static str>,
    /// Local address.
    pub laddr: IpAddr,
    /// Local port.
    pub lport: u16,
    /// Remote address.
    pub raddr: IpAddr,
    /// Remote port.
    pub rport: u16,
    /// Always null: the socket was seen in its state, not entering it.
    pub old_state: Option<TcpState>,
    /// The state now.
    pub new_state: TcpState,
    /// Always null (not known from a snapshot).
    pub state_duration_us: Option<u64>,
    /// The socket's cgroup path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<&'a str>,
    /// Its systemd unit or container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<&'a str>,
}

impl NetstatEntry {
    /// This socket as a `tcpstates --snapshot` row taken at `time` ([`SeenAtStart`]).
    pub fn seen_at_start(&self, time: Timestamp) -> SeenAtStart<'_> {
        let s = &self.socket;
        SeenAtStart {
            time,
            monotonic_ns: None,
            skaddr: None,
            pid: s.owner.as_ref().map(|o| o.pid),
            comm: s.owner.as_ref().map(|o| o.comm.as_str()),
            owner: s.owner.as_ref().map(|_| "proc"),
            laddr: s.laddr,
            lport: s.lport,
            raddr: s.raddr,
            rport: s.rport,
            old_state: None,
            new_state: s.state,
            state_duration_us: None,
            cgroup: self.cgroup.as_deref(),
            service: self.service.as_deref(),
        }
    }
}

impl SeenAtStart<'_> {
    /// The table row under [`Layout::header`], like a [`TcpTransition`](crate::TcpTransition)'s:
    /// `-` for the kernel address, the old state and the milliseconds (and the owner when
    /// unknown).
    pub fn row(&self, layout: Layout) -> String {
        let aw = layout.addr_width();
        let time = if layout.timestamp {
            format!("{:<12} ", self.time.to_datetime().format("%H:%M:%S%.3f"))
        } else {
            String::new()
        };
        let pid = self.pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        format!(
            "{time}{:<16} {:<7} {:<16} {:<aw$} {:<5} {:<aw$} {:<5} {:<11} -> {:<11} -",
            "-",
            pid,
            self.comm.unwrap_or("-"),
            self.laddr.to_string(),
            self.lport,
            self.raddr.to_string(),
            self.rport,
            "-",
            self.new_state,
        )
    }
}

/// Sockets per (state, process, service): the `--summary` view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetstatGroup {
    /// The state.
    pub state: TcpState,
    /// Owner pid (none: unowned or not visible).
    pub pid: Option<u32>,
    /// Owner command name.
    pub comm: Option<String>,
    /// Service or cgroup path.
    pub service: Option<String>,
    /// Sockets.
    pub sockets: usize,
    /// Sum of retransmitted segments over the sockets' lives.
    pub total_retrans: u64,
    /// Sum of bytes sent (acknowledged).
    pub bytes_acked: u64,
    /// Sum of bytes received.
    pub bytes_received: u64,
}

/// Groups `entries` (sorted by state then process, as [`netstat`] returns them).
pub fn summary(entries: &[NetstatEntry]) -> Vec<NetstatGroup> {
    let mut out: Vec<NetstatGroup> = Vec::new();
    for e in entries {
        let s = &e.socket;
        let pid = s.owner.as_ref().map(|o| o.pid);
        let service = e.service.clone().or_else(|| e.cgroup.clone());
        let tcp = s.stats.as_deref().and_then(|x| x.tcp.as_ref());
        let g = match out
            .iter_mut()
            .find(|g| g.state == s.state && g.pid == pid && g.service == service)
        {
            Some(g) => g,
            None => {
                out.push(NetstatGroup {
                    state: s.state,
                    pid,
                    comm: s.owner.as_ref().map(|o| o.comm.clone()),
                    service,
                    sockets: 0,
                    total_retrans: 0,
                    bytes_acked: 0,
                    bytes_received: 0,
                });
                out.last_mut().expect("just pushed")
            }
        };
        g.sockets += 1;
        if let Some(t) = tcp {
            g.total_retrans += u64::from(t.total_retrans);
            g.bytes_acked += t.bytes_acked;
            g.bytes_received += t.bytes_received;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Process, SockStats, TcpStats};

    fn row(state: TcpState, lport: u16, pid: Option<u32>, acked: u64) -> SocketRow {
        SocketRow {
            state,
            laddr: "10.0.0.1".parse().unwrap(),
            lport,
            raddr: "10.0.0.2".parse().unwrap(),
            rport: 443,
            owner: pid.map(|pid| Process {
                pid,
                comm: format!("p{pid}"),
            }),
            stats: Some(Box::new(SockStats {
                recv_q: 1,
                send_q: 2,
                cgroup_id: None,
                tcp: Some(TcpStats {
                    rtt_us: 51_250,
                    rttvar_us: 500,
                    total_retrans: 3,
                    bytes_acked: acked,
                    ..Default::default()
                }),
                mem: None,
            })),
        }
    }

    #[test]
    fn sorts_by_state_then_process_and_prints_like_ss() {
        let snap = Snapshot {
            taken: Timestamp(0),
            took_us: 0,
            sockets: vec![
                row(TcpState::CloseWait, 1, Some(9), 10),
                row(TcpState::Established, 2, Some(9), 20),
                row(TcpState::Established, 3, Some(4), 30),
            ],
        };
        let mut names = CgroupNames::with_root(None);
        let q = NetstatQuery::default();
        let e = entries(snap.clone(), &q, &mut names);
        let order: Vec<u16> = e.iter().map(|e| e.socket.lport).collect();
        assert_eq!(order, vec![3, 2, 1]);
        let line = e[0].row(Layout::default());
        assert!(
            line.starts_with("ESTABLISHED       1       2 10.0.0.1:3"),
            "{line}"
        );
        assert!(
            line.contains("p4(4)") && line.contains("51.250/0.500") && line.contains("0/3"),
            "{line}"
        );
        assert!(line.contains(" 30 "), "{line}");
        let g = summary(&e);
        assert_eq!(g.len(), 3);
        let q = NetstatQuery {
            states: vec![TcpState::Established],
            ..Default::default()
        };
        let e = entries(snap.clone(), &q, &mut names);
        let g = summary(&e);
        assert_eq!(g.iter().map(|g| g.sockets).sum::<usize>(), 2);
        // No cgroup id in the rows, owners (kernel threads here, if any) in the root cgroup.
        let q = NetstatQuery {
            cgroup: Some("/llx-no-such-cgroup".into()),
            ..Default::default()
        };
        assert!(entries(snap, &q, &mut names).is_empty());
    }

    #[test]
    fn a_snapshot_row_reads_like_a_tcpstates_row_seen_at_start() {
        let e = NetstatEntry {
            socket: row(TcpState::CloseWait, 8080, Some(42), 0),
            cgroup: None,
            service: Some("web.service".into()),
        };
        let r = e.seen_at_start(Timestamp(0));
        let line = r.row(Layout::default());
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cols,
            vec![
                "-",
                "42",
                "p42",
                "10.0.0.1",
                "8080",
                "10.0.0.2",
                "443",
                "-",
                "->",
                "CLOSE_WAIT",
                "-"
            ],
            "{line}"
        );
        assert_eq!(
            Layout::default().header().split_whitespace().count(),
            cols.len()
        );
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["old_state"], serde_json::Value::Null);
        assert_eq!(j["new_state"], "CLOSE_WAIT");
        assert_eq!(
            (j["pid"].as_u64(), j["owner"].as_str()),
            (Some(42), Some("proc"))
        );
        assert_eq!(j["service"], "web.service");
        let unowned = NetstatEntry {
            socket: row(TcpState::TimeWait, 8080, None, 0),
            cgroup: None,
            service: None,
        };
        let r = unowned.seen_at_start(Timestamp(0));
        assert!(
            r.row(Layout::default())
                .starts_with("-                -       -   "),
            "{}",
            r.row(Layout::default())
        );
        let j = serde_json::to_value(&r).unwrap();
        assert!(j["pid"].is_null() && j["comm"].is_null() && j.get("service").is_none());
    }

    #[test]
    fn cgroup_prefixes_match_whole_components() {
        assert!(cgroup_under("/system.slice/a.service", "/system.slice"));
        assert!(cgroup_under("/system.slice", "/system.slice/"));
        assert!(!cgroup_under("/system.slicex/a", "/system.slice"));
        assert!(cgroup_under("/anything", "/"));
    }
}

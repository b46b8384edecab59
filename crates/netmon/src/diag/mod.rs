//! Socket snapshots without eBPF: a sock_diag dump of every TCP socket (TIME_WAIT included),
//! each attributed to the process holding it by a scan of /proc/*/fd.
//!
//! - [`netlink`]: the NETLINK_SOCK_DIAG dump ([`dump_tcp`]).
//! - [`procfs`]: socket inode -> process ([`Process`]).

pub mod netlink;
pub mod procfs;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Instant;

use loglynx_core::Timestamp;
use serde::Serialize;

pub use netlink::{dump_tcp, DiagSocket, SockMem, TcpStats};
pub use procfs::Process;

use crate::filter::Filter;
use crate::states::TcpState;

/// One socket in a table or snapshot: state, endpoints and owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketRow {
    /// Current state.
    pub state: TcpState,
    /// Local address.
    pub laddr: IpAddr,
    /// Local port.
    pub lport: u16,
    /// Remote address.
    pub raddr: IpAddr,
    /// Remote port.
    pub rport: u16,
    /// The process holding the socket; `None` for TIME_WAIT and orphaned sockets, and for
    /// processes this user cannot inspect.
    pub owner: Option<Process>,
    /// What the last sock_diag dump said about the socket (none for rows known only from
    /// eBPF transitions since).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Box<SockStats>>,
}

/// A socket's counters from a sock_diag dump (what `ss -tinpm` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SockStats {
    /// Bytes in the receive queue (listeners: connections waiting for accept).
    pub recv_q: u32,
    /// Bytes in the send queue (listeners: the backlog).
    pub send_q: u32,
    /// The socket's cgroup v2 id (kernels 5.7+; none for TIME_WAIT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_id: Option<u64>,
    /// `tcp_info`: RTT, retransmits, bytes (none for TIME_WAIT and request sockets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpStats>,
    /// Socket memory (none for TIME_WAIT and request sockets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem: Option<SockMem>,
}

impl SocketRow {
    /// The socket's (local, remote) endpoints, which identify it in a table.
    pub fn tuple(&self) -> (IpAddr, u16, IpAddr, u16) {
        (self.laddr, self.lport, self.raddr, self.rport)
    }
}

/// Every TCP socket at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the dump was taken.
    pub taken: Timestamp,
    /// How long the dump and the /proc scan took, in microseconds.
    pub took_us: u64,
    /// The sockets that pass the filter.
    pub sockets: Vec<SocketRow>,
}

impl Snapshot {
    /// Dumps the sockets that pass `filter` and attributes them to processes.
    pub fn take(filter: &Filter) -> std::io::Result<Snapshot> {
        Self::take_with_proc(filter, Path::new("/proc"))
    }

    /// [`Snapshot::take`] with another /proc root (tests).
    pub fn take_with_proc(filter: &Filter, proc_root: &Path) -> std::io::Result<Snapshot> {
        let start = Instant::now();
        let taken = Timestamp::now();
        let raw: Vec<DiagSocket> = dump_tcp()?
            .into_iter()
            .filter(|s| filter.matches(s.laddr.is_ipv4(), s.lport, s.rport))
            .collect();
        let wanted: HashSet<u32> = raw.iter().map(|s| s.inode).filter(|i| *i != 0).collect();
        let owners = procfs::scan(proc_root, &wanted);
        let sockets = raw
            .into_iter()
            .map(|s| SocketRow {
                owner: (s.inode != 0)
                    .then(|| owners.by_inode.get(&s.inode).cloned())
                    .flatten(),
                state: s.state,
                laddr: s.laddr,
                lport: s.lport,
                raddr: s.raddr,
                rport: s.rport,
                stats: Some(Box::new(SockStats {
                    recv_q: s.recv_q,
                    send_q: s.send_q,
                    cgroup_id: s.cgroup_id,
                    tcp: s.tcp,
                    mem: s.mem,
                })),
            })
            .collect();
        Ok(Snapshot {
            taken,
            took_us: start.elapsed().as_micros() as u64,
            sockets,
        })
    }
}

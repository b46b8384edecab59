//! loglynx netmon: every TCP state change on the host, from eBPF.
//!
//! The kernel side (`bpf/tcpstates.bpf.c`, compiled object committed beside it) hooks the
//! tracepoint `sock:inet_sock_set_state` and reports each change of a TCP socket with the time
//! spent in the previous state and the process that owns the socket (recorded at `connect()`,
//! `listen()` and `accept()`, since many changes run in softirq on behalf of no process).
//!
//! Two entry points:
//!
//! - [`Monitor`]: the source of `loglynx run` (`[tcp_states]`): eBPF when permitted, sock_diag
//!   snapshots always (and alone when eBPF is not permitted or off), the live state table and
//!   the socket counts; its [`MonitorShared`] state is what the API shows ([`Status`],
//!   [`SocketsNow`]).
//! - [`Tracer`]: the eBPF tracer alone (`loglynx tcpstates`): start it with a [`TracerConfig`]
//!   (a kernel-side [`Filter`]), poll [`TcpTransition`]s, print them as table rows
//!   ([`Layout`]) or JSON; with [`TracerConfig::lifetimes`], also [`ConnLife`]s, one per
//!   finished connection (`loglynx tcplife`).
//!
//! Inside (private modules): `tracer.rs` loads, filters, attaches and reads the ring buffers;
//! `transition.rs` is one decoded change; `lifetime.rs` one finished connection (tcplife:
//! bytes each way, duration, retransmits, RTT, as a `network.connection` event); `states.rs`
//! the TCP state numbers and names;
//! `filter.rs` the family and port filters; `diag/` sock_diag snapshots of every socket with
//! its owner from /proc (no privilege needed); `table.rs` the live state table; `view.rs` what
//! the API shows about sockets now; `counts.rs` the CLOSE_WAIT / TIME_WAIT / FIN_WAIT2 counts
//! per process or endpoint as `network.sockets` events (the detection pack's rules alert on
//! them);
//! `monitor/` ties them together (`monitor/metrics.rs`: its `loglynx_netmon_*` series); `netstat.rs` the snapshot view of `loglynx netstat` (sockets
//! per state and process with `tcp_info`, like `ss -tinp`); `cgroup.rs` cgroup ids -> paths ->
//! systemd units / containers; `summary.rs` the periodic `network.perf` events (what the
//! performance counters gained per interval), `baseline.rs` the RTT baselines per service and
//! peer they are compared with; `percpu.rs` reads a per-CPU counter array in one batch
//! lookup; `error.rs` is [`NetmonError`].

mod baseline;
mod cgroup;
mod counts;
mod diag;
mod error;
mod filter;
mod lifetime;
mod monitor;
mod netstat;
mod percpu;
mod perf;
mod states;
mod summary;
mod table;
mod tracer;
mod transition;
mod view;

/// Entry points for the fuzz targets of `fuzz/`; not an API. Always compiled (no feature), so
/// the fuzz crate, a workspace member, does not build this crate a second time.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses sock_diag reply messages as the socket dump does; the sockets found, or the
    /// error of a malformed reply.
    pub fn netlink_replies(buf: &[u8], seq: u32) -> std::io::Result<usize> {
        let mut out = Vec::new();
        crate::diag::netlink::parse_replies(buf, seq, &mut out)?;
        Ok(out.len())
    }

    /// The sock_diag dump request of `family` (for capturing seed replies).
    pub fn netlink_request(family: u8, seq: u32) -> Vec<u8> {
        crate::diag::netlink::request(family, seq)
    }
}

pub use cgroup::{cgroup2_mount, cgroup_under, proc_cgroup, service_of, CgroupNames};
pub use counts::DATASET as SOCKETS_DATASET;
pub use diag::{Process, SockMem, SockStats, SocketRow, TcpStats};
pub use error::{NetmonError, Result};
pub use filter::{parse_ports, Family, Filter};
pub use lifetime::ConnLife;
pub use monitor::{
    monotonic_ns,
    Attached, Mode, Monitor, MonitorMetrics, MonitorShared, PerfNow, SocketsNow, Status,
};
pub use netstat::{netstat, summary, NetstatEntry, NetstatGroup, NetstatQuery, SeenAtStart};
pub use perf::{
    OwnerDrops, PerfSnapshot, ProcessPerf, ReasonCount, RttBucket, RttHistogram, RTT_SLOTS,
};
pub use states::TcpState;
pub use summary::DATASET as PERF_DATASET;
pub use tracer::{Tracer, TracerConfig, DEFAULT_RING_BUFFER_BYTES, MAP_ENTRIES, PERF_HOOKS};
pub use transition::{Layout, Owner, TcpTransition};

//! loglynx netmon: every TCP state change on the host, from eBPF.
//!
//! The kernel side (`bpf/tcpstates.bpf.c`, compiled object committed beside it) hooks the
//! tracepoint `sock:inet_sock_set_state` and reports each change of a TCP socket with the time
//! spent in the previous state and the process that owns the socket (recorded at `connect()`,
//! `listen()` and `accept()`, since many changes run in softirq on behalf of no process).
//!
//! - [`tracer`]: load, filter, attach, read the ring buffer ([`Tracer`]).
//! - [`transition`]: one decoded change ([`TcpTransition`]), as table row, JSON or [`Event`].
//! - [`states`]: TCP state numbers and names ([`TcpState`]).
//! - [`filter`]: family and port filters applied in the kernel ([`Filter`]).
//! - [`cli`]: `loglynx tcpstates` ([`TcpstatesArgs`], [`run_tcpstates`]).
//! - [`diag`]: sock_diag snapshots of every socket with its owner from /proc ([`Snapshot`]);
//!   no privilege needed.
//! - [`table`]: the live state table kept from transitions ([`StateTable`]).
//! - [`view`]: what the API shows about sockets now ([`SocketsView`]).
//! - [`detect`]: CLOSE_WAIT leaks, TIME_WAIT / FIN_WAIT2 storms, failed connections ([`Detector`]).
//! - [`monitor`]: the source of `loglynx run` tying them together ([`Monitor`]): eBPF when
//!   permitted, sock_diag snapshots always (and alone when eBPF is not permitted or off).
//!
//! [`Event`]: loglynx_core::Event

pub mod cli;
pub mod detect;
pub mod diag;
pub mod error;
pub mod filter;
pub mod monitor;
pub mod states;
pub mod table;
pub mod tracer;
pub mod transition;
pub mod view;

pub use cli::{run_tcpstates, TcpstatesArgs};
pub use detect::{Alert, DetectConfig, Detector, ALERT_DATASET};
pub use diag::{Process, Snapshot, SocketRow};
pub use error::{NetmonError, Result};
pub use filter::{parse_ports, Family, Filter};
pub use monitor::{Mode, Monitor, MonitorShared, SocketsNow, Status};
pub use states::TcpState;
pub use table::StateTable;
pub use tracer::{check_permissions, Tracer, TracerConfig};
pub use transition::{Layout, Owner, TcpTransition, DATASET};
pub use view::SocketsView;

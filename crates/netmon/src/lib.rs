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
//!
//! [`Event`]: loglynx_core::Event

pub mod cli;
pub mod error;
pub mod filter;
pub mod states;
pub mod tracer;
pub mod transition;

pub use cli::{run_tcpstates, TcpstatesArgs};
pub use error::{NetmonError, Result};
pub use filter::{parse_ports, Family, Filter};
pub use states::TcpState;
pub use tracer::{check_permissions, Tracer, TracerConfig};
pub use transition::{Layout, Owner, TcpTransition};

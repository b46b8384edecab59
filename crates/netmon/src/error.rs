//! The crate's one error type.

use thiserror::Error;

/// What can go wrong while starting or reading the TCP state tracer.
#[derive(Debug, Error)]
pub enum NetmonError {
    /// The process lacks the privileges to load and attach eBPF programs.
    #[error(
        "loading eBPF programs is not permitted ({detail}): run as root or grant CAP_BPF and \
         CAP_PERFMON (e.g. `sudo setcap cap_bpf,cap_perfmon+ep <binary>`); `loglynx run` then \
         falls back to sock_diag snapshots"
    )]
    NotPermitted {
        /// What was found missing or what the kernel refused.
        detail: String,
    },
    /// A port list given to a filter could not be read.
    #[error("invalid port list {input:?}: {reason}; give comma-separated ports from 1 to 65535, e.g. 80,443")]
    InvalidPorts {
        /// The text as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// More ports were given than the kernel-side filter map holds.
    #[error("too many filter ports ({count}); at most {max} distinct ports can be filtered")]
    TooManyPorts {
        /// Distinct ports asked for.
        count: usize,
        /// Capacity of the filter map.
        max: usize,
    },
    /// A view needs the kernel's BTF, which this kernel does not publish.
    #[error("{view} needs the kernel's BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF=y), which this kernel lacks; tcpstates and netstat work without it")]
    NoBtf {
        /// The view asked for (`connection lifetimes`).
        view: &'static str,
    },
    /// The ring buffer size is not a power of two multiple of the page size.
    #[error("invalid ring buffer size {0} bytes: use a power of two of at least 4096")]
    RingBufferSize(u32),
    /// A map size cap of 0.
    #[error("invalid map size cap {0}: give at least 1 entry (or none for the default sizes)")]
    MapEntries(u32),
    /// The embedded object lacks an expected map or program (a stale tcpstates.bpf.o).
    #[error("the embedded eBPF object has no {0}: rebuild it with crates/netmon/bpf/build.sh")]
    MissingInObject(String),
    /// Loading, attaching or reading maps failed for another reason.
    #[error("ebpf {context}: {source}")]
    Ebpf {
        /// The step that failed (`load`, `attach tracepoint sock/inet_sock_set_state`, ...).
        context: String,
        /// The underlying error from aya.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Listing sockets with sock_diag (NETLINK_SOCK_DIAG) failed.
    #[error("cannot list sockets with sock_diag: {0}; check that the kernel has CONFIG_INET_DIAG (module inet_diag/tcp_diag)")]
    Snapshot(#[source] std::io::Error),
    /// A monitor thread could not be started.
    #[error("cannot start a monitor thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Waiting on the ring buffer failed.
    #[error("polling the ring buffer: {0}")]
    Poll(#[source] std::io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = NetmonError> = std::result::Result<T, E>;

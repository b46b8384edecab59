//! Dropping the capabilities that only attaching the eBPF programs needed. `loglynx run`,
//! `loglynx agent` and the network commands (`tcpstates`, `tcplife`, `netperf`) attach their
//! programs first, then call [`drop_after_attach`] while the process still has one thread:
//! capabilities are per thread and a thread starts with its creator's sets, so every thread
//! made afterwards (the async runtime's, the store's, the monitor's) has the reduced sets too.
//! Dropped from the permitted, effective, inheritable, ambient and bounding sets, so no thread
//! and no program it runs can get them back.
//!
//! The `caps` crate does the prctl/capset calls (well kept, used by container runtimes).

use anyhow::Context;
use caps::{CapSet, Capability, CapsHashSet};

/// What a root process still needs after the attach; everything else goes (CAP_BPF,
/// CAP_PERFMON, CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SETUID, ...):
/// - CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE: follow log files and the journal of any owner, and
///   write a data directory that root does not own;
/// - CAP_SYS_PTRACE: the socket owners in /proc/PID/fd of other users' processes;
/// - CAP_NET_BIND_SERVICE: syslog, HTTP or OTLP on a port below 1024 (bound after the drop).
pub const KEEP: &[Capability] = &[
    Capability::CAP_DAC_READ_SEARCH,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_SYS_PTRACE,
    Capability::CAP_NET_BIND_SERVICE,
];

/// Drops every capability but [`KEEP`] from this thread's sets; call it with only one thread
/// running. Does nothing for a process that has no capabilities (an ordinary user).
pub fn drop_after_attach() -> anyhow::Result<()> {
    let permitted = caps::read(None, CapSet::Permitted)
        .context("cannot read this process's capabilities")?;
    let bounding = caps::read(None, CapSet::Bounding).context("cannot read the capability bounding set")?;
    let keep: CapsHashSet = KEEP.iter().copied().filter(|c| permitted.contains(c)).collect();
    let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(1);
    if threads > 1 {
        // A thread made before now would keep its sets: a bug of the caller, said loudly.
        tracing::warn!(threads, "capabilities dropped with other threads running: those keep theirs");
    }
    let mut dropped: Vec<String> = permitted.difference(&keep).map(|c| c.to_string()).collect();
    dropped.sort();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes with the rest.
    if permitted.contains(&Capability::CAP_SETPCAP) {
        for c in bounding.difference(&keep) {
            caps::drop(None, CapSet::Bounding, *c)
                .with_context(|| format!("cannot drop {c} from the capability bounding set"))?;
        }
    }
    caps::clear(None, CapSet::Ambient).context("cannot clear the ambient capabilities")?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new())
        .context("cannot clear the inheritable capabilities")?;
    caps::set(None, CapSet::Effective, &keep).context("cannot drop the effective capabilities")?;
    caps::set(None, CapSet::Permitted, &keep).context("cannot drop the permitted capabilities")?;
    if !dropped.is_empty() {
        let mut kept: Vec<String> = keep.iter().map(|c| c.to_string()).collect();
        kept.sort();
        tracing::info!(dropped = dropped.len(), kept = %kept.join(","), "capabilities dropped after attaching the eBPF programs");
    }
    Ok(())
}

//! Loads tcpstates.bpf.o, sets its filters, attaches it and reads its ring buffer.
//!
//! Blocking by design: [`Tracer::poll`] waits on the ring buffer's fd with `poll(2)` and a
//! timeout, so a caller can run it on a plain thread (or `spawn_blocking`) and check its own stop
//! conditions between calls.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use aya::maps::{HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, FExit, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use crate::cgroup::CgroupNames;
use crate::error::{NetmonError, Result};
use crate::filter::Filter;
use crate::lifetime::ConnLife;
use crate::perf::{self, OwnerDropKeyRaw, PerfRaw, PerfSnapshot, RttKeyRaw, RttRaw};
use crate::transition::TcpTransition;

/// The compiled kernel side, built by bpf/build.sh from bpf/tcpstates.bpf.c.
static OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/tcpstates.bpf.o");

/// Default ring buffer size: 16 MiB (about 190,000 records). 1 MiB dropped records at ~50k
/// transitions/s on a 2-core machine with JSON output; 16 MiB dropped none (see BENCHMARKS.md).
pub const DEFAULT_RING_BUFFER_BYTES: u32 = 16 << 20;

/// Slots of the per-CPU arrays of drop reasons and reset reasons (`REASONS` and the reset array
/// in bpf/tcpstates.bpf.c): a reason at or beyond the last slot is counted in the last slot.
const DROP_REASON_SLOTS: u32 = 1024;
const RESET_REASON_SLOTS: u32 = 256;

/// The slots of a reason array worth reading: those of the reasons the kernel names (its
/// tracepoint's list, every value of its enum) and the last one, where a reason past the array
/// (a subsystem's own drop reasons, numbered from 1 << 16) is counted. All of them when the
/// names could not be read. A snapshot reads ~130 of the 1024 drop-reason slots on Linux 6.18
/// instead of all: the kernel copies each slot once per CPU, which was most of `netperf`'s CPU.
fn reason_slots(
    names: &std::collections::HashMap<u32, String>,
    slots: u32,
) -> Vec<std::ops::Range<u32>> {
    let last = slots - 1;
    match names.keys().filter(|k| **k < last).max() {
        Some(max) => vec![0..max + 1, last..slots],
        None => vec![0..slots],
    }
}

/// How to start the tracer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerConfig {
    /// What to report (applied in the kernel).
    pub filter: Filter,
    /// Ring buffer size in bytes: a power of two, at least 4096. Connection lifetimes, when
    /// asked for, get a second ring buffer of the same size.
    pub ring_buffer_bytes: u32,
    /// Also report each finished connection ([`ConnLife`], read with [`Tracer::poll_all`]).
    pub lifetimes: bool,
    /// Also keep performance counters in kernel maps (retransmits, resets, live bytes, RTT
    /// histograms, drops by reason; read with [`Tracer::perf_snapshot`]).
    pub perf: bool,
    /// Caps every hash map of the kernel side at this many entries (`None`: the object's
    /// sizes, [`MAP_ENTRIES`]): a tighter memory bound, and how tests fill them. What does not
    /// fit is counted: [`Tracer::life_drops`], [`PerfSnapshot`]'s `*_overflow`.
    pub max_map_entries: Option<u32>,
}

/// The kernel side's hash maps and their sizes in the object: per socket (LRU: the least
/// recently used socket is forgotten), per listening port, per owner, per owner and peer, per
/// owner and drop reason.
pub const MAP_ENTRIES: [(&str, u32); 9] = [
    ("since", 65_536),
    ("births", 65_536),
    ("owners", 65_536),
    ("peers", 65_536),
    ("rtt_last", 65_536),
    ("listeners", 4_096),
    ("perf", 16_384),
    ("rtt", 16_384),
    ("owner_drops", 16_384),
];

/// The BTF tracepoints of the performance counters: (program, tracepoint, what it gives).
pub const PERF_HOOKS: [(&str, &str, &str); 6] = [
    (
        "tcp_retransmit",
        "tcp_retransmit_skb",
        "retransmits per process",
    ),
    (
        "tcp_retransmit_synack",
        "tcp_retransmit_synack",
        "SYN-ACK retransmits per process",
    ),
    (
        "tcp_send_reset",
        "tcp_send_reset",
        "resets sent per process and reason",
    ),
    (
        "tcp_receive_reset",
        "tcp_receive_reset",
        "resets received per process",
    ),
    (
        "tcp_rtt",
        "tcp_probe",
        "RTT histograms per process and peer",
    ),
    (
        "skb_drop",
        "kfree_skb",
        "drops per reason (and per owner on Linux 6.11+)",
    ),
];

impl Default for TracerConfig {
    fn default() -> Self {
        TracerConfig {
            filter: Filter::default(),
            ring_buffer_bytes: DEFAULT_RING_BUFFER_BYTES,
            lifetimes: false,
            perf: false,
            max_map_entries: None,
        }
    }
}

/// A loaded and attached tracer; detaches everything when dropped.
pub struct Tracer {
    bpf: Ebpf,
    ring: RingBuf<MapData>,
    lives: Option<RingBuf<MapData>>,
    cgroups: CgroupNames,
    boot_offset_ns: i64,
    malformed: u64,
    hooks: Vec<String>,
    missing: Vec<(String, String)>,
    /// Names of the drop reasons (`skb:kfree_skb`) and of the reset reasons
    /// (`tcp:tcp_send_reset`), read from tracefs once: they are fixed for the running kernel.
    drop_names: std::collections::HashMap<u32, String>,
    reset_names: std::collections::HashMap<u32, String>,
    /// Possible CPUs: the width of each per-CPU map value.
    cpus: usize,
}

/// The reason an optional hook failed, without the advice meant for the required ones.
fn short_reason(e: &NetmonError) -> String {
    match e {
        NetmonError::NotPermitted { detail } => format!("refused by the kernel: {detail}"),
        other => other.to_string(),
    }
}

fn attach_tracepoint(bpf: &mut Ebpf, prog: &str, category: &str, event: &str) -> Result<()> {
    let what = format!("tracepoint {category}/{event}");
    let tp: &mut TracePoint = bpf
        .program_mut(prog)
        .ok_or_else(|| NetmonError::MissingInObject(format!("program {prog}")))?
        .try_into()
        .map_err(|e| ebpf_err(&format!("program {prog}"), e))?;
    tp.load()
        .map_err(|e| ebpf_err(&format!("load {what}"), e))?;
    tp.attach(category, event)
        .map_err(|e| ebpf_err(&format!("attach {what}"), e))?;
    Ok(())
}

fn attach_btf_tracepoint(bpf: &mut Ebpf, btf: &Btf, prog: &str, event: &str) -> Result<()> {
    let what = format!("tp_btf {event}");
    let tp: &mut BtfTracePoint = bpf
        .program_mut(prog)
        .ok_or_else(|| NetmonError::MissingInObject(format!("program {prog}")))?
        .try_into()
        .map_err(|e| ebpf_err(&format!("program {prog}"), e))?;
    tp.load(event, btf)
        .map_err(|e| ebpf_err(&format!("load {what}"), e))?;
    tp.attach()
        .map_err(|e| ebpf_err(&format!("attach {what}"), e))?;
    Ok(())
}

fn attach_accept_exit(bpf: &mut Ebpf) -> Result<()> {
    let btf =
        Btf::from_sys_fs().map_err(|e| ebpf_err("read kernel BTF /sys/kernel/btf/vmlinux", e))?;
    let fx: &mut FExit = bpf
        .program_mut("tcp_accept_exit")
        .ok_or_else(|| NetmonError::MissingInObject("program tcp_accept_exit".into()))?
        .try_into()
        .map_err(|e| ebpf_err("program tcp_accept_exit", e))?;
    fx.load("inet_csk_accept", &btf)
        .map_err(|e| ebpf_err("load fexit inet_csk_accept", e))?;
    fx.attach()
        .map_err(|e| ebpf_err("attach fexit inet_csk_accept", e))?;
    Ok(())
}

fn ebpf_err<E: std::error::Error + Send + Sync + 'static>(context: &str, e: E) -> NetmonError {
    if let Some(detail) = refused_by_kernel(&e) {
        return NetmonError::NotPermitted {
            detail: format!("{context}: {detail}"),
        };
    }
    NetmonError::Ebpf {
        context: context.to_string(),
        source: Box::new(e),
    }
}

/// `Some` when the error chain holds an EPERM from the kernel.
fn refused_by_kernel(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return Some(io.to_string());
            }
        }
        cur = err.source();
    }
    None
}

/// Bit numbers in the capability sets (linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Whether an effective capability set (`CapEff` of /proc/self/status) allows loading and
/// attaching tracing programs: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
pub(crate) fn caps_allow_tracing(cap_eff: u64) -> bool {
    let has = |bit: u32| cap_eff & (1u64 << bit) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// Reads `CapEff` from a /proc/<pid>/status text.
pub(crate) fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Fails with [`NetmonError::NotPermitted`] when this process cannot trace.
pub fn check_permissions() -> Result<()> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| NetmonError::NotPermitted {
            detail: format!("cannot read /proc/self/status: {e}"),
        })?;
    match parse_cap_eff(&status) {
        Some(caps) if caps_allow_tracing(caps) => Ok(()),
        Some(_) => Err(NetmonError::NotPermitted {
            detail: "this process has neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON".into(),
        }),
        None => Err(NetmonError::NotPermitted {
            detail: "no CapEff in /proc/self/status".into(),
        }),
    }
}

fn tracefs_mounted(p: &Path) -> bool {
    p.join("events").is_dir()
}

/// aya finds tracepoint ids in tracefs; mount it (as systemd would) when it is missing.
fn ensure_tracefs() -> Result<()> {
    let main = Path::new("/sys/kernel/tracing");
    if tracefs_mounted(main) || tracefs_mounted(Path::new("/sys/kernel/debug/tracing")) {
        return Ok(());
    }
    let rc = {
        let src = c"tracefs";
        let target = c"/sys/kernel/tracing";
        // SAFETY: all pointers are valid NUL-terminated strings; data may be null.
        unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                std::ptr::null(),
            )
        }
    };
    if rc == 0 && tracefs_mounted(main) {
        return Ok(());
    }
    Err(NetmonError::Ebpf {
        context: "find tracefs".into(),
        source: format!(
            "tracefs is not mounted and mounting it failed ({}): run `mount -t tracefs tracefs /sys/kernel/tracing`",
            std::io::Error::last_os_error()
        )
        .into(),
    })
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
}

/// Wall-clock minus monotonic time (what to add to `bpf_ktime_get_ns` to date a record).
fn boot_offset_ns() -> i64 {
    clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC)
}

impl Tracer {
    /// Loads the embedded program with `config`'s filters, attaches it to
    /// `sock:inet_sock_set_state`, plus the owner hooks it can (see [`Tracer::missing_hooks`]), and opens the ring buffer.
    ///
    /// Fails with [`NetmonError::NotPermitted`] without root or CAP_BPF + CAP_PERFMON.
    pub fn start(config: &TracerConfig) -> Result<Tracer> {
        let size = config.ring_buffer_bytes;
        if size < 4096 || !size.is_power_of_two() {
            return Err(NetmonError::RingBufferSize(size));
        }
        if config.max_map_entries == Some(0) {
            return Err(NetmonError::MapEntries(0));
        }
        let (mode, ports) = config.filter.port_bits()?;
        // Lifetimes read struct tcp_sock with CO-RE: without BTF the offsets would be the
        // compile-time guesses, so refuse rather than report wrong counters.
        if config.lifetimes && !Path::new("/sys/kernel/btf/vmlinux").exists() {
            return Err(NetmonError::NoBtf {
                view: "connection lifetimes (tcplife)",
            });
        }
        check_permissions()?;
        ensure_tracefs()?;

        let family: u16 = config.filter.family.map(|f| f.af()).unwrap_or(0);
        let emit_lives = u8::from(config.lifetimes);
        let emit_perf = u8::from(config.perf);
        let lives_size = if config.lifetimes { size } else { 4096 };
        let mut loader = EbpfLoader::new();
        loader
            .set_global("filter_family", &family, true)
            .set_global("filter_ports", &mode, true)
            .set_global("emit_lives", &emit_lives, true)
            .set_global("emit_perf", &emit_perf, true)
            .set_max_entries("events", size)
            .set_max_entries("lives", lives_size);
        if let Some(cap) = config.max_map_entries {
            for (name, entries) in MAP_ENTRIES {
                loader.set_max_entries(name, entries.min(cap));
            }
        }
        let mut bpf = loader.load(OBJECT).map_err(|e| ebpf_err("load", e))?;

        {
            let map = bpf
                .map_mut("port_filter")
                .ok_or_else(|| NetmonError::MissingInObject("map port_filter".into()))?;
            let mut filter: HashMap<_, u16, u8> =
                HashMap::try_from(map).map_err(|e| ebpf_err("open map port_filter", e))?;
            for (port, bits) in ports {
                filter
                    .insert(port, bits, 0)
                    .map_err(|e| ebpf_err("fill map port_filter", e))?;
            }
        }

        // Owner hooks first, so sockets get their owner from now on; all optional.
        let mut hooks = Vec::new();
        let mut missing = Vec::new();
        for (prog, event) in [
            ("tcp_send_owner", "sock_send_length"),
            ("tcp_recv_owner", "sock_recv_length"),
        ] {
            let name = format!("tracepoint sock/{event}");
            match attach_tracepoint(&mut bpf, prog, "sock", event) {
                Ok(()) => hooks.push(name),
                Err(e) => missing.push((name, short_reason(&e))),
            }
        }
        if config.perf {
            match Btf::from_sys_fs() {
                Ok(btf) => {
                    for (prog, event, view) in PERF_HOOKS {
                        let name = format!("tp_btf {event}");
                        // Kernels since 6.15 pass tcp_retransmit_skb an `err` argument and fire
                        // on failures too; the program that reads it is tried first.
                        // Likewise kfree_skb's `rx_sk` (6.11+), which attributes drops to owners.
                        let newer = match prog {
                            "tcp_retransmit" => Some("tcp_retransmit_err"),
                            "skb_drop" => Some("skb_drop_sk"),
                            _ => None,
                        };
                        let first = newer.map(|p| attach_btf_tracepoint(&mut bpf, &btf, p, event));
                        let attached = match first {
                            Some(Ok(())) => Ok(()),
                            _ => attach_btf_tracepoint(&mut bpf, &btf, prog, event),
                        };
                        match attached {
                            Ok(()) => hooks.push(name),
                            Err(e) => missing
                                .push((name, format!("{}; unavailable: {view}", short_reason(&e)))),
                        }
                    }
                }
                Err(e) => {
                    for (_, event, view) in PERF_HOOKS {
                        missing.push((
                            format!("tp_btf {event}"),
                            format!(
                                "no kernel BTF (/sys/kernel/btf/vmlinux: {e}); unavailable: {view}"
                            ),
                        ));
                    }
                }
            }
        }
        match attach_accept_exit(&mut bpf) {
            Ok(()) => hooks.push("fexit inet_csk_accept".to_string()),
            Err(e) => missing.push(("fexit inet_csk_accept".to_string(), short_reason(&e))),
        }

        attach_tracepoint(&mut bpf, "tcp_state_change", "sock", "inet_sock_set_state")?;
        hooks.push("tracepoint sock/inet_sock_set_state".to_string());

        let map = bpf
            .take_map("events")
            .ok_or_else(|| NetmonError::MissingInObject("map events".into()))?;
        let ring = RingBuf::try_from(map).map_err(|e| ebpf_err("open ring buffer", e))?;
        let lives = if config.lifetimes {
            let map = bpf
                .take_map("lives")
                .ok_or_else(|| NetmonError::MissingInObject("map lives".into()))?;
            Some(RingBuf::try_from(map).map_err(|e| ebpf_err("open ring buffer lives", e))?)
        } else {
            None
        };
        Ok(Tracer {
            bpf,
            ring,
            lives,
            cgroups: CgroupNames::new(),
            boot_offset_ns: boot_offset_ns(),
            malformed: 0,
            hooks,
            missing,
            drop_names: perf::tracepoint_reasons("skb", "kfree_skb"),
            reset_names: perf::tracepoint_reasons("tcp", "tcp_send_reset"),
            cpus: aya::util::nr_cpus().map_err(|(what, e)| ebpf_err(what, e))?,
        })
    }

    /// The hooks attached, e.g. `tracepoint sock/inet_sock_set_state`.
    pub fn hooks(&self) -> &[String] {
        &self.hooks
    }

    /// Optional owner hooks that could not be attached, with the reason. Without them,
    /// passive sockets keep the owner of their listener until a process sends or receives on
    /// them (or, without the send/recv tracepoints, for good).
    pub fn missing_hooks(&self) -> &[(String, String)] {
        &self.missing
    }

    /// Hands every record already in the ring buffer to `on`; when there is none, waits up to
    /// `timeout` for one. Returns how many were handed over (0 on timeout or signal).
    pub fn poll(&mut self, timeout: Duration, on: &mut dyn FnMut(TcpTransition)) -> Result<usize> {
        self.poll_all(timeout, on, &mut |_| {})
    }

    /// Like [`Tracer::poll`], also handing finished connections to `on_life` (when the tracer
    /// was started with [`TracerConfig::lifetimes`]). Returns how many records of both kinds.
    pub fn poll_all(
        &mut self,
        timeout: Duration,
        on: &mut dyn FnMut(TcpTransition),
        on_life: &mut dyn FnMut(ConnLife),
    ) -> Result<usize> {
        let n = self.drain(on, on_life);
        if n > 0 {
            return Ok(n);
        }
        let mut pfds = [self.ring.as_raw_fd(), self.ring.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        let mut nfds = 1;
        if let Some(l) = &self.lives {
            pfds[1].fd = l.as_raw_fd();
            nfds = 2;
        }
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: pfds is a valid pollfd array of at least nfds entries for the call.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), nfds, ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(NetmonError::Poll(e));
        }
        Ok(self.drain(on, on_life))
    }

    fn drain(
        &mut self,
        on: &mut dyn FnMut(TcpTransition),
        on_life: &mut dyn FnMut(ConnLife),
    ) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            match TcpTransition::decode(&item, self.boot_offset_ns) {
                Some(t) => {
                    n += 1;
                    on(t);
                }
                None => self.malformed += 1,
            }
        }
        if let Some(lives) = &mut self.lives {
            while let Some(item) = lives.next() {
                match ConnLife::decode(&item, self.boot_offset_ns) {
                    Some(mut l) => {
                        n += 1;
                        if l.cgroup_id != 0 {
                            l.cgroup = self.cgroups.path(l.cgroup_id);
                        }
                        on_life(l);
                    }
                    None => self.malformed += 1,
                }
            }
        }
        n
    }

    /// Records the kernel could not emit because the ring buffer was full (sum over CPUs).
    pub fn drops(&self) -> Result<u64> {
        self.drop_slot(0)
    }

    fn drop_slot(&self, slot: u32) -> Result<u64> {
        let map = self
            .bpf
            .map("drops")
            .ok_or_else(|| NetmonError::MissingInObject("map drops".into()))?;
        let drops: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(|e| ebpf_err("open map drops", e))?;
        let per_cpu = drops
            .get(&slot, 0)
            .map_err(|e| ebpf_err("read map drops", e))?;
        Ok(per_cpu.iter().sum())
    }

    /// Connection lifetimes lost: `(ring_full, no_birth)`. `ring_full` counts records the
    /// kernel could not emit because the `lives` ring buffer was full; `no_birth` counts
    /// connections that closed without their start being recorded (opened before the tracer
    /// started, or evicted from the bounded birth map under a flood of connections).
    pub fn life_drops(&self) -> Result<(u64, u64)> {
        Ok((self.drop_slot(1)?, self.drop_slot(2)?))
    }

    /// The performance counters now (see [`TracerConfig::perf`]; all empty without it).
    pub fn perf_snapshot(&self) -> Result<PerfSnapshot> {
        let map = |name: &str| {
            self.bpf
                .map(name)
                .ok_or_else(|| NetmonError::MissingInObject(format!("map {name}")))
        };
        let by_pid: HashMap<_, u32, PerfRaw> =
            HashMap::try_from(map("perf")?).map_err(|e| ebpf_err("open map perf", e))?;
        let mut processes: Vec<_> = by_pid
            .iter()
            .filter_map(|r| r.ok())
            .map(|(pid, v)| perf::process(pid, &v))
            .collect();
        processes.sort_by_key(|p| p.pid);
        let rtt: HashMap<_, RttKeyRaw, RttRaw> =
            HashMap::try_from(map("rtt")?).map_err(|e| ebpf_err("open map rtt", e))?;
        let mut hist: Vec<_> = rtt
            .iter()
            .filter_map(|r| r.ok())
            .map(|(k, v)| perf::histogram(&k, &v))
            .collect();
        hist.sort_by_key(|h| (h.pid, h.peer));
        let non_zero = |sums: Vec<u64>| -> Vec<(u32, u64)> {
            (0u32..).zip(sums).filter(|(_, sum)| *sum > 0).collect()
        };
        let drops = perf::counts(
            non_zero(self.per_cpu_sums(
                "drop_reasons",
                DROP_REASON_SLOTS,
                &reason_slots(&self.drop_names, DROP_REASON_SLOTS),
            )?),
            &self.drop_names,
        );
        let resets = perf::counts(
            non_zero(self.per_cpu_sums(
                "rst_reasons",
                RESET_REASON_SLOTS,
                &reason_slots(&self.reset_names, RESET_REASON_SLOTS),
            )?),
            &self.reset_names,
        );
        let per_owner: HashMap<_, OwnerDropKeyRaw, u64> = HashMap::try_from(map("owner_drops")?)
            .map_err(|e| ebpf_err("open map owner_drops", e))?;
        let owner_drops = perf::owner_drops(
            per_owner.iter().filter_map(|r| r.ok()).collect(),
            &self.drop_names,
        );
        let slots = self.per_cpu_sums("drops", 6, &[0..6])?;
        Ok(PerfSnapshot {
            processes,
            rtt: hist,
            drops,
            resets,
            owners_overflow: slots[3],
            rtt_overflow: slots[4],
            owner_drops,
            owner_drops_overflow: slots[5],
        })
    }

    /// Slots `0..slots` of the per-CPU `u64` array `name`, each summed over the CPUs; only the
    /// slots in `ranges` are read (the others are 0 in the answer): one batch lookup per range
    /// (`percpu.rs`), or one lookup per slot where the kernel has no batch lookup for arrays
    /// (before Linux 5.6).
    fn per_cpu_sums(
        &self,
        name: &str,
        slots: u32,
        ranges: &[std::ops::Range<u32>],
    ) -> Result<Vec<u64>> {
        use std::os::fd::AsFd;
        let map = self
            .bpf
            .map(name)
            .ok_or_else(|| NetmonError::MissingInObject(format!("map {name}")))?;
        let mut out = vec![0u64; slots as usize];
        let ranges: Vec<std::ops::Range<u32>> = ranges
            .iter()
            .map(|r| r.start.min(slots)..r.end.min(slots))
            .filter(|r| !r.is_empty())
            .collect();
        if let aya::maps::Map::PerCpuArray(data) = map {
            let fd = data.fd().as_fd().as_raw_fd();
            let read: std::io::Result<()> = ranges.iter().try_for_each(|r| {
                let sums = crate::percpu::sums(fd, r.start, r.len() as u32, self.cpus)?;
                out[r.start as usize..r.end as usize].copy_from_slice(&sums);
                Ok(())
            });
            if read.is_ok() {
                return Ok(out);
            }
        }
        let arr: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(|e| ebpf_err(&format!("open map {name}"), e))?;
        for i in ranges.into_iter().flatten() {
            out[i as usize] = arr
                .get(&i, 0)
                .map(|v| v.iter().sum())
                .map_err(|e| ebpf_err(&format!("read map {name}"), e))?;
        }
        Ok(out)
    }

    /// Deletes the performance counters of the owners in `pids` (per owner, per owner and
    /// peer, per owner and drop reason), e.g. processes that exited once their last counts were
    /// summarised, so the bounded maps keep room for the processes that come after them.
    /// Returns how many entries were deleted.
    pub fn forget_owners(&mut self, pids: &std::collections::HashSet<u32>) -> Result<usize> {
        if pids.is_empty() {
            return Ok(0);
        }
        let mut gone = 0;
        let bpf = &mut self.bpf;
        fn map<'a>(bpf: &'a mut Ebpf, name: &str) -> Result<&'a mut aya::maps::Map> {
            bpf.map_mut(name)
                .ok_or_else(|| NetmonError::MissingInObject(format!("map {name}")))
        }
        {
            let mut m: HashMap<_, u32, PerfRaw> =
                HashMap::try_from(map(bpf, "perf")?).map_err(|e| ebpf_err("open map perf", e))?;
            for pid in pids {
                gone += usize::from(m.remove(pid).is_ok());
            }
        }
        {
            let mut m: HashMap<_, RttKeyRaw, RttRaw> =
                HashMap::try_from(map(bpf, "rtt")?).map_err(|e| ebpf_err("open map rtt", e))?;
            let keys: Vec<RttKeyRaw> = m
                .keys()
                .filter_map(|k| k.ok())
                .filter(|k| pids.contains(&k.pid))
                .collect();
            for k in keys {
                gone += usize::from(m.remove(&k).is_ok());
            }
        }
        {
            let mut m: HashMap<_, OwnerDropKeyRaw, u64> =
                HashMap::try_from(map(bpf, "owner_drops")?)
                    .map_err(|e| ebpf_err("open map owner_drops", e))?;
            let keys: Vec<OwnerDropKeyRaw> = m
                .keys()
                .filter_map(|k| k.ok())
                .filter(|k| pids.contains(&k.pid))
                .collect();
            for k in keys {
                gone += usize::from(m.remove(&k).is_ok());
            }
        }
        Ok(gone)
    }

    /// Records that were shorter than expected (a mismatched object; should stay 0).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_slots_cover_the_named_reasons_and_the_overflow_slot() {
        let names = |ks: &[u32]| {
            ks.iter()
                .map(|k| (*k, format!("R{k}")))
                .collect::<std::collections::HashMap<_, _>>()
        };
        assert_eq!(
            reason_slots(&names(&[0, 2, 130]), 1024),
            vec![0..131, 1023..1024]
        );
        // a name at or past the overflow slot adds nothing: that slot is read anyway
        assert_eq!(
            reason_slots(&names(&[5, 1023, 70_000]), 1024),
            vec![0..6, 1023..1024]
        );
        // no names (tracefs unreadable): every slot
        assert_eq!(reason_slots(&names(&[]), 256), vec![0..256]);
    }

    #[test]
    fn capability_checks() {
        assert!(caps_allow_tracing(0x000001ffffffffff)); // root
        assert!(caps_allow_tracing(1 << CAP_SYS_ADMIN));
        assert!(caps_allow_tracing((1 << CAP_BPF) | (1 << CAP_PERFMON)));
        assert!(!caps_allow_tracing(1 << CAP_BPF));
        assert!(!caps_allow_tracing(0));
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000000c000000000\n";
        assert_eq!(parse_cap_eff(status), Some(0xc0_0000_0000));
        assert!(caps_allow_tracing(parse_cap_eff(status).unwrap()));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn rejects_a_zero_map_cap_before_touching_the_kernel() {
        let cfg = TracerConfig {
            max_map_entries: Some(0),
            ..Default::default()
        };
        assert!(matches!(
            Tracer::start(&cfg),
            Err(NetmonError::MapEntries(0))
        ));
    }

    #[test]
    fn rejects_bad_ring_buffer_sizes_before_touching_the_kernel() {
        for size in [0, 1000, 4095, 12288] {
            let cfg = TracerConfig {
                ring_buffer_bytes: size,
                ..Default::default()
            };
            assert!(
                matches!(Tracer::start(&cfg), Err(NetmonError::RingBufferSize(s)) if s == size)
            );
        }
    }

    #[test]
    fn not_permitted_message_says_what_is_needed() {
        let msg = NetmonError::NotPermitted { detail: "x".into() }.to_string();
        assert!(msg.contains("CAP_BPF") && msg.contains("CAP_PERFMON") && msg.contains("root"));
        assert!(msg.contains("falls back to sock_diag snapshots"));
    }
}

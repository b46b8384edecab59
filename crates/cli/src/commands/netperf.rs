//! `loglynx netperf`: live network performance per process from eBPF counters kept in the
//! kernel (the netmon `Tracer` with `perf` on): bytes sent and received, retransmits, resets
//! and RTT per process every interval, with drops by reason. Like libbpf-tools' tcptop,
//! tcpretrans and tcprtt in one view.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use loglynx_core::Timestamp;
use loglynx_netmon::{
    cgroup_under, proc_cgroup, service_of, PerfSnapshot, ProcessPerf, ReasonCount, RttHistogram,
    Tracer, TracerConfig,
};

use super::tcpstates::{install_stop_handlers, STOP};

/// Arguments of `loglynx netperf`.
#[derive(Debug, Clone, Args)]
pub struct NetperfArgs {
    /// Time between reports (e.g. `1s`, `10s`).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Stop after this many reports.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Processes per report (the most active first).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Only processes in this cgroup or below it (e.g. `/system.slice/nginx.service`).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// One JSON object per report: the cumulative counters since start (`processes`, `rtt`,
    /// `drops`, `resets`, overflow counts) with `time`.
    #[arg(long)]
    pub json: bool,
}

/// Keeps what `--cgroup` asks for (pid 0, the unknown owner, never matches a cgroup).
fn keep(snap: &mut PerfSnapshot, cgroup: &str) {
    let mut cache: HashMap<u32, bool> = HashMap::new();
    let mut ok = |pid: u32| {
        *cache.entry(pid).or_insert_with(|| {
            pid != 0 && proc_cgroup(pid).is_some_and(|c| cgroup_under(&c, cgroup))
        })
    };
    snap.processes.retain(|p| ok(p.pid));
    snap.rtt.retain(|h| ok(h.pid));
}

fn delta(now: &ProcessPerf, before: Option<&ProcessPerf>) -> ProcessPerf {
    let Some(b) = before else {
        return now.clone();
    };
    ProcessPerf {
        retransmits: now.retransmits.saturating_sub(b.retransmits),
        synack_retransmits: now.synack_retransmits.saturating_sub(b.synack_retransmits),
        resets_sent: now.resets_sent.saturating_sub(b.resets_sent),
        resets_received: now.resets_received.saturating_sub(b.resets_received),
        tx_bytes: now.tx_bytes.saturating_sub(b.tx_bytes),
        rx_bytes: now.rx_bytes.saturating_sub(b.rx_bytes),
        drops: now.drops.saturating_sub(b.drops),
        ..now.clone()
    }
}

fn reason_delta(now: &[ReasonCount], before: &[ReasonCount]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = now
        .iter()
        .map(|r| {
            let b = before
                .iter()
                .find(|x| x.code == r.code)
                .map_or(0, |x| x.count);
            (r.reason.clone(), r.count.saturating_sub(b))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.1));
    out
}

/// Median and 99th percentile (upper bucket bounds, ms) over all of a process's peers.
fn rtt_of(pid: u32, rtt: &[RttHistogram]) -> Option<(f64, f64)> {
    let mut slots: Vec<(u64, u64)> = Vec::new();
    for h in rtt.iter().filter(|h| h.pid == pid) {
        for b in &h.buckets {
            match slots.iter_mut().find(|(hi, _)| *hi == b.hi_us) {
                Some(s) => s.1 += b.count,
                None => slots.push((b.hi_us, b.count)),
            }
        }
    }
    slots.sort();
    let total: u64 = slots.iter().map(|s| s.1).sum();
    if total == 0 {
        return None;
    }
    let q = |q: f64| {
        let want = (total as f64 * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (hi, n) in &slots {
            seen += n;
            if seen >= want {
                return *hi as f64 / 1e3;
            }
        }
        0.0
    };
    Some((q(0.5), q(0.99)))
}

/// The service of each process shown, read from `/proc/<pid>/cgroup` the first time a pid and
/// command are shown rather than at every report; at most `MAX_SERVICES` (cleared when full).
#[derive(Default)]
struct Services(HashMap<(u32, String), String>);

const MAX_SERVICES: usize = 4096;

impl Services {
    fn of(&mut self, p: &ProcessPerf) -> String {
        if p.pid == 0 {
            return "(owner unknown)".to_string();
        }
        if self.0.len() >= MAX_SERVICES {
            self.0.clear();
        }
        let key = (p.pid, p.comm.clone());
        if let Some(s) = self.0.get(&key) {
            return s.clone();
        }
        // Not kept when /proc had nothing (the process may be gone): asked again next time.
        let Some(service) = proc_cgroup(p.pid).map(|c| service_of(&c).unwrap_or(c)) else {
            return "-".into();
        };
        self.0.insert(key, service.clone());
        service
    }
}

fn print_report(
    out: &mut impl Write,
    now: &PerfSnapshot,
    before: &PerfSnapshot,
    top: usize,
    services: &mut Services,
) -> io::Result<()> {
    let prev: HashMap<u32, &ProcessPerf> = before.processes.iter().map(|p| (p.pid, p)).collect();
    let mut rows: Vec<ProcessPerf> = now
        .processes
        .iter()
        .map(|p| delta(p, prev.get(&p.pid).copied()))
        .filter(|d| {
            d.tx_bytes
                + d.rx_bytes
                + d.retransmits
                + d.synack_retransmits
                + d.resets_sent
                + d.resets_received
                > 0
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.tx_bytes + b.rx_bytes)
            .cmp(&(a.tx_bytes + a.rx_bytes))
            .then(b.retransmits.cmp(&a.retransmits))
    });
    writeln!(
        out,
        "{}  {:<7} {:<16} {:>10} {:>10} {:>8} {:>6} {:>6} {:>9} {:>9} SERVICE",
        Timestamp::now().to_datetime().format("%H:%M:%S"),
        "PID",
        "COMM",
        "TX_KB",
        "RX_KB",
        "RETRANS",
        "RST_TX",
        "RST_RX",
        "RTT50_MS",
        "RTT99_MS"
    )?;
    for p in rows.iter().take(top) {
        let (p50, p99) = match rtt_of(p.pid, &now.rtt) {
            Some((a, b)) => (format!("{a:.3}"), format!("{b:.3}")),
            None => ("-".into(), "-".into()),
        };
        let service = services.of(p);
        writeln!(
            out,
            "          {:<7} {:<16} {:>10} {:>10} {:>8} {:>6} {:>6} {:>9} {:>9} {}",
            p.pid,
            p.comm,
            p.tx_bytes / 1024,
            p.rx_bytes / 1024,
            p.retransmits + p.synack_retransmits,
            p.resets_sent,
            p.resets_received,
            p50,
            p99,
            service
        )?;
    }
    let drops = reason_delta(&now.drops, &before.drops);
    if !drops.is_empty() {
        let list: Vec<String> = drops
            .iter()
            .take(6)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        writeln!(out, "          drops: {}", list.join(", "))?;
    }
    let resets = reason_delta(&now.resets, &before.resets);
    if !resets.is_empty() {
        let list: Vec<String> = resets
            .iter()
            .take(6)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        writeln!(out, "          resets sent: {}", list.join(", "))?;
    }
    if now.owners_overflow + now.rtt_overflow > 0 {
        writeln!(
            out,
            "          overflow: {} owners, {} RTT samples not counted (maps full)",
            now.owners_overflow, now.rtt_overflow
        )?;
    }
    Ok(())
}

/// Waits `d`, or less when a signal comes (Ctrl-C is seen at once): `poll(2)` on no descriptor
/// is never restarted after a signal handler, where `std::thread::sleep` would go on sleeping.
fn pause(d: Duration) {
    let ms = d.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: no descriptors (a null array of length 0) and a timeout: poll only waits.
    unsafe {
        libc::poll(std::ptr::null_mut(), 0, ms);
    }
}

/// Runs `loglynx netperf` until Ctrl-C or `--count`; returns the exit code (0).
pub fn main(args: NetperfArgs) -> anyhow::Result<i32> {
    if args.interval < Duration::from_millis(100) {
        anyhow::bail!(
            "--interval {:?} is too short: use at least 100ms",
            args.interval
        );
    }
    let tracer = Tracer::start(&TracerConfig {
        perf: true,
        ring_buffer_bytes: 4096,
        ..Default::default()
    })?;
    // The programs are attached: the capabilities only that needed go (commands/caps.rs).
    super::caps::drop_after_attach()?;
    for (hook, why) in tracer.missing_hooks() {
        if hook.starts_with("tp_btf") || hook.contains("sock_") {
            eprintln!("netperf: note: {hook}: {why}");
        }
    }
    STOP.store(false, Ordering::SeqCst);
    install_stop_handlers();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let limit = args.count.unwrap_or(u64::MAX);
    let mut before = PerfSnapshot::default();
    let mut services = Services::default();
    let mut reports = 0u64;
    let mut tracer = tracer;
    while reports < limit && !STOP.load(Ordering::SeqCst) {
        let until = Instant::now() + args.interval;
        while Instant::now() < until && !STOP.load(Ordering::SeqCst) {
            pause(until.saturating_duration_since(Instant::now()));
        }
        // The state changes (what tcpstates prints) are not shown here: the ring buffer is
        // emptied once per report rather than waking for each (a busy host changes states all
        // the time); what did not fit in it meanwhile is dropped by the kernel, unseen.
        tracer.poll(Duration::ZERO, &mut |_| {})?;
        let mut now = tracer.perf_snapshot()?;
        if let Some(c) = &args.cgroup {
            keep(&mut now, c);
        }
        let r = if args.json {
            let mut v = serde_json::to_value(&now)?;
            v["time"] = serde_json::json!(Timestamp::now().to_rfc3339());
            serde_json::to_writer(&mut out, &v)
                .map_err(io::Error::from)
                .and_then(|_| writeln!(out))
        } else {
            print_report(&mut out, &now, &before, args.top, &mut services)
        };
        match r.and_then(|_| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e.into()),
            Ok(()) => {}
        }
        before = now;
        reports += 1;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: NetperfArgs,
    }

    #[test]
    fn parses_flags_and_prints_deltas() {
        let a = Cmd::try_parse_from([
            "x",
            "--interval",
            "5s",
            "--cgroup",
            "/system.slice",
            "--count",
            "2",
        ])
        .unwrap()
        .args;
        assert_eq!(a.interval, Duration::from_secs(5));
        assert_eq!(a.cgroup.as_deref(), Some("/system.slice"));
        let p = |tx, retrans| ProcessPerf {
            pid: 7,
            comm: "curl".into(),
            retransmits: retrans,
            synack_retransmits: 0,
            resets_sent: 0,
            resets_received: 0,
            tx_bytes: tx,
            rx_bytes: 0,
            drops: 0,
        };
        let before = PerfSnapshot {
            processes: vec![p(1024, 1)],
            ..Default::default()
        };
        let now = PerfSnapshot {
            processes: vec![p(11 * 1024, 4)],
            ..Default::default()
        };
        let mut buf = Vec::new();
        print_report(&mut buf, &now, &before, 10, &mut Services::default()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let row = text.lines().nth(1).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cols[..5], ["7", "curl", "10", "0", "3"], "{text}");
        assert!(cgroup_under("/a/b", "/a") && !cgroup_under("/ab", "/a"));
    }
}

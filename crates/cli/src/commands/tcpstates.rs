//! `loglynx tcpstates`: print every TCP state change, like libbpf-tools' tcpstates (the
//! tracer is `loglynx_netmon::Tracer`; this is its command line and printing).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use loglynx_core::Timestamp;
use loglynx_netmon::{
    netstat, parse_ports, Family, Filter, Layout, NetstatEntry, NetstatQuery, Tracer, TracerConfig,
    DEFAULT_RING_BUFFER_BYTES,
};

/// A comma-separated port list given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList(pub Vec<u16>);

pub(crate) fn port_list(s: &str) -> Result<PortList, String> {
    parse_ports(s).map(PortList).map_err(|e| e.to_string())
}

/// The socket filter flags `tcpstates`, `tcplife` and `netstat` share (libbpf-tools' names).
#[derive(Debug, Clone, Default, Args)]
pub struct SocketFilterArgs {
    /// IPv4 sockets only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 sockets only.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Only sockets whose local port is in this comma-separated list.
    #[arg(short = 'L', long = "localport", value_name = "PORTS", value_parser = port_list)]
    pub localport: Option<PortList>,
    /// Only sockets whose remote port is in this comma-separated list.
    #[arg(short = 'D', long = "remoteport", value_name = "PORTS", value_parser = port_list)]
    pub remoteport: Option<PortList>,
    /// Only sockets whose local or remote port is in this comma-separated list.
    #[arg(short = 'P', long = "port", value_name = "PORTS", value_parser = port_list)]
    pub port: Option<PortList>,
}

impl SocketFilterArgs {
    /// The tracer's / dump's filter these flags ask for.
    pub fn filter(&self) -> Filter {
        let family = match (self.ipv4, self.ipv6) {
            (true, _) => Some(Family::Inet),
            (_, true) => Some(Family::Inet6),
            _ => None,
        };
        let list = |p: &Option<PortList>| p.as_ref().map(|l| l.0.clone()).unwrap_or_default();
        Filter {
            family,
            local_ports: list(&self.localport),
            remote_ports: list(&self.remoteport),
            any_ports: list(&self.port),
        }
    }
}

/// Arguments of `loglynx tcpstates`.
#[derive(Debug, Clone, Args)]
pub struct TcpstatesArgs {
    /// Print a TIME column (wall clock, HH:MM:SS.mmm).
    #[arg(short = 'T', long)]
    pub timestamp: bool,
    /// Wide address columns, for IPv6.
    #[arg(short = 'w', long)]
    pub wide: bool,
    #[command(flatten)]
    pub filter: SocketFilterArgs,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// First print the sockets that exist now (sock_diag and /proc, no eBPF), one row per
    /// socket with its state as NEWSTATE and `-` as OLDSTATE (JSON: `"old_state": null`), then
    /// exit; with `--follow`, go on with the changes.
    #[arg(long)]
    pub snapshot: bool,
    /// With `--snapshot`: after the sockets of now, trace the changes (eBPF) without a gap;
    /// changes already in the snapshot are not printed again.
    #[arg(long, requires = "snapshot")]
    pub follow: bool,
    /// Stop after this many transitions (the `--snapshot` rows not counted).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long (e.g. `10s`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Kernel ring buffer size in bytes (a power of two, at least 4096).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RING_BUFFER_BYTES)]
    pub ring_buffer_bytes: u32,
}

impl TcpstatesArgs {
    /// The tracer configuration these arguments ask for.
    pub fn tracer_config(&self) -> TracerConfig {
        TracerConfig {
            filter: self.filter.filter(),
            ring_buffer_bytes: self.ring_buffer_bytes,
            lifetimes: false,
            perf: false,
            max_map_entries: None,
        }
    }
}

pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

pub(crate) fn install_stop_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// The sockets that pass the filter now, with the time the dump was asked for.
fn sockets_now(args: &TcpstatesArgs) -> anyhow::Result<(Timestamp, Vec<NetstatEntry>)> {
    let taken = Timestamp::now();
    let q = NetstatQuery {
        filter: args.filter.filter(),
        ..Default::default()
    };
    let entries = netstat(&q).map_err(|e| {
        anyhow::anyhow!(
            "cannot list sockets with sock_diag: {e}; check that the kernel has CONFIG_INET_DIAG \
             (modules inet_diag, tcp_diag)"
        )
    })?;
    Ok((taken, entries))
}

fn print_now(
    out: &mut impl Write,
    (taken, entries): &(Timestamp, Vec<NetstatEntry>),
    json: bool,
    layout: Layout,
) -> io::Result<()> {
    for e in entries {
        let row = e.seen_at_start(*taken);
        if json {
            serde_json::to_writer(&mut *out, &row)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", row.row(layout))?;
        }
    }
    Ok(())
}

/// `--snapshot` without `--follow`: the sockets of now, then exit (no eBPF, no privilege).
fn snapshot_only(args: &TcpstatesArgs, layout: Layout) -> anyhow::Result<i32> {
    let now = sockets_now(args)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let r = (|| {
        if !args.json {
            writeln!(out, "{}", layout.header())?;
        }
        print_now(&mut out, &now, args.json, layout)?;
        out.flush()
    })();
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => {
            eprintln!("tcpstates: {} sockets now (sock_diag)", now.1.len());
            Ok(0)
        }
    }
}

/// Runs `loglynx tcpstates` until Ctrl-C, `--count` or `--duration`; prints a summary with the
/// kernel-side drops on stderr. Returns the process exit code (0).
///
/// With `--snapshot --follow` the programs are attached before the sockets are dumped, so no
/// change falls between the two: a change that ended before the dump began is in the dump and
/// skipped in the stream; one during the dump may show in both (a repeat, never a gap).
pub fn main(args: TcpstatesArgs) -> anyhow::Result<i32> {
    let layout = Layout {
        timestamp: args.timestamp,
        wide: args.wide,
    };
    if args.snapshot && !args.follow {
        return snapshot_only(&args, layout);
    }
    let config = args.tracer_config();
    let mut tracer = Tracer::start(&config)?;
    // Dumped with the start-up privileges, so /proc names every owner.
    let (now, since_ns) = if args.snapshot {
        let since = loglynx_netmon::monotonic_ns();
        (Some(sockets_now(&args)?), since)
    } else {
        (None, 0)
    };
    // The programs are attached: the capabilities only that needed go (commands/caps.rs).
    super::caps::drop_after_attach()?;
    for (hook, why) in tracer.missing_hooks() {
        eprintln!("tcpstates: note: {hook} unavailable ({why}); owners of accepted sockets may be less precise");
    }
    STOP.store(false, Ordering::SeqCst);
    install_stop_handlers();

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if !args.json {
        writeln!(out, "{}", layout.header())?;
    }
    if let Some(now) = &now {
        print_now(&mut out, now, args.json, layout)?;
        eprintln!(
            "tcpstates: {} sockets now (sock_diag), changes follow",
            now.1.len()
        );
    }
    out.flush()?;
    let deadline = args.duration.map(|d| Instant::now() + d);
    let limit = args.count.unwrap_or(u64::MAX);
    let mut seen = 0u64;
    let mut write_err: Option<io::Error> = None;
    while seen < limit && !STOP.load(Ordering::SeqCst) {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left.min(Duration::from_millis(200)),
                None => break,
            },
            None => Duration::from_millis(200),
        };
        tracer.poll(wait, &mut |t| {
            if seen >= limit || write_err.is_some() || t.monotonic_ns < since_ns {
                return;
            }
            seen += 1;
            let r = if args.json {
                serde_json::to_writer(&mut out, &t)
                    .map_err(io::Error::from)
                    .and_then(|_| writeln!(out))
            } else {
                writeln!(out, "{}", t.row(layout))
            };
            if let Err(e) = r {
                write_err = Some(e);
            }
        })?;
        if write_err.is_none() {
            if let Err(e) = out.flush() {
                write_err = Some(e);
            }
        }
        if let Some(e) = write_err.take() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e.into());
        }
    }
    let _ = out.flush();
    let drops = tracer.drops()?;
    eprintln!(
        "tcpstates: {seen} transitions printed, {drops} dropped in the kernel (ring buffer full)"
    );
    if drops > 0 {
        eprintln!("tcpstates: raise --ring-buffer-bytes to lose fewer");
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
        args: TcpstatesArgs,
    }

    #[test]
    fn parses_flags_like_tcpstates() {
        let c = Cmd::try_parse_from([
            "x",
            "-T",
            "-w",
            "-4",
            "-L",
            "80,443",
            "-D",
            "22",
            "--count",
            "5",
            "--duration",
            "2s",
        ])
        .unwrap();
        let a = c.args;
        assert!(a.timestamp && a.wide && a.filter.ipv4 && !a.filter.ipv6 && !a.json);
        assert_eq!(a.count, Some(5));
        assert_eq!(a.duration, Some(Duration::from_secs(2)));
        let cfg = a.tracer_config();
        assert_eq!(cfg.filter.family, Some(Family::Inet));
        assert_eq!(cfg.filter.local_ports, vec![80, 443]);
        assert_eq!(cfg.filter.remote_ports, vec![22]);
        assert!(cfg.filter.any_ports.is_empty());
        assert_eq!(cfg.ring_buffer_bytes, DEFAULT_RING_BUFFER_BYTES);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Cmd::try_parse_from(["x", "-4", "-6"]).is_err());
        let e = Cmd::try_parse_from(["x", "--follow"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--snapshot"), "{e}");
        let a = Cmd::try_parse_from(["x", "--snapshot", "--follow", "-P", "80"])
            .unwrap()
            .args;
        assert!(a.snapshot && a.follow);
        let e = Cmd::try_parse_from(["x", "-L", "80,http"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\"http\" is not a port number"), "{e}");
    }
}

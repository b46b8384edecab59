//! `loglynx tcplife`: print every finished TCP connection, like libbpf-tools' tcplife (the
//! tracer is `loglynx_netmon::Tracer` with lifetimes on; this is its command line and printing).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use loglynx_netmon::{
    cgroup_under, ConnLife, Layout, Tracer, TracerConfig, DEFAULT_RING_BUFFER_BYTES,
};

use super::tcpstates::{install_stop_handlers, SocketFilterArgs, STOP};

/// Arguments of `loglynx tcplife`.
#[derive(Debug, Clone, Args)]
pub struct TcplifeArgs {
    /// Print a TIME column (wall clock of the close, HH:MM:SS.mmm).
    #[arg(short = 'T', long)]
    pub timestamp: bool,
    /// Wide address columns, for IPv6.
    #[arg(short = 'w', long)]
    pub wide: bool,
    #[command(flatten)]
    pub filter: SocketFilterArgs,
    /// Only connections whose socket belongs to this cgroup or one below it (e.g.
    /// `/system.slice/nginx.service`): the socket's cgroup id is read in the kernel at close
    /// and resolved to a path here.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// One JSON object per line instead of the table (`--json event`: the stored
    /// `network.connection` event with its ECS fields).
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, default_missing_value = "raw",
          value_parser = ["raw", "event"])]
    pub json: Option<String>,
    /// Stop after this many connections (one per socket: a loopback connection counts twice).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long (e.g. `10s`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Kernel ring buffer size in bytes (a power of two, at least 4096), for each of the two
    /// ring buffers (state changes and finished connections).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RING_BUFFER_BYTES)]
    pub ring_buffer_bytes: u32,
}

impl TcplifeArgs {
    /// The tracer configuration these arguments ask for.
    pub fn tracer_config(&self) -> TracerConfig {
        TracerConfig {
            filter: self.filter.filter(),
            ring_buffer_bytes: self.ring_buffer_bytes,
            lifetimes: true,
            perf: false,
            max_map_entries: None,
        }
    }
}

fn write_life(
    out: &mut impl Write,
    l: &ConnLife,
    json: Option<&str>,
    layout: Layout,
) -> io::Result<()> {
    match json {
        Some("event") => {
            serde_json::to_writer(&mut *out, &l.to_event()).map_err(io::Error::from)?
        }
        Some(_) => serde_json::to_writer(&mut *out, l).map_err(io::Error::from)?,
        None => return writeln!(out, "{}", l.row(layout)),
    }
    writeln!(out)
}

/// Runs `loglynx tcplife` until Ctrl-C, `--count` or `--duration`; prints a summary with the
/// kernel-side losses on stderr. Returns the process exit code (0).
pub fn main(args: TcplifeArgs) -> anyhow::Result<i32> {
    let config = args.tracer_config();
    let mut tracer = Tracer::start(&config)?;
    // The programs are attached: the capabilities only that needed go (commands/caps.rs).
    super::caps::drop_after_attach()?;
    STOP.store(false, Ordering::SeqCst);
    install_stop_handlers();

    let layout = Layout {
        timestamp: args.timestamp,
        wide: args.wide,
    };
    let json = args.json.as_deref();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if json.is_none() {
        writeln!(out, "{}", ConnLife::header(layout))?;
        out.flush()?;
    }
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
        tracer.poll_all(wait, &mut |_| {}, &mut |l| {
            if seen >= limit || write_err.is_some() {
                return;
            }
            if let Some(want) = &args.cgroup {
                if !l.cgroup.as_deref().is_some_and(|c| cgroup_under(c, want)) {
                    return;
                }
            }
            seen += 1;
            if let Err(e) = write_life(&mut out, &l, json, layout) {
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
    // Stopped by a signal or the deadline: print what the kernel already handed over.
    if seen < limit {
        tracer.poll_all(Duration::ZERO, &mut |_| {}, &mut |l| {
            let wanted = args
                .cgroup
                .as_ref()
                .is_none_or(|want| l.cgroup.as_deref().is_some_and(|c| cgroup_under(c, want)));
            if seen < limit && wanted && write_life(&mut out, &l, json, layout).is_ok() {
                seen += 1;
            }
        })?;
    }
    let _ = out.flush();
    let (full, unseen) = tracer.life_drops()?;
    eprintln!(
        "tcplife: {seen} connections printed, {full} dropped in the kernel (ring buffer full), \
         {unseen} closed without their start seen (opened before tcplife started)"
    );
    if full > 0 {
        eprintln!("tcplife: raise --ring-buffer-bytes to lose fewer");
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
        args: TcplifeArgs,
    }

    #[test]
    fn parses_flags_like_tcplife() {
        let a = Cmd::try_parse_from(["x", "-T", "-4", "-L", "80", "--count", "3", "--json"])
            .unwrap()
            .args;
        assert!(a.timestamp && a.filter.ipv4);
        assert_eq!(a.json.as_deref(), Some("raw"));
        assert_eq!(a.count, Some(3));
        let cfg = a.tracer_config();
        assert!(cfg.lifetimes);
        assert_eq!(cfg.filter.local_ports, vec![80]);
        let a = Cmd::try_parse_from(["x", "--json", "event"]).unwrap().args;
        assert_eq!(a.json.as_deref(), Some("event"));
        assert!(Cmd::try_parse_from(["x", "--json", "xml"]).is_err());
        assert!(Cmd::try_parse_from(["x", "-4", "-6"]).is_err());
        let a = Cmd::try_parse_from(["x", "--cgroup", "/system.slice"])
            .unwrap()
            .args;
        assert_eq!(a.cgroup.as_deref(), Some("/system.slice"));
        assert!(
            cgroup_under("/system.slice/a.service", "/system.slice")
                && !cgroup_under("/system.slicex", "/system.slice")
        );
    }
}

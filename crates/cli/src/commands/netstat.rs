//! `loglynx netstat`: every TCP socket now, per state and process, with queues, RTT,
//! retransmits, bytes and the service behind it, like `ss -tinp` (sock_diag + /proc; no eBPF).

use std::io::{self, Write};

use clap::Args;
use loglynx_netmon::{
    netstat, summary, Layout, NetstatEntry, NetstatQuery, TcpState,
};

use super::tcpstates::SocketFilterArgs;

fn state(s: &str) -> Result<TcpState, String> {
    let want = s.to_ascii_uppercase().replace('-', "_");
    TcpState::ALL
        .into_iter()
        .find(|t| t.name() == want)
        .ok_or_else(|| {
            let names: Vec<&str> = TcpState::ALL.iter().map(|t| t.name()).collect();
            format!("unknown TCP state {s:?}; use one of {}", names.join(", "))
        })
}

/// Arguments of `loglynx netstat`.
#[derive(Debug, Clone, Args)]
pub struct NetstatArgs {
    /// Wide address columns, for IPv6.
    #[arg(short = 'w', long)]
    pub wide: bool,
    #[command(flatten)]
    pub filter: SocketFilterArgs,
    /// Only sockets in this state (repeat for several), e.g. `--state established`.
    #[arg(long = "state", value_name = "STATE", value_parser = state)]
    pub states: Vec<TcpState>,
    /// Only sockets of this cgroup or below it (a path of the cgroup2 tree, e.g.
    /// `/system.slice/nginx.service`).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,
    /// Counts and sums per state, process and service instead of one line per socket.
    #[arg(long)]
    pub summary: bool,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
}

impl NetstatArgs {
    /// The query these arguments ask for.
    pub fn query(&self) -> NetstatQuery {
        NetstatQuery {
            filter: self.filter.filter(),
            states: self.states.clone(),
            cgroup: self.cgroup.clone(),
        }
    }
}

/// Prints the snapshot; returns the exit code (0).
pub fn main(args: NetstatArgs) -> anyhow::Result<i32> {
    let entries = netstat(&args.query()).map_err(|e| {
        anyhow::anyhow!(
            "cannot list sockets with sock_diag: {e}; check that the kernel has CONFIG_INET_DIAG \
             (modules inet_diag, tcp_diag)"
        )
    })?;
    let layout = Layout {
        timestamp: false,
        wide: args.wide,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let r = if args.summary {
        print_summary(&mut out, &entries, args.json)
    } else {
        print_sockets(&mut out, &entries, args.json, layout)
    };
    match r.and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}

fn print_sockets(
    out: &mut impl Write,
    entries: &[NetstatEntry],
    json: bool,
    layout: Layout,
) -> io::Result<()> {
    if !json {
        writeln!(out, "{}", NetstatEntry::header(layout))?;
    }
    for e in entries {
        if json {
            serde_json::to_writer(&mut *out, e)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", e.row(layout))?;
        }
    }
    Ok(())
}

fn print_summary(out: &mut impl Write, entries: &[NetstatEntry], json: bool) -> io::Result<()> {
    let groups = summary(entries);
    if !json {
        writeln!(
            out,
            "{:<11} {:<24} {:>7} {:>9} {:>13} {:>13} SERVICE",
            "STATE", "PROCESS", "SOCKETS", "RETRANS", "BYTES_SENT", "BYTES_RECV"
        )?;
    }
    for g in &groups {
        if json {
            serde_json::to_writer(&mut *out, g)?;
            writeln!(out)?;
            continue;
        }
        let process = match (&g.comm, g.pid) {
            (Some(c), Some(p)) => format!("{c}({p})"),
            _ => "-".into(),
        };
        writeln!(
            out,
            "{:<11} {:<24} {:>7} {:>9} {:>13} {:>13} {}",
            g.state.name(),
            process,
            g.sockets,
            g.total_retrans,
            g.bytes_acked,
            g.bytes_received,
            g.service.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: NetstatArgs,
    }

    #[test]
    fn parses_states_cgroup_and_ports() {
        let a = Cmd::try_parse_from([
            "x",
            "--state",
            "established",
            "--state",
            "close-wait",
            "--cgroup",
            "/system.slice",
            "-P",
            "443",
        ])
        .unwrap()
        .args;
        let q = a.query();
        assert_eq!(q.states, vec![TcpState::Established, TcpState::CloseWait]);
        assert_eq!(q.cgroup.as_deref(), Some("/system.slice"));
        assert_eq!(q.filter.any_ports, vec![443]);
        let e = Cmd::try_parse_from(["x", "--state", "open"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unknown TCP state \"open\"") && e.contains("ESTABLISHED"),
            "{e}"
        );
    }
}

//! `loglynx export`: every event matching a query, as NDJSON on stdout, with progress on
//! stderr; streamed from `GET /api/v1/export`, so any count fits in constant memory.

use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{fail, is_broken_pipe, time_arg, Client, ServerArgs};

/// Arguments of `loglynx export`.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// Query string (as `loglynx search`); several words are joined with spaces. Empty exports
    /// everything.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only events at or after this time: a duration back from now (`15m`, `1h`, `7d`) or a
    /// time (`2024-05-01T10:00:00Z`, `now-1h`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// No progress bar on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx export`; returns the exit code (1 when the stream ended before every event
/// announced arrived).
pub fn run_export(args: ExportArgs) -> anyhow::Result<i32> {
    // No overall timeout: an export of millions of events takes as long as it takes.
    let client = Client::new(&args.server, Duration::from_secs(24 * 3600))?;
    let mut query = vec![("q", args.query.join(" "))];
    if let Some(s) = &args.since {
        query.push(("start", time_arg(s)));
    }
    if let Some(u) = &args.until {
        query.push(("end", time_arg(u)));
    }
    let resp = match client.get_stream("/api/v1/export", &query) {
        Ok(r) => r,
        Err(f) => return Ok(fail(&f)),
    };
    let total: u64 = resp
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    let mut out = BufWriter::new(io::stdout().lock());
    let mut n = 0u64;
    let mut reader = BufReader::new(resp);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                bar.abandon();
                eprintln!("loglynx: the export stopped after {n} of {total} events: {e}: run it again");
                return Ok(1);
            }
        }
        if let Err(e) = out.write_all(&line) {
            if is_broken_pipe(&e) {
                return Ok(0);
            }
            return Err(e.into());
        }
        n += 1;
        if n % 1000 == 0 {
            bar.set_position(n);
        }
    }
    match out.flush() {
        Err(e) if !is_broken_pipe(&e) => return Err(e.into()),
        _ => {}
    }
    bar.set_position(n);
    bar.finish_and_clear();
    if n < total {
        eprintln!("loglynx: the export ended after {n} of {total} events: run it again");
        return Ok(1);
    }
    if !args.quiet {
        eprintln!("{n} events exported");
    }
    Ok(0)
}

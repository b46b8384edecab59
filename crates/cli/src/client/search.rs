//! `loglynx search`: one query against a running instance, newest events first.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use serde_json::Value;

use super::{fail, format_event, is_broken_pipe, time_arg, Client, ServerArgs};

/// Arguments of `loglynx search`.
#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// Query string (`error AND host.name:web1`, `"disk full"`, `process.pid:>100`); several
    /// words are joined with spaces. Empty matches everything.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only events at or after this time: a duration back from now (`15m`, `1h`, `7d`) or a
    /// time (`2024-05-01T10:00:00Z`, `2024-05-01`, `now-1h`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Most events to print (at most 10000).
    #[arg(long, short = 'n', default_value_t = 100)]
    pub limit: usize,
    /// Print events as NDJSON (one JSON object per line) instead of text.
    #[arg(long, conflicts_with = "count")]
    pub json: bool,
    /// Print only the exact number of matching events.
    #[arg(long)]
    pub count: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx search`; returns the exit code.
pub fn run_search(args: SearchArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(120))?;
    let mut query = vec![
        ("q", args.query.join(" ")),
        (
            "limit",
            if args.count {
                "0".to_string()
            } else {
                args.limit.to_string()
            },
        ),
        ("sort", "desc".to_string()),
    ];
    if let Some(s) = &args.since {
        query.push(("start", time_arg(s)));
    }
    if let Some(u) = &args.until {
        query.push(("end", time_arg(u)));
    }
    let resp = match client.get_json("/api/v1/search", &query) {
        Ok(v) => v,
        Err(f) => return Ok(fail(&f)),
    };
    let total = resp["total"].as_u64().unwrap_or(0);
    let hits = resp["hits"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    match print(&args, total, hits) {
        Ok(()) => {}
        Err(e) if is_broken_pipe(&e) => return Ok(0),
        Err(e) => return Err(e.into()),
    }
    if !args.count && !args.json && (hits.len() as u64) < total {
        eprintln!(
            "({} of {total} matching events shown; use --limit or narrow the query)",
            hits.len()
        );
    }
    Ok(0)
}

fn print(args: &SearchArgs, total: u64, hits: &[Value]) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.count {
        writeln!(out, "{total}")?;
    } else {
        for h in hits {
            if args.json {
                writeln!(out, "{h}")?;
            } else {
                writeln!(out, "{}", format_event(h))?;
            }
        }
    }
    out.flush()
}

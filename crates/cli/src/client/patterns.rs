//! `loglynx patterns`: the kinds of line behind the events of a query, most frequent first,
//! from a running instance (`GET /api/v1/patterns`).

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use serde_json::Value;

use super::{fail, is_broken_pipe, time_arg, Client, ServerArgs};

/// Arguments of `loglynx patterns`.
#[derive(clap::Args, Debug, Clone)]
pub struct PatternsArgs {
    /// Query string selecting the events (`service.name:sshd`, `log.level:error`); empty: all.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Start of the range: a duration back from now (`15m`, `1h`, `7d`) or a time; default 24h
    /// before --until.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// End of the range (same forms as --since); default now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Most patterns to print (at most 1000).
    #[arg(long, short = 'n', default_value_t = 50)]
    pub limit: usize,
    /// Compare with the range of the same length just before: previous count and a mark (new,
    /// gone, changed, same).
    #[arg(long)]
    pub compare: bool,
    /// Print the answer as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx patterns`; returns the exit code.
pub fn run_patterns(args: PatternsArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(120))?;
    let mut query = vec![("q", args.query.join(" ")), ("limit", args.limit.to_string())];
    if let Some(s) = &args.since {
        query.push(("start", time_arg(s)));
    }
    if let Some(u) = &args.until {
        query.push(("end", time_arg(u)));
    }
    if args.compare {
        query.push(("compare", "previous".to_string()));
    }
    let resp = match client.get_json("/api/v1/patterns", &query) {
        Ok(v) => v,
        Err(f) => return Ok(fail(&f)),
    };
    match print(&args, &resp) {
        Ok(()) => Ok(0),
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn print(args: &PatternsArgs, resp: &Value) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        writeln!(out, "{resp}")?;
        return out.flush();
    }
    let rows = resp["patterns"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for r in rows {
        let count = r["count"].as_u64().unwrap_or(0);
        let share = r["share"].as_f64().unwrap_or(0.0) * 100.0;
        let mark = match (r["change"].as_str(), r["previous_count"].as_u64()) {
            (Some(c), Some(p)) => format!(" {c:>7} (was {p})"),
            _ => String::new(),
        };
        writeln!(
            out,
            "{count:>10} {share:>5.1}%{mark}  {}  {}",
            r["id"].as_str().unwrap_or(""),
            r["template"].as_str().unwrap_or("")
        )?;
    }
    writeln!(
        out,
        "({} patterns of {} events shown, {} to {})",
        rows.len(),
        resp["total"].as_u64().unwrap_or(0),
        resp["start"].as_str().unwrap_or(""),
        resp["end"].as_str().unwrap_or("")
    )?;
    out.flush()
}

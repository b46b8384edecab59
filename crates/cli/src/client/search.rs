//! `loglynx search`: one query against a running instance, newest events first; with `--all`
//! every matching event, paged with `search_after` through a point in time (so events
//! ingested meanwhile neither shift the pages nor come twice).

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
    /// Print every matching event (no --limit), newest first: pages of --page-size read from a
    /// point in time taken at the start, so events ingested meanwhile are not mixed in.
    #[arg(long, conflicts_with = "count")]
    pub all: bool,
    /// Events per page with --all (at most 10000).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub page_size: usize,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx search`; returns the exit code.
pub fn run_search(args: SearchArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(120))?;
    if args.all {
        return run_all(&client, &args);
    }
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

/// `--all`: opens a point in time, pages it with `search_after` to the end, closes it.
fn run_all(client: &Client, args: &SearchArgs) -> anyhow::Result<i32> {
    let pit = match client.post_query("/api/v1/pit", &[("keep_alive", "5m".to_string())]) {
        Ok(v) => v["pit_id"].as_str().unwrap_or_default().to_string(),
        Err(f) => return Ok(fail(&f)),
    };
    let mut query = vec![
        ("q", args.query.join(" ")),
        ("limit", args.page_size.to_string()),
        ("sort", "desc".to_string()),
        ("pit", pit.clone()),
        ("keep_alive", "5m".to_string()),
    ];
    if let Some(s) = &args.since {
        query.push(("start", time_arg(s)));
    }
    if let Some(u) = &args.until {
        query.push(("end", time_arg(u)));
    }
    let outcome = walk(client, args, &mut query);
    // Free the server's snapshot now rather than at the keep-alive's end; a failure here
    // changes nothing for the output.
    let _ = client.delete(&format!("/api/v1/pit/{pit}"));
    outcome
}

fn walk(client: &Client, args: &SearchArgs, query: &mut Vec<(&str, String)>) -> anyhow::Result<i32> {
    let mut shown = 0u64;
    let mut total = 0u64;
    loop {
        let resp = match client.get_json("/api/v1/search", query) {
            Ok(v) => v,
            Err(f) => {
                eprintln!("loglynx: stopped after {shown} of {total} events");
                return Ok(fail(&f));
            }
        };
        total = resp["total"].as_u64().unwrap_or(0);
        let hits = resp["hits"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        match print(args, total, hits) {
            Ok(()) => {}
            Err(e) if is_broken_pipe(&e) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        shown += hits.len() as u64;
        match resp["search_after"].as_str() {
            Some(next) if !hits.is_empty() => {
                query.retain(|(k, _)| *k != "search_after");
                query.push(("search_after", next.to_string()));
            }
            _ => break,
        }
    }
    if shown < total {
        eprintln!("loglynx: {shown} of {total} events printed");
        return Ok(1);
    }
    Ok(0)
}

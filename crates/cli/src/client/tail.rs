//! `loglynx tail`: follow new events of a running instance by polling `/api/v1/tail` with its
//! cursor (so nothing is missed or repeated between polls).

use std::io::{self, Write};
use std::time::Duration;

use serde_json::Value;

use super::{fail, format_event, is_broken_pipe, Client, ServerArgs};

/// Events asked for per poll.
const POLL_LIMIT: usize = 1_000;

/// Arguments of `loglynx tail`.
#[derive(clap::Args, Debug, Clone)]
pub struct TailArgs {
    /// Only events matching this query string (words are joined with spaces).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Print events as NDJSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Recent events printed before following.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub lines: usize,
    /// Time between polls.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx tail` until interrupted; returns the exit code.
pub fn run_tail(args: TailArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(60))?;
    let q = args.query.join(" ");
    let mut cursor: Option<String> = None;
    let mut first = true;
    let mut unreachable_reported = false;
    loop {
        // The first poll also fetches one event when --lines 0, only to get a cursor.
        let limit = if first {
            args.lines.clamp(1, POLL_LIMIT)
        } else {
            POLL_LIMIT
        };
        let mut query = vec![("q", q.clone()), ("limit", limit.to_string())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        match client.get_json("/api/v1/tail", &query) {
            Ok(resp) => {
                unreachable_reported = false;
                let events = resp["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                let shown = if first {
                    &events[events.len().saturating_sub(args.lines)..]
                } else {
                    events
                };
                match print(shown, args.json) {
                    Ok(()) => {}
                    Err(e) if is_broken_pipe(&e) => return Ok(0),
                    Err(e) => return Err(e.into()),
                }
                if let Some(c) = resp["cursor"].as_str() {
                    cursor = Some(c.to_string());
                }
                let was_first = std::mem::replace(&mut first, false);
                // A full page means more is waiting: ask again at once.
                if !was_first && events.len() >= limit {
                    continue;
                }
            }
            // The server went away (restart): keep trying, say so once.
            Err(f) if f.status.is_none() && !first => {
                if !unreachable_reported {
                    eprintln!("loglynx: {f}; retrying");
                    unreachable_reported = true;
                }
            }
            Err(f) => return Ok(fail(&f)),
        }
        std::thread::sleep(args.interval);
    }
}

fn print(events: &[Value], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for e in events {
        if json {
            writeln!(out, "{e}")?;
        } else {
            writeln!(out, "{}", format_event(e))?;
        }
    }
    out.flush()
}

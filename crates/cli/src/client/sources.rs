//! `loglynx sources`: the header structures a running instance learned per source (files,
//! syslog senders' programs, HTTP streams), from `GET /api/v1/sources/learned`.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use serde_json::Value;

use super::{fail, is_broken_pipe, Client, ServerArgs};

/// Arguments of `loglynx sources`.
#[derive(clap::Args, Debug, Clone)]
pub struct SourcesArgs {
    /// Print the answer as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Runs `loglynx sources`; returns the exit code.
pub fn run_sources(args: SourcesArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.server, Duration::from_secs(30))?;
    let resp = match client.get_json("/api/v1/sources/learned", &[]) {
        Ok(v) => v,
        Err(f) => return Ok(fail(&f)),
    };
    match print(&args, &resp) {
        Ok(()) => Ok(0),
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

fn print(args: &SourcesArgs, resp: &Value) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        writeln!(out, "{resp}")?;
        return out.flush();
    }
    let rows = resp["sources"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    for r in rows {
        let source = match s(r, "detail").as_str() {
            "" => s(r, "source"),
            d => format!("{} ({d})", s(r, "source")),
        };
        writeln!(out, "{:<9} {:<20} {source}", s(r, "kind"), s(r, "host"))?;
        writeln!(out, "          learned structure: {}", s(r, "structure"))?;
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        writeln!(
            out,
            "          zone {} ({}), {} lines read, learned again {} times",
            s(r, "zone"),
            s(r, "zone_from"),
            n("matched"),
            n("relearned")
        )?;
    }
    writeln!(out, "({} sources with a learned structure, most recently used first)", rows.len())?;
    out.flush()
}

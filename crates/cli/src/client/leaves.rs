//! `loglynx leaves list`: the leaves a search root (`serve --catalog` / `--leaves`) knows, from
//! `GET /api/v1/leaves`, and `loglynx leaves forget ID`, which accepts that what only a gone
//! worker held is lost (`DELETE /api/v1/leaves/{id}`, admin).

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use super::{fail, is_broken_pipe, Client, ServerArgs};

/// Arguments of `loglynx leaves`.
#[derive(clap::Args, Debug, Clone)]
pub struct LeavesArgs {
    #[command(subcommand)]
    pub action: LeavesAction,
}

/// What every `loglynx leaves` command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct LeavesCommon {
    /// Print the answer as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What to do.
#[derive(Subcommand, Debug, Clone)]
pub enum LeavesAction {
    /// List the live leaves, the gone workers, what is missing and what was accepted as lost.
    List {
        #[command(flatten)]
        common: LeavesCommon,
    },
    /// Accept that what only a gone worker's disk held is lost (its disk died): answers stop
    /// naming those offsets missing; `loglynx leaves list` shows them as lost. Needs an admin
    /// key.
    Forget {
        /// The gone worker's id or leaf address (`host:port`), as `loglynx leaves list` shows it.
        id: String,
        #[command(flatten)]
        common: LeavesCommon,
    },
}

/// Runs `loglynx leaves`; returns the exit code.
pub fn run_leaves(args: LeavesArgs) -> anyhow::Result<i32> {
    let (common, forget) = match &args.action {
        LeavesAction::List { common } => (common, None),
        LeavesAction::Forget { id, common } => (common, Some(id)),
    };
    let client = Client::new(&common.server, Duration::from_secs(30))?;
    let resp = match forget {
        None => client.get_json("/api/v1/leaves", &[]),
        Some(id) => client.delete(&format!("/api/v1/leaves/{}", urlencoding(id))),
    };
    let resp = match resp {
        Ok(v) => v,
        Err(f) => return Ok(fail(&f)),
    };
    let printed = match (forget, common.json) {
        (_, true) => print_json(&resp),
        (Some(_), false) => print_forgotten(&resp),
        (None, false) => print_list(&resp),
    };
    match printed {
        Ok(()) => Ok(0),
        Err(e) if is_broken_pipe(&e) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Percent-encodes the path segment (an address holds `:`, an IPv6 one `[` `]`).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_json(v: &Value) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()
}

fn ranges(v: &Value) -> String {
    let rs = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
    if rs.is_empty() {
        return "none".into();
    }
    rs.iter()
        .map(|r| {
            let to = r["to"].as_u64().map_or("newest".to_string(), |t| t.to_string());
            format!("p{}:{}..{to}", r["partition"], r["from"])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_forgotten(v: &Value) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let workers: Vec<&str> = v["workers"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    writeln!(out, "loss accepted for {} (workers {}): offsets {}", v["addr"].as_str().unwrap_or(""), workers.join(", "), ranges(&v["ranges"]))?;
    out.flush()
}

fn print_list(v: &Value) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    for l in list("leaves") {
        writeln!(out, "live  {:<22} {}", s(&l, "addr"), s(&l, "worker"))?;
    }
    for l in list("gone") {
        writeln!(out, "gone  {:<22} {}", s(&l, "addr"), s(&l, "worker"))?;
    }
    for l in list("lost") {
        let workers: Vec<String> = l["workers"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect()).unwrap_or_default();
        writeln!(out, "lost  {:<22} {} offsets {}", s(&l, "addr"), workers.join(","), ranges(&l["ranges"]))?;
    }
    let gaps = v["gaps"].clone();
    writeln!(out, "missing: {}", ranges(&gaps))?;
    out.flush()
}

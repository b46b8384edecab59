//! `loglynx rules check PATH... [--json]`: load Sigma rule files and folders the way a running
//! instance would (`loglynx_detect::RuleSet`) and say which compile and which are refused, with
//! file, line and reason. Needs no running instance.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use loglynx_detect::{LoadOptions, Rejection, RuleSet};
use serde::Serialize;

/// Arguments of `loglynx rules`.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// What `loglynx rules` does.
#[derive(Debug, Clone, Subcommand)]
pub enum RulesCommand {
    /// Validate Sigma rule files and folders (read recursively, *.yml / *.yaml); exits 1 when
    /// any rule is refused.
    Check(CheckArgs),
}

/// Arguments of `loglynx rules check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Rule files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print `{"loaded": N, "rejected": [{"file", "line", "reason"}]}` instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// A Sigma processing pipeline of yours to apply with loglynx's (repeatable), as `[detect]
    /// pipelines` does in a running instance.
    #[arg(long = "pipeline", value_name = "FILE")]
    pub pipelines: Vec<PathBuf>,
}

/// The `--json` output.
#[derive(Serialize)]
struct Report<'a> {
    loaded: usize,
    rejected: &'a [Rejection],
}

/// Runs `loglynx rules`; the exit code is 1 when a rule was refused.
pub fn main(args: RulesArgs) -> anyhow::Result<i32> {
    match args.command {
        RulesCommand::Check(check) => run_check(&check),
    }
}

fn run_check(args: &CheckArgs) -> anyhow::Result<i32> {
    let pipelines = loglynx_detect::pipeline::read_pipelines(&args.pipelines)?;
    let set = RuleSet::load_all_with(&args.paths, &[], LoadOptions::default(), &pipelines).context("loading rules")?;
    match print_report(&set, args.json) {
        // a closed pipe (`| head`) is the reader's choice, not an error
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing the report")?,
    }
    Ok(if set.rejected().is_empty() { 0 } else { 1 })
}

fn print_report(set: &RuleSet, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let report = Report { loaded: set.loaded(), rejected: set.rejected() };
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} rules loaded ({} apply to loglynx events, {} target logs loglynx does not collect, {} correlations, {} filters), {} rejected",
            set.loaded(),
            set.active().len(),
            set.inactive().len(),
            set.correlations().count(),
            set.filters(),
            set.rejected().len()
        )?;
        for r in set.rejected() {
            writeln!(out, "{}:{}: {}", r.file.display(), r.line, r.reason)?;
        }
    }
    out.flush()
}

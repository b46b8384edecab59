//! `loglynx parse FILE [--json] [--lines N] [--events N] [--config PATH]`: what loglynx makes of
//! a file, offline (no server, nothing stored). The first lines are cut into events as the file
//! source cuts them (`files.max_line`, multi-line joining), parsed and decoded as the pipeline
//! does (in the file's zone and with its explicit layout, `[files]`), then summarised:
//!
//! - the layouts found (the format, `event.dataset`, and the header parts read: time, level,
//!   pid, thread, logger, host, program) and the share of events of each;
//! - the shapes of the timestamps lines start with (digits as `d`, month and day names as
//!   `MMM` / `EEE`), and the structure (time format, delimiter, header fields) learned when
//!   detection did not explain most lines or read them only as a generic header;
//! - the share of events a format explained (not `unparsed`), that got their time from the
//!   line, and that carry a flag, by flag;
//! - the first events as they would be stored (`event.id` from the offset, not the file's
//!   checkpoint key, and `event.ingested` now).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use loglynx_collect::file::multiline::{split_events, MultilineSettings};
use loglynx_config::{Config, Multiline};
use loglynx_core::{positioned_id, Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::{leading_timestamp, ParseContext};
use loglynx_pipeline::FileRules;
use serde::Serialize;

/// Arguments of `loglynx parse`.
#[derive(Debug, Clone, Args)]
pub struct ParseArgs {
    /// The log file to look at.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Lines read from the start of the file.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub lines: usize,
    /// Events printed after the summary.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub events: usize,
    /// Print the summary and the events as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Take `[files]` settings (zones, layouts, multi-line, max_line) from this configuration file.
    #[arg(long, short, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// What `loglynx parse` found; `--json` prints it as it is.
#[derive(Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub lines: usize,
    pub events: usize,
    /// Layouts, most frequent first.
    pub layouts: Vec<Share>,
    /// Shapes of the timestamps the events' first lines start with, most frequent first.
    pub timestamp_formats: Vec<Share>,
    /// Events a format matched (not `unparsed`).
    pub explained: usize,
    /// Events whose `@timestamp` comes from the line.
    pub timed: usize,
    /// Events with a flag that says something went wrong ([`loglynx_core::EventFlags::any`]).
    pub flagged: usize,
    /// The timestamp format learned from lines detection did not explain, if any (what a
    /// `[[files.layouts]]` `timestamp_format` would say).
    pub learned_timestamp_format: Option<String>,
    /// The header structure learned from the file's lines when format detection did not read
    /// them or read them only as a generic header: the time, the delimiter and the header's
    /// fields in order (`time|level|thread|logger|message`), if any.
    pub learned_structure: Option<String>,
    /// Events per flag (`multiline` included).
    pub flags: BTreeMap<String, usize>,
    /// The first events as they would be stored.
    pub first: Vec<Event>,
}

/// One line of a share table.
#[derive(Debug, Serialize)]
pub struct Share {
    pub name: String,
    pub events: usize,
    pub percent: f64,
}

/// Runs `loglynx parse`.
pub fn main(args: ParseArgs) -> anyhow::Result<i32> {
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let report = inspect(&args, &cfg)?;
    match print(&report, args.json) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing the report")?,
    }
    Ok(0)
}

/// Reads, cuts, parses and summarises the file.
fn inspect(args: &ParseArgs, cfg: &Config) -> anyhow::Result<Report> {
    let max_line = usize::try_from(cfg.files.max_line.0).unwrap_or(usize::MAX);
    let data = read_head(args, max_line)?;
    let settings = MultilineSettings {
        enabled: cfg.files.multiline == Multiline::Auto,
        max_lines: cfg.files.multiline_max_lines.max(1),
        max_bytes: usize::try_from(cfg.files.multiline_max_bytes.0).unwrap_or(usize::MAX).max(1),
    };
    let joined = split_events(&data, max_line, settings, args.lines.max(1));
    let path = std::fs::canonicalize(&args.file).unwrap_or_else(|_| args.file.clone());
    let source = Arc::new(SourceKind::File { path: path.to_string_lossy().into_owned() });
    let rules = FileRules::from_files(&cfg.files);
    let now = Timestamp::now();
    let ctx = ParseContext { now, keep_original: false, utc_offset_secs: 0 };
    let host = cfg.host_name();
    let mut layouts: BTreeMap<String, usize> = BTreeMap::new();
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut report = Report {
        file: args.file.display().to_string(),
        lines: joined.iter().map(|j| j.lines).sum(),
        events: joined.len(),
        layouts: Vec::new(),
        timestamp_formats: Vec::new(),
        explained: 0,
        timed: 0,
        flagged: 0,
        learned_timestamp_format: None,
        learned_structure: None,
        flags: BTreeMap::new(),
        first: Vec::new(),
    };
    let records: Vec<RawRecord> = joined
        .into_iter()
        .map(|j| RawRecord {
            id: positioned_id("parse", j.start),
            body: j.body,
            truncated: j.truncated,
            hint: FormatHint::Auto,
            source: Arc::clone(&source),
            host: Some(host.clone()),
            received: now,
        })
        .collect();
    let events = rules.parse_batch(&records, &ctx);
    report.learned_timestamp_format = rules.learned_format(Some(&host), &path.to_string_lossy());
    report.learned_structure = rules.learned_structure(Some(&host), &path.to_string_lossy()).map(|s| s.describe());
    for (rec, mut ev) in records.iter().zip(events) {
        loglynx_pipeline::decode::decode(&mut ev);
        let first_line = String::from_utf8_lossy(rec.body.split(|&b| b == b'\n').next().unwrap_or(&[]))
            .trim_end_matches('\r')
            .to_string();
        let timed = ev.timestamp != now && !ev.flags.bad_timestamp;
        *layouts.entry(layout(&ev, timed, &host)).or_default() += 1;
        let shape = match (ev.labels.get("log.timestamp_format"), leading_timestamp(&first_line, &ctx)) {
            (Some(f), _) => format!("{f} (learned)"),
            (None, Some(t)) => shape_of(t),
            (None, None) if timed => format!("(elsewhere: read by {})", ev.dataset.as_deref().unwrap_or("the format")),
            (None, None) => "(none)".to_string(),
        };
        *shapes.entry(shape).or_default() += 1;
        report.explained += usize::from(!ev.flags.unparsed);
        report.timed += usize::from(timed);
        report.flagged += usize::from(ev.flags.any());
        for f in ev.flags.names() {
            *report.flags.entry(f.to_string()).or_default() += 1;
        }
        if report.first.len() < args.events {
            report.first.push(ev);
        }
    }
    report.layouts = shares(layouts, report.events);
    report.timestamp_formats = shares(shapes, report.events);
    Ok(report)
}

/// The start of the file: enough for `--lines` lines of up to 64 KiB (or `max_line`), at most
/// 64 MiB.
fn read_head(args: &ParseArgs, max_line: usize) -> anyhow::Result<Vec<u8>> {
    const MOST: u64 = 64 << 20;
    let f = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let budget = (args.lines.max(1) as u64).saturating_mul(max_line.min(64 << 10) as u64 + 1).min(MOST);
    let mut data = Vec::new();
    f.take(budget)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    Ok(data)
}

/// `syslog: time + host + program + pid`: the format and the header parts it read.
fn layout(ev: &Event, timed: bool, receiver: &str) -> String {
    if ev.flags.unparsed {
        return "unparsed (no format matched)".to_string();
    }
    let mut parts = Vec::new();
    if timed {
        parts.push("time");
    } else if ev.flags.bad_timestamp {
        parts.push("bad time");
    }
    if ev.level.is_some() {
        parts.push("level");
    }
    if ev.host.as_deref().is_some_and(|h| h != receiver) {
        parts.push("host");
    }
    if ev.process_name.is_some() {
        parts.push("program");
    }
    if ev.pid.is_some() {
        parts.push("pid");
    }
    if ev.labels.contains_key("process.thread.name") || ev.labels.contains_key("process.thread.id") {
        parts.push("thread");
    }
    if ev.labels.contains_key("log.logger") {
        parts.push("logger");
    }
    let dataset = ev.dataset.as_deref().unwrap_or("unknown");
    if parts.is_empty() {
        dataset.to_string()
    } else {
        format!("{dataset}: {}", parts.join(" + "))
    }
}

/// `2024-05-31 10:00:00,123` -> `dddd-dd-dd dd:dd:dd,ddd`; month and day names -> `MMM` / `EEE`.
fn shape_of(ts: &str) -> String {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut out = String::with_capacity(ts.len());
    let mut rest = ts;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphabetic() {
            let n = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let word = rest[..n].to_ascii_lowercase();
            let name = if n == 3 && MONTHS.contains(&word.as_str()) {
                "MMM"
            } else if n == 3 && DAYS.contains(&word.as_str()) {
                "EEE"
            } else {
                &rest[..n]
            };
            out.push_str(name);
            rest = &rest[n..];
        } else {
            out.push(if c.is_ascii_digit() { 'd' } else { c });
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn shares(counts: BTreeMap<String, usize>, total: usize) -> Vec<Share> {
    let mut v: Vec<Share> = counts
        .into_iter()
        .map(|(name, events)| Share { name, events, percent: percent(events, total) })
        .collect();
    v.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.name.cmp(&b.name)));
    v
}

fn percent(n: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

fn print(r: &Report, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, r)?;
        writeln!(out)?;
        return out.flush();
    }
    writeln!(out, "{}: {} lines read, {} events", r.file, r.lines, r.events)?;
    writeln!(out, "layout:")?;
    for s in &r.layouts {
        writeln!(out, "  {:>5.1}%  {:>6}  {}", s.percent, s.events, s.name)?;
    }
    writeln!(out, "timestamp format (at the line's start):")?;
    for s in &r.timestamp_formats {
        writeln!(out, "  {:>5.1}%  {:>6}  {}", s.percent, s.events, s.name)?;
    }
    if let Some(st) = &r.learned_structure {
        writeln!(out, "learned structure: {st}")?;
    }
    if let Some(f) = &r.learned_timestamp_format {
        writeln!(out, "learned timestamp format: {f} (set it as a [[files.layouts]] timestamp_format to keep it)")?;
    }
    writeln!(out, "explained (a format matched): {:.1}% of {} events", percent(r.explained, r.events), r.events)?;
    writeln!(out, "time from the line: {:.1}%", percent(r.timed, r.events))?;
    writeln!(out, "flagged (unparsed, truncated, bad time...): {:.1}%", percent(r.flagged, r.events))?;
    if !r.flags.is_empty() {
        let flags: Vec<String> = r.flags.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "events per flag: {}", flags.join(", "))?;
    }
    writeln!(out, "first {} events as stored:", r.first.len())?;
    for e in &r.first {
        serde_json::to_writer(&mut out, e)?;
        writeln!(out)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_shapes() {
        assert_eq!(shape_of("2024-05-31 10:00:00,123"), "dddd-dd-dd dd:dd:dd,ddd");
        assert_eq!(shape_of("Jun 14 15:16:01"), "MMM dd dd:dd:dd");
        assert_eq!(shape_of("Sun Dec 04 04:47:44 2005"), "EEE MMM dd dd:dd:dd dddd");
        assert_eq!(shape_of("2024-05-31T10:00:00Z"), "dddd-dd-ddTdd:dd:ddZ");
    }

    #[test]
    fn percent_rounds_to_one_decimal() {
        assert_eq!(percent(1946, 2000), 97.3);
        assert_eq!(percent(0, 0), 0.0);
    }
}

//! Explicit layouts (`[[files.layouts]]`, `event.dataset` `custom`): a user's pattern and/or
//! timestamp format for some files, tried before format detection. A line the layout does not
//! fit (the pattern does not match, the line does not start with a time in the format) goes
//! through detection as if there were no layout.
//!
//! - `pattern`: a regex with named groups (`timestamp`, `level`, `logger`, `thread`, `pid`,
//!   `host`, `program`, `message`); empty groups are absent.
//! - `timestamp_format`: strftime (chrono); the `timestamp` group, or without a pattern the start
//!   of the line, whose rest is read like a generic header (level, thread, logger). Without a
//!   format the group is read by the generic header's time reader (any known shape).
//! - A time without an offset is in [`ParseContext::utc_offset_secs`]; one that cannot be read
//!   or is implausible (before 1970, more than a day ahead) is flagged `bad_timestamp`.

use chrono::{DateTime, NaiveDateTime};
use loglynx_config::LayoutRule;
use loglynx_core::{Event, Timestamp};
use regex::Regex;

use super::record::ParseContext;
use super::structure::Structure;
use super::{header, level};

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

/// A compiled `[[files.layouts]]` entry.
#[derive(Debug, Clone)]
pub struct Layout {
    pattern: Option<Regex>,
    timestamp_format: Option<String>,
    /// A learned structure (`crate::learn`): its events are `timestamped`, with label
    /// `log.structure`; `None` for a configured layout (`custom`).
    learned: Option<Structure>,
}

impl Layout {
    /// Compiles a rule; `None` when its pattern does not compile or it has neither a pattern nor
    /// a format (`Config::validate` refuses both).
    pub fn new(rule: &LayoutRule) -> Option<Self> {
        let pattern = match &rule.pattern {
            Some(p) => Some(Regex::new(p).ok()?),
            None => None,
        };
        (pattern.is_some() || rule.timestamp_format.is_some())
            .then(|| Layout { pattern, timestamp_format: rule.timestamp_format.clone(), learned: None })
    }

    /// A layout inferred from a source's lines (`crate::learn`).
    pub(crate) fn learned(structure: Structure) -> Self {
        Layout { pattern: None, timestamp_format: None, learned: Some(structure) }
    }

    /// The strftime format of its timestamps, if it has one.
    pub fn timestamp_format(&self) -> Option<&str> {
        match &self.learned {
            Some(s) => s.timestamp_format(),
            None => self.timestamp_format.as_deref(),
        }
    }

    /// The structure it was learned as, for a learned layout.
    pub fn structure(&self) -> Option<&Structure> {
        self.learned.as_ref()
    }

    /// Fills `ev` when the line fits; `false` (event untouched) otherwise.
    pub(crate) fn apply(&self, line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
        if let Some(s) = &self.learned {
            return s.apply(line, ev, ctx);
        }
        let fitted = match &self.pattern {
            Some(re) => self.apply_pattern(re, line, ev, ctx),
            None => self.apply_format(line, ev, ctx),
        };
        if fitted {
            ev.dataset = Some("custom".to_string());
        }
        fitted
    }

    fn apply_pattern(&self, re: &Regex, line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
        let Some(caps) = re.captures(line) else {
            return false;
        };
        let group = |n: &str| caps.name(n).map(|m| m.as_str()).filter(|s| !s.is_empty());
        if let Some(t) = group("timestamp") {
            let ts = match &self.timestamp_format {
                Some(f) => whole(t.trim(), f, ctx),
                None => header::read_time_text(t.trim(), ctx),
            };
            apply_time(ev, ts, ctx);
        }
        ev.level = group("level").and_then(level::from_field);
        if let Some(l) = group("logger") {
            ev.labels.insert("log.logger".to_string(), l.to_string());
        }
        if let Some(t) = group("thread") {
            ev.labels.insert("process.thread.name".to_string(), t.to_string());
        }
        ev.pid = group("pid").and_then(|p| p.trim().parse().ok());
        if let Some(h) = group("host") {
            ev.host = Some(h.to_string());
        }
        if let Some(p) = group("program") {
            ev.process_name = Some(p.to_string());
            ev.service = Some(p.to_string());
        }
        ev.message = group("message").unwrap_or(line).to_string();
        true
    }

    fn apply_format(&self, line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
        let Some(fmt) = &self.timestamp_format else {
            return false;
        };
        let Some((ts, rest)) = start_time(line, fmt, ctx) else {
            return false;
        };
        header::after_time(rest, ts, ev, ctx);
        true
    }
}

/// `Some(ts)` inside the plausible range, else `None` (flagged).
fn apply_time(ev: &mut Event, ts: Option<Timestamp>, ctx: &ParseContext) {
    match ts {
        Some(t) if t.0 >= 0 && t.0 <= ctx.now.0.saturating_add(DAY_NANOS) => ev.timestamp = t,
        _ => ev.flags.bad_timestamp = true,
    }
}

/// The whole of `text` in `fmt`: with its own offset, or in the context's.
fn whole(text: &str, fmt: &str, ctx: &ParseContext) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_str(text, fmt) {
        return t.timestamp_nanos_opt().map(Timestamp);
    }
    let n = NaiveDateTime::parse_from_str(text, fmt).ok()?;
    naive(n, ctx)
}

/// A time in `fmt` at the start of `line`, or in a `[...]` there, and the rest of the line.
pub(crate) fn start_time<'a>(line: &'a str, fmt: &str, ctx: &ParseContext) -> Option<(Option<Timestamp>, &'a str)> {
    if let Some(r) = prefix(line, fmt, ctx) {
        return Some(r);
    }
    let inner = line.strip_prefix('[')?;
    let (ts, rest) = prefix(inner, fmt, ctx)?;
    Some((ts, rest.strip_prefix(']')?))
}

/// A time in `fmt` at the start of `line` and the rest of the line; `None` when the line does
/// not start with one. The time is `None` inside when it is out of range.
fn prefix<'a>(line: &'a str, fmt: &str, ctx: &ParseContext) -> Option<(Option<Timestamp>, &'a str)> {
    if let Ok((t, rest)) = DateTime::parse_and_remainder(line, fmt) {
        return Some((t.timestamp_nanos_opt().map(Timestamp), rest));
    }
    let (n, rest) = NaiveDateTime::parse_and_remainder(line, fmt).ok()?;
    Some((naive(n, ctx), rest))
}

fn naive(n: NaiveDateTime, ctx: &ParseContext) -> Option<Timestamp> {
    let utc = n.and_utc().timestamp_nanos_opt()?;
    utc.checked_sub(i64::from(ctx.utc_offset_secs) * 1_000_000_000).map(Timestamp)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use loglynx_core::{FormatHint, RawRecord, SourceKind};

    use super::super::record::parse_record_with;
    use super::*;

    const NOW: Timestamp = Timestamp(1_717_200_000_000_000_000); // 2024-06-01T00:00:00Z

    fn parse(layout: &Layout, line: &str, offset: i32) -> Event {
        let rec = RawRecord {
            body: line.as_bytes().to_vec(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File { path: "/srv/billing/a.log".into() }),
            host: Some("receiver".into()),
            received: NOW,
            id: "id".into(),
        };
        let ctx = ParseContext { now: NOW, keep_original: false, utc_offset_secs: offset };
        parse_record_with(&rec, &ctx, Some(layout))
    }

    fn layout(pattern: Option<&str>, format: Option<&str>) -> Layout {
        Layout::new(&LayoutRule {
            paths: vec![],
            pattern: pattern.map(str::to_string),
            timestamp_format: format.map(str::to_string),
        })
        .unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn a_pipe_delimited_layout_with_its_own_time_format() {
        let l = layout(
            Some(r"^(?P<timestamp>[^|]+)\|(?P<level>[^|]*)\|(?P<thread>[^|]*)\|(?P<logger>[^|]*)\|(?P<message>.*)$"),
            Some("%d.%m.%Y %H:%M:%S%.3f"),
        );
        let e = parse(&l, "31.05.2024 10:00:00.250|WARNING|worker-3|billing.Invoice|total mismatch", 7200);
        assert_eq!(e.dataset.as_deref(), Some("custom"));
        assert_eq!(e.timestamp, ts("2024-05-31T08:00:00.250Z"));
        assert_eq!(e.level.as_deref(), Some("warn"));
        assert_eq!(e.labels.get("process.thread.name").map(String::as_str), Some("worker-3"));
        assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("billing.Invoice"));
        assert_eq!(e.message, "total mismatch");
        assert!(!e.flags.any());
        // A time the format cannot read: flagged, the rest kept.
        let e = parse(&l, "yesterday|INFO|t|l|m", 0);
        assert!(e.flags.bad_timestamp && e.message == "m");
        // A line the pattern does not fit is detected as usual.
        let e = parse(&l, "Jun 14 15:16:01 combo sshd[1]: hi", 0);
        assert_eq!(e.dataset.as_deref(), Some("syslog"));
    }

    #[test]
    fn a_timestamp_format_alone_reads_the_start_and_the_usual_header_after_it() {
        let l = layout(None, Some("%d.%m.%Y %H:%M:%S"));
        let e = parse(&l, "31.05.2024 10:00:00 ERROR [main] app.Db - connection lost", 0);
        assert_eq!(e.dataset.as_deref(), Some("custom"));
        assert_eq!(e.timestamp, ts("2024-05-31T10:00:00Z"));
        assert_eq!(e.level.as_deref(), Some("error"));
        assert_eq!(e.labels.get("process.thread.name").map(String::as_str), Some("main"));
        assert!(e.message.ends_with("connection lost"), "{}", e.message);
        // With an offset in the format, the line's own offset wins over the zone.
        let l = layout(None, Some("%d.%m.%Y %H:%M:%S %z"));
        let e = parse(&l, "31.05.2024 10:00:00 +0300 INFO x", 3600);
        assert_eq!(e.timestamp, ts("2024-05-31T07:00:00Z"));
        // Not in the format: detection.
        let e = parse(&l, "no time here", 0);
        assert!(e.flags.unparsed);
    }

    #[test]
    fn a_pattern_without_a_format_reads_any_known_time_and_without_message_keeps_the_line() {
        let l = layout(Some(r"^\[(?P<timestamp>[^\]]+)\] (?P<program>\w+)"), None);
        let e = parse(&l, "[2024-05-31T10:00:00Z] billing started", 0);
        assert_eq!(e.timestamp, ts("2024-05-31T10:00:00Z"));
        assert_eq!(e.process_name.as_deref(), Some("billing"));
        assert_eq!(e.message, "[2024-05-31T10:00:00Z] billing started");
    }
}

//! The entry point: one [`RawRecord`] in, one [`Event`] out, whatever the bytes.

use std::borrow::Cow;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};

use super::layout::Layout;
use super::timestamp::TsField;
use super::{detect, json, syslog};

/// What parsing needs besides the record.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    /// The current time, for year inference on formats without a year.
    pub now: Timestamp,
    /// Store the raw line in `event.original`.
    pub keep_original: bool,
    /// Offset from UTC, in seconds east, of header timestamps that carry no zone (the
    /// source's zone); 0 is UTC. The generic header parser and RFC 3164 syslog timestamps use
    /// it; the stage sets it from `files.timezone` / `[[files.zones]]` (`crate::SourceZones`).
    pub utc_offset_secs: i32,
}

impl ParseContext {
    /// A context at the current time, not keeping originals.
    pub fn now() -> Self {
        ParseContext {
            now: Timestamp::now(),
            keep_original: false,
            utc_offset_secs: 0,
        }
    }
}

/// Parses and normalises one record. Never panics and never fails: what cannot be parsed is
/// kept whole in `message` and flagged (see [`loglynx_core::EventFlags`]).
///
/// - `event.id` and `event.ingested` come from the record; `@timestamp` from the line, else
///   the received time.
/// - `host.name` defaults to the record's host when the line names none; `log.file.path` comes
///   from a file source.
/// - Invalid UTF-8 is decoded lossily (`invalid_utf8`); one trailing `\r` is removed.
pub fn parse_record(rec: &RawRecord, ctx: &ParseContext) -> Event {
    parse_record_with(rec, ctx, None)
}

/// [`parse_record`] with the source's explicit [`Layout`] (`[[files.layouts]]`) tried first on
/// records of hint `Auto`; a line it does not fit is detected as usual.
pub fn parse_record_with(rec: &RawRecord, ctx: &ParseContext, layout: Option<&Layout>) -> Event {
    let text = String::from_utf8_lossy(&rec.body);
    let invalid_utf8 = matches!(text, Cow::Owned(_));
    let line: &str = text.strip_suffix('\r').unwrap_or(&text);

    let mut ev = new_event(rec);
    match rec.hint {
        FormatHint::Auto => {
            let fitted = layout.is_some_and(|l| l.apply(line, &mut ev, ctx));
            if !fitted && !detect::auto(line, &mut ev, ctx) {
                unparsed(line, &mut ev);
            }
        }
        FormatHint::Json => json::parse_hinted(line, &mut ev),
        FormatHint::Syslog => {
            if !syslog::parse(line, &mut ev, ctx) && !detect::auto(line, &mut ev, ctx) {
                unparsed(line, &mut ev);
            }
        }
        FormatHint::Event => json::parse_event(line, &mut ev),
    }
    finish(rec, ctx, ev, line, invalid_utf8)
}

/// The event before parsing: ids and times from the record, `@timestamp` = received.
pub(crate) fn new_event(rec: &RawRecord) -> Event {
    Event::new(String::new(), rec.received, rec.received, rec.id.clone())
}

/// What every parsed event gets from its record, whatever the format.
pub(crate) fn finish(
    rec: &RawRecord,
    ctx: &ParseContext,
    mut ev: Event,
    line: &str,
    invalid_utf8: bool,
) -> Event {
    if ev.host.is_none() {
        ev.host.clone_from(&rec.host);
    }
    if ev.file_path.is_none() {
        if let SourceKind::File { path } = rec.source.as_ref() {
            ev.file_path = Some(path.clone());
        }
    }
    ev.flags.truncated |= rec.truncated;
    ev.flags.invalid_utf8 |= invalid_utf8;
    // A file source's joined event (or any frame with newlines) spans several lines.
    if memchr::memchr(b'\n', line.as_bytes()).is_some() {
        ev.flags.multiline = true;
        ev.flags.multiline_truncated = rec.truncated;
    }
    if ctx.keep_original {
        ev.original = Some(line.to_string());
    }
    ev
}

/// No format matched: the whole line is the message.
pub(crate) fn unparsed(line: &str, ev: &mut Event) {
    ev.message = line.to_string();
    ev.flags.unparsed = true;
}

/// Applies a timestamp field outcome (the event's `@timestamp` starts as the received time).
pub(crate) fn apply_ts(ev: &mut Event, ts: TsField) {
    match ts {
        TsField::Ok(t) => ev.timestamp = t,
        TsField::Bad => ev.flags.bad_timestamp = true,
        TsField::Absent => {}
    }
}

/// `Some(owned)` for a header value that is present (not empty, not the `-` placeholder).
pub(crate) fn present(s: &str) -> Option<String> {
    (!s.is_empty() && s != "-").then(|| s.to_string())
}

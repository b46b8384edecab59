//! Format detection for hint `Auto`: a cheap look at the first bytes picks the parsers to try,
//! most specific first; each returns `false` without touching the event when its shape is not
//! there, so the next one can try.

use loglynx_core::Event;

use super::level;
use super::record::{apply_ts, ParseContext};
use super::scan::Cursor;
use super::timestamp::{read_iso, TsField};
use super::{access, apache_error, json, logfmt, loghub, syslog};

/// Fills `ev` from `line` when a known format matches; `false` otherwise (event untouched).
pub(crate) fn auto(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let b = line.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    match first {
        b'<' => syslog::parse(line, ev, ctx),
        b'{' => json::parse_auto(line, ev),
        b'[' => apache_error::parse(line, ev) || loghub::proxifier(line, ev, ctx),
        b'0'..=b'9' => {
            if b.get(4) == Some(&b'-') {
                loghub::zookeeper(line, ev)
                    || syslog::parse_iso_file(line, ev)
                    || timestamped(line, ev)
                    || access::parse(line, ev)
            } else if b.get(6) == Some(&b' ') && b.get(13) == Some(&b' ') {
                loghub::hdfs(line, ev) || loghub::hpc(line, ev) || access::parse(line, ev)
            } else {
                loghub::hpc(line, ev) || access::parse(line, ev)
            }
        }
        b'-' => loghub::bgl(line, ev),
        b'A'..=b'Z' => {
            syslog::parse(line, ev, ctx)
                || loghub::bgl(line, ev)
                || logfmt::parse(line, ev)
                || access::parse(line, ev)
        }
        b'a'..=b'z' | b'_' | b'@' => logfmt::parse(line, ev) || access::parse(line, ev),
        b':' => access::parse(line, ev),
        b' ' | b'\t' => {
            // Leading blanks: detect on the trimmed line (JSON bodies are often indented).
            let t = line.trim_start_matches([' ', '\t']);
            !t.is_empty() && t.len() < line.len() && auto(t, ev, ctx)
        }
        _ => false,
    }
}

/// Any line that starts with an ISO date-time (`2024-05-01 10:00:00,123 ...`): the time,
/// then an optional level word (bare, or in brackets) after optional ` - ` / `|` separators,
/// then the message. `event.dataset` is `timestamped`.
fn timestamped(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let Some(ts) = read_iso(&mut cur) else {
        return false;
    };
    if !matches!(cur.peek(), None | Some(b' ')) {
        return false;
    }
    // Separators between header parts: blanks, and one `-` or `|` standing alone.
    let skip_seps = |cur: &mut Cursor<'_>| {
        cur.skip_spaces();
        if matches!(cur.peek(), Some(b'-' | b'|')) && cur.peek_at(1) == Some(b' ') {
            cur.advance(1);
            cur.skip_spaces();
        }
    };
    skip_seps(&mut cur);
    let mut level = None;
    let save = cur;
    let bracketed = cur.eat(b'[');
    let word = cur.token();
    let word = if bracketed {
        word.strip_suffix(']').unwrap_or("")
    } else {
        word
    };
    // Only full level words here, not single letters that could start a sentence.
    match level::normalize(word.trim_end_matches(':')) {
        Some(l) if word.len() > 1 => {
            level = Some(l);
            skip_seps(&mut cur);
        }
        _ => cur = save,
    }

    apply_ts(ev, ts.map_or(TsField::Bad, TsField::Ok));
    ev.dataset = Some("timestamped".to_string());
    ev.level = level.map(str::to_string);
    ev.message = cur.rest().to_string();
    true
}

//! Generic line headers (`event.dataset` `timestamped`): a timestamp in any common format at
//! the start of the line (after an optional prefix: a collector's `name: ` / `name | `, a bare
//! file name or one punctuation character, label `log.prefix`; or in a bracket), then the
//! header parts a layout puts before the message: level, pid, thread id or
//! `[thread name]`, logger; after a bracketed time, a run of brackets with no blank between
//! them (`[time][INFO ][o.e.n.Node] msg`) is the whole header (`fields::bracket_run`). A
//! syslog line relayed behind the time (`relayed`) is read as syslog with the outer time. The shapes of the common servers whose header is not just
//! "time, then words" are read first: Kubernetes klog, Rails, Redis, Android logcat `E/Tag`.
//!
//! - The time formats are listed in `time`; a time without a zone is in
//!   [`ParseContext::utc_offset_secs`] (UTC by default); a time without a year gets the year
//!   that puts it closest to now without being more than a day ahead.
//! - A time before 1970 or more than a day after now is not used: `@timestamp` stays the
//!   ingest time and `log.flags` gets `bad_timestamp`.
//! - Levels: [`level::normalize`](super::level::normalize) plus the header words of
//!   `fields::level_word`.
//! - `process.pid`, labels `process.thread.name`, `process.thread.id`, `log.logger` (the same
//!   labels as the Loghub parsers), only where the header's shape makes them unambiguous.

mod fields;
mod time;

use loglynx_core::{Event, Timestamp};

use super::level;
use super::record::ParseContext;
use super::scan::{parse_u32, Cursor};
use super::timestamp::{read_hms, Civil};
pub(crate) use fields::{level_word, Header};

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

/// Fills `ev` when the line starts with a known timestamp (maybe after a collector prefix);
/// `false` (event untouched) otherwise.
pub(crate) fn parse(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    if at(line, ev, ctx) {
        return true;
    }
    for (prefix, rest) in collector_prefix(line).into_iter().flatten() {
        // A syslog line behind the prefix (`web-1 | Mar 17 16:13:38 host cron[12]: msg`): read
        // as syslog (host, program, pid), not as a time and a message.
        let syslog = rest.as_bytes().first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'<');
        if syslog && super::syslog::parse(rest, ev, ctx) || at(rest, ev, ctx) {
            ev.labels
                .insert("log.prefix".to_string(), prefix.to_string());
            return true;
        }
    }
    false
}

/// The text of the timestamp a line starts with (after a syslog `<PRI>` or a `[`), in one of
/// the shapes of `time`; `None` when it starts with none.
pub fn leading_timestamp<'a>(line: &'a str, ctx: &ParseContext) -> Option<&'a str> {
    let mut cur = Cursor::new(line);
    if cur.eat(b'<') {
        cur.uint()?;
        cur.eat(b'>').then_some(())?;
    }
    cur.eat(b'[');
    let start = cur.pos();
    time::read(&mut cur, ctx)?;
    line.get(start..cur.pos())
}

/// Reads a timestamp in any shape of `time` at the cursor (see `time::read`).
pub(crate) fn read_time_at(cur: &mut Cursor<'_>, ctx: &ParseContext) -> Option<Option<Timestamp>> {
    time::read(cur, ctx)
}

/// Reads `text` as a timestamp in any shape of `time` (an explicit layout's `timestamp` group).
/// `None` when it is not one or is out of range.
pub(crate) fn read_time_text(text: &str, ctx: &ParseContext) -> Option<Timestamp> {
    let mut cur = Cursor::new(text);
    time::read(&mut cur, ctx).flatten()
}

/// Fills `ev` from the header after a time read elsewhere (an explicit `timestamp_format`):
/// level, pid, thread, logger, then the message, as for a line that starts with a known time.
pub(crate) fn after_time(rest: &str, ts: Option<Timestamp>, ev: &mut Event, ctx: &ParseContext) {
    let mut cur = Cursor::new(rest);
    if cur.peek() == Some(b':') && matches!(cur.peek_at(1), None | Some(b' ')) {
        cur.eat(b':');
    }
    let h = logcat_brief(&mut cur).unwrap_or_else(|| fields::scan(&mut cur));
    fill(ev, ts, ctx, &h, cur.rest().trim_start_matches([' ', '\t']));
}

/// `name: `, `name | `, `name:` right before a digit or `name ` (up to 128 bytes, no blanks in
/// the name) before the header:
/// a collector's tag, a container name, or the file name that `grep -H`, `tail` of several
/// files or a log shipper puts in front of each line (`nova-api.log.1 2024-...`). A bare name
/// is taken only when a digit follows its blank (the line's time must then read), it has a
/// letter or is one punctuation character (`- 1131566461 ...`: a date such as `01.07.2024 10:00:00` is not
/// a name before a time of day) and it is not a level word (`ERROR 2024-...` is a level before
/// the time, which the learned structure reads).
fn collector_prefix(line: &str) -> [Option<(&str, &str)>; 2] {
    let mut out = [None, None];
    let b = line.as_bytes();
    let Some(end) = b.iter().take(129).position(|&c| c == b' ') else {
        return out;
    };
    let name = &line[..end];
    let rest = &line[end..];
    let found = if let Some(n) = name.strip_suffix(':') {
        Some((n, rest.trim_start_matches(' ')))
    } else if let Some(r) = rest.trim_start_matches(' ').strip_prefix('|') {
        // Docker Compose pads the name: `web-1  | msg`.
        Some((name, r.trim_start_matches(' ')))
    } else if b.get(end + 1).is_some_and(u8::is_ascii_digit)
        && (name.bytes().any(|c| c.is_ascii_alphabetic()) || name.len() == 1 && name.as_bytes()[0].is_ascii_punctuation())
        && level_word(name.trim_matches(['[', ']'])).is_none()
    {
        Some((name, &rest[1..]))
    } else {
        None
    };
    // `grep -H`: `path:2024-01-01 10:00:00 ...` (the name up to its first `:`), tried first: a
    // bare name that ends with a date would leave the time of day alone.
    out[1] = found.filter(|(n, r)| !n.is_empty() && !r.is_empty());
    out[0] = name
        .split_once(':')
        .filter(|(n, r)| n.bytes().any(|c| c.is_ascii_alphabetic()) && r.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .map(|(n, _)| (n, &line[n.len() + 1..]));
    out
}

/// A line relayed with a syslog line inside (a collector's receive time, maybe the date again
/// and the sender's name, then the sender's own `Mmm d HH:mm:ss host prog[pid]: msg`, as in
/// `- 1131566461 2005.11.09 node1 Nov 9 12:01:01 node1/node1 crond[2916]: msg`): host, program,
/// pid and message from the inner line; the time is the outer one, which has the year (and,
/// as an epoch, the zone). `rest` is what follows the outer time.
fn relayed(rest: &str, ts: Option<Timestamp>, ev: &mut Event, ctx: &ParseContext) -> bool {
    // On every generic header line: find the inner time by bytes first (a month name at the
    // start of one of the first three tokens), check the tokens before it only then.
    // Tokens are short: a byte loop, no `memchr` set-up per token.
    let b = rest.as_bytes();
    let mut before: [&str; 2] = [""; 2];
    let mut i = 0;
    for k in 0..3 {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let Some(&c) = b.get(i) else { return false };
        if c.is_ascii_uppercase()
            && b.get(i + 3) == Some(&b' ')
            && super::timestamp::month_from_abbr(&b[i..i + 3]).is_some()
        {
            return relayed_at(&before[..k], &rest[i..], ts, ev, ctx);
        }
        if k == 2 {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b' ' {
            i += 1;
        }
        before[k] = &rest[start..i];
    }
    false
}

/// [`relayed`] once the inner time is found: the tokens before it are a date and / or the
/// sender's name, and `inner` must read as syslog.
fn relayed_at(before: &[&str], inner: &str, ts: Option<Timestamp>, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut sender = None;
    for tok in before {
        let date = tok.len() == 10 && tok.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'/'));
        if date {
            continue;
        }
        if sender.is_some() || tok.len() > 64 || tok.contains([':', '[', '=']) {
            return false;
        }
        sender = Some(*tok);
    }
    if !super::syslog::parse(inner, ev, ctx) {
        return false;
    }
    match ts {
        Some(t) if in_range(t, ctx) => ev.timestamp = t,
        _ => ev.flags.bad_timestamp = true,
    }
    if let Some(s) = sender.filter(|s| super::is_host(s)) {
        ev.host = Some(s.to_string());
    }
    true
}

fn at(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut cur = Cursor::new(line);
    if let Some(first) = cur.peek() {
        if first.is_ascii_uppercase() && (klog(&mut cur, ev, ctx) || rails(&mut cur, ev, ctx)) {
            return true;
        }
        if first.is_ascii_digit() && redis(&mut cur, ev, ctx) {
            return true;
        }
    }
    let bracketed = cur.eat(b'[');
    let Some(ts) = time::read(&mut cur, ctx) else {
        return false;
    };
    if bracketed && !cur.eat(b']') {
        return false;
    }
    if !bracketed && cur.peek() == Some(b' ') && relayed(cur.rest(), ts, ev, ctx) {
        return true;
    }
    if bracketed && cur.peek() == Some(b'[') {
        // `[time][INFO ][o.e.n.Node] msg`: a run of brackets is the rest of the header.
        let Some(h) = fields::bracket_run(&mut cur) else {
            return false;
        };
        fill(ev, ts, ctx, &h, cur.rest());
        return true;
    }
    if !matches!(cur.peek(), None | Some(b' ' | b',' | b'|' | b':' | b'\t')) {
        return false;
    }
    // `10:00:00: msg` / `10:00:00 | msg`
    if cur.peek() == Some(b':') && !matches!(cur.peek_at(1), None | Some(b' ')) {
        return false;
    }
    cur.eat(b':');
    let h = logcat_brief(&mut cur).unwrap_or_else(|| fields::scan(&mut cur));
    fill(ev, ts, ctx, &h, cur.rest().trim_start_matches([' ', '\t']));
    true
}

/// Applies a header to the event.
/// A time a header may give an event: not before 1970, not more than a day ahead of now.
pub(crate) fn in_range(t: Timestamp, ctx: &ParseContext) -> bool {
    t.0 >= 0 && t.0 <= ctx.now.0.saturating_add(DAY_NANOS)
}

pub(crate) fn fill(ev: &mut Event, ts: Option<Timestamp>, ctx: &ParseContext, h: &Header<'_>, msg: &str) {
    match ts {
        Some(t) if in_range(t, ctx) => ev.timestamp = t,
        _ => ev.flags.bad_timestamp = true,
    }
    ev.dataset = Some("timestamped".to_string());
    ev.level = h.level.map(str::to_string);
    ev.pid = h.pid;
    if let Some(t) = h.tid {
        ev.labels
            .insert("process.thread.id".to_string(), t.to_string());
    }
    if let Some(t) = h.thread {
        ev.labels
            .insert("process.thread.name".to_string(), t.to_string());
    }
    if let Some(l) = h.logger {
        ev.labels.insert("log.logger".to_string(), l.to_string());
    }
    ev.message = msg.to_string();
}

/// Logcat's `brief` shape, which has no time: `W/Tag( 1234): msg` (`event.dataset` `logcat`,
/// `@timestamp` stays the received time). The tag must be one word of 2 bytes or more, so that
/// `I/O error: ...` is not taken for it.
pub(crate) fn logcat_line(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut cur = Cursor::new(line);
    let Some(h) = logcat_brief(&mut cur) else {
        return false;
    };
    if h.logger.is_none_or(|t| t.len() < 2 || t.contains([' ', '\t'])) {
        return false;
    }
    let received = ev.timestamp;
    fill(ev, Some(received), ctx, &h, cur.rest().trim_start_matches([' ', '\t']));
    ev.flags.bad_timestamp = false;
    ev.timestamp = received;
    ev.dataset = Some("logcat".to_string());
    true
}

/// Logcat's `time` / `brief` shape after the time: `E/Tag( 1234): msg` or `E/Tag: msg`.
fn logcat_brief<'a>(cur: &mut Cursor<'a>) -> Option<Header<'a>> {
    let mut k = *cur;
    k.skip_spaces();
    let letter = k.peek()?;
    if k.peek_at(1) != Some(b'/') || !b"VDIWEFA".contains(&letter) {
        return None;
    }
    k.advance(2);
    let rest = k.rest();
    let colon = memchr::memmem::find(rest.as_bytes(), b": ")
        .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))?;
    let head = rest.get(..colon)?;
    let (tag, pid) = match head.strip_suffix(')').and_then(|h| h.rsplit_once('(')) {
        Some((t, p)) => (t, parse_u32(p.trim())),
        None => (head, None),
    };
    let tag = tag.trim_end();
    if tag.is_empty() || tag.len() > 64 {
        return None;
    }
    k.advance(colon + 1);
    k.skip_spaces();
    *cur = k;
    Some(Header {
        level: if letter == b'A' {
            Some("crit")
        } else {
            fields::level_word(std::str::from_utf8(&[letter]).ok()?)
        },
        pid,
        logger: Some(tag),
        ..Header::default()
    })
}

/// Kubernetes klog: `I0102 15:04:05.123456    1234 file.go:123] msg` (`IWEF` + MMdd, year
/// inferred). The number is klog's thread id; `file:line` gives labels
/// `log.origin.file.name` / `log.origin.file.line`.
fn klog(cur: &mut Cursor<'_>, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut k = *cur;
    let lv = match k.peek() {
        Some(b'I') => "info",
        Some(b'W') => "warn",
        Some(b'E') => "error",
        Some(b'F') => "crit",
        _ => return false,
    };
    k.advance(1);
    let mut c = Civil::default();
    let (Some(m), Some(d)) = (k.digits(2), k.digits(2)) else {
        return false;
    };
    (c.month, c.day) = (m, d);
    if !k.eat(b' ') || read_hms(&mut k, &mut c).is_none() || k.skip_spaces() == 0 {
        return false;
    }
    let Some(tid) = k.uint() else { return false };
    if !k.eat(b' ') {
        return false;
    }
    let Some(src) = k.until(b']').filter(|s| s.len() <= 256 && !s.contains(' ')) else {
        return false;
    };
    k.eat(b' ');
    c.offset_secs = ctx.utc_offset_secs;
    let ts = super::timestamp::infer_year(c, ctx.now);
    let h = Header {
        level: Some(lv),
        tid: Some(tid),
        ..Header::default()
    };
    fill(ev, ts, ctx, &h, k.rest());
    if let Some((file, line)) = src.rsplit_once(':') {
        ev.labels
            .insert("log.origin.file.name".to_string(), file.to_string());
        ev.labels
            .insert("log.origin.file.line".to_string(), line.to_string());
    }
    *cur = k;
    true
}

/// Rails / Ruby `Logger`: `I, [2024-01-01T10:00:00.123456 #1234]  INFO -- progname: msg`.
fn rails(cur: &mut Cursor<'_>, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut k = *cur;
    k.advance(1);
    if !k.eat_str(", [") {
        return false;
    }
    let Some(ts) = time::read(&mut k, ctx) else {
        return false;
    };
    if !k.eat_str(" #") {
        return false;
    }
    let Some(pid) = k.uint() else { return false };
    if !k.eat(b']') {
        return false;
    }
    k.skip_spaces();
    let word = k.token();
    let Some(lv) =
        level::normalize(word).or_else(|| word.eq_ignore_ascii_case("any").then_some("info"))
    else {
        return false;
    };
    let Some(rest) = k.rest().strip_prefix(" -- ") else {
        return false;
    };
    let (prog, msg) = rest.split_once(": ").unwrap_or(("", rest));
    let h = Header {
        level: Some(lv),
        pid: u32::try_from(pid).ok(),
        logger: (!prog.is_empty() && !prog.contains(' ')).then_some(prog),
        ..Header::default()
    };
    fill(ev, ts, ctx, &h, msg);
    true
}

/// Redis: `1234:M 01 Jan 2024 10:00:00.123 * msg` (role `X`/`C`/`S`/`M`; level `.` debug,
/// `-` verbose -> `info`, `*` notice, `#` warning -> `warn`).
fn redis(cur: &mut Cursor<'_>, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut k = *cur;
    let Some(pid) = k.uint() else { return false };
    if !k.eat(b':')
        || !matches!(k.peek(), Some(b'X' | b'C' | b'S' | b'M'))
        || k.peek_at(1) != Some(b' ')
    {
        return false;
    }
    k.advance(2);
    let Some(ts) = time::read(&mut k, ctx) else {
        return false;
    };
    if !k.eat(b' ') {
        return false;
    }
    let lv = match k.peek() {
        Some(b'.') => "debug",
        Some(b'-') => "info",
        Some(b'*') => "notice",
        Some(b'#') => "warn",
        _ => return false,
    };
    k.advance(1);
    k.skip_spaces();
    let h = Header {
        level: Some(lv),
        pid: u32::try_from(pid).ok(),
        ..Header::default()
    };
    fill(ev, ts, ctx, &h, k.rest());
    true
}

#[cfg(test)]
mod tests;

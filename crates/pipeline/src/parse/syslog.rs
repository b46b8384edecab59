//! Syslog: RFC 5424 and RFC 3164 (BSD), with or without the `<PRI>` part.
//!
//! - `<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [sd@1 a="b"] msg` (RFC 5424): `-` is
//!   the NILVALUE; structured data becomes labels `<sd-id>.<param>`; a non-numeric PROCID is
//!   kept as label `log.syslog.procid`, MSGID as `log.syslog.msgid`.
//! - `<34>Oct 11 22:14:15 mymachine su[123]: msg` and, without PRI, the `/var/log/syslog`
//!   form `Jun 14 15:16:01 combo sshd(pam_unix)[19939]: msg`. The year is inferred; the time
//!   is taken as UTC. An ISO timestamp in place of the BSD one is accepted too.
//! - The tag (program) goes to `process.name` and `service.name`, `[pid]` to `process.pid`.
//! - PRI gives `log.syslog.facility.code`, `log.syslog.severity.code` and `log.level`.

use loglynx_core::Event;

use super::level::SEVERITY_LEVELS;
use super::record::{apply_ts, present, ParseContext};
use super::scan::{parse_u32, Cursor};
use super::timestamp::{infer_year, month_from_abbr, read_hms, read_iso, Civil, TsField};

/// Parses a syslog line; `false` (event untouched) when it is not one: no valid `<PRI>` and
/// no BSD timestamp at the start.
pub(crate) fn parse(line: &str, ev: &mut Event, ctx: &ParseContext) -> bool {
    let mut cur = Cursor::new(line);
    if cur.peek() == Some(b'<') {
        let Some(pri) = read_pri(&mut cur) else {
            return false;
        };
        let mut c5424 = cur;
        if parse_5424(&mut c5424, pri, ev) {
            return true;
        }
        let ts = read_3164_ts(&mut cur, ctx).unwrap_or(TsField::Absent);
        fill_3164(&mut cur, Some(pri), ts, ev);
        true
    } else {
        let Some(ts) = read_3164_ts(&mut cur, ctx) else {
            return false;
        };
        fill_3164(&mut cur, None, ts, ev);
        true
    }
}

/// `<N>` with N in 0..=191, 1 to 3 digits.
fn read_pri(cur: &mut Cursor<'_>) -> Option<u8> {
    let mut k = *cur;
    k.eat(b'<').then_some(())?;
    let start = k.pos();
    let v = k.uint()?;
    if k.pos() - start > 3 || v > 191 || !k.eat(b'>') {
        return None;
    }
    *cur = k;
    Some(v as u8)
}

fn apply_pri(pri: u8, ev: &mut Event) {
    ev.syslog_facility = Some(pri >> 3);
    ev.syslog_severity = Some(pri & 7);
    ev.level = Some(SEVERITY_LEVELS[usize::from(pri & 7)].to_string());
}

/// The BSD timestamp `Mmm dd hh:mm:ss` (day may be space-padded, optional `.fff` and an
/// optional year before the time), or an ISO timestamp. `None` when neither shape is there.
fn read_3164_ts(cur: &mut Cursor<'_>, ctx: &ParseContext) -> Option<TsField> {
    let mut k = *cur;
    if k.peek().is_some_and(|b| b.is_ascii_digit()) {
        let ts = read_iso(&mut k)?;
        *cur = k;
        return Some(ts.map_or(TsField::Bad, TsField::Ok));
    }
    let month = month_from_abbr(k.bytes().get(k.pos()..k.pos() + 3)?)?;
    k.advance(3);
    if k.skip_spaces() == 0 {
        return None;
    }
    let mut c = Civil {
        month,
        day: k.digits_1_2()?,
        ..Civil::default()
    };
    k.eat(b' ').then_some(())?;
    let mut year = None;
    if k.peek_at(4) == Some(b' ') {
        year = Some(i64::from(k.digits(4)?));
        k.advance(1);
    }
    read_hms(&mut k, &mut c)?;
    if !(k.is_empty() || k.peek() == Some(b' ')) {
        return None;
    }
    *cur = k;
    // No zone in the line: the source's (files: `files.timezone`; UTC otherwise).
    c.offset_secs = ctx.utc_offset_secs;
    let ts = match year {
        Some(y) => Civil { year: y, ..c }.to_timestamp(),
        None => infer_year(c, ctx.now),
    };
    Some(ts.map_or(TsField::Bad, TsField::Ok))
}

/// rsyslog's file format with an RFC 3339 timestamp (the default of `/var/log/syslog` on
/// Debian 12 and later): `2024-05-01T10:00:00.123456+02:00 host tag[pid]: msg`. Only taken
/// when a `T`-separated timestamp is followed by a host token and a tag, so other lines that
/// merely start with a date fall through to the generic `timestamped` parser.
pub(crate) fn parse_iso_file(line: &str, ev: &mut Event) -> bool {
    if line.as_bytes().get(10) != Some(&b'T') {
        return false;
    }
    let mut cur = Cursor::new(line);
    let Some(ts) = read_iso(&mut cur) else {
        return false;
    };
    if cur.peek() != Some(b' ') {
        return false;
    }
    cur.skip_spaces();
    let mut probe = cur;
    let host = probe.token();
    if host.is_empty()
        || host.ends_with(':')
        || host.contains('[')
        || super::level::normalize(host.trim_matches(['[', ']'])).is_some()
    {
        return false;
    }
    probe.skip_spaces();
    if split_tag(probe.rest()).0.is_none() {
        return false;
    }
    fill_3164(&mut cur, None, ts.map_or(TsField::Bad, TsField::Ok), ev);
    true
}

/// After the timestamp: `HOSTNAME TAG[PID]: MSG`, each part optional.
fn fill_3164(cur: &mut Cursor<'_>, pri: Option<u8>, ts: TsField, ev: &mut Event) {
    cur.skip_spaces();
    let mut host = None;
    if ts != TsField::Absent {
        let save = *cur;
        let tok = cur.token();
        if tok.ends_with(':') || tok.contains('[') || cur.is_empty() {
            *cur = save; // no hostname: this is the tag (or the message)
        } else {
            host = present(tok);
            cur.skip_spaces();
        }
    }
    let (name, pid, msg) = split_tag(cur.rest());
    if let Some(p) = pri {
        apply_pri(p, ev);
    }
    apply_ts(ev, ts);
    ev.host = host;
    if let Some(n) = name {
        ev.process_name = Some(n.to_string());
        ev.service = Some(n.to_string());
    }
    ev.pid = pid;
    ev.message = msg.to_string();
    ev.dataset = Some("syslog".to_string());
}

/// Splits `TAG[PID]: MSG` / `TAG: MSG`. The tag is at most 48 bytes and may hold one space
/// only in the shapes seen in real logs (`syslogd 1.4.1:`, `-- root[2421]:`), so a message
/// without a tag such as `Connection closed: by peer` is not split; an application's name of
/// up to three capitalised words is taken before `[PID]:` (macOS: `Microsoft Word[14463]:`).
pub(crate) fn split_tag(rest: &str) -> (Option<&str>, Option<u32>, &str) {
    let b = rest.as_bytes();
    let mut space_at = None;
    let mut spaces = 0;
    for i in 0..b.len().min(48) {
        match b[i] {
            b'[' if i > 0 => {
                let name = &rest[..i];
                let inner_end = b.len().min(i + 24);
                let Some(close) = memchr::memchr(b']', &b[i + 1..inner_end]) else {
                    break;
                };
                let pid = rest.get(i + 1..i + 1 + close).and_then(parse_u32);
                let mut j = i + close + 2;
                let ok = if spaces <= 1 && tag_ok(name, space_at) {
                    true
                } else {
                    pid.is_some() && b.get(j) == Some(&b':') && app_name(name)
                };
                if !ok {
                    break;
                }
                if b.get(j) == Some(&b':') {
                    j += 1;
                }
                if b.get(j) == Some(&b' ') {
                    j += 1;
                }
                return (Some(name), pid, rest.get(j..).unwrap_or(""));
            }
            b':' if i > 0 && matches!(b.get(i + 1), None | Some(b' ')) => {
                let name = &rest[..i];
                if spaces > 1 || !tag_ok(name, space_at) {
                    break;
                }
                let j = if b.get(i + 1).is_some() { i + 2 } else { i + 1 };
                return (Some(name), None, rest.get(j..).unwrap_or(""));
            }
            b' ' => {
                if spaces == 2 || i == 0 || b[i - 1] == b' ' {
                    break;
                }
                spaces += 1;
                space_at.get_or_insert(i);
            }
            _ => {}
        }
    }
    (None, None, rest)
}

/// An application's name: words that each start with a capital letter (`Microsoft Word`,
/// `Google Chrome Helper`).
fn app_name(name: &str) -> bool {
    name.split(' ').all(|w| w.as_bytes().first().is_some_and(u8::is_ascii_uppercase) && w.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')))
}

fn tag_ok(name: &str, space_at: Option<usize>) -> bool {
    if name.starts_with('[') {
        return false;
    }
    let Some(sp) = space_at else { return true };
    let (first, second) = (&name[..sp], &name[sp + 1..]);
    !second.is_empty()
        && (second.as_bytes()[0].is_ascii_digit()
            || first.bytes().all(|c| c.is_ascii_punctuation()))
}

/// RFC 5424 after the PRI. `false` (event untouched) when there is no `VERSION SP` followed by
/// a timestamp-looking token or `-`.
fn parse_5424(cur: &mut Cursor<'_>, pri: u8, ev: &mut Event) -> bool {
    let Some(v) = cur.digits_1_2() else {
        return false;
    };
    if v == 0 || !cur.eat(b' ') {
        return false;
    }
    let ts_tok = cur.token();
    let ts = if ts_tok == "-" {
        TsField::Absent
    } else if ts_tok.len() >= 4 && ts_tok.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        let mut t = Cursor::new(ts_tok);
        match read_iso(&mut t) {
            Some(Some(ts)) if t.is_empty() => TsField::Ok(ts),
            _ => TsField::Bad,
        }
    } else {
        return false;
    };
    let mut fields: [&str; 4] = ["-"; 4]; // host, app, procid, msgid
    for f in &mut fields {
        if !cur.eat(b' ') {
            break;
        }
        *f = cur.token();
    }
    let [host, app, procid, msgid] = fields;

    apply_pri(pri, ev);
    apply_ts(ev, ts);
    ev.dataset = Some("syslog".to_string());
    ev.host = present(host);
    if let Some(a) = present(app) {
        ev.service = Some(a.clone());
        ev.process_name = Some(a);
    }
    if let Some(p) = present(procid) {
        match parse_u32(&p) {
            Some(n) => ev.pid = Some(n),
            None => {
                ev.labels.insert("log.syslog.procid".into(), p);
            }
        }
    }
    if let Some(m) = present(msgid) {
        ev.labels.insert("log.syslog.msgid".into(), m);
    }
    if cur.eat(b' ') {
        if cur.peek() == Some(b'-') && matches!(cur.peek_at(1), None | Some(b' ')) {
            cur.advance(1);
        } else if cur.peek() == Some(b'[') {
            let save = *cur;
            if !read_structured_data(cur, ev) {
                *cur = save; // malformed: keep it in the message
            }
        }
        cur.eat(b' ');
    }
    let msg = cur.rest();
    ev.message = msg.strip_prefix('\u{feff}').unwrap_or(msg).to_string();
    true
}

/// `[id name="value" ...][id2 ...]` into labels `id.name`. `false` when malformed (labels
/// already inserted stay: they were read correctly).
fn read_structured_data(cur: &mut Cursor<'_>, ev: &mut Event) -> bool {
    while cur.eat(b'[') {
        let start = cur.pos();
        while !matches!(cur.peek(), None | Some(b' ' | b']' | b'=' | b'"')) {
            cur.advance(1);
        }
        let id = cur.slice(start, cur.pos());
        if id.is_empty() {
            return false;
        }
        loop {
            if cur.eat(b']') {
                break;
            }
            if !cur.eat(b' ') {
                return false;
            }
            let name_start = cur.pos();
            while !matches!(cur.peek(), None | Some(b' ' | b']' | b'=' | b'"')) {
                cur.advance(1);
            }
            let name = cur.slice(name_start, cur.pos());
            if name.is_empty() || !cur.eat(b'=') || !cur.eat(b'"') {
                return false;
            }
            let Some(value) = read_param_value(cur) else {
                return false;
            };
            ev.labels.insert(format!("{id}.{name}"), value);
        }
    }
    true
}

/// A quoted PARAM-VALUE after the opening quote; `\"`, `\\` and `\]` are unescaped.
fn read_param_value(cur: &mut Cursor<'_>) -> Option<String> {
    let b = cur.bytes();
    let start = cur.pos();
    let mut i = start;
    let mut out: Option<String> = None;
    let mut seg = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let tail = cur.slice(seg, i);
                let v = match out {
                    Some(mut s) => {
                        s.push_str(tail);
                        s
                    }
                    None => tail.to_string(),
                };
                cur.advance(i + 1 - start);
                return Some(v);
            }
            b'\\' if matches!(b.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                let s = out.get_or_insert_with(String::new);
                s.push_str(cur.slice(seg, i));
                seg = i + 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests;

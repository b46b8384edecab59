//! Apache / Nginx access logs, common and combined formats (`event.dataset` `apache.access`
//! for both: the line does not tell them apart).
//!
//! `1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://r/" "UA"`
//!
//! `message` is the request line (`GET /a.gif HTTP/1.0`); the parts go to `source.ip`
//! (`labels.source.address` when the client is a name), `user.name` and the labels
//! `http.request.method`, `url.original`, `http.version`, `http.response.status_code`,
//! `http.response.body.bytes`, `http.request.referrer`, `user_agent.original`.

use std::net::IpAddr;

use loglynx_core::Event;

use super::record::{apply_ts, present};
use super::scan::Cursor;
use super::timestamp::{month_from_abbr, read_hms, Civil, TsField};

/// `false` (event untouched) when the line is not an access log line.
pub(crate) fn parse(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let client = cur.token();
    if client.is_empty() || !cur.eat(b' ') {
        return false;
    }
    let _ident = cur.token();
    if !cur.eat(b' ') {
        return false;
    }
    let user = cur.token();
    if !cur.eat(b' ') || !cur.eat(b'[') {
        return false;
    }
    let Some(time_text) = cur.until(b']') else {
        return false;
    };
    if time_text.len() > 40 || !cur.eat(b' ') || !cur.eat(b'"') {
        return false;
    }
    let Some(request) = read_quoted_raw(&mut cur) else {
        return false;
    };
    if !cur.eat(b' ') {
        return false;
    }
    let Some(status) = cur.digits(3) else {
        return false;
    };
    if !matches!(cur.peek(), None | Some(b' ')) {
        return false;
    }
    cur.eat(b' ');
    let bytes = cur.token();
    if !(bytes == "-" || (!bytes.is_empty() && bytes.bytes().all(|b| b.is_ascii_digit()))) {
        return false;
    }
    let mut referrer = None;
    let mut agent = None;
    if cur.eat_str(" \"") {
        referrer = read_quoted_raw(&mut cur);
        if referrer.is_some() && cur.eat_str(" \"") {
            agent = read_quoted_raw(&mut cur);
        }
    }

    apply_ts(
        ev,
        read_clf_time(time_text).map_or(TsField::Bad, TsField::Ok),
    );
    ev.dataset = Some("apache.access".to_string());
    if client.parse::<IpAddr>().is_ok() {
        ev.source_ip = Some(client.to_string());
    } else if let Some(c) = present(client) {
        ev.labels.insert("source.address".into(), c);
    }
    ev.user_name = present(user);
    let mut parts = request.splitn(3, ' ');
    if let (Some(m), Some(u)) = (parts.next(), parts.next()) {
        if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) {
            ev.labels
                .insert("http.request.method".into(), m.to_string());
            ev.labels.insert("url.original".into(), u.to_string());
            if let Some(v) = parts.next().and_then(|p| p.strip_prefix("HTTP/")) {
                ev.labels.insert("http.version".into(), v.to_string());
            }
        }
    }
    ev.labels
        .insert("http.response.status_code".into(), status.to_string());
    if bytes != "-" {
        ev.labels
            .insert("http.response.body.bytes".into(), bytes.to_string());
    }
    if let Some(r) = referrer.and_then(present) {
        ev.labels.insert("http.request.referrer".into(), r);
    }
    if let Some(a) = agent.and_then(present) {
        ev.labels.insert("user_agent.original".into(), a);
    }
    ev.message = request.to_string();
    true
}

/// A quoted field after its opening quote, escapes left as written (`\"` does not end it).
fn read_quoted_raw<'a>(cur: &mut Cursor<'a>) -> Option<&'a str> {
    let b = cur.bytes();
    let start = cur.pos();
    let mut i = start;
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        cur.advance(i + 1 - start);
        return Some(cur.slice(start, i));
    }
}

/// `10/Oct/2000:13:55:36 -0700` (offset optional, then UTC).
fn read_clf_time(s: &str) -> Option<loglynx_core::Timestamp> {
    let mut cur = Cursor::new(s);
    let mut c = Civil {
        day: cur.digits(2)?,
        ..Civil::default()
    };
    cur.eat(b'/').then_some(())?;
    c.month = month_from_abbr(cur.bytes().get(3..6)?)?;
    cur.advance(3);
    cur.eat(b'/').then_some(())?;
    c.year = i64::from(cur.digits(4)?);
    cur.eat(b':').then_some(())?;
    read_hms(&mut cur, &mut c)?;
    if cur.eat(b' ') {
        let sign = cur.peek()?;
        cur.advance(1);
        let hh = cur.digits(2)?;
        let mm = cur.digits(2)?;
        let secs = (hh * 3600 + mm * 60) as i32;
        c.offset_secs = match sign {
            b'+' => secs,
            b'-' => -secs,
            _ => return None,
        };
    }
    if !cur.is_empty() {
        return None;
    }
    c.to_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;

    #[test]
    fn clf_time_with_offset() {
        assert_eq!(
            read_clf_time("10/Oct/2000:13:55:36 -0700"),
            Timestamp::parse_rfc3339("2000-10-10T20:55:36Z")
        );
        assert_eq!(
            read_clf_time("10/Oct/2000:13:55:36"),
            Timestamp::parse_rfc3339("2000-10-10T13:55:36Z")
        );
        assert_eq!(read_clf_time("10/Foo/2000:13:55:36 -0700"), None);
    }
}

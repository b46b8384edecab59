//! Apache httpd error log (`event.dataset` `apache.error`), 2.2 and 2.4 forms:
//!
//! `[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties`
//! `[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 5678] [client 1.2.3.4:80] msg`
//!
//! The time has no offset and is taken as UTC. `[module:level]` gives `log.level` and label
//! `apache.module`; `[pid N...]` gives `process.pid` and is removed from the message;
//! `[client ADDR]` gives `source.ip` and stays in the message (it is part of what happened).

use std::net::IpAddr;

use loglynx_core::Event;

use super::level;
use super::record::apply_ts;
use super::scan::{parse_u32, Cursor};
use super::timestamp::{month_from_abbr, read_hms, Civil, TsField};

/// `false` (event untouched) when the line is not an Apache error log line.
pub(crate) fn parse(line: &str, ev: &mut Event) -> bool {
    let mut cur = Cursor::new(line);
    let Some(ts) = read_time(&mut cur) else {
        return false;
    };
    if !cur.eat_str(" [") {
        return false;
    }
    let Some(level_tok) = cur.until(b']') else {
        return false;
    };
    if level_tok.len() > 40 || level_tok.contains(' ') {
        return false;
    }
    cur.eat(b' ');
    let (module, lvl) = match level_tok.rsplit_once(':') {
        Some((m, l)) => (Some(m), l),
        None => (None, level_tok),
    };
    let mut pid = None;
    if cur.eat_str("[pid ") {
        let save = cur;
        let inner = cur.until(b']');
        match inner {
            Some(inner) if inner.len() < 64 => {
                pid = parse_u32(inner.split(':').next().unwrap_or(""));
                cur.eat(b' ');
            }
            _ => cur = save,
        }
    }
    let msg = cur.rest();

    apply_ts(ev, ts);
    ev.dataset = Some("apache.error".to_string());
    ev.level = level::from_field(lvl);
    if let Some(m) = module.filter(|m| !m.is_empty()) {
        ev.labels.insert("apache.module".into(), m.to_string());
    }
    ev.pid = pid;
    if let Some(addr) = msg
        .strip_prefix("[client ")
        .and_then(|r| r.split(']').next())
    {
        ev.source_ip = client_ip(addr);
    }
    ev.message = msg.to_string();
    true
}

/// `[Www Mmm dd hh:mm:ss[.ffffff] yyyy]`; `None` when the shape is not there.
fn read_time(cur: &mut Cursor<'_>) -> Option<TsField> {
    let mut k = *cur;
    k.eat(b'[').then_some(())?;
    let b = k.bytes();
    let p = k.pos();
    if !b.get(p..p + 3)?.iter().all(u8::is_ascii_alphabetic) || b.get(p + 3) != Some(&b' ') {
        return None;
    }
    k.advance(4);
    let month = month_from_abbr(k.bytes().get(p + 4..p + 7)?)?;
    k.advance(3);
    k.skip_spaces();
    let mut c = Civil {
        month,
        day: k.digits_1_2()?,
        ..Civil::default()
    };
    k.eat(b' ').then_some(())?;
    read_hms(&mut k, &mut c)?;
    k.eat(b' ').then_some(())?;
    c.year = i64::from(k.digits(4)?);
    k.eat(b']').then_some(())?;
    *cur = k;
    Some(c.to_timestamp().map_or(TsField::Bad, TsField::Ok))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`-less IPv6 with a port: the address part.
fn client_ip(addr: &str) -> Option<String> {
    if addr.parse::<IpAddr>().is_ok() {
        return Some(addr.to_string());
    }
    let (host, port) = addr.rsplit_once(':')?;
    (port.bytes().all(|b| b.is_ascii_digit()) && host.parse::<IpAddr>().is_ok())
        .then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses() {
        assert_eq!(client_ip("1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(client_ip("1.2.3.4:80").as_deref(), Some("1.2.3.4"));
        assert_eq!(client_ip("::1").as_deref(), Some("::1"));
        assert_eq!(client_ip("example.org"), None);
    }
}

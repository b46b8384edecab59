//! Messages that carry an application's own layout behind a header that had the time: a syslog
//! message (`INFO [main] c.e.Foo: msg` after `<14>Jun  1 10:00:00 host app[12]: `) or a JSON
//! document's `message` (an NDJSON or `_bulk` stream). Each such stream learns its structure
//! like a file ([`super::infer_message`]), under its own key:
//!
//! - syslog: the host the sender names (`host.name`, else the peer address), the program
//!   (`process.name`) and the peer's IP address. The named host alone is what the sender
//!   claims: keyed on it only, anyone who can reach the syslog port could make another host's
//!   program learn again; with the peer's address beside it, a relay's senders still learn
//!   one structure each, and a sender's reconnections (a new source port) keep theirs;
//! - HTTP JSON documents: the endpoint, the records' host and the stream's name (the `_bulk`
//!   index, else `event.dataset`, else `service.name`).
//!
//! A learned structure fills what the message's header holds: `log.level` (for syslog it wins
//! over the severity, which many senders set to one value; for JSON the document's own level
//! wins), `log.logger`, `process.thread.*`, `process.pid` when the event has none, labels
//! `log.structure`, and the message after the header. The message's own time becomes
//! `@timestamp` when the event had none of its own (a JSON document without a time field, a
//! syslog header without one), or when it is the event's time more precisely: the event's is a
//! whole second (RFC 3164 has no fraction) and the message's has a fraction within that same
//! second. Otherwise the header's time (with its zone) is kept: an application's time without
//! a zone may be hours off.

use loglynx_core::{Event, RawRecord, SourceKind, Timestamp};

use crate::parse::{header_time_in_range, Layout, ParseContext, Structure, TimeReading};

/// The parts of the learner key of the stream `ev` belongs to (see [`key`]).
pub(crate) type KeyParts<'a> = [&'a str; 4];

/// The learner key of a stream.
pub(crate) fn key(p: &KeyParts<'_>) -> String {
    p.join("|")
}

/// The stream `ev` belongs to; `None` when its message is not learned from (other sources,
/// unparsed records, a JSON document without `message`). `ip` is [`peer_ip`] of a syslog
/// record's peer (the caller reads it once per source: records of one connection share it).
pub(crate) fn stream<'a>(rec: &'a RawRecord, ev: &'a Event, ip: &'a str) -> Option<KeyParts<'a>> {
    if ev.flags.unparsed || ev.flags.malformed || ev.message.is_empty() {
        return None;
    }
    match rec.source.as_ref() {
        SourceKind::Syslog { .. } if ev.dataset.as_deref() == Some("syslog") => {
            let sender = ev.host.as_deref().unwrap_or(ip);
            Some(["syslog", sender, ev.process_name.as_deref().unwrap_or(""), ip])
        }
        SourceKind::Http { endpoint } if rec.hint == loglynx_core::FormatHint::Json => {
            // A document without `message` has the whole line as its message.
            if ev.message.starts_with('{') {
                return None;
            }
            let stream = ev
                .labels
                .get("index")
                .or(ev.dataset.as_ref().filter(|d| *d != "json"))
                .or(ev.service.as_ref())
                .map_or("", String::as_str);
            Some(["http", endpoint, rec.host.as_deref().unwrap_or(""), stream])
        }
        _ => None,
    }
}

/// The IP address of a peer written `ip:port` or `[ip]:port`; the text itself for another shape.
pub(crate) fn peer_ip(peer: &str) -> &str {
    // Bytes, not a `char` pattern: this runs once per run of a connection's records.
    let b = peer.as_bytes();
    let Some(colon) = memchr::memrchr(b':', b) else {
        return peer;
    };
    let port = &b[colon + 1..];
    if port.is_empty() || !port.iter().all(u8::is_ascii_digit) {
        return peer;
    }
    let ip = &peer[..colon];
    match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        Some(v6) => v6,
        // `::1` without brackets: the last group is no port.
        None if memchr::memchr(b':', ip.as_bytes()).is_some() => peer,
        None => ip,
    }
}

/// `precise` is `coarse` read more precisely: `coarse` a whole second, `precise` within it with
/// a fraction.
fn more_precise(coarse: Timestamp, precise: Timestamp) -> bool {
    const SEC: i64 = 1_000_000_000;
    coarse.0 % SEC == 0 && precise.0 % SEC != 0 && precise.0.div_euclid(SEC) * SEC == coarse.0
}

/// Reads `ev.message` with `layout`; `false` (event untouched) when the message does not fit.
pub(crate) fn apply(layout: &Layout, rec: &RawRecord, ev: &mut Event, ctx: &ParseContext) -> bool {
    let Some(s) = layout.structure() else {
        return false;
    };
    let line = ev.message.split('\n').next().unwrap_or("");
    if s.columns.is_some() {
        return apply_read(s, rec, ev, ctx);
    }
    let mut got = Event { timestamp: ev.timestamp, ..Event::default() };
    if !s.apply(line, &mut got, ctx) {
        return false;
    }
    let first_len = line.len();
    let syslog = matches!(rec.source.as_ref(), SourceKind::Syslog { .. });
    if got.level.is_some() && (syslog || ev.level.is_none()) {
        ev.level = got.level;
    }
    if ev.pid.is_none() {
        ev.pid = got.pid;
    }
    let untimed = ev.timestamp == rec.received && got.timestamp != rec.received;
    if (untimed || more_precise(ev.timestamp, got.timestamp)) && !got.flags.bad_timestamp {
        ev.timestamp = got.timestamp;
        ev.flags.ambiguous_timestamp |= got.flags.ambiguous_timestamp;
    }
    for (k, v) in got.labels {
        ev.labels.entry(k).or_insert(v);
    }
    // A continuation after the first line stays with the message.
    let mut msg = got.message;
    msg.push_str(ev.message.get(first_len..).unwrap_or(""));
    ev.message = msg;
    true
}

/// Reads `ev.message` with a configured layout (`[[syslog.layouts]]`, `[[http.layouts]]`);
/// `false` (event untouched) when the message does not fit. What the layout reads wins over the
/// header: the user chose it. A time it reads outside the plausible range keeps the header's.
/// The event keeps its dataset and gets label `log.layout: configured`.
pub(crate) fn apply_configured(layout: &Layout, ev: &mut Event, ctx: &ParseContext) -> bool {
    let line = ev.message.split('\n').next().unwrap_or("");
    let first_len = line.len();
    let mut got = Event { timestamp: ev.timestamp, ..Event::default() };
    if !layout.apply(line, &mut got, ctx) {
        return false;
    }
    if !got.flags.bad_timestamp {
        ev.timestamp = got.timestamp;
    }
    if got.level.is_some() {
        ev.level = got.level;
    }
    if got.pid.is_some() {
        ev.pid = got.pid;
    }
    if got.host.is_some() {
        ev.host = got.host;
    }
    if got.process_name.is_some() {
        ev.process_name = got.process_name;
        ev.service = got.service;
    }
    ev.labels.extend(got.labels);
    ev.labels.insert("log.layout".to_string(), "configured".to_string());
    // A continuation after the first line stays with the message.
    let mut msg = got.message;
    msg.push_str(ev.message.get(first_len..).unwrap_or(""));
    ev.message = msg;
    true
}

/// [`apply`] for a structure with columns, straight from what it reads into `ev` (no event in
/// between; the same result as reading into one and taking what `apply` takes from it).
fn apply_read(s: &Structure, rec: &RawRecord, ev: &mut Event, ctx: &ParseContext) -> bool {
    let line = ev.message.split('\n').next().unwrap_or("");
    let first_len = line.len();
    let Some(r) = s.read(line, ctx) else {
        return false;
    };
    let syslog = matches!(rec.source.as_ref(), SourceKind::Syslog { .. });
    if let Some(l) = r.h.level {
        if syslog || ev.level.is_none() {
            ev.level = Some(l.to_string());
        }
    }
    if ev.pid.is_none() {
        ev.pid = r.h.pid;
    }
    // The time the structure gives: none of its own keeps the event's; one out of range is no
    // time.
    let (got, bad) = match (s.time == TimeReading::Absent, r.ts) {
        (true, _) => (ev.timestamp, false),
        (false, Some(t)) if header_time_in_range(t, ctx) => (t, false),
        (false, _) => (ev.timestamp, true),
    };
    let untimed = ev.timestamp == rec.received && got != rec.received;
    if (untimed || more_precise(ev.timestamp, got)) && !bad {
        ev.timestamp = got;
        ev.flags.ambiguous_timestamp |= s.ambiguous_date;
    }
    let mut put = |k: &str, v: &str| {
        if !ev.labels.contains_key(k) {
            ev.labels.insert(k.to_string(), v.to_string());
        }
    };
    if let Some(t) = r.h.tid {
        put("process.thread.id", &t.to_string());
    }
    if let Some(t) = r.h.thread {
        put("process.thread.name", t);
    }
    if let Some(l) = r.h.logger {
        put("log.logger", l);
    }
    for (n, v) in &r.others {
        put(&format!("log.header.{n}"), v);
    }
    for (k, v) in s.labels().into_iter().flatten() {
        put(k, v);
    }
    // A continuation after the first line stays with the message.
    let rest = ev.message.get(first_len..).unwrap_or("");
    let mut msg = String::with_capacity(r.msg.len() + rest.len());
    msg.push_str(r.msg);
    msg.push_str(rest);
    ev.message = msg;
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};

    use crate::parse::ParseContext;
    use crate::FileRules;

    const NOW: Timestamp = Timestamp(1_717_200_000_000_000_000);
    const LEVELS: [(&str, &str); 3] = [("INFO", "info"), ("WARN", "warn"), ("ERROR", "error")];

    fn ctx() -> ParseContext {
        ParseContext { now: NOW, keep_original: false, utc_offset_secs: 0 }
    }

    fn recs(source: SourceKind, hint: FormatHint, bodies: &[String]) -> Vec<RawRecord> {
        let source = Arc::new(source);
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| RawRecord {
                body: b.clone().into_bytes(),
                truncated: false,
                hint,
                source: source.clone(),
                host: Some("receiver".into()),
                received: NOW,
                id: format!("r{i}"),
            })
            .collect()
    }

    const PEER: &str = "10.0.0.7:5514";

    fn syslog() -> SourceKind {
        SourceKind::Syslog { transport: "tcp".into(), peer: PEER.into() }
    }

    fn http() -> SourceKind {
        SourceKind::Http { endpoint: "ingest".into() }
    }

    #[test]
    fn syslog_programs_and_json_streams_learn_the_layout_of_their_messages() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("parse/learned.json");
        let rules = FileRules::default().with_learned_sources(3).with_state_file(state.clone());
        let app = |i: usize| format!("{} [worker-{}] com.acme.Billing: invoice {i} sent", LEVELS[i % 3].0, i % 4);
        let bodies: Vec<String> = (0..10).map(|i| format!("<13>1 2024-05-31T10:00:0{i}Z web7 billing 9 - - {}", app(i))).collect();
        let evs = rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &bodies), &ctx());
        // The batch that learned is read again with what it learned: every message.
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e.level.as_deref(), Some(LEVELS[i % 3].1), "{e:?}");
            assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("com.acme.Billing"));
            assert_eq!(e.labels.get("process.thread.name"), Some(&format!("worker-{}", i % 4)));
            assert_eq!(e.message, format!("invoice {i} sent"));
            // The syslog header's time is kept, its program and host too.
            assert_eq!(e.timestamp, Timestamp((1_717_149_600 + i as i64) * 1_000_000_000));
            assert_eq!((e.host.as_deref(), e.process_name.as_deref()), (Some("web7"), Some("billing")));
        }
        let s = rules.learned_syslog_structure(PEER, "web7", "billing").unwrap();
        assert_eq!(s.describe(), "level thread logger message");
        // A message that does not fit stays whole; its severity stays the level.
        let odd = vec!["<11>1 2024-05-31T10:00:09Z web7 billing 9 - - plain words here".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &odd), &ctx())[0];
        assert_eq!((e.message.as_str(), e.level.as_deref()), ("plain words here", Some("error")));
        assert!(!e.labels.contains_key("log.structure"));

        // Another program of the same sender with plain messages learns nothing.
        let plain: Vec<String> =
            (0..10).map(|i| format!("<38>1 2024-05-31T10:00:0{i}Z web7 sshd 10 - - Accepted password for root port {i}")).collect();
        for e in rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &plain), &ctx()) {
            assert!(e.message.starts_with("Accepted password for root port"), "{e:?}");
            assert!(!e.labels.contains_key("log.structure"));
        }
        assert!(rules.learned_syslog_structure(PEER, "web7", "sshd").is_none());

        // A JSON stream whose documents have no time of their own take the message's; a
        // document's own level wins over the message's.
        let docs: Vec<String> = (0..10)
            .map(|i| {
                let level = if i == 9 { r#","log.level":"error""# } else { "" };
                format!(
                    r#"{{"event.dataset":"db","message":"2024-05-31 10:00:0{i},250 WARN  [main] com.acme.Db - slow query {i}"{level}}}"#
                )
            })
            .collect();
        let evs = rules.parse_batch(&recs(http(), FormatHint::Json, &docs), &ctx());
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e.message, format!("slow query {i}"), "{e:?}");
            assert_eq!(e.timestamp, Timestamp((1_717_149_600 + i as i64) * 1_000_000_000 + 250_000_000));
            assert_eq!(e.level.as_deref(), Some(if i == 9 { "error" } else { "warn" }));
            assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("com.acme.Db"));
        }

        // What the state file lists (`GET /api/v1/sources/learned`), the most recent first.
        let listed: Vec<(&str, String, String, String, String)> = crate::learned_sources(&state)
            .into_iter()
            .map(|l| (l.kind, l.host, l.source, l.detail, l.structure))
            .collect();
        assert_eq!(
            listed,
            [
                ("http_json", "receiver".into(), "ingest".into(), "db".into(), "time level thread logger message".into()),
                ("syslog", "web7".into(), "billing".into(), "10.0.0.7".into(), "level thread logger message".into()),
            ]
        );
        // What was learned survives a restart: the state file holds the syslog program's
        // structure, and a new process reads its messages at once.
        let again = FileRules::default().with_state_file(state);
        assert_eq!(again.learned_syslog_structure(PEER, "web7", "billing"), Some(s));
        let one = vec![format!("<13>1 2024-05-31T10:00:00Z web7 billing 9 - - {}", app(2))];
        let e = &again.parse_batch(&recs(syslog(), FormatHint::Syslog, &one), &ctx())[0];
        assert_eq!((e.level.as_deref(), e.message.as_str()), (Some("error"), "invoice 2 sent"));

        // Bounded: three sources at most, the least recently used is forgotten.
        for p in ["a", "b", "c"] {
            let bodies: Vec<String> =
                (0..10).map(|i| format!("<13>1 2024-05-31T10:00:0{i}Z web9 {p} 9 - - {}", app(i))).collect();
            rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &bodies), &ctx());
        }
        assert!(rules.learned_syslog_structure(PEER, "web7", "billing").is_none());
        assert!(rules.learned_syslog_structure(PEER, "web9", "c").is_some());
    }

    #[test]
    fn a_syslog_stream_is_the_named_host_from_its_peer_and_takes_the_finer_time_of_its_message() {
        let rules = FileRules::default();
        let app = |i: usize| format!("2024-05-31 10:00:0{i}.250 {} [main] com.acme.Api: call {i}", LEVELS[i % 3].0);
        let bodies: Vec<String> = (0..10).map(|i| format!("<14>May 31 10:00:0{i} web7 api[4]: {}", app(i))).collect();
        let evs = rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &bodies), &ctx());
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e.message, format!("call {i}"), "{e:?}");
            // RFC 3164 has whole seconds: the message's time is the same second, finer.
            assert_eq!(e.timestamp, Timestamp((1_717_149_600 + i as i64) * 1_000_000_000 + 250_000_000));
        }
        // Learned under the sender's IP, from any source port; not for the same named host
        // sent from another address.
        assert!(rules.learned_syslog_structure("10.0.0.7:40000", "web7", "api").is_some());
        assert!(rules.learned_syslog_structure("10.0.0.7", "web7", "api").is_some());
        assert!(rules.learned_syslog_structure("10.9.9.9:5514", "web7", "api").is_none());
        let spoofed = SourceKind::Syslog { transport: "udp".into(), peer: "10.9.9.9:5514".into() };
        let e = &rules.parse_batch(&recs(spoofed, FormatHint::Syslog, &bodies[..1]), &ctx())[0];
        assert!(!e.labels.contains_key("log.structure"), "{e:?}");
        // A message time in another second (a zone the app did not write, a clock apart) does
        // not replace the header's.
        let off = vec!["<14>May 31 10:00:05 web7 api[4]: 2024-05-31 08:00:05.250 INFO [main] com.acme.Api: call 5".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &off), &ctx())[0];
        assert_eq!((e.message.as_str(), e.timestamp), ("call 5", Timestamp((1_717_149_600 + 5) * 1_000_000_000)));
        assert_eq!(super::peer_ip("[2001:db8::1]:514"), "2001:db8::1");
        assert_eq!(super::peer_ip("10.0.0.7:514"), "10.0.0.7");
        assert_eq!(super::peer_ip("2001:db8::1"), "2001:db8::1");
    }

    /// Rules with one `[[syslog.layouts]]` and one `[[http.layouts]]` section's entries.
    fn configured(toml: &str) -> FileRules {
        let c: loglynx_config::Config = toml::from_str(toml).unwrap();
        c.validate().unwrap();
        FileRules::from_config(&c)
    }

    const MAY31_10H: i64 = 1_717_149_600;
    const SEC: i64 = 1_000_000_000;

    #[test]
    fn a_syslog_layout_gives_a_sender_program_its_zone_and_reads_its_messages() {
        let rules = configured(
            r#"
[[syslog.layouts]]
hosts = ["legacy*"]
programs = ["billing"]
timezone = "America/New_York"
pattern = '^(?P<timestamp>[^|]+)\|(?P<level>[^|]*)\|(?P<thread>[^|]*)\|(?P<logger>[^|]*)\|(?P<message>.*)$'
timestamp_format = "%d.%m.%Y %H:%M:%S%.3f"

[[syslog.layouts]]
hosts = ["legacy*"]
timezone = "-05:00"
"#,
        );
        let bodies: Vec<String> = (0..10)
            .map(|i| format!("<14>May 31 10:00:0{i} legacy1 billing[4]: 31.05.2024 10:00:0{i}.250|{}|pool-{i}|com.acme.Pay|card {i} declined", LEVELS[i % 3].0))
            .collect();
        let evs = rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &bodies), &ctx());
        for (i, e) in evs.iter().enumerate() {
            assert_eq!(e.message, format!("card {i} declined"), "{e:?}");
            assert_eq!(e.level.as_deref(), Some(LEVELS[i % 3].1));
            assert_eq!(e.labels.get("log.logger").map(String::as_str), Some("com.acme.Pay"));
            assert_eq!(e.labels.get("process.thread.name"), Some(&format!("pool-{i}")));
            assert_eq!(e.labels.get("log.layout").map(String::as_str), Some("configured"));
            assert_eq!(e.dataset.as_deref(), Some("syslog"));
            // The message's time, in New York (summer: UTC-4), with its fraction.
            assert_eq!(e.timestamp, Timestamp((MAY31_10H + 4 * 3600 + i as i64) * SEC + 250_000_000));
        }
        // Configured, not learned.
        assert!(rules.learned_syslog_structure(PEER, "legacy1", "billing").is_none());
        // A message the pattern does not fit keeps the header's reading, in the zone.
        let odd = vec!["<11>May 31 10:00:09 legacy1 billing[4]: plain words".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &odd), &ctx())[0];
        assert_eq!((e.message.as_str(), e.level.as_deref()), ("plain words", Some("error")));
        assert_eq!(e.timestamp, Timestamp((MAY31_10H + 4 * 3600 + 9) * SEC));
        assert!(!e.labels.contains_key("log.layout"));
        // Another program of the host: the second entry, a zone only.
        let cron = vec!["<78>May 31 10:00:00 legacy2 cron[9]: (root) CMD (run-parts)".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &cron), &ctx())[0];
        assert_eq!(e.timestamp, Timestamp((MAY31_10H + 5 * 3600) * SEC));
        assert_eq!(e.message, "(root) CMD (run-parts)");
        // Another host: UTC, as without the entries.
        let other = vec!["<14>May 31 10:00:00 web7 billing[4]: 31.05.2024 10:00:00.250|INFO|p|c|x".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &other), &ctx())[0];
        assert_eq!(e.timestamp, Timestamp(MAY31_10H * SEC));
        assert!(!e.labels.contains_key("log.layout"));
        // An RFC 5424 header's own offset is kept: the zone is for times without one.
        let r5424 = vec!["<14>1 2024-05-31T10:00:00Z legacy1 billing 4 - - no layout here".to_string()];
        let e = &rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &r5424), &ctx())[0];
        assert_eq!(e.timestamp, Timestamp(MAY31_10H * SEC));
    }

    #[test]
    fn an_http_layout_reads_the_text_lines_and_documents_of_its_streams() {
        let rules = configured(
            r#"
[[http.layouts]]
streams = ["pay*"]
timezone = "+02:00"
timestamp_format = "%d.%m.%Y %H:%M:%S"
"#,
        );
        // Text lines sent with ?stream=payments: read by the layout, in its zone.
        let lines: Vec<String> = (0..3).map(|i| format!("31.05.2024 10:00:0{i} WARN [main] c.a.Pay: retry {i}")).collect();
        let text = SourceKind::Http { endpoint: "ingest/payments".into() };
        for (i, e) in rules.parse_batch(&recs(text, FormatHint::Auto, &lines), &ctx()).iter().enumerate() {
            assert_eq!(e.dataset.as_deref(), Some("custom"), "{e:?}");
            assert_eq!(e.timestamp, Timestamp((MAY31_10H - 2 * 3600 + i as i64) * SEC));
            assert_eq!((e.level.as_deref(), e.message.clone()), (Some("warn"), format!("retry {i}")));
        }
        // The same line without a stream: not the entry's (detection; one day-first line is
        // not enough to learn from).
        let e = &rules.parse_batch(&recs(http(), FormatHint::Auto, &lines[..1]), &ctx())[0];
        assert_ne!(e.dataset.as_deref(), Some("custom"), "{e:?}");
        assert_ne!(e.timestamp, Timestamp(MAY31_10H * SEC - 2 * 3600 * SEC));
        // JSON documents of a `_bulk` index the entry names: their message read by the layout.
        let docs = vec![r#"{"message":"31.05.2024 10:00:05 ERROR [io] c.a.Pay: timeout","index":"payments"}"#.to_string()];
        let bulk = SourceKind::Http { endpoint: "bulk".into() };
        let mut r = recs(bulk, FormatHint::Json, &docs);
        r[0].body = br#"{"message":"31.05.2024 10:00:05 ERROR [io] c.a.Pay: timeout","labels":{"index":"payments"}}"#.to_vec();
        let e = &rules.parse_batch(&r, &ctx())[0];
        assert_eq!(e.message, "timeout", "{e:?}");
        assert_eq!(e.level.as_deref(), Some("error"));
        assert_eq!(e.timestamp, Timestamp((MAY31_10H - 2 * 3600 + 5) * SEC));
        assert_eq!(e.labels.get("log.layout").map(String::as_str), Some("configured"));
    }
}

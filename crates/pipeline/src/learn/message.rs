//! Messages that carry an application's own layout behind a header that had the time: a syslog
//! message (`INFO [main] c.e.Foo: msg` after `<14>Jun  1 10:00:00 host app[12]: `) or a JSON
//! document's `message` (an NDJSON or `_bulk` stream). Each such stream learns its structure
//! like a file ([`super::infer_message`]), under its own key:
//!
//! - syslog: the sender (`host.name`, else the peer) and the program (`process.name`);
//! - HTTP JSON documents: the endpoint, the records' host and the stream's name (the `_bulk`
//!   index, else `event.dataset`, else `service.name`).
//!
//! A learned structure fills what the message's header holds: `log.level` (for syslog it wins
//! over the severity, which many senders set to one value; for JSON the document's own level
//! wins), `log.logger`, `process.thread.*`, `process.pid` when the event has none, labels
//! `log.structure`, and the message after the header. The message's own time becomes
//! `@timestamp` only when the event had none of its own (a JSON document without a time field):
//! a syslog header's time (with its zone) is kept.

use loglynx_core::{Event, RawRecord, SourceKind};

use crate::parse::{Layout, ParseContext};

/// The parts of the learner key of the stream `ev` belongs to (see [`key`]).
pub(crate) type KeyParts<'a> = [&'a str; 4];

/// The learner key of a stream.
pub(crate) fn key(p: &KeyParts<'_>) -> String {
    p.join("|")
}

/// The stream `ev` belongs to; `None` when its message is not learned from (other sources,
/// unparsed records, a JSON document without `message`).
pub(crate) fn stream<'a>(rec: &'a RawRecord, ev: &'a Event) -> Option<KeyParts<'a>> {
    if ev.flags.unparsed || ev.flags.malformed || ev.message.is_empty() {
        return None;
    }
    match rec.source.as_ref() {
        SourceKind::Syslog { peer, .. } if ev.dataset.as_deref() == Some("syslog") => {
            let sender = ev.host.as_deref().unwrap_or(peer.as_str());
            Some(["syslog", sender, ev.process_name.as_deref().unwrap_or(""), ""])
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

/// Reads `ev.message` with `layout`; `false` (event untouched) when the message does not fit.
pub(crate) fn apply(layout: &Layout, rec: &RawRecord, ev: &mut Event, ctx: &ParseContext) -> bool {
    let Some(s) = layout.structure() else {
        return false;
    };
    let line = ev.message.split('\n').next().unwrap_or("");
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
    if ev.timestamp == rec.received && got.timestamp != rec.received && !got.flags.bad_timestamp {
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

    fn syslog() -> SourceKind {
        SourceKind::Syslog { transport: "tcp".into(), peer: "10.0.0.7:5514".into() }
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
        let s = rules.learned_syslog_structure("web7", "billing").unwrap();
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
        assert!(rules.learned_syslog_structure("web7", "sshd").is_none());

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

        // What was learned survives a restart: the state file holds the syslog program's
        // structure, and a new process reads its messages at once.
        let again = FileRules::default().with_state_file(state);
        assert_eq!(again.learned_syslog_structure("web7", "billing"), Some(s));
        let one = vec![format!("<13>1 2024-05-31T10:00:00Z web7 billing 9 - - {}", app(2))];
        let e = &again.parse_batch(&recs(syslog(), FormatHint::Syslog, &one), &ctx())[0];
        assert_eq!((e.level.as_deref(), e.message.as_str()), (Some("error"), "invoice 2 sent"));

        // Bounded: three sources at most, the least recently used is forgotten.
        for p in ["a", "b", "c"] {
            let bodies: Vec<String> =
                (0..10).map(|i| format!("<13>1 2024-05-31T10:00:0{i}Z web9 {p} 9 - - {}", app(i))).collect();
            rules.parse_batch(&recs(syslog(), FormatHint::Syslog, &bodies), &ctx());
        }
        assert!(rules.learned_syslog_structure("web7", "billing").is_none());
        assert!(rules.learned_syslog_structure("web9", "c").is_some());
    }
}

//! An event read back from the store equals the event ingested, field by field: lines of
//! every parser format (parsed and decoded as the pipeline does) and arbitrary events go
//! through a tantivy index with the store's schema and its doc store, and are read back.

use std::collections::BTreeMap;
use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::{parse_record, ParseContext};
use loglynx_store::StoreSchema;
use proptest::prelude::*;
use tantivy::collector::DocSetCollector;
use tantivy::query::AllQuery;
use tantivy::Index;

/// Writes `events` into a fresh in-memory index, reads every document back (in doc id order,
/// which is insertion order in one segment) and compares with what went in.
fn assert_round_trip(events: &[Event]) {
    let schema = StoreSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
    for e in events {
        w.add_document(schema.to_document(e)).unwrap();
    }
    w.commit().unwrap();
    let searcher = index.reader().unwrap().searcher();
    let mut addrs: Vec<_> = searcher
        .search(&AllQuery, &DocSetCollector)
        .unwrap()
        .into_iter()
        .collect();
    addrs.sort();
    assert_eq!(addrs.len(), events.len());
    for (addr, want) in addrs.into_iter().zip(events) {
        // Through the time columns too, as search reads hits.
        let got = schema
            .event_at(&searcher, addr)
            .unwrap()
            .expect("stored event decodes");
        // Field by field first (a readable failure), then the whole event (nothing missed).
        let (g, w) = (
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(want).unwrap(),
        );
        for (k, v) in w.as_object().unwrap() {
            assert_eq!(g.get(k), Some(v), "field {k} of {want:?}");
        }
        assert_eq!(&got, want);
    }
}

fn record(body: Vec<u8>, id: String, hint: FormatHint) -> RawRecord {
    RawRecord {
        body,
        truncated: false,
        hint,
        source: Arc::new(SourceKind::File {
            path: "/var/log/app/x.log".into(),
        }),
        host: Some("receiver-1".into()),
        received: Timestamp(1_764_720_000_123_456_789),
        id,
    }
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.-]{0,11}"
}

fn ip() -> impl Strategy<Value = String> {
    (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

/// Free text with the characters logs carry (quotes, brackets, `=`, unicode).
fn text() -> impl Strategy<Value = String> {
    "[ -~éü€中]{0,60}"
}

/// One line of each format the parsers know, with random values.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        // RFC 3164 syslog: sshd lines the decoders turn into ECS fields.
        (0u8..192, word(), 1u32..99999, word(), ip(), 1u16..65535).prop_map(|(pri, host, pid, user, ip, port)| format!(
            "<{pri}>Nov  7 10:16:21 {host} sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2"
        )),
        (word(), word(), text()).prop_map(|(host, prog, msg)| format!("Dec 10 07:02:00 {host} {prog}: {msg}")),
        // RFC 5424 with structured data.
        (word(), word(), text()).prop_map(|(host, app, msg)| format!(
            "<165>1 2003-10-11T22:14:15.003Z {host} {app} 1234 ID47 [sd@1 a=\"b\"] {msg}"
        )),
        // JSON, flat and nested, with labels.
        (word(), word(), text(), 0u32..100000).prop_map(|(host, lvl, msg, n)| serde_json::json!({
            "@timestamp": "2024-05-01T10:00:00.5Z", "host": {"name": host}, "log.level": lvl,
            "message": msg, "process": {"pid": n}, "labels": {"env": "prod"}, "retries": n,
            "url.original": format!("/x/{n}"), "source.ip": "10.0.0.1"
        }).to_string()),
        // logfmt.
        (word(), text(), word()).prop_map(|(lvl, msg, user)| format!(
            "ts=2024-05-01T10:00:00Z level={lvl} msg={msg:?} user={user} dur=3ms host=h1 cached"
        )),
        // Apache / nginx combined access log.
        (ip(), word(), 100u16..600, 0u32..1_000_000).prop_map(|(ip, path, status, size)| format!(
            "{ip} - frank [10/Oct/2000:13:55:36 -0700] \"GET /{path}?a=1 HTTP/1.0\" {status} {size} \"http://www.example.com/{path}\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\""
        )),
        // Apache error log.
        (ip(), text()).prop_map(|(ip, msg)| format!(
            "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client {ip}:50000] {msg}"
        )),
        // Loghub: BGL, HDFS.
        text().prop_map(|msg| format!(
            "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO {msg}"
        )),
        (1u32..999, text()).prop_map(|(pid, msg)| format!("081109 203615 {pid} INFO dfs.DataNode$PacketResponder: {msg}")),
        // A line with a leading timestamp (the generic header parser).
        (word(), text()).prop_map(|(lvl, msg)| format!("2024-05-01 10:00:00,123 {lvl} {msg}")),
        // Anything else, unparsed.
        text(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Lines of every format, parsed and decoded as the pipeline does, some with the original
    /// line kept, some as invalid UTF-8 or cut: read back equal.
    #[test]
    fn parsed_events_read_back_equal(
        lines in prop::collection::vec((line(), any::<bool>(), any::<bool>(), 0u8..4), 1..40)
    ) {
        let events: Vec<Event> = lines
            .into_iter()
            .enumerate()
            .map(|(i, (line, keep_original, truncated, id_kind))| {
                let mut body = line.into_bytes();
                if truncated {
                    body.push(0xff); // invalid UTF-8: decoded lossily and flagged
                }
                let id = match id_kind {
                    0 => loglynx_core::positioned_id("file:1:2:ab", i as u64 * 151),
                    1 => format!("syslog-{i}"),
                    2 => String::new(),
                    _ => format!("{:016x}-{:012X}", i, i), // positioned shape, upper case hex
                };
                let mut rec = record(body, id, FormatHint::Auto);
                rec.truncated = truncated;
                let ctx = ParseContext {
                    now: rec.received,
                    keep_original,
                    utc_offset_secs: 3600,
                };
                let mut e = parse_record(&rec, &ctx);
                loglynx_pipeline::decode::decode(&mut e);
                e
            })
            .collect();
        assert_round_trip(&events);
    }

    /// Arbitrary events: every field set or not, any text, values inside the message or not.
    #[test]
    fn arbitrary_events_read_back_equal(events in prop::collection::vec(arbitrary_event(), 1..20)) {
        assert_round_trip(&events);
    }
}

fn opt_str(msg: &str) -> BoxedStrategy<Option<String>> {
    let inside: Vec<String> = msg
        .char_indices()
        .flat_map(|(i, _)| msg[i..].char_indices().skip(1).map(move |(j, _)| msg[i..i + j].to_string()))
        .take(50)
        .collect();
    let any_text = proptest::option::of(".{0,20}");
    if inside.is_empty() {
        any_text.boxed()
    } else {
        prop_oneof![any_text, proptest::sample::select(inside).prop_map(Some)].boxed()
    }
}

fn arbitrary_event() -> impl Strategy<Value = Event> {
    (".{0,80}", any::<i64>(), any::<i64>(), ".{0,30}").prop_flat_map(|(msg, ts, ing, id)| {
        let strs = prop::collection::vec(opt_str(&msg), 28);
        let nums = (
            prop::collection::vec(proptest::option::of(any::<u64>()), 10),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u32>()),
            prop::collection::vec(proptest::option::of(any::<u16>()), 3),
        );
        let lists = (
            prop::collection::vec(".{0,10}", 0..3),
            prop::collection::vec(".{0,10}", 0..3),
            prop::collection::btree_map(".{0,8}", ".{0,12}", 0..4),
            any::<u16>(),
        );
        (Just((msg, ts, ing, id)), strs, nums, lists).prop_map(
            |((msg, ts, ing, id), s, (n, fac, sev, pid, p), (rids, rnames, labels, flags))| {
                let mut e = Event::new(msg, Timestamp(ts), Timestamp(ing), id);
                let mut s = s.into_iter();
                let mut next = || s.next().unwrap();
                e.dataset = next();
                e.original = next();
                e.host = next();
                e.file_path = next();
                e.level = next();
                e.service = next();
                e.process_name = next();
                e.source_ip = next();
                e.destination_ip = next();
                e.user_name = next();
                e.pattern_id = next();
                e.network_transport = next();
                e.action = next().map(Into::into);
                e.outcome = next().map(Into::into);
                e.category = next().map(Into::into);
                e.user_effective_name = next();
                e.user_target_name = next();
                e.group_name = next();
                e.command_line = next();
                e.source_domain = next();
                e.systemd_unit = next();
                e.http_method = next();
                e.url_original = next();
                e.user_agent = next();
                e.tcp_old_state = next();
                e.tcp_new_state = next();
                e.alert_id = next();
                e.network_drop_reason = next();
                e.syslog_facility = fac;
                e.syslog_severity = sev;
                e.pid = pid;
                e.source_port = p[0];
                e.destination_port = p[1];
                e.http_status = p[2];
                e.tcp_state_duration_us = n[0];
                e.source_bytes = n[1];
                e.destination_bytes = n[2];
                e.network_bytes = n[3];
                e.duration_ns = n[4];
                e.tcp_retransmits = n[5];
                e.tcp_srtt_us = n[6];
                e.kafka_partition = n[7];
                e.kafka_offset = n[8];
                e.network_drops = n[9];
                e.rule_ids = rids;
                e.rule_names = rnames;
                e.labels = labels;
                e.flags = loglynx_core::EventFlags::from_names(
                    ["unparsed", "truncated", "invalid_utf8", "bad_timestamp", "malformed",
                     "multiline", "multiline_truncated", "parse_panic", "ambiguous_timestamp",
                     "labels_capped"]
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| flags & (1 << i) != 0)
                        .map(|(_, n)| *n),
                );
                e
            },
        )
    })
}

#[test]
fn labels_and_lists_keep_their_order_and_values() {
    let mut e = Event::new("m", Timestamp(1), Timestamp(2), "x".into());
    e.rule_ids = vec!["b".into(), "a".into(), "b".into()];
    e.labels = BTreeMap::from([("".into(), "".into()), ("k.x".into(), "m".into())]);
    assert_round_trip(&[e]);
}

//! Tests through the public entry point, one group per format.

use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};

use super::{parse_json_object, parse_record, ParseContext};

const RECEIVED: Timestamp = Timestamp(1_717_200_000_000_000_000); // 2024-06-01T00:00:00Z

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn rec(body: impl Into<Vec<u8>>, hint: FormatHint) -> RawRecord {
    RawRecord {
        body: body.into(),
        truncated: false,
        hint,
        source: Arc::new(SourceKind::File {
            path: "/var/log/x.log".into(),
        }),
        host: Some("receiver".into()),
        received: RECEIVED,
        id: "id-1".into(),
    }
}

fn ctx() -> ParseContext {
    ParseContext {
        now: RECEIVED,
        keep_original: false,
        utc_offset_secs: 0,
    }
}

fn parse(line: &str) -> Event {
    parse_record(&rec(line, FormatHint::Auto), &ctx())
}

fn label<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.labels.get(k).map(String::as_str)
}

#[test]
fn record_fields_are_carried() {
    let mut r = rec("Jun 14 15:16:01 combo sshd[1]: hi\r", FormatHint::Auto);
    r.truncated = true;
    let e = parse_record(
        &r,
        &ParseContext {
            keep_original: true,
            ..ctx()
        },
    );
    assert_eq!(e.id, "id-1");
    assert_eq!(e.ingested, RECEIVED);
    assert_eq!(e.file_path.as_deref(), Some("/var/log/x.log"));
    assert_eq!(e.host.as_deref(), Some("combo"));
    assert_eq!(e.message, "hi");
    assert_eq!(
        e.original.as_deref(),
        Some("Jun 14 15:16:01 combo sshd[1]: hi")
    );
    assert!(e.flags.truncated);
    assert!(!e.flags.unparsed);
    // A line that names no host gets the record's.
    assert_eq!(parse("just some words").host.as_deref(), Some("receiver"));
}

#[test]
fn unparsed_and_binary_and_invalid_utf8() {
    let e = parse("just some words");
    assert_eq!(e.message, "just some words");
    assert!(e.flags.unparsed);
    assert_eq!(e.timestamp, RECEIVED);
    assert_eq!(e.dataset, None);

    let e = parse_record(
        &rec(vec![0u8, 1, 2, 0xff, 0xfe, b'<', 0x80], FormatHint::Auto),
        &ctx(),
    );
    assert!(e.flags.unparsed && e.flags.invalid_utf8);
    assert_eq!(e.message, "\u{0}\u{1}\u{2}\u{fffd}\u{fffd}<\u{fffd}");

    let e = parse_record(
        &rec(
            b"<13>Jun 14 15:16:01 h app: caf\xe9".to_vec(),
            FormatHint::Auto,
        ),
        &ctx(),
    );
    assert!(e.flags.invalid_utf8 && !e.flags.unparsed);
    assert_eq!(e.message, "caf\u{fffd}");

    let e = parse("");
    assert!(e.flags.unparsed);
    assert_eq!(e.message, "");
}

#[test]
fn syslog_hint_falls_back_to_detection_then_raw() {
    let e = parse_record(&rec(r#"{"msg":"x"}"#, FormatHint::Syslog), &ctx());
    assert_eq!(e.dataset.as_deref(), Some("json"));
    assert_eq!(e.message, "x");
    let e = parse_record(&rec("<999>x", FormatHint::Syslog), &ctx());
    assert!(e.flags.unparsed);
    assert_eq!(e.message, "<999>x");
    let e = parse_record(&rec("<34", FormatHint::Syslog), &ctx());
    assert!(e.flags.unparsed);
    assert_eq!(e.message, "<34");
}

#[test]
fn json_flat_nested_and_aliases() {
    let e = parse(
        r#"{"@timestamp":"2024-05-01T10:00:00.5Z","host":{"name":"web1","ip":"10.0.0.1"},"log.level":"WARNING","message":"disk full","service.name":"api","process":{"pid":42},"labels":{"env":"prod"},"user":"bob","retries":3,"ok":true,"tags":["a","b"],"nothing":null,"ctx":{"a":{"b":1}}}"#,
    );
    assert_eq!(e.timestamp, ts("2024-05-01T10:00:00.5Z"));
    assert_eq!(e.host.as_deref(), Some("web1"));
    assert_eq!(e.level.as_deref(), Some("warn"));
    assert_eq!(e.message, "disk full");
    assert_eq!(e.service.as_deref(), Some("api"));
    assert_eq!(e.pid, Some(42));
    assert_eq!(e.user_name.as_deref(), Some("bob"));
    assert_eq!(e.dataset.as_deref(), Some("json"));
    assert_eq!(label(&e, "env"), Some("prod"));
    assert_eq!(label(&e, "host.ip"), Some("10.0.0.1"));
    assert_eq!(label(&e, "retries"), Some("3"));
    assert_eq!(label(&e, "ok"), Some("true"));
    assert_eq!(label(&e, "tags"), Some(r#"["a","b"]"#));
    assert_eq!(label(&e, "ctx.a.b"), Some("1"));
    assert_eq!(e.labels.len(), 6);
    assert!(!e.flags.any());
}

#[test]
fn json_ecs_keys_of_the_decoded_fields_fill_them() {
    // A JSON shipper (Filebeat, Vector) that already decoded an auth line: the ECS keys land in
    // the same fields as loglynx's decoders set, not in labels.
    let e = parse(
        r#"{"message":"Failed password","event":{"action":"ssh_login","outcome":"failure","category":"authentication"},"source.domain":"scanner.example","group.name":"wheel","http.response.status_code":404,"url.original":"/x","user_agent":{"original":"curl/8"}}"#,
    );
    assert_eq!(e.action.as_deref(), Some("ssh_login"));
    assert_eq!(e.outcome.as_deref(), Some("failure"));
    assert_eq!(e.category.as_deref(), Some("authentication"));
    assert_eq!(e.source_domain.as_deref(), Some("scanner.example"));
    assert_eq!(e.group_name.as_deref(), Some("wheel"));
    assert_eq!(e.http_status, Some(404));
    assert_eq!(e.url_original.as_deref(), Some("/x"));
    assert_eq!(e.user_agent.as_deref(), Some("curl/8"));
    assert!(e.labels.is_empty(), "{:?}", e.labels);
    // A status that is not a number stays a label.
    let e = parse(r#"{"message":"m","http.response.status_code":"teapot"}"#);
    assert_eq!((e.http_status, label(&e, "http.response.status_code")), (None, Some("teapot")));
}

#[test]
fn json_connection_counts_fill_the_numeric_fields() {
    // A finished connection (as `loglynx tcplife --json event` or another monitor writes it),
    // ingested over HTTP: the counts are numbers in the index, not labels.
    let e = parse(
        r#"{"message":"c","event":{"dataset":"network.connection","duration":1500000},"source":{"bytes":5000000000},"destination.bytes":120,"network.bytes":5000000120,"tcp":{"retransmits":3,"srtt_us":41}}"#,
    );
    assert_eq!(e.source_bytes, Some(5_000_000_000));
    assert_eq!(e.destination_bytes, Some(120));
    assert_eq!(e.network_bytes, Some(5_000_000_120));
    assert_eq!(e.duration_ns, Some(1_500_000));
    assert_eq!((e.tcp_retransmits, e.tcp_srtt_us), (Some(3), Some(41)));
    assert!(e.labels.is_empty(), "{:?}", e.labels);
    // A drop summary: the count and its reason are fields too.
    let e = parse(r#"{"message":"d","network":{"drops":17,"drop":{"reason":"NO_SOCKET"}}}"#);
    assert_eq!((e.network_drops, e.network_drop_reason.as_deref()), (Some(17), Some("NO_SOCKET")));
    assert!(e.labels.is_empty(), "{:?}", e.labels);
    // A count that is not one stays a label.
    let e = parse(r#"{"message":"m","source.bytes":-1}"#);
    assert_eq!((e.source_bytes, label(&e, "source.bytes")), (None, Some("-1")));
}

#[test]
fn json_epoch_times_and_aliases() {
    let e = parse(r#"{"ts":1700000000,"msg":"a","hostname":"h","severity":"ERR","pid":"7"}"#);
    assert_eq!(e.timestamp, Timestamp::from_secs(1_700_000_000));
    assert_eq!(
        (
            e.message.as_str(),
            e.host.as_deref(),
            e.level.as_deref(),
            e.pid
        ),
        ("a", Some("h"), Some("error"), Some(7))
    );
    let e = parse(r#"{"time":1700000000123,"level":30}"#);
    assert_eq!(e.timestamp, Timestamp::from_millis(1_700_000_000_123));
    assert_eq!(e.level.as_deref(), Some("info"));
    assert_eq!(e.message, r#"{"time":1700000000123,"level":30}"#); // no message key: the raw line
    let e = parse(r#"{"timestamp":"not a time","message":"m"}"#);
    assert!(e.flags.bad_timestamp);
    assert_eq!(e.timestamp, RECEIVED);
    // Both `msg` and `message`: `message` wins, `msg` is kept as a label.
    let e = parse(r#"{"msg":"short","message":"long"}"#);
    assert_eq!(
        (e.message.as_str(), label(&e, "msg")),
        ("long", Some("short"))
    );
    let e = parse(r#"{"source.port":"http","event.dataset":"nginx.access"}"#);
    assert_eq!(
        (e.source_port, label(&e, "source.port")),
        (None, Some("http"))
    );
    assert_eq!(e.dataset.as_deref(), Some("nginx.access"));
}

#[test]
fn json_not_an_object_or_malformed() {
    for body in [
        "[1,2]",
        "42",
        r#""text""#,
        "{\"a\":",
        "null",
        "",
        "{\"a\":1} trailing",
    ] {
        let e = parse_record(&rec(body, FormatHint::Json), &ctx());
        assert!(e.flags.malformed, "{body}");
        assert_eq!(e.message, body);
        assert_eq!(e.timestamp, RECEIVED);
    }
    // Under Auto a broken object is just an unparsed line.
    let e = parse("{\"a\":");
    assert!(e.flags.unparsed && !e.flags.malformed);
}

#[test]
fn json_deep_nesting_does_not_overflow() {
    let deep = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let e = parse_record(&rec(deep.clone(), FormatHint::Json), &ctx());
    assert!(e.flags.malformed);
    assert_eq!(e.message.len(), deep.len());
    let ok = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    let e = parse_record(&rec(ok, FormatHint::Json), &ctx());
    assert!(!e.flags.malformed);
    assert_eq!(label(&e, &vec!["a"; 100].join(".")), Some("1"));
}

#[test]
fn json_object_helper() {
    // (The JSON-object check of ingested lines moved to loglynx-collect, `http/json.rs`.)
    let r = rec(r#"{"message":"m","host.name":"h"}"#, FormatHint::Json);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let e = parse_json_object(v.as_object().unwrap(), &r, &ctx());
    assert_eq!(e, parse_record(&r, &ctx()));
    assert_eq!(e.host.as_deref(), Some("h"));
}

#[test]
fn event_hint_keeps_fields_but_takes_id_and_ingested() {
    let mut orig = Event::new(
        "tcp change",
        ts("2024-01-01T00:00:00Z"),
        ts("2024-01-01T00:00:01Z"),
        "other".into(),
    );
    orig.tcp_new_state = Some("CLOSE_WAIT".into());
    orig.labels.insert("k".into(), "v".into());
    let e = parse_record(
        &rec(serde_json::to_vec(&orig).unwrap(), FormatHint::Event),
        &ctx(),
    );
    assert_eq!(e.id, "id-1");
    assert_eq!(e.ingested, RECEIVED);
    assert_eq!(e.timestamp, orig.timestamp);
    assert_eq!(e.tcp_new_state.as_deref(), Some("CLOSE_WAIT"));
    assert_eq!(label(&e, "k"), Some("v"));
    let e = parse_record(&rec("not an event", FormatHint::Event), &ctx());
    assert!(e.flags.malformed);
}

#[test]
fn logfmt_fields() {
    let e = parse(
        r#"ts=2024-05-01T10:00:00Z level=info msg="user logged in" user=bob dur=3ms host=h1 cached"#,
    );
    assert_eq!(e.dataset.as_deref(), Some("logfmt"));
    assert_eq!(e.timestamp, ts("2024-05-01T10:00:00Z"));
    assert_eq!(e.level.as_deref(), Some("info"));
    assert_eq!(e.message, "user logged in");
    assert_eq!(e.user_name.as_deref(), Some("bob"));
    assert_eq!(e.host.as_deref(), Some("h1"));
    assert_eq!(label(&e, "dur"), Some("3ms"));
    assert_eq!(label(&e, "cached"), Some("true"));
    assert_eq!(e.labels.len(), 2);
}

#[test]
fn access_log_combined() {
    let e = parse(
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=\"1\" HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
    );
    assert_eq!(e.dataset.as_deref(), Some("apache.access"));
    assert_eq!(e.timestamp, ts("2000-10-10T20:55:36Z"));
    assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.user_name.as_deref(), Some("frank"));
    assert_eq!(e.message, r#"GET /apache_pb.gif?a=\"1\" HTTP/1.0"#);
    assert_eq!(label(&e, "http.request.method"), Some("GET"));
    assert_eq!(label(&e, "url.original"), Some(r#"/apache_pb.gif?a=\"1\""#));
    assert_eq!(label(&e, "http.version"), Some("1.0"));
    assert_eq!(label(&e, "http.response.status_code"), Some("200"));
    assert_eq!(label(&e, "http.response.body.bytes"), Some("2326"));
    assert_eq!(
        label(&e, "http.request.referrer"),
        Some("http://www.example.com/start.html")
    );
    assert_eq!(
        label(&e, "user_agent.original"),
        Some("Mozilla/4.08 [en] (Win98; I ;Nav)")
    );
    assert_eq!(e.host.as_deref(), Some("receiver"));

    let e = parse(r#"::1 - - [01/Jan/2024:00:00:00 +0000] "-" 400 - "-" "-""#);
    assert_eq!(e.source_ip.as_deref(), Some("::1"));
    assert_eq!((e.user_name.clone(), e.message.as_str()), (None, "-"));
    assert_eq!(e.labels.len(), 1); // status only
    let e = parse(r#"10.0.0.1 - - [99/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 304 0"#);
    assert!(e.flags.bad_timestamp);
    assert_eq!(e.timestamp, RECEIVED);
}

#[test]
fn apache_error_24() {
    let e = parse("[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 5678] [client 10.1.2.3:5050] File does not exist: /x");
    assert_eq!(e.dataset.as_deref(), Some("apache.error"));
    assert_eq!(e.timestamp, ts("2000-10-11T14:32:52.123456Z"));
    assert_eq!(e.level.as_deref(), Some("error"));
    assert_eq!(e.pid, Some(1234));
    assert_eq!(e.source_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(label(&e, "apache.module"), Some("core"));
    assert_eq!(e.message, "[client 10.1.2.3:5050] File does not exist: /x");
}

#[test]
fn loghub_headers() {
    let e = parse("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected");
    assert_eq!(e.dataset.as_deref(), Some("loghub.bgl"));
    assert_eq!(e.timestamp, Timestamp(1_117_838_570_675_872_000));
    assert_eq!(e.host.as_deref(), Some("R02-M1-N0-C:J12-U11"));
    assert_eq!(
        (
            e.level.as_deref(),
            label(&e, "component"),
            label(&e, "bgl.type")
        ),
        (Some("info"), Some("KERNEL"), Some("RAS"))
    );
    assert_eq!(e.message, "instruction cache parity error corrected");

    let e = parse("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating");
    assert_eq!(e.dataset.as_deref(), Some("loghub.hdfs"));
    assert_eq!(e.timestamp, ts("2008-11-09T20:36:15Z"));
    assert_eq!(
        (e.pid, e.level.as_deref(), label(&e, "log.logger")),
        (
            Some(148),
            Some("info"),
            Some("dfs.DataNode$PacketResponder")
        )
    );

    let e = parse(
        "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: x",
    );
    assert_eq!(e.dataset.as_deref(), Some("loghub.hpc"));
    assert_eq!(e.timestamp, Timestamp::from_secs(1_077_804_742));
    assert_eq!(
        (
            e.host.as_deref(),
            label(&e, "component"),
            e.message.as_str()
        ),
        (
            Some("node-246"),
            Some("unix.hw"),
            "Component State Change: x"
        )
    );

    let e =
        parse("[10.30 16:49:06] svchost.exe *64 - proxy.cse.cuhk.edu.hk:5070 open through proxy");
    assert_eq!(e.dataset.as_deref(), Some("loghub.proxifier"));
    assert_eq!(e.timestamp, ts("2023-10-30T16:49:06Z"));
    assert_eq!(
        (e.process_name.as_deref(), e.message.as_str()),
        (
            Some("svchost.exe *64"),
            "proxy.cse.cuhk.edu.hk:5070 open through proxy"
        )
    );

    let e = parse("2015-07-30 18:18:02,003 - INFO  [ProcessThread(sid:1 cport:-1)::PrepRequestProcessor@476] - Processed session termination");
    assert_eq!(e.dataset.as_deref(), Some("loghub.zookeeper"));
    assert_eq!(e.timestamp, ts("2015-07-30T18:18:02.003Z"));
    assert_eq!(e.level.as_deref(), Some("info"));
    assert_eq!(label(&e, "log.logger"), Some("PrepRequestProcessor"));
    assert_eq!(label(&e, "log.origin.file.line"), Some("476"));
    assert_eq!(
        label(&e, "process.thread.name"),
        Some("ProcessThread(sid:1 cport:-1)")
    );
    assert_eq!(e.message, "Processed session termination");
}

#[test]
fn iso_prefixed_lines() {
    let e = parse("2024-05-01 10:00:00,123 ERROR something broke");
    assert_eq!(e.dataset.as_deref(), Some("timestamped"));
    assert_eq!(e.timestamp, ts("2024-05-01T10:00:00.123Z"));
    assert_eq!(
        (e.level.as_deref(), e.message.as_str()),
        (Some("error"), "something broke")
    );
    let e = parse("2024-05-01T10:00:00Z [warn] - careful");
    assert_eq!(
        (e.level.as_deref(), e.message.as_str()),
        (Some("warn"), "careful")
    );
    let e = parse("2024-05-01T10:00:00+02:00 I saw it");
    assert_eq!((e.level.as_deref(), e.message.as_str()), (None, "I saw it"));
    assert_eq!(e.timestamp, ts("2024-05-01T08:00:00Z"));
}

/// Lines of 8 MiB in the shapes that make a parser scan far (an unterminated bracket or quote,
/// a run of one byte, a huge message) are each one event that keeps them. How long they take
/// is measured, not asserted here (a timing ratio fails on a loaded machine): the `long_lines`
/// group of `benches/parse.rs` parses each shape at 1 MiB and 8 MiB in bytes per second (a
/// linear parser has the same rate at both).
#[test]
fn ten_megabyte_lines_parse_into_one_event_each() {
    for line in long_line_shapes(8 << 20) {
        let e = parse(&line);
        assert!(e.message.len() >= 4, "{}", &line[..20]);
        let kept = e.message.len() + e.labels.values().map(String::len).sum::<usize>();
        assert!(kept >= 8 << 20, "{}: {kept} bytes kept", &line[..20]);
    }
}

/// The long-line shapes of [`ten_megabyte_lines_parse_into_one_event_each`], `n` bytes of
/// filler each.
fn long_line_shapes(n: usize) -> Vec<String> {
    let big = "x".repeat(n);
    vec![
        format!("<34>Oct 11 22:14:15 host app[1]: {big}"),
        format!("<165>1 2003-10-11T22:14:15Z h a - - [{big}"),
        format!("{{\"message\":\"{big}\"}}"),
        format!("a=1 b=\"{big}"),
        format!("1.2.3.4 - - [{big}"),
        format!("{big} {big}"),
        "a=b ".repeat(n / 4),
        "[".repeat(n),
        "<".repeat(n),
    ]
}

/// Random bytes, random mutations of real lines: never a panic, the message always set.
#[test]
fn random_input_never_panics() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: [&[u8]; 8] = [
        b"<34>Oct 11 22:14:15 mymachine su[123]: msg",
        b"<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [sd@1 a=\"b\"] msg",
        b"{\"a\":{\"b\":[1,2]},\"ts\":1}",
        b"ts=1 level=info msg=\"x\\\"y\"",
        b"1.2.3.4 - u [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1 \"r\" \"u\"",
        b"[Sun Dec 04 04:47:44 2005] [notice] x",
        b"- 1117838570 2005.06.03 N 2005-06-03-15.42.50.675872 N RAS KERNEL INFO m",
        b"2015-07-29 17:41:44,747 - INFO  [a:b@1] - m",
    ];
    let alphabet = b"<>[]{}\":=\\ -.,01239aZ\r\n\t\xff\xc3\x80";
    for i in 0..40_000 {
        let mut body: Vec<u8> = if i % 2 == 0 {
            (0..next() % 64)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        } else {
            seeds[i % seeds.len()].to_vec()
        };
        for _ in 0..(next() % 4) {
            if body.is_empty() {
                break;
            }
            let at = (next() % body.len() as u64) as usize;
            match next() % 3 {
                0 => body[at] = (next() & 0xff) as u8,
                1 => body.truncate(at),
                _ => body.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
            }
        }
        for hint in [
            FormatHint::Auto,
            FormatHint::Json,
            FormatHint::Syslog,
            FormatHint::Event,
        ] {
            let e = parse_record(&rec(body.clone(), hint), &ctx());
            assert_eq!(e.id, "id-1");
            if e.flags.unparsed || e.flags.malformed {
                assert_eq!(e.message.as_bytes(), {
                    let text = String::from_utf8_lossy(&body);
                    text.strip_suffix('\r').unwrap_or(&text).as_bytes().to_vec()
                });
            }
        }
    }
}

#[test]
fn a_joined_stack_trace_keeps_its_first_lines_header_and_is_flagged_multiline() {
    let java = "2024-05-31 10:00:00,123 ERROR [main] com.acme.Server - request failed\njava.lang.IllegalStateException: boom\n\tat com.acme.Server.handle(Server.java:42)\n\t... 7 more";
    let e = parse(java);
    assert_eq!(e.timestamp, ts("2024-05-31T10:00:00.123Z"));
    assert_eq!(e.level.as_deref(), Some("error"));
    assert_eq!(label(&e, "process.thread.name"), Some("main"));
    assert!(e.message.starts_with("request failed\njava.lang.IllegalStateException: boom\n\tat "), "{}", e.message);
    assert!(e.message.ends_with("... 7 more"));
    assert!(e.flags.multiline && !e.flags.multiline_truncated && !e.flags.unparsed);
    assert!(!e.flags.any(), "multiline alone is not a problem");
    assert_eq!(e.flags.names(), ["multiline"]);

    let python = "2024-05-31 10:00:00,5 ERROR app.db: query failed\nTraceback (most recent call last):\n  File \"db.py\", line 3, in run\nValueError: bad";
    let mut r = rec(python, FormatHint::Auto);
    r.truncated = true;
    let e = parse_record(&r, &ctx());
    assert_eq!(e.level.as_deref(), Some("error"));
    assert_eq!(label(&e, "log.logger"), Some("app.db"));
    assert!(e.message.ends_with("ValueError: bad"));
    assert!(e.flags.multiline && e.flags.multiline_truncated && e.flags.truncated);
    assert!(e.flags.any());

    // One line: no flag.
    assert!(!parse("2024-05-31 10:00:00 INFO x").flags.multiline);
}

/// Headers detection reads by their structure: a run of brackets with no blank between them
/// after a bracketed time, `yyMMdd H:mm:ss`, MongoDB's structured JSON.
#[test]
fn bracket_runs_yymmdd_and_mongodb_json_are_read() {
    let secs = |e: &Event| e.timestamp.0 / 1_000_000_000;
    // 2024-05-01T10:00:00Z
    const T: i64 = 1_714_557_600;
    let e = parse("[2024-05-01T10:00:00,123][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark exceeded");
    assert_eq!((e.level.as_deref(), e.message.as_str()), (Some("warn"), "[node-1] high disk watermark exceeded"));
    assert_eq!(label(&e, "log.logger"), Some("o.e.c.r.a.DiskThresholdMonitor"));
    assert_eq!(e.timestamp.0, T * 1_000_000_000 + 123_000_000);
    let e = parse("[2024-05-01 10:00:00.500][17][critical][main] [source/server/server.cc:88] error initializing config");
    assert_eq!((e.level.as_deref(), e.pid, label(&e, "log.logger")), (Some("crit"), Some(17), Some("main")));
    assert_eq!(e.message, "[source/server/server.cc:88] error initializing config");
    // A run without a level is not a header: the line stays whole.
    let e = parse("[2024-05-01 10:00:00][main][worker] started");
    assert!(e.flags.unparsed && e.message.starts_with("[2024"), "{e:?}");

    let e = parse("240501  9:05:07 [Warning] Aborted connection 12 to db: 'shop'");
    assert_eq!((e.level.as_deref(), e.message.as_str()), (Some("warn"), "Aborted connection 12 to db: 'shop'"));
    assert_eq!(secs(&e), T - 3600 + 5 * 60 + 7);
    // Six digits that are no date are not a time.
    assert!(parse("249901 10:00:00 [Note] x").flags.unparsed);

    let e = parse(
        r#"{"t":{"$date":"2024-05-01T12:00:00.250+02:00"},"s":"W",  "c":"NETWORK", "id":22944,"ctx":"conn7","msg":"Connection ended","attr":{"remote":"10.0.0.7:51500"}}"#,
    );
    assert_eq!((e.level.as_deref(), e.message.as_str()), (Some("warn"), "Connection ended"));
    assert_eq!(e.timestamp.0, T * 1_000_000_000 + 250_000_000);
    assert_eq!((label(&e, "log.logger"), label(&e, "process.thread.name")), (Some("NETWORK"), Some("conn7")));
    assert_eq!(label(&e, "attr.remote"), Some("10.0.0.7:51500"));
    // The short keys take a value only when it fits; else they stay labels as written.
    let e = parse(r#"{"message":"m","s":"several words","c":"two words"}"#);
    assert_eq!((e.level.as_deref(), label(&e, "s"), label(&e, "c")), (None, Some("several words"), Some("two words")));
    assert!(!e.flags.bad_timestamp);
}

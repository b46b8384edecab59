use loglynx_core::{Event, Timestamp};

use super::super::record::ParseContext;
use super::{parse, split_tag};

fn ctx() -> ParseContext {
    ParseContext {
        now: Timestamp::parse_rfc3339("2024-06-01T00:00:00Z").unwrap(),
        keep_original: false,
        utc_offset_secs: 0,
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn run(line: &str) -> Option<Event> {
    let mut ev = Event::default();
    parse(line, &mut ev, &ctx()).then_some(ev)
}

#[test]
fn rfc3164_with_pri() {
    let e =
        run("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8")
            .unwrap();
    assert_eq!(e.timestamp, ts("2023-10-11T22:14:15Z")); // October 2024 would be in the future
    assert_eq!(e.host.as_deref(), Some("mymachine"));
    assert_eq!(e.process_name.as_deref(), Some("su"));
    assert_eq!(e.service.as_deref(), Some("su"));
    assert_eq!(e.pid, Some(123));
    assert_eq!(e.syslog_facility, Some(4));
    assert_eq!(e.syslog_severity, Some(2));
    assert_eq!(e.level.as_deref(), Some("crit"));
    assert_eq!(e.message, "'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(e.dataset.as_deref(), Some("syslog"));
    assert!(!e.flags.any());
}

#[test]
fn rfc3164_without_pri_and_padded_day() {
    let e =
        run("Jun  3 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0").unwrap();
    assert_eq!(e.timestamp, ts("2023-06-03T15:16:01Z")); // two days ahead of now: last year
    let e2 = run("May 31 23:00:00 combo kernel: Linux version 2.6").unwrap();
    assert_eq!(e2.timestamp, ts("2024-05-31T23:00:00Z"));
    assert_eq!(e2.process_name.as_deref(), Some("kernel"));
    assert_eq!(e2.pid, None);
    assert_eq!(e2.message, "Linux version 2.6");
    assert_eq!(e2.level, None);
    assert_eq!(e2.syslog_facility, None);
}

#[test]
fn year_inference_across_new_year() {
    let mut c = ctx();
    c.now = ts("2025-01-01T00:10:00Z");
    let mut ev = Event::default();
    assert!(parse("Dec 31 23:59:59 h app: late", &mut ev, &c));
    assert_eq!(ev.timestamp, ts("2024-12-31T23:59:59Z"));
    let mut ev = Event::default();
    assert!(parse("Jan  1 00:09:00 h app: early", &mut ev, &c));
    assert_eq!(ev.timestamp, ts("2025-01-01T00:09:00Z"));
}

#[test]
fn tags_with_spaces_seen_in_loghub_and_tagless_messages() {
    assert_eq!(
        split_tag("syslogd 1.4.1: restart."),
        (Some("syslogd 1.4.1"), None, "restart.")
    );
    assert_eq!(
        split_tag("-- root[2421]: ROOT LOGIN ON tty2"),
        (Some("-- root"), Some(2421), "ROOT LOGIN ON tty2")
    );
    assert_eq!(
        split_tag("Connection closed: by peer"),
        (None, None, "Connection closed: by peer")
    );
    assert_eq!(
        split_tag("this is not a tag: x"),
        (None, None, "this is not a tag: x")
    );
    assert_eq!(split_tag("app[abc]: x"), (Some("app"), None, "x"));
    assert_eq!(split_tag("app:"), (Some("app"), None, ""));
    assert_eq!(split_tag("[x]: y"), (None, None, "[x]: y"));
    // An application's name of capitalised words before `[pid]:` (macOS).
    assert_eq!(split_tag("Photo Editor[812]: canvas ready"), (Some("Photo Editor"), Some(812), "canvas ready"));
    assert_eq!(split_tag("Chat App Helper[90]: idle"), (Some("Chat App Helper"), Some(90), "idle"));
    // Not one: a lower-case word, a bracket that is no pid, no colon after it.
    assert_eq!(split_tag("Retrying request[3]: timeout"), (None, None, "Retrying request[3]: timeout"));
    assert_eq!(split_tag("Disk Full[sda1]: x"), (None, None, "Disk Full[sda1]: x"));
    assert_eq!(split_tag("Job Done[7] ok"), (None, None, "Job Done[7] ok"));
    let e = run("Jul  4 23:22:09 mac-1 Photo Editor[812]: canvas ready").unwrap();
    assert_eq!((e.process_name.as_deref(), e.pid, e.message.as_str()), (Some("Photo Editor"), Some(812), "canvas ready"));
}

#[test]
fn bad_bsd_timestamp_is_flagged() {
    let e = run("<13>Feb 30 10:00:00 host app: x").unwrap();
    assert!(e.flags.bad_timestamp);
    assert_eq!(e.timestamp, Timestamp::default()); // the caller's received time stays
    assert_eq!(e.host.as_deref(), Some("host"));
    assert_eq!(e.message, "x");
}

#[test]
fn rfc5424_full() {
    let e = run(r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event"#).unwrap();
    assert_eq!(e.timestamp, ts("2003-10-11T22:14:15.003Z"));
    assert_eq!(e.host.as_deref(), Some("mymachine.example.com"));
    assert_eq!(e.process_name.as_deref(), Some("evntslog"));
    assert_eq!(e.pid, None);
    assert_eq!(e.syslog_facility, Some(20));
    assert_eq!(e.syslog_severity, Some(5));
    assert_eq!(e.level.as_deref(), Some("notice"));
    assert_eq!(
        e.labels.get("log.syslog.msgid").map(String::as_str),
        Some("ID47")
    );
    assert_eq!(
        e.labels.get("exampleSDID@32473.iut").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        e.labels
            .get("exampleSDID@32473.eventID")
            .map(String::as_str),
        Some("1011")
    );
    assert_eq!(
        e.labels
            .get("examplePriority@32473.class")
            .map(String::as_str),
        Some("high")
    );
    assert_eq!(e.labels.len(), 5);
    assert_eq!(e.message, "An application event");
}

#[test]
fn rfc5424_nilvalues_escapes_and_bom() {
    let e = run("<14>1 - - - - - -").unwrap();
    assert_eq!(e.timestamp, Timestamp::default());
    assert!(!e.flags.bad_timestamp);
    assert_eq!((e.host, e.process_name, e.pid), (None, None, None));
    assert!(e.labels.is_empty());
    assert_eq!(e.message, "");

    let e =
        run("<14>1 2024-01-02T03:04:05+01:00 h app 42 - [a@1 k=\"x\\\"y\\]z\\\\\"] \u{feff}hello")
            .unwrap();
    assert_eq!(e.timestamp, ts("2024-01-02T02:04:05Z"));
    assert_eq!(e.pid, Some(42));
    assert_eq!(e.labels.get("a@1.k").map(String::as_str), Some("x\"y]z\\"));
    assert_eq!(e.message, "hello");

    let e = run("<14>1 2024-13-02T03:04:05Z h app proc-7 - - msg").unwrap();
    assert!(e.flags.bad_timestamp);
    assert_eq!(
        e.labels.get("log.syslog.procid").map(String::as_str),
        Some("proc-7")
    );
    assert_eq!(e.message, "msg");

    // Malformed structured data stays in the message.
    let e = run("<14>1 - h app - - [broken sd").unwrap();
    assert_eq!(e.message, "[broken sd");
}

#[test]
fn truncated_frames() {
    assert!(run("<34").is_none());
    assert!(run("<999>x").is_none());
    assert!(run("<>x").is_none());
    assert!(run("<0034>x").is_none());
    let e = run("<34>").unwrap();
    assert_eq!((e.syslog_facility, e.syslog_severity), (Some(4), Some(2)));
    assert_eq!(e.message, "");
    let e = run("<34>1").unwrap(); // no `1 `: not RFC 5424, the rest is the message
    assert_eq!(e.message, "1");
    let e = run("<34>Oct 11 22:14").unwrap(); // cut inside the timestamp
    assert_eq!(e.message, "Oct 11 22:14");
    assert!(!e.flags.bad_timestamp);
    let e = run("<165>1 2003-10-11T22:14:15.003Z host").unwrap();
    assert_eq!(e.host.as_deref(), Some("host"));
    assert_eq!(e.message, "");
}

#[test]
fn rsyslog_file_format_with_rfc3339_timestamp() {
    let auto = |line: &str| {
        let mut ev = Event::default();
        assert!(super::super::detect::auto(line, &mut ev, &ctx()), "{line}");
        ev
    };
    let e = auto("2024-05-01T10:00:00.123456+02:00 web1 sshd[42]: Accepted password for bob");
    assert_eq!(e.dataset.as_deref(), Some("syslog"));
    assert_eq!(e.host.as_deref(), Some("web1"));
    assert_eq!(e.process_name.as_deref(), Some("sshd"));
    assert_eq!(e.pid, Some(42));
    assert_eq!(e.message, "Accepted password for bob");
    assert_eq!(e.timestamp, ts("2024-05-01T08:00:00.123456Z"));
    // A dated line without host and tag stays with the generic parser.
    let g = auto("2024-05-01T10:00:00Z INFO starting: now");
    assert_eq!(g.dataset.as_deref(), Some("timestamped"));
    assert_eq!(g.message, "starting: now");
    assert!(!super::parse_iso_file("2024-05-01 10:00:00 web1 sshd[1]: x", &mut Event::default()));
}

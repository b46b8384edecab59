//! One test per header shape, through the public entry point, plus bad input.

use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};

use super::super::{parse_record, ParseContext};

const RECEIVED: Timestamp = Timestamp(1_717_200_000_000_000_000); // 2024-06-01T00:00:00Z

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn ctx() -> ParseContext {
    ParseContext {
        now: RECEIVED,
        keep_original: false,
        utc_offset_secs: 0,
    }
}

fn parse_in(line: &[u8], ctx: &ParseContext) -> Event {
    let rec = RawRecord {
        body: line.to_vec(),
        truncated: false,
        hint: FormatHint::Auto,
        source: Arc::new(SourceKind::File {
            path: "/var/log/app.log".into(),
        }),
        host: Some("receiver".into()),
        received: RECEIVED,
        id: "id-1".into(),
    };
    parse_record(&rec, ctx)
}

fn parse(line: &str) -> Event {
    parse_in(line.as_bytes(), &ctx())
}

fn label<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.labels.get(k).map(String::as_str)
}

/// Time (RFC 3339), level and message, and that the line was parsed as a header.
fn check(line: &str, time: &str, level: Option<&str>, msg: &str) -> Event {
    let e = parse(line);
    assert_eq!(e.dataset.as_deref(), Some("timestamped"), "{line}");
    assert_eq!(e.timestamp, ts(time), "{line}");
    assert_eq!(e.level.as_deref(), level, "{line}");
    assert_eq!(e.message, msg, "{line}");
    assert!(!e.flags.any(), "{line}: {:?}", e.flags);
    e
}

#[test]
fn iso_with_thread_and_logger() {
    let e = check(
        "2024-01-01 10:00:00,123 ERROR [main] com.example.Foo: connection lost",
        "2024-01-01T10:00:00.123Z",
        Some("error"),
        "connection lost",
    );
    assert_eq!(label(&e, "process.thread.name"), Some("main"));
    assert_eq!(label(&e, "log.logger"), Some("com.example.Foo"));
    // A thread named after its work, longer than 128 bytes.
    let long = format!("Uploader for file /data/exports/{}/part-0007.csv block 10.0.0.7:blk_42", "nightly-run".repeat(10));
    let e = check(
        &format!("2024-01-01 10:00:00,123 WARN [{long}] com.example.Upload: retrying"),
        "2024-01-01T10:00:00.123Z",
        Some("warn"),
        "retrying",
    );
    assert_eq!(label(&e, "process.thread.name"), Some(long.as_str()));
    let e = check(
        "2024-01-01 10:00:00.123 [pool-1-thread-3] WARN  c.e.MyClass - retrying in 5s",
        "2024-01-01T10:00:00.123Z",
        Some("warn"),
        "retrying in 5s",
    );
    assert_eq!(label(&e, "process.thread.name"), Some("pool-1-thread-3"));
    assert_eq!(label(&e, "log.logger"), Some("c.e.MyClass"));
}

#[test]
fn iso_zones_and_fractions() {
    check(
        "2024-03-05T08:09:10.123456789+02:00 WARN disk almost full",
        "2024-03-05T06:09:10.123456789Z",
        Some("warn"),
        "disk almost full",
    );
    check(
        "2024-03-05T08:09:10.5+0100 INFO started",
        "2024-03-05T07:09:10.5Z",
        Some("info"),
        "started",
    );
    check(
        "2024-03-05T08:09:10Z DEBUG x=1",
        "2024-03-05T08:09:10Z",
        Some("debug"),
        "x=1",
    );
    // No zone: the configured one.
    let e = parse_in(
        b"2024-03-05 08:09:10 INFO local time",
        &ParseContext {
            utc_offset_secs: 3600,
            ..ctx()
        },
    );
    assert_eq!(e.timestamp, ts("2024-03-05T07:09:10Z"));
}

#[test]
fn spring_boot() {
    let e = check(
        "2024-01-15T10:20:30.123+01:00  INFO 1234 --- [           main] o.s.b.w.e.tomcat.TomcatWebServer         : Tomcat started on port 8080",
        "2024-01-15T09:20:30.123Z",
        Some("info"),
        "Tomcat started on port 8080",
    );
    assert_eq!(e.pid, Some(1234));
    assert_eq!(label(&e, "process.thread.name"), Some("main"));
    assert_eq!(
        label(&e, "log.logger"),
        Some("o.s.b.w.e.tomcat.TomcatWebServer")
    );
}

#[test]
fn python_logging() {
    let e = check(
        "2024-01-15 10:20:30,123 - myapp.db - WARNING - slow query",
        "2024-01-15T10:20:30.123Z",
        Some("warn"),
        "slow query",
    );
    assert_eq!(label(&e, "log.logger"), Some("myapp.db"));
}

#[test]
fn bracketed_rfc3164_and_django() {
    check(
        "[Jan 02 15:04:05] INFO hello",
        "2024-01-02T15:04:05Z",
        Some("info"),
        "hello",
    );
    check(
        "[15/Jan/2024 10:20:30] \"GET / HTTP/1.1\" 200 1234",
        "2024-01-15T10:20:30Z",
        None,
        "\"GET / HTTP/1.1\" 200 1234",
    );
    check(
        "[10/Oct/2000:13:55:36 -0700] ERROR upstream timed out",
        "2000-10-10T20:55:36Z",
        Some("error"),
        "upstream timed out",
    );
}

#[test]
fn bracketed_iso_kafka() {
    // Kafka's log4j layout `[%d] %p %m (%c)%n`: the bracket after the level is the message.
    let e = check(
        "[2024-01-15 10:20:30,123] INFO [KafkaServer id=0] started (kafka.server.KafkaServer)",
        "2024-01-15T10:20:30.123Z",
        Some("info"),
        "[KafkaServer id=0] started (kafka.server.KafkaServer)",
    );
    assert_eq!(label(&e, "process.thread.name"), None);
    // log4j `%d %-5p [%t] %c - %m`: there it is the thread.
    let e = check(
        "2024-01-15 10:20:30,123 INFO  [http-nio-8080-exec-1] com.acme.web.Api - served",
        "2024-01-15T10:20:30.123Z",
        Some("info"),
        "served",
    );
    assert_eq!(
        label(&e, "process.thread.name"),
        Some("http-nio-8080-exec-1")
    );
}

#[test]
fn time_of_day_only() {
    // logback's default `%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg`.
    let e = parse_in(
        b"10:00:00.123 [main] INFO  c.e.App - up",
        &ParseContext {
            now: ts("2024-06-01T12:00:00Z"),
            ..ctx()
        },
    );
    assert_eq!(e.timestamp, ts("2024-06-01T10:00:00.123Z"));
    assert_eq!(
        (e.level.as_deref(), e.message.as_str()),
        (Some("info"), "up")
    );
    assert_eq!(label(&e, "log.logger"), Some("c.e.App"));
    // Read just after midnight: yesterday's.
    let e = parse_in(
        b"23:59:59.900 [main] WARN  c.e.App - late",
        &ParseContext {
            now: ts("2024-06-01T00:00:05Z"),
            ..ctx()
        },
    );
    assert_eq!(e.timestamp, ts("2024-05-31T23:59:59.9Z"));
    // In the source's zone (+02:00): 01:30 local on June 1st is 23:30 UTC on May 31st.
    let e = parse_in(
        b"01:30:00 INFO x",
        &ParseContext {
            now: ts("2024-06-01T00:00:00Z"),
            utc_offset_secs: 7200,
            ..ctx()
        },
    );
    assert_eq!(e.timestamp, ts("2024-05-31T23:30:00Z"));
}

#[test]
fn parts_without_a_level_after_them_stay_in_the_message() {
    let e = check(
        "2024-01-15 10:20:30 42 apples sold",
        "2024-01-15T10:20:30Z",
        None,
        "42 apples sold",
    );
    assert_eq!(label(&e, "process.thread.id"), None);
    let e = check(
        "2024-01-15 10:20:30 [1234] [cron] nightly run",
        "2024-01-15T10:20:30Z",
        None,
        "[1234] [cron] nightly run",
    );
    assert_eq!(e.pid, None);
    assert_eq!(label(&e, "process.thread.name"), None);
}

#[test]
fn log4j_short_year() {
    let e = check(
        "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
        "2017-06-09T20:10:40Z",
        Some("info"),
        "Registered signal handlers for [TERM, HUP, INT]",
    );
    assert_eq!(
        label(&e, "log.logger"),
        Some("executor.CoarseGrainedExecutorBackend")
    );
}

#[test]
fn logcat_threadtime_and_brief() {
    let e = check(
        "01-02 15:04:05.123  1234  5678 E ActivityManager: ANR in com.example",
        "2024-01-02T15:04:05.123Z",
        Some("error"),
        "ANR in com.example",
    );
    assert_eq!(e.pid, Some(1234));
    assert_eq!(label(&e, "process.thread.id"), Some("5678"));
    assert_eq!(label(&e, "log.logger"), Some("ActivityManager"));
    let e = check(
        "01-02 15:04:05.123 W/System.err( 4321): java.io.IOException: boom",
        "2024-01-02T15:04:05.123Z",
        Some("warn"),
        "java.io.IOException: boom",
    );
    assert_eq!(e.pid, Some(4321));
    assert_eq!(label(&e, "log.logger"), Some("System.err"));
    // Dec 31 read in the first days of a year is last year's.
    let e = parse_in(
        b"12-31 23:59:59.999  1  2 I Tag: x",
        &ParseContext {
            now: ts("2025-01-01T00:00:10Z"),
            ..ctx()
        },
    );
    assert_eq!(e.timestamp, ts("2024-12-31T23:59:59.999Z"));
}

#[test]
fn compact_and_dotted_dates() {
    check(
        "20240101-10:00:00:123|Step_LSC|30002312|onStandStepChanged 3579",
        "2024-01-01T10:00:00.123Z",
        None,
        "Step_LSC|30002312|onStandStepChanged 3579",
    );
    // Parts printed as numbers without padding; the milliseconds after `:` are a count.
    check(
        "20240101-9:5:7:42|Sync|4242|tick",
        "2024-01-01T09:05:07.042Z",
        None,
        "Sync|4242|tick",
    );
    check(
        "20240101-23:59:0:5|Sync|4242|tick",
        "2024-01-01T23:59:00.005Z",
        None,
        "Sync|4242|tick",
    );
    check(
        "2024.01.15 10:20:30 [ERROR] out of memory",
        "2024-01-15T10:20:30Z",
        Some("error"),
        "out of memory",
    );
}

#[test]
fn ctime() {
    check(
        "Mon Jan  1 10:00:00 2024 INFO starting",
        "2024-01-01T10:00:00Z",
        Some("info"),
        "starting",
    );
    check(
        "Tue Jan 02 10:00:00.250000 2024 [warn] low memory",
        "2024-01-02T10:00:00.25Z",
        Some("warn"),
        "low memory",
    );
}

#[test]
fn epoch_seconds_and_millis() {
    check(
        "1704103200 INFO tick",
        "2024-01-01T10:00:00Z",
        Some("info"),
        "tick",
    );
    check(
        "1704103200123 WARN slow",
        "2024-01-01T10:00:00.123Z",
        Some("warn"),
        "slow",
    );
    check(
        "1704103200.250 ERROR x",
        "2024-01-01T10:00:00.25Z",
        Some("error"),
        "x",
    );
    // Not ten or thirteen digits, or before 2000: not a time.
    assert!(parse("170410320 INFO tick").flags.unparsed);
    assert!(parse("0000000001 INFO tick").flags.unparsed);
}

#[test]
fn nginx_error_and_go_log() {
    let e = check(
        "2024/01/15 10:20:30 [error] 1234#5678: *9 open() \"/x\" failed (2: No such file or directory), client: 10.0.0.1",
        "2024-01-15T10:20:30Z",
        Some("error"),
        "*9 open() \"/x\" failed (2: No such file or directory), client: 10.0.0.1",
    );
    assert_eq!(e.pid, Some(1234));
    assert_eq!(label(&e, "process.thread.id"), Some("5678"));
    check(
        "2009/11/10 23:00:00 Hello, playground",
        "2009-11-10T23:00:00Z",
        None,
        "Hello, playground",
    );
    check(
        "2009/11/10 23:00:00.123456 main.go:12: listening",
        "2009-11-10T23:00:00.123456Z",
        None,
        "main.go:12: listening",
    );
}

#[test]
fn postgresql() {
    let e = check(
        "2024-01-15 10:20:30.123 CET [1234] LOG:  database system is ready to accept connections",
        "2024-01-15T09:20:30.123Z",
        Some("info"),
        "database system is ready to accept connections",
    );
    assert_eq!(e.pid, Some(1234));
    check(
        "2024-01-15 10:20:30.123 EST [99] ERROR:  relation \"x\" does not exist at character 15",
        "2024-01-15T15:20:30.123Z",
        Some("error"),
        "relation \"x\" does not exist at character 15",
    );
    check(
        "2024-01-15 10:20:30 UTC [7] FATAL:  password authentication failed for user \"bob\"",
        "2024-01-15T10:20:30Z",
        Some("crit"),
        "password authentication failed for user \"bob\"",
    );
}

#[test]
fn mysql8() {
    let e = check(
        "2024-01-15T10:20:30.123456Z 0 [System] [MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.36) starting as process 1",
        "2024-01-15T10:20:30.123456Z",
        Some("info"),
        "[MY-010116] [Server] /usr/sbin/mysqld (mysqld 8.0.36) starting as process 1",
    );
    assert_eq!(label(&e, "process.thread.id"), Some("0"));
    check(
        "2024-01-15T10:20:30.123456Z 12 [Warning] [MY-013360] [Server] plugin deprecated",
        "2024-01-15T10:20:30.123456Z",
        Some("warn"),
        "[MY-013360] [Server] plugin deprecated",
    );
}

#[test]
fn redis() {
    let e = check(
        "1234:M 15 Jan 2024 10:20:30.123 * Ready to accept connections tcp",
        "2024-01-15T10:20:30.123Z",
        Some("notice"),
        "Ready to accept connections tcp",
    );
    assert_eq!(e.pid, Some(1234));
    check(
        "77:C 15 Jan 2024 10:20:30.123 # WARNING overcommit_memory is set to 0",
        "2024-01-15T10:20:30.123Z",
        Some("warn"),
        "WARNING overcommit_memory is set to 0",
    );
}

#[test]
fn mongodb_legacy() {
    let e = check(
        "2024-01-15T10:20:30.123+0000 I NETWORK  [conn12] end connection 10.0.0.5:51234 (3 connections now open)",
        "2024-01-15T10:20:30.123Z",
        Some("info"),
        "end connection 10.0.0.5:51234 (3 connections now open)",
    );
    assert_eq!(label(&e, "log.logger"), Some("NETWORK"));
    assert_eq!(label(&e, "process.thread.name"), Some("conn12"));
}

#[test]
fn klog() {
    let e = check(
        "I0115 10:20:30.123456    1234 controller.go:123] Starting controller",
        "2024-01-15T10:20:30.123456Z",
        Some("info"),
        "Starting controller",
    );
    assert_eq!(label(&e, "process.thread.id"), Some("1234"));
    assert_eq!(label(&e, "log.origin.file.name"), Some("controller.go"));
    check(
        "E0115 10:20:30.000001       7 reflector.go:138] failed to list *v1.Pod: timeout",
        "2024-01-15T10:20:30.000001Z",
        Some("error"),
        "failed to list *v1.Pod: timeout",
    );
}

#[test]
fn rails() {
    let e = check(
        "I, [2024-01-15T10:20:30.123456 #1234]  INFO -- : Started GET \"/\" for 127.0.0.1",
        "2024-01-15T10:20:30.123456Z",
        Some("info"),
        "Started GET \"/\" for 127.0.0.1",
    );
    assert_eq!(e.pid, Some(1234));
    let e = check(
        "E, [2024-01-15T10:20:30.000100 #1] ERROR -- MyApp: boom",
        "2024-01-15T10:20:30.0001Z",
        Some("error"),
        "boom",
    );
    assert_eq!(label(&e, "log.logger"), Some("MyApp"));
}

#[test]
fn windows() {
    let e = check(
        "2024-01-15 10:20:30, Info                  CBS    Loaded Servicing Stack v10.0.19041.1 with Core: C:\\Windows\\winsxs\\cbscore.dll",
        "2024-01-15T10:20:30Z",
        Some("info"),
        "Loaded Servicing Stack v10.0.19041.1 with Core: C:\\Windows\\winsxs\\cbscore.dll",
    );
    assert_eq!(label(&e, "log.logger"), Some("CBS"));
    check(
        "1/15/2024 3:04:05 PM Error: service failed to start",
        "2024-01-15T15:04:05Z",
        Some("error"),
        "service failed to start",
    );
    check(
        "12/1/2023 12:00:01 AM Information boot",
        "2023-12-01T00:00:01Z",
        Some("info"),
        "boot",
    );
}

#[test]
fn collector_prefix() {
    let e = check(
        "app.log: 2024-01-15 10:20:30,001 INFO ready",
        "2024-01-15T10:20:30.001Z",
        Some("info"),
        "ready",
    );
    assert_eq!(label(&e, "log.prefix"), Some("app.log"));
    check(
        "web-1 | 2024-01-15T10:20:30Z WARN hot",
        "2024-01-15T10:20:30Z",
        Some("warn"),
        "hot",
    );
    // A bare file name before the time (several files tailed into one, `grep -H`).
    let e = check(
        "billing-worker.log.2.2024-01-14_23:00:00 2024-01-15 10:20:30.250 4711 ERROR billing.jobs.invoice charge refused",
        "2024-01-15T10:20:30.250Z",
        Some("error"),
        "billing.jobs.invoice charge refused",
    );
    assert_eq!(label(&e, "log.prefix"), Some("billing-worker.log.2.2024-01-14_23:00:00"));
    // Docker Compose pads the service name before `|`; `grep -H` puts the path and `:`.
    let e = check(
        "api-2   | 2024-01-15T10:20:30.500Z INFO  [main] com.acme.Boot - listening",
        "2024-01-15T10:20:30.500Z",
        Some("info"),
        "listening",
    );
    assert_eq!((label(&e, "log.prefix"), label(&e, "log.logger")), (Some("api-2"), Some("com.acme.Boot")));
    let e = check(
        "/srv/shop/logs/orders.log:2024-01-15 10:20:30,500 WARN [pool-2] com.acme.Orders: slow",
        "2024-01-15T10:20:30.500Z",
        Some("warn"),
        "slow",
    );
    assert_eq!(label(&e, "log.prefix"), Some("/srv/shop/logs/orders.log"));
    // A syslog line behind a prefix is read as syslog.
    let e = parse("relay-3 | Jan 15 10:20:30 db2 postgres[4242]: checkpoint complete");
    assert_eq!(e.dataset.as_deref(), Some("syslog"));
    assert_eq!((e.host.as_deref(), e.process_name.as_deref(), e.pid), (Some("db2"), Some("postgres"), Some(4242)));
    assert_eq!((e.message.as_str(), label(&e, "log.prefix")), ("checkpoint complete", Some("relay-3")));
    assert_eq!(e.timestamp, ts("2024-01-15T10:20:30Z"));
    // Not a name: a level word (the learned structure reads `LEVEL time`), a date, digits.
    assert!(parse("ERROR 2024-01-15 10:20:30 boom").flags.unparsed);
    assert_eq!(parse("15.01.2024 10:20:30 x").labels.get("log.prefix"), None);
    assert!(parse("4711 10:20:30 x").flags.unparsed);
    assert!(parse("7 2024-01-15 10:20:30 x").flags.unparsed);
}

#[test]
fn loguru() {
    // `{time} | {level: <8} | {name}:{function}:{line} - {message}`
    let e = check(
        "2024-01-15 10:20:30.250 | WARNING  | billing.tasks:charge:88 - card 4 declined: retry",
        "2024-01-15T10:20:30.250Z",
        Some("warn"),
        "card 4 declined: retry",
    );
    assert_eq!(label(&e, "log.logger"), Some("billing.tasks:charge:88"));
    let e = check("2024-01-15 10:20:30.250 | INFO     | __main__:<module>:7 - up", "2024-01-15T10:20:30.250Z", Some("info"), "up");
    assert_eq!(label(&e, "log.logger"), Some("__main__:<module>:7"));
    // Without ` - ` after it, `a:b` starts the message.
    let e = check("2024-01-15 10:20:30 ERROR db:5432 unreachable", "2024-01-15T10:20:30Z", Some("error"), "db:5432 unreachable");
    assert_eq!(label(&e, "log.logger"), None);
}

#[test]
fn relayed_syslog_line() {
    // A collector's label, its receive time as an epoch and its date, the sender, then the
    // sender's syslog line: the epoch is the time, the rest comes from the inner line.
    let e = parse("- 1717150000 2024.05.31 node17 May 31 03:06:40 node17/node17 ntpd[811]: clock synchronized");
    assert_eq!(e.dataset.as_deref(), Some("syslog"));
    assert_eq!(e.timestamp, Timestamp::from_secs(1_717_150_000));
    assert_eq!(e.host.as_deref(), Some("node17"));
    assert_eq!(e.process_name.as_deref(), Some("ntpd"));
    assert_eq!(e.pid, Some(811));
    assert_eq!(e.message, "clock synchronized");
    assert_eq!(label(&e, "log.prefix"), Some("-"));
    assert!(!e.flags.any(), "{:?}", e.flags);
    // An ISO receive time and the sender's line right after it.
    let e = parse("2024-05-31T03:06:41Z Feb 2 03:06:40 gw1 sshd(pam_unix)[99]: session opened");
    assert_eq!(e.timestamp, ts("2024-05-31T03:06:41Z"));
    assert_eq!((e.host.as_deref(), e.process_name.as_deref()), (Some("gw1"), Some("sshd(pam_unix)")));
    assert_eq!(e.message, "session opened");
    // A month name that starts a message is no inner line.
    let e = check("2024-05-31 03:06:41 May I help", "2024-05-31T03:06:41Z", None, "May I help");
    assert_eq!(e.process_name, None);
}

#[test]
fn far_future_or_past_times_are_flagged_not_used() {
    let e = parse("2099-01-01 00:00:00 INFO from the future");
    assert_eq!(e.timestamp, RECEIVED);
    assert!(e.flags.bad_timestamp);
    assert_eq!(e.message, "from the future");
    assert_eq!(e.level.as_deref(), Some("info"));
    let e = parse("1969-12-31 23:59:59 INFO from the past");
    assert_eq!(e.timestamp, RECEIVED);
    assert!(e.flags.bad_timestamp);
    // A day ahead is still taken (clock skew).
    assert_eq!(
        parse("2024-06-01 20:00:00 INFO soon").timestamp,
        ts("2024-06-01T20:00:00Z")
    );
}

#[test]
fn bad_input_never_panics_nor_loses_the_line() {
    let month13 = parse("2024-13-01 10:00:00 INFO x");
    assert!(month13.flags.bad_timestamp);
    assert_eq!(month13.timestamp, RECEIVED);
    assert_eq!(month13.message, "x");
    let big = "7".repeat(100 << 10);
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut lines: Vec<Vec<u8>> = vec![
        b"7".to_vec(),
        b"12345678901234567890".to_vec(),
        big.clone().into_bytes(),
        format!("2024-01-01 10:00:00 {big}").into_bytes(),
        format!("[{big}").into_bytes(),
        "x".repeat(100 << 10).into_bytes(),
        junk.clone(),
        b"01-02 15:04:05.123  1 2 E".to_vec(),
        b"01-02 15:04:05.123 E/".to_vec(),
        b"I0115 10:20:30.1 1 x".to_vec(),
        b"I, [2024-01-15T10:20:30 #".to_vec(),
        b"1:M 1 Jan 2024 10:00:00".to_vec(),
        b"1/1/2024 13:00:00 PM x".to_vec(),
        b"2024-01-01T10:00:00+99:99 x".to_vec(),
        "2024-01-01 10:00:00 \u{e9}\u{e9} [\u{e9}"
            .as_bytes()
            .to_vec(),
    ];
    // Every prefix of the shapes above, cut at every byte.
    for s in [
        "2024-01-15 10:20:30.123 CET [1234] LOG:  db",
        "1234:M 15 Jan 2024 10:20:30.123 * Ready",
        "I, [2024-01-15T10:20:30.123456 #1234]  INFO -- : x",
        "01-02 15:04:05.123 W/System.err( 4321): x",
        "Mon Jan  1 10:00:00 2024 INFO s",
        "[10/Oct/2000:13:55:36 -0700] x",
        "1/15/2024 3:04:05 PM Error: x",
        "- 1717150000 2024.05.31 n7 May 31 03:06:40 n7/n7 ntpd[811]: x",
        "w-1  | May 31 03:06:40 h7 Photo Editor[8]: x",
        "/a/b.log:20240101-9:5:7:42|S|1|x",
        "f.log 2024-01-15 10:20:30 4 INFO a.b [r - -] x",
        "2024-01-15 10:20:30 | INFO | a.b:<m>:7 - x",
        "2024-01-15 10:20:30 \u{e9} \u{e9}\u{e9} May 31 03:06:40 h p[1]: x",
    ] {
        for i in 0..=s.len() {
            lines.push(s.as_bytes()[..i].to_vec());
        }
    }
    for l in &lines {
        let e = parse_in(l, &ctx());
        let text = String::from_utf8_lossy(l);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        // Never lost: the message is the whole line, or a tail of it after a header.
        assert!(
            text.ends_with(e.message.as_str()),
            "{text:?} -> {:?}",
            e.message
        );
        if e.flags.unparsed {
            assert_eq!(e.message, text);
        }
    }
    assert_eq!(parse(&big).message, big);
}



//! A corpus of application log formats, written for this test from the formats' documentation
//! (layouts, default patterns, the examples in their manuals), not copied from log files: per
//! format [`LINES`] lines generated from one layout with varying times, levels, threads and
//! messages (the [`message`] generator). Each format's lines are one batch of one file through
//! `FileRules::parse_batch`, as the pipeline stage parses them (hint `Auto`; formats detection
//! does not read, or reads only as a generic header, get their structure learned from the
//! batch: the `(learned)` rows); a line counts as right when its `@timestamp` (to the
//! nanosecond), `log.level` and `message` are the expected ones. The test prints the per-format
//! table and fails when a format falls under its floor. `benches/parse.rs` measures the parse
//! rate over the same corpus (`corpus` group).

use std::sync::Arc;

use chrono::NaiveDate;
use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::ParseContext;
use loglynx_pipeline::FileRules;

/// 2024-12-31T00:00:00Z: formats without a year fall in 2024.
const NOW: Timestamp = Timestamp(1_735_603_200_000_000_000);
pub const LINES: usize = 300;
/// Every format must get at least this share of its lines entirely right.
const FLOOR: f64 = 0.95;
/// Formats of the corpus the parser does not read yet, measured and printed but not held to
/// the floor (none at the moment).
const KNOWN_GAPS: [&str; 0] = [];

/// The parts a line is built from.
#[derive(Clone, Copy)]
struct T {
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    /// Nanoseconds.
    ns: u32,
}

impl T {
    fn new(i: usize) -> T {
        let i32_ = i as u32;
        T {
            y: 2024,
            mo: 1 + i32_ % 12,
            d: 1 + (i32_ * 5) % 28,
            h: (i32_ * 7) % 24,
            mi: (i32_ * 11) % 60,
            s: (i32_ * 13) % 60,
            ns: (i32_.wrapping_mul(123_456_789)) % 1_000_000_000,
        }
    }
    /// The fraction cut to `digits` and the time with that fraction.
    fn frac(self, digits: u32) -> (String, T) {
        let unit = 10u32.pow(9 - digits);
        let v = self.ns / unit;
        (
            format!("{v:0w$}", w = digits as usize),
            T {
                ns: v * unit,
                ..self
            },
        )
    }
    fn whole(self) -> T {
        T { ns: 0, ..self }
    }
    /// The instant, the time being at `offset_secs` east of UTC.
    fn at(self, offset_secs: i64) -> Timestamp {
        let n = NaiveDate::from_ymd_opt(self.y, self.mo, self.d)
            .and_then(|d| d.and_hms_nano_opt(self.h, self.mi, self.s, self.ns))
            .expect("valid test time")
            .and_utc()
            .timestamp_nanos_opt()
            .expect("in range");
        Timestamp(n - offset_secs * 1_000_000_000)
    }
    fn utc(self) -> Timestamp {
        self.at(0)
    }
    fn mon(self) -> &'static str {
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][self.mo as usize - 1]
    }
    fn wday(self) -> &'static str {
        let d = NaiveDate::from_ymd_opt(self.y, self.mo, self.d).expect("valid");
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            [chrono::Datelike::weekday(&d).num_days_from_monday() as usize]
    }
    fn epoch_secs(self) -> i64 {
        self.utc().0 / 1_000_000_000
    }
}

/// Messages with the shapes that make header ends hard: colons, brackets, dashes, numbers.
const MESSAGES: [&str; 13] = [
    "server started on port 8080",
    "user alice logged in from 10.0.0.7",
    "Connection refused: connect",
    "cache miss for key=user:42 (ttl 30s)",
    "GET /api/v1/items?page=2 - 200 in 12ms",
    "[scheduler] job nightly-report finished",
    "retrying in 5 seconds - attempt 3 of 5",
    "disk usage at 91% on /var",
    "received SIGTERM, shutting down",
    "transaction 0x3f2a committed",
    "Reloading configuration from /etc/app/app.yaml",
    "worker 7: queue depth 1024",
    // Reads like `logger: msg` after a bare level: taken as the logger (a known limit).
    "java.net.ConnectException: Connection refused",
];

/// Words messages are built from, beside [`MESSAGES`].
const SUBJECTS: [&str; 7] = ["order", "session", "invoice", "upload", "backup", "payment", "report"];
const ACTIONS: [&str; 9] = [
    "accepted",
    "expired after 30m",
    "failed: timeout",
    "queued (priority high)",
    "rejected - quota exceeded",
    "completed in 245 ms",
    "retried [attempt 2]",
    "cancelled by admin",
    "stored at /data/obj/7f3a",
];

/// The message of line `i`: one of [`MESSAGES`] every third line, else built from a subject,
/// an id and an action, so lines differ.
pub fn message(i: usize) -> String {
    if i.is_multiple_of(3) {
        return MESSAGES[(i / 3) % MESSAGES.len()].to_string();
    }
    format!("{} {} {}", SUBJECTS[i % SUBJECTS.len()], 1000 + i * 37 % 9000, ACTIONS[(i / 7) % ACTIONS.len()])
}

/// Thread names of line `i`.
fn thread(i: usize) -> &'static str {
    ["main", "worker-3", "pool-1-thread-2", "http-nio-8080-exec-7", "scheduler-1"][i % 5]
}

/// One expected line.
pub struct Case {
    line: String,
    ts: Timestamp,
    level: Option<&'static str>,
    message: String,
}

fn case(line: String, ts: Timestamp, level: Option<&'static str>, message: &str) -> Case {
    Case {
        line,
        ts,
        level,
        message: message.to_string(),
    }
}

/// Cycles through a format's level words: (as written, as stored).
fn lvl(i: usize, words: &[(&'static str, &'static str)]) -> (&'static str, &'static str) {
    words[i % words.len()]
}

const NLOG: &[(&str, &str)] = &[
    ("INFO", "info"),
    ("WARN", "warn"),
    ("ERROR", "error"),
    ("DEBUG", "debug"),
    ("TRACE", "trace"),
    ("FATAL", "crit"),
];

const JUL: &[(&str, &str)] = &[
    ("INFO", "info"),
    ("WARNING", "warn"),
    ("SEVERE", "error"),
    ("FINE", "debug"),
    ("FINER", "trace"),
];

const LOG4J: &[(&str, &str)] = &[
    ("INFO", "info"),
    ("WARN", "warn"),
    ("ERROR", "error"),
    ("DEBUG", "debug"),
    ("TRACE", "trace"),
    ("FATAL", "crit"),
];

type Gen = fn(usize, T, &str) -> Case;

fn formats() -> Vec<(&'static str, i32, Gen)> {
    vec![
        ("log4j iso8601 comma", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02},{f} {w:<5} [main] com.acme.Server - {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("rfc3339 Z nanos", 0, |i, t, m| {
            let (f, t) = t.frac(9);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}Z {w} {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("spring boot +hh:mm", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(format!("{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}+01:00 {w:>5} {} --- [           main] o.s.b.w.e.tomcat.TomcatWebServer         : {m}", t.y, t.mo, t.d, t.h, t.mi, t.s, 1000 + i), t.at(3600), Some(l), m)
        }),
        ("iso +hhmm [LEVEL]", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}-0500 [{w}] {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.at(-5 * 3600),
                Some(l),
                m,
            )
        }),
        ("iso no zone, source zone +05:30", 19_800, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(
                i,
                &[
                    ("info", "info"),
                    ("warning", "warn"),
                    ("error", "error"),
                    ("debug", "debug"),
                ],
            );
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02}.{f} {w}: {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.at(19_800),
                Some(l),
                m,
            )
        }),
        ("python logging", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    ("INFO", "info"),
                    ("WARNING", "warn"),
                    ("ERROR", "error"),
                    ("DEBUG", "debug"),
                    ("CRITICAL", "crit"),
                ],
            );
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02},{f} - myapp.worker - {w} - {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("[rfc3164] level", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "[{} {:>2} {:02}:{:02}:{:02}] {w} {m}",
                    t.mon(),
                    t.d,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("logback HH:mm:ss.SSS (no date)", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            // NOW is midnight: a time of day more than an hour ahead is yesterday's.
            let day = if t.h == 0 { 31 } else { 30 };
            let want = T {
                y: 2024,
                mo: 12,
                d: day,
                ..t
            };
            case(
                format!(
                    "{:02}:{:02}:{:02}.{f} [main] {w:<5} c.a.s.Main - {m}",
                    t.h, t.mi, t.s
                ),
                want.utc(),
                Some(l),
                m,
            )
        }),
        ("log4j yy/MM/dd (spark)", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{:02}/{:02}/{:02} {:02}:{:02}:{:02} {w} storage.BlockManagerMaster: {m}",
                    t.y % 100,
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("logcat threadtime", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    ("V", "trace"),
                    ("D", "debug"),
                    ("I", "info"),
                    ("W", "warn"),
                    ("E", "error"),
                    ("F", "crit"),
                ],
            );
            case(
                format!(
                    "{:02}-{:02} {:02}:{:02}:{:02}.{f}  {:>4}  {:>4} {w} ActivityManager: {m}",
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    500 + i,
                    600 + i
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("logcat time E/Tag", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    ("V", "trace"),
                    ("D", "debug"),
                    ("I", "info"),
                    ("W", "warn"),
                    ("E", "error"),
                ],
            );
            case(
                format!(
                    "{:02}-{:02} {:02}:{:02}:{:02}.{f} {w}/MainActivity({:>5}): {m}",
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    1234 + i
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("yyyyMMdd-HH:mm:ss:SSS", 0, |_, t, m| {
            let (f, t) = t.frac(3);
            case(
                format!(
                    "{}{:02}{:02}-{:02}:{:02}:{:02}:{f}|Step_LSC|30002312|{m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                None,
                m,
            )
        }),
        ("yyyy.MM.dd", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{}.{:02}.{:02} {:02}:{:02}:{:02} [{w}] {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("[dd/MMM/yyyy:HH:mm:ss Z]", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "[{:02}/{}/{}:{:02}:{:02}:{:02} +0200] {w} {m}",
                    t.d,
                    t.mon(),
                    t.y,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.at(7200),
                Some(l),
                m,
            )
        }),
        ("[dd/MMM/yyyy HH:mm:ss] (django)", 0, |i, t, _| {
            let t = t.whole();
            let m = format!("\"GET /items/{i} HTTP/1.1\" 200 {}", 100 + i);
            case(
                format!(
                    "[{:02}/{}/{} {:02}:{:02}:{:02}] {m}",
                    t.d,
                    t.mon(),
                    t.y,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.utc(),
                None,
                &m,
            )
        }),
        ("ctime", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{} {} {:>2} {:02}:{:02}:{:02} {} {w} {m}",
                    t.wday(),
                    t.mon(),
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    t.y
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("epoch seconds", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(format!("{} {w} {m}", t.epoch_secs()), t.utc(), Some(l), m)
        }),
        ("epoch millis", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("{}{f} [{w}] {m}", t.epoch_secs()),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("nginx error", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(
                i,
                &[
                    ("error", "error"),
                    ("warn", "warn"),
                    ("notice", "notice"),
                    ("crit", "crit"),
                    ("alert", "alert"),
                    ("emerg", "emerg"),
                    ("info", "info"),
                    ("debug", "debug"),
                ],
            );
            let msg = format!("*{i} {m}, client: 10.0.0.{i}, server: example.org");
            case(
                format!(
                    "{}/{:02}/{:02} {:02}:{:02}:{:02} [{w}] {}#0: {msg}",
                    t.y,
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    4000 + i
                ),
                t.utc(),
                Some(l),
                &msg,
            )
        }),
        ("postgresql", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    ("LOG", "info"),
                    ("ERROR", "error"),
                    ("WARNING", "warn"),
                    ("FATAL", "crit"),
                    ("PANIC", "emerg"),
                    ("DEBUG1", "debug"),
                    ("INFO", "info"),
                    ("NOTICE", "notice"),
                ],
            );
            let (zone, off) = [("UTC", 0), ("CET", 3600), ("EST", -18_000), ("JST", 32_400)][i % 4];
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02}.{f} {zone} [{}] {w}:  {m}",
                    t.y,
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    700 + i
                ),
                t.at(off),
                Some(l),
                m,
            )
        }),
        ("mysql 8", 0, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(
                i,
                &[
                    ("System", "info"),
                    ("Warning", "warn"),
                    ("ERROR", "error"),
                    ("Note", "info"),
                ],
            );
            let msg = format!("[MY-0{}] [Server] {m}", 10_000 + i);
            case(
                format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}Z {i} [{w}] {msg}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                &msg,
            )
        }),
        ("redis", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    (".", "debug"),
                    ("-", "info"),
                    ("*", "notice"),
                    ("#", "warn"),
                ],
            );
            let role = ["M", "S", "C", "X"][i % 4];
            case(
                format!(
                    "{}:{role} {:02} {} {} {:02}:{:02}:{:02}.{f} {w} {m}",
                    100 + i,
                    t.d,
                    t.mon(),
                    t.y,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("mongodb legacy", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(
                i,
                &[
                    ("I", "info"),
                    ("W", "warn"),
                    ("E", "error"),
                    ("F", "crit"),
                    ("D1", "debug"),
                ],
            );
            let comp = ["NETWORK", "COMMAND", "STORAGE", "REPL", "ACCESS"][i % 5];
            case(
                format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}+0000 {w} {comp:<8} [conn{i}] {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("kubernetes klog", 0, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(
                i,
                &[("I", "info"), ("W", "warn"), ("E", "error"), ("F", "crit")],
            );
            case(
                format!(
                    "{w}{:02}{:02} {:02}:{:02}:{:02}.{f} {:>7} controller.go:{}] {m}",
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    1 + i,
                    100 + i
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("go log", 0, |_, t, m| {
            let (f, t) = t.frac(6);
            if t.d % 2 == 0 {
                case(
                    format!(
                        "{}/{:02}/{:02} {:02}:{:02}:{:02}.{f} {m}",
                        t.y, t.mo, t.d, t.h, t.mi, t.s
                    ),
                    t.utc(),
                    None,
                    m,
                )
            } else {
                let t = t.whole();
                case(
                    format!(
                        "{}/{:02}/{:02} {:02}:{:02}:{:02} {m}",
                        t.y, t.mo, t.d, t.h, t.mi, t.s
                    ),
                    t.utc(),
                    None,
                    m,
                )
            }
        }),
        ("rails logger", 0, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(
                i,
                &[
                    ("INFO", "info"),
                    ("WARN", "warn"),
                    ("ERROR", "error"),
                    ("DEBUG", "debug"),
                    ("FATAL", "crit"),
                ],
            );
            let prog = if i % 2 == 0 { "" } else { "MyApp" };
            case(
                format!(
                    "{}, [{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f} #{}] {w:>5} -- {prog}: {m}",
                    &w[..1],
                    t.y,
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s,
                    200 + i
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("windows cbs", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(
                i,
                &[("Info", "info"), ("Warning", "warn"), ("Error", "error")],
            );
            let comp = ["CBS", "CSI", "DISM"][i % 3];
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02}, {w:<22}{comp:<7}{m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("windows M/d/yyyy h:mm:ss AM", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(
                i,
                &[
                    ("Information", "info"),
                    ("Warning", "warn"),
                    ("Error", "error"),
                ],
            );
            let (h12, ampm) = match t.h {
                0 => (12, "AM"),
                1..=11 => (t.h, "AM"),
                12 => (12, "PM"),
                h => (h - 12, "PM"),
            };
            case(
                format!(
                    "{}/{}/{} {h12}:{:02}:{:02} {ampm} {w} {m}",
                    t.mo, t.d, t.y, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("collector prefix", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "web-{} | {}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}Z {w} {m}",
                    i % 3,
                    t.y,
                    t.mo,
                    t.d,
                    t.h,
                    t.mi,
                    t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("dd/MM/yyyy HH:mm:ss.SSS (learned)", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{:02}/{:02}/{} {:02}:{:02}:{:02}.{f} {w:<5} [main] com.acme.Server - {m}",
                    t.d, t.mo, t.y, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("dd.MM.yyyy [LEVEL] (learned)", 3600, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("{:02}.{:02}.{} {:02}:{:02}:{:02} [{w}] {m}", t.d, t.mo, t.y, t.h, t.mi, t.s),
                t.at(3600),
                Some(l),
                m,
            )
        }),
        ("dd/MM/yyyy HH:mm (learned)", 0, |i, t, m| {
            let t = T { s: 0, ns: 0, ..t };
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("{:02}/{:02}/{} {:02}:{:02} {w} {m}", t.d, t.mo, t.y, t.h, t.mi),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("nlog pipes (learned)", 0, |i, t, m| {
            // NLog's default `${longdate}|${level:uppercase=true}|${logger}|${message}`.
            let (f, t) = t.frac(4);
            let (w, l) = lvl(i, NLOG);
            let logger = ["Acme.Billing.Program", "Acme.Web.Startup", "Acme.Data.Repository"][i % 3];
            case(
                format!("{}-{:02}-{:02} {:02}:{:02}:{:02}.{f}|{w}|{logger}|{m}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("karaf padded pipes (learned)", 0, |i, t, m| {
            // Karaf / ServiceMix: `%d{ISO8601} | %-5.5p | %-16.16t | %-32.32c{1} | %m`.
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            let logger = ["BlueprintContainerImpl", "FeaturesServiceImpl", "HttpServiceFactory"][i % 3];
            case(
                format!(
                    "{}-{:02}-{:02} {:02}:{:02}:{:02},{f} | {w:<5.5} | {:<16.16} | {logger:<32.32} | {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s, thread(i)
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("zap console tabs (learned)", 0, |i, t, m| {
            // zap's development console encoder: time, level, caller, message, tab-separated.
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, &[("INFO", "info"), ("WARN", "warn"), ("ERROR", "error"), ("DEBUG", "debug")]);
            let caller = ["server/main.go:42", "store/db.go:118", "api/handler.go:77"][i % 3];
            case(
                format!("{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}Z\t{w}\t{caller}\t{m}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("semicolons (learned)", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, LOG4J);
            let comp = ["billing", "auth", "export"][i % 3];
            case(
                format!("{}-{:02}-{:02} {:02}:{:02}:{:02};{w};{comp};{m}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("tomcat onelineformatter (learned)", 0, |i, t, m| {
            // java.util.logging's OneLineFormatter (Tomcat's catalina.out).
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, JUL);
            let src = ["org.apache.catalina.startup.Catalina.start", "org.apache.coyote.AbstractProtocol.init"][i % 2];
            case(
                format!(
                    "{:02}-{}-{} {:02}:{:02}:{:02}.{f} {w} [{}] {src} {m}",
                    t.d, t.mon(), t.y, t.h, t.mi, t.s, thread(i)
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("kafka server.log", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            let msg = format!("[KafkaServer id={}] {m} (kafka.server.KafkaServer)", i % 3);
            case(
                format!("[{}-{:02}-{:02} {:02}:{:02}:{:02},{f}] {w} {msg}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                &msg,
            )
        }),
        ("airflow task log (learned)", 0, |i, t, m| {
            // `[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s`
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, &[("INFO", "info"), ("WARNING", "warn"), ("ERROR", "error"), ("DEBUG", "debug")]);
            let file = ["taskinstance.py:1234", "scheduler_job.py:88", "base.py:410"][i % 3];
            case(
                format!("[{}-{:02}-{:02} {:02}:{:02}:{:02},{f}] {{{file}}} {w} - {m}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("squid native access", 0, |i, t, _| {
            let (f, t) = t.frac(3);
            let msg = format!(
                "{:>6} 10.0.{}.{} TCP_MISS/200 {} GET http://example.com/p/{i} - HIER_DIRECT/93.184.216.34 text/html",
                20 + i % 900,
                i % 4,
                1 + i % 250,
                512 + i
            );
            case(format!("{}.{f} {msg}", t.epoch_secs()), t.utc(), None, msg.trim_start())
        }),
        ("iso level host program (learned)", 0, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}Z {w} web-{} nginx[{}]: {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s, i % 4, 100 + i % 7
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("dd/MM/yyyy days <= 12, in order (learned)", 0, |i, t, m| {
            // Day-first with no day over 12: read day-first because the lines are in time
            // order that way (month-first they go back in time), flagged ambiguous_timestamp.
            let t = T { mo: 1 + (i as u32 / 24) % 12, d: 1 + (i as u32 % 24) / 2, ..t.whole() };
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("{:02}/{:02}/{} {:02}:{:02}:{:02} [{}] {w} {m}", t.d, t.mo, t.y, t.h, t.mi, t.s, thread(i)),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("level first, iso, [thread] logger: (learned)", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("{w:<5} {}-{:02}-{:02} {:02}:{:02}:{:02},{f} [{}] c.e.Foo: {m}", t.y, t.mo, t.d, t.h, t.mi, t.s, thread(i)),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("cassandra level [thread] time (learned)", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!(
                    "{w:<5} [{}] {}-{:02}-{:02} {:02}:{:02}:{:02},{f} StorageService.java:{} - {m}",
                    ["main", "CompactionExecutor:3", "MemtableFlushWriter:1", "GossipStage:1"][i % 4],
                    t.y, t.mo, t.d, t.h, t.mi, t.s, 100 + i
                ),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("[LEVEL] [time] (learned)", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, LOG4J);
            case(
                format!("[{w}] [{}-{:02}-{:02} {:02}:{:02}:{:02}.{f}] {m}", t.y, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("gunicorn", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, &[("INFO", "info"), ("WARNING", "warn"), ("ERROR", "error"), ("DEBUG", "debug"), ("CRITICAL", "crit")]);
            case(
                format!("[{}-{:02}-{:02} {:02}:{:02}:{:02} +0000] [{}] [{w}] {m}", t.y, t.mo, t.d, t.h, t.mi, t.s, 1000 + i),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("rabbitmq 3.9+", 0, |i, t, m| {
            let (f, t) = t.frac(6);
            let (w, l) = lvl(i, &[("info", "info"), ("warning", "warn"), ("error", "error"), ("debug", "debug"), ("notice", "notice")]);
            case(
                format!("{}-{:02}-{:02} {:02}:{:02}:{:02}.{f}+00:00 [{w}] <0.{}.0> {m}", t.y, t.mo, t.d, t.h, t.mi, t.s, 200 + i),
                t.utc(),
                Some(l),
                &format!("<0.{}.0> {m}", 200 + i),
            )
        }),
        ("elasticsearch [time][LEVEL][logger]", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, &[("INFO ", "info"), ("WARN ", "warn"), ("ERROR", "error"), ("DEBUG", "debug")]);
            case(
                format!(
                    "[{}-{:02}-{:02}T{:02}:{:02}:{:02},{f}][{w}][o.e.n.Node               ] [node-1] {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s
                ),
                t.utc(),
                Some(l),
                &format!("[node-1] {m}"),
            )
        }),
        ("envoy [time][tid][level][logger]", 0, |i, t, m| {
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, &[("info", "info"), ("warning", "warn"), ("error", "error"), ("debug", "debug"), ("critical", "crit")]);
            case(
                format!(
                    "[{}-{:02}-{:02} {:02}:{:02}:{:02}.{f}][{}][{w}][upstream] [source/common/upstream/cluster_manager_impl.cc:{}] {m}",
                    t.y, t.mo, t.d, t.h, t.mi, t.s, 10 + i, 100 + i
                ),
                t.utc(),
                Some(l),
                &format!("[source/common/upstream/cluster_manager_impl.cc:{}] {m}", 100 + i),
            )
        }),
        ("mysql 5.5 yymmdd", 0, |i, t, m| {
            let t = t.whole();
            let (w, l) = lvl(i, &[("Note", "info"), ("Warning", "warn"), ("ERROR", "error")]);
            case(
                format!("{:02}{:02}{:02} {:>2}:{:02}:{:02} [{w}] {m}", t.y % 100, t.mo, t.d, t.h, t.mi, t.s),
                t.utc(),
                Some(l),
                m,
            )
        }),
        ("mongodb 4.4+ structured json", 0, |i, t, m| {
            // `{"t":{"$date":...},"s":..,"c":..,"id":..,"ctx":..,"msg":..,"attr":{..}}`, the
            // time with the server's offset.
            let (f, t) = t.frac(3);
            let (w, l) = lvl(i, &[("I", "info"), ("W", "warn"), ("E", "error"), ("F", "crit"), ("D2", "debug")]);
            let comp = ["NETWORK", "COMMAND", "STORAGE", "REPL", "ACCESS"][i % 5];
            let ctx = ["conn12", "listener", "initandlisten", "ftdc"][i % 4];
            case(
                format!(
                    r#"{{"t":{{"$date":"{}-{:02}-{:02}T{:02}:{:02}:{:02}.{f}+01:00"}},"s":"{w}",  "c":"{comp}", "id":{},"ctx":"{ctx}","msg":{},"attr":{{"durationMillis":{}}}}}"#,
                    t.y, t.mo, t.d, t.h, t.mi, t.s, 20000 + i, serde_json::to_string(m).unwrap(), i % 97
                ),
                t.at(3600),
                Some(l),
                m,
            )
        }),
        ("logcat brief W/Tag( pid) (no time)", 0, |i, _, m| {
            let (w, l) = lvl(i, &[("V", "trace"), ("D", "debug"), ("I", "info"), ("W", "warn"), ("E", "error")]);
            case(format!("{w}/ActivityManager({:>5}): {m}", 1234 + i), NOW, Some(l), m)
        }),
    ]
}

/// The corpus's lines per format (the parse bench's `corpus` group reads them).
pub fn corpus() -> Vec<(&'static str, i32, Vec<String>)> {
    formats()
        .into_iter()
        .map(|(name, offset, gen)| (name, offset, (0..LINES).map(|i| gen(i, T::new(i), &message(i)).line).collect()))
        .collect()
}

#[test]
fn formats_corpus() {
    let rules = FileRules::default();
    let mut failures = Vec::new();
    let mut total = (0, 0);
    println!(
        "{:<42} {:>5} {:>6} {:>6} {:>6} {:>7}",
        "format", "lines", "time", "level", "msg", "all"
    );
    for (name, offset, gen) in formats() {
        let ctx = ParseContext {
            now: NOW,
            keep_original: false,
            utc_offset_secs: offset,
        };
        let mut ok = [0usize; 4];
        let source = Arc::new(SourceKind::File {
            path: format!("corpus/{name}.log"),
        });
        let cases: Vec<Case> = (0..LINES).map(|i| gen(i, T::new(i), &message(i))).collect();
        let records: Vec<RawRecord> = cases
            .iter()
            .enumerate()
            .map(|(i, c)| RawRecord {
                body: c.line.clone().into_bytes(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: NOW,
                id: format!("{name}-{i}"),
            })
            .collect();
        let events = rules.parse_batch(&records, &ctx);
        for (c, e) in cases.iter().zip(events) {
            let right = [
                e.timestamp == c.ts,
                e.level.as_deref() == c.level,
                e.message == c.message,
            ];
            for (n, r) in ok.iter_mut().zip(right) {
                *n += usize::from(r);
            }
            if right.iter().all(|&r| r) {
                ok[3] += 1;
            } else if failures.len() < 60 && !KNOWN_GAPS.contains(&name) {
                failures.push(format!(
                    "{name}: {:?}\n  got  ts={} level={:?} msg={:?}\n  want ts={} level={:?} msg={:?}",
                    c.line, e.timestamp.0, e.level, e.message, c.ts.0, c.level, c.message
                ));
            }
        }
        let pct = |n: usize| 100.0 * n as f64 / LINES as f64;
        println!(
            "{name:<42} {LINES:>5} {:>5.1}% {:>5.1}% {:>5.1}% {:>6.1}%",
            pct(ok[0]),
            pct(ok[1]),
            pct(ok[2]),
            pct(ok[3])
        );
        total.0 += ok[3];
        total.1 += LINES;
        if KNOWN_GAPS.contains(&name) {
            println!("  (known gap: not held to the floor)");
        } else if (ok[3] as f64) < FLOOR * LINES as f64 {
            failures.push(format!("{name}: {}/{LINES} right, under the floor", ok[3]));
        }
    }
    println!("all formats: {}/{} lines right", total.0, total.1);
    assert!(
        !failures.iter().any(|f| f.contains("under the floor")),
        "{}",
        failures.join("\n")
    );
    for f in &failures {
        println!("{f}");
    }
}

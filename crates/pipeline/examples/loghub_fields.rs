//! Per field, how much of each Loghub 2k sample loglynx reads right, through the path a tailed
//! file takes ([`FileRules::parse_batch`]: format detection, then the structure learned for
//! the file), against the ground truth in `X_2k.log_structured.csv`.
//!
//! ```text
//! cargo run -p loglynx-pipeline --example loghub_fields [-- DIR...] [--misses N]
//! ```
//!
//! Each `DIR` holds Loghub dataset folders (`DIR/NAME/NAME_2k.log` and its CSV). Without one:
//! `../shared/data/loghub`, plus `$LOGLYNX_LOGHUB_EXTRA` when set (the eight held-out formats,
//! kept outside the repository). `--misses N` prints the first N wrong values per field.
//!
//! Columns, each the share of lines right (`-` when the CSV has no such column):
//! - `time`: `@timestamp` equals the line's date and time of day to the precision the line
//!   has (a fraction the line lacks is zero); a date without a year must get the year of its
//!   most recent occurrence not after now (a day of slack). Where the line carries an epoch
//!   beside its wall clock (BGL, Thunderbird: the collector's receive time in UTC, the wall
//!   clock in an unstated local zone), either is right.
//! - `level`: `log.level` equals the CSV word normalised (`level::normalize`; logcat's `V` is
//!   `trace`).
//! - `logger`: the CSV's component (logger, class, tag, program) is `log.logger`,
//!   `process.name` or label `component`.
//! - `pid`: `process.pid`.
//! - `thread`: label `process.thread.name` or `process.thread.id` (Hadoop's `[thread]`,
//!   logcat's tid).
//! - `message`: `message` equals `Content`, both trimmed.
//!
//! Lines are fed one record per line (no multi-line joining) in batches of [`BATCH`], with
//! the file's real path as the source, so a first batch too small to learn from can read the
//! head of the file as the file source would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::{level, ParseContext};
use loglynx_pipeline::FileRules;

/// Lines per batch handed to the parser.
const BATCH: usize = 256;

/// What the CSV says the time is.
struct Want {
    /// The wall clock; `year` 0 when the line has none.
    year: i32,
    month: u32,
    day: u32,
    time: NaiveTime,
    /// An epoch (seconds) the line also carries.
    epoch: Option<i64>,
}

/// How to read one dataset's CSV.
struct Spec {
    name: &'static str,
    time: fn(&Row) -> Option<Want>,
    level: Option<&'static str>,
    logger: Option<&'static str>,
    pid: Option<&'static str>,
    /// The thread's name or id.
    thread: Option<&'static str>,
}

struct Row<'a> {
    headers: &'a csv::StringRecord,
    rec: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, col: &str) -> &str {
        self.headers.iter().position(|h| h == col).map_or("", |i| self.rec[i].trim())
    }
}

fn hms(s: &str) -> Option<NaiveTime> {
    // 18:01:47,978 / 16:13:38.811 / 22:15:29:606 / 04:30:30
    let s = s.replace(',', ".");
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec, frac) = match parts.as_slice() {
        [h, m, s] => {
            let (s, f) = s.split_once('.').unwrap_or((s, ""));
            (*h, *m, s, f.to_string())
        }
        // `22:16:0:42`: after a third `:` a count of milliseconds, maybe unpadded.
        [h, m, s, ms] => (*h, *m, *s, format!("{:03}", ms.parse::<u32>().ok()?)),
        _ => return None,
    };
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9].parse().ok()?
    };
    NaiveTime::from_hms_nano_opt(h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?, nanos)
}

fn month(abbr: &str) -> Option<u32> {
    let m = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    m.iter().position(|x| abbr.eq_ignore_ascii_case(x)).map(|i| i as u32 + 1)
}

fn ymd(date: &str, sep: char) -> Option<(i32, u32, u32)> {
    let mut it = date.split(sep);
    let y: i32 = it.next()?.parse().ok()?;
    Some((if y < 100 { 2000 + y } else { y }, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn want(date: Option<(i32, u32, u32)>, time: Option<NaiveTime>) -> Option<Want> {
    let (year, month, day) = date?;
    Some(Want { year, month, day, time: time?, epoch: None })
}

fn specs() -> Vec<Spec> {
    vec![
        // -- the eight the parser was written against (../shared/data/loghub)
        Spec {
            name: "Apache",
            time: |r| {
                let t = NaiveDateTime::parse_from_str(r.get("Time"), "%a %b %d %H:%M:%S %Y").ok()?;
                want(Some((t.year(), t.month(), t.day())), Some(t.time()))
            },
            level: Some("Level"),
            logger: None,
            pid: None,
            thread: None,
        },
        Spec {
            name: "BGL",
            time: |r| {
                let t = NaiveDateTime::parse_from_str(r.get("Time"), "%Y-%m-%d-%H.%M.%S%.f").ok()?;
                let mut w = want(Some((t.year(), t.month(), t.day())), Some(t.time()))?;
                w.epoch = r.get("Timestamp").parse().ok();
                Some(w)
            },
            level: Some("Level"),
            logger: Some("Component"),
            pid: None,
            thread: None,
        },
        Spec {
            name: "HDFS",
            time: |r| {
                let t = NaiveDateTime::parse_from_str(&format!("{} {}", r.get("Date"), r.get("Time")), "%y%m%d %H%M%S").ok()?;
                want(Some((t.year(), t.month(), t.day())), Some(t.time()))
            },
            level: Some("Level"),
            logger: Some("Component"),
            pid: Some("Pid"),
            thread: None,
        },
        Spec {
            name: "HPC",
            time: |r| {
                let t = chrono::DateTime::from_timestamp(r.get("Time").parse().ok()?, 0)?.naive_utc();
                want(Some((t.year(), t.month(), t.day())), Some(t.time()))
            },
            level: None,
            logger: Some("Component"),
            pid: None,
            thread: None,
        },
        Spec {
            name: "Linux",
            time: |r| want(Some((0, month(r.get("Month"))?, r.get("Date").parse().ok()?)), hms(r.get("Time"))),
            level: None, // this CSV's `Level` column holds the host name
            logger: Some("Component"),
            pid: Some("PID"),
            thread: None,
        },
        Spec {
            name: "OpenSSH",
            time: |r| want(Some((0, month(r.get("Date"))?, r.get("Day").parse().ok()?)), hms(r.get("Time"))),
            level: None,
            logger: None, // this CSV's `Component` column holds the host name
            pid: Some("Pid"),
            thread: None,
        },
        Spec {
            name: "Proxifier",
            time: |r| {
                let (d, t) = r.get("Time").split_once(' ')?;
                let (m, d) = d.split_once('.')?;
                want(Some((0, m.parse().ok()?, d.parse().ok()?)), hms(t))
            },
            level: None,
            logger: Some("Program"),
            pid: None,
            thread: None,
        },
        Spec {
            name: "Zookeeper",
            time: |r| want(ymd(r.get("Date"), '-'), hms(r.get("Time"))),
            level: Some("Level"),
            logger: None, // this CSV cut `[thread:Class@line]` at its first `:` (IPv6 zeros)
            pid: None,
            thread: None,
        },
        // -- the eight held out (LOGLYNX_LOGHUB_EXTRA)
        Spec {
            name: "Android",
            time: |r| {
                let (m, d) = r.get("Date").split_once('-')?;
                want(Some((0, m.parse().ok()?, d.parse().ok()?)), hms(r.get("Time")))
            },
            level: Some("Level"),
            logger: Some("Component"),
            pid: Some("Pid"),
            thread: Some("Tid"),
        },
        Spec {
            name: "Hadoop",
            time: |r| want(ymd(r.get("Date"), '-'), hms(r.get("Time"))),
            level: Some("Level"),
            logger: Some("Component"),
            pid: None,
            thread: Some("Process"),
        },
        Spec {
            name: "HealthApp",
            time: |r| {
                let (d, t) = r.get("Time").split_once('-')?;
                let d = NaiveDate::parse_from_str(d, "%Y%m%d").ok()?;
                want(Some((d.year(), d.month(), d.day())), hms(t))
            },
            level: None,
            logger: Some("Component"),
            pid: Some("Pid"),
            thread: None,
        },
        Spec {
            name: "Mac",
            time: |r| want(Some((0, month(r.get("Month"))?, r.get("Date").parse().ok()?)), hms(r.get("Time"))),
            level: None,
            logger: Some("Component"),
            pid: Some("PID"),
            thread: None,
        },
        Spec {
            name: "OpenStack",
            time: |r| want(ymd(r.get("Date"), '-'), hms(r.get("Time"))),
            level: Some("Level"),
            logger: Some("Component"),
            pid: Some("Pid"),
            thread: None,
        },
        Spec {
            name: "Spark",
            time: |r| want(ymd(r.get("Date"), '/'), hms(r.get("Time"))),
            level: Some("Level"),
            logger: Some("Component"),
            pid: None,
            thread: None,
        },
        Spec {
            name: "Thunderbird",
            time: |r| {
                let mut w = want(ymd(r.get("Date"), '.'), hms(r.get("Time")))?;
                w.epoch = r.get("Timestamp").parse().ok();
                Some(w)
            },
            level: None,
            logger: Some("Component"),
            pid: Some("PID"),
            thread: None,
        },
        Spec {
            name: "Windows",
            time: |r| want(ymd(r.get("Date"), '-'), hms(r.get("Time"))),
            level: Some("Level"),
            logger: Some("Component"),
            pid: None,
            thread: None,
        },
    ]
}

/// The year a date without one gets: its most recent occurrence not after now plus a day.
fn inferred_year(month: u32, day: u32, time: NaiveTime, now: NaiveDateTime) -> i32 {
    let limit = now + chrono::Duration::days(1);
    (now.year() - 7..=now.year())
        .rev()
        .find(|&y| NaiveDate::from_ymd_opt(y, month, day).is_some_and(|d| d.and_time(time) <= limit))
        .unwrap_or(now.year())
}

fn time_right(w: &Want, e: &Event, now: NaiveDateTime) -> bool {
    // The epoch's second (BGL adds the wall clock's fraction to it).
    if w.epoch.is_some_and(|s| e.timestamp.as_nanos().div_euclid(1_000_000_000) == s) {
        return true;
    }
    let year = if w.year == 0 { inferred_year(w.month, w.day, w.time, now) } else { w.year };
    let Some(d) = NaiveDate::from_ymd_opt(year, w.month, w.day) else { return false };
    e.timestamp.to_datetime().naive_utc() == d.and_time(w.time)
}

fn logger_values(e: &Event) -> Vec<&str> {
    [e.labels.get("log.logger").map(String::as_str), e.process_name.as_deref(), e.labels.get("component").map(String::as_str)]
        .into_iter()
        .flatten()
        .collect()
}

/// Right / checked per field, and the first misses.
#[derive(Default)]
struct Tally {
    right: [usize; 6],
    checked: [usize; 6],
    misses: [Vec<String>; 6],
}

const FIELDS: [&str; 6] = ["time", "level", "logger", "pid", "thread", "message"];

fn run(dir: &Path, spec: &Spec, show: usize) -> Option<(usize, Tally)> {
    let folder = dir.join(spec.name);
    let log = folder.join(format!("{}_2k.log", spec.name));
    let raw = std::fs::read(&log).ok()?;
    let mut lines: Vec<Vec<u8>> = raw.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    let mut rdr = csv::Reader::from_path(folder.join(format!("{}_2k.log_structured.csv", spec.name))).ok()?;
    let headers = rdr.headers().ok()?.clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map_while(Result::ok).collect();
    assert_eq!(lines.len(), rows.len(), "{}: lines and CSV rows differ", spec.name);

    let path = std::fs::canonicalize(&log).unwrap_or(log);
    let source = Arc::new(SourceKind::File { path: path.to_string_lossy().into_owned() });
    let now = Timestamp::now();
    let ctx = ParseContext { now, keep_original: false, utc_offset_secs: 0 };
    let rules = FileRules::default();
    let records: Vec<RawRecord> = lines
        .into_iter()
        .enumerate()
        .map(|(i, body)| RawRecord {
            body,
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::clone(&source),
            host: None,
            received: now,
            id: i.to_string(),
        })
        .collect();
    let events: Vec<Event> = records.chunks(BATCH).flat_map(|b| rules.parse_batch(b, &ctx)).collect();
    let now = now.to_datetime().naive_utc();

    let mut t = Tally::default();
    for (i, (e, rec)) in events.iter().zip(&rows).enumerate() {
        let row = Row { headers: &headers, rec };
        let mut note = |f: usize, ok: bool, got: String, want: String| {
            t.checked[f] += 1;
            if ok {
                t.right[f] += 1;
            } else if t.misses[f].len() < show {
                t.misses[f].push(format!("line {}: got {got:?} want {want:?}", i + 1));
            }
        };
        if let Some(w) = (spec.time)(&row) {
            let ok = time_right(&w, e, now);
            let want = format!("{:04}-{:02}-{:02} {}", w.year, w.month, w.day, w.time);
            note(0, ok, e.timestamp.to_datetime().to_rfc3339(), want);
        }
        if let Some(c) = spec.level {
            // Logcat's `V` (verbose) is not a word `normalize` takes alone.
            let word = row.get(c);
            let want = level::normalize(word).or((word == "V").then_some("trace"));
            note(1, e.level.as_deref() == want, format!("{:?}", e.level), format!("{want:?}"));
        }
        if let Some(c) = spec.logger {
            let want = row.get(c);
            let got = logger_values(e);
            note(2, got.contains(&want), got.join(" | "), want.to_string());
        }
        if let Some(c) = spec.pid {
            let want = row.get(c);
            let got = e.pid.map(|p| p.to_string()).unwrap_or_default();
            note(3, got == want, got, want.to_string());
        }
        if let Some(c) = spec.thread {
            let want = row.get(c);
            let got = [e.labels.get("process.thread.name"), e.labels.get("process.thread.id")];
            let got: Vec<&str> = got.into_iter().flatten().map(String::as_str).collect();
            note(4, got.contains(&want), got.join(" | "), want.to_string());
        }
        let want = row.get("Content");
        note(5, e.message.trim() == want, e.message.trim().to_string(), want.to_string());
    }
    Some((events.len(), t))
}

fn main() {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut show = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--misses" {
            show = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
        } else {
            dirs.push(a.into());
        }
    }
    if dirs.is_empty() {
        dirs.extend(loglynx_testkit::shared_data("loghub"));
        dirs.extend(std::env::var_os("LOGLYNX_LOGHUB_EXTRA").map(PathBuf::from));
    }
    println!("| dataset | lines | {} |", FIELDS.join(" | "));
    println!("|---|---:|{}", "---:|".repeat(FIELDS.len()));
    for dir in &dirs {
        for spec in specs() {
            let Some((n, t)) = run(dir, &spec, show) else { continue };
            let cells: Vec<String> = (0..FIELDS.len())
                .map(|f| {
                    if t.checked[f] == 0 {
                        "-".to_string()
                    } else {
                        format!("{:.1}", 100.0 * t.right[f] as f64 / t.checked[f] as f64)
                    }
                })
                .collect();
            println!("| {} | {n} | {} |", spec.name, cells.join(" | "));
            for (f, misses) in t.misses.iter().enumerate() {
                for m in misses {
                    println!("    {} {}: {m}", spec.name, FIELDS[f]);
                }
            }
        }
    }
}

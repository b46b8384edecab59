//! Parses the eight Loghub 2k samples with hint `Auto` and compares with their ground truth
//! (`X_2k.log_structured.csv`).
//!
//! The samples live outside the repository, at `../shared/data/loghub` from the project root;
//! when absent (a user's clone) the test says so and passes without checking anything, unless
//! `LOGLYNX_REQUIRE_SHARED` is set (as `.ci/run` does): then it fails (see loglynx-testkit).
//!
//! Normalisation before comparing `message` with `Content`: both are trimmed of surrounding
//! whitespace (`str::trim`), nothing else. The raw files have CRLF line ends; lines are split
//! on `\n` and handed over with their `\r`, which the parser strips, as a file source would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::{parse_record, ParseContext};

/// The samples' folder; None (skip) when absent, a panic then when `LOGLYNX_REQUIRE_SHARED` is set.
fn data_dir() -> Option<PathBuf> {
    loglynx_testkit::shared_data("loghub")
}

struct Sample {
    lines: Vec<Vec<u8>>,
    rows: Vec<csv::StringRecord>,
    headers: csv::StringRecord,
}

fn load(data: &Path, name: &str) -> Sample {
    let dir = data.join(name);
    let raw = std::fs::read(dir.join(format!("{name}_2k.log"))).unwrap();
    let mut lines: Vec<Vec<u8>> = raw.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    let mut rdr =
        csv::Reader::from_path(dir.join(format!("{name}_2k.log_structured.csv"))).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(lines.len(), rows.len(), "{name}: lines and CSV rows differ");
    Sample {
        lines,
        rows,
        headers,
    }
}

fn parse_all(s: &Sample, now: Timestamp) -> Vec<Event> {
    let source = Arc::new(SourceKind::File {
        path: "loghub".into(),
    });
    let ctx = ParseContext {
        now,
        keep_original: false,
        utc_offset_secs: 0,
    };
    s.lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rec = RawRecord {
                body: l.clone(),
                truncated: false,
                hint: FormatHint::Auto,
                source: source.clone(),
                host: None,
                received: now,
                id: format!("{i}"),
            };
            parse_record(&rec, &ctx)
        })
        .collect()
}

/// Reads the value a CSV column should equal from a parsed event.
type Getter = fn(&Event) -> Option<String>;

/// Checks one dataset; `checks` compares header columns: (CSV column, event value getter).
fn check(name: &str, dataset: &str, checks: &[(&str, Getter)]) {
    let Some(data) = data_dir() else {
        return;
    };
    let now = Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
    let s = load(&data, name);
    let events = parse_all(&s, now);
    let col = |c: &str| s.headers.iter().position(|h| h == c).unwrap();
    let content = col("Content");
    let mut same = 0;
    let mut mismatches = Vec::new();
    for (i, (e, row)) in events.iter().zip(&s.rows).enumerate() {
        if e.message.trim() == row[content].trim() {
            same += 1;
        } else if mismatches.len() < 5 {
            mismatches.push(format!(
                "line {}: got {:?} want {:?}",
                i + 1,
                e.message,
                &row[content]
            ));
        }
        assert!(
            !e.flags.unparsed && !e.flags.bad_timestamp,
            "{name} line {}: flags {:?}",
            i + 1,
            e.flags
        );
        assert_ne!(e.timestamp, now, "{name} line {}: no timestamp", i + 1);
        assert_eq!(e.dataset.as_deref(), Some(dataset), "{name} line {}", i + 1);
    }
    let pct = 100.0 * same as f64 / events.len() as f64;
    println!(
        "{name}: {same}/{} messages equal to Content ({pct:.2}%), all timestamps parsed",
        events.len()
    );
    for m in &mismatches {
        println!("  {m}");
    }
    assert!(pct >= 99.0, "{name}: only {pct:.2}% of messages match");
    for (column, get) in checks {
        let c = col(column);
        let mut bad = 0;
        for (i, (e, row)) in events.iter().zip(&s.rows).enumerate() {
            let want = row[c].trim();
            let want = (!want.is_empty()).then(|| want.to_string());
            if get(e) != want {
                if bad < 3 {
                    println!(
                        "  {name} {column} line {}: got {:?} want {:?}",
                        i + 1,
                        get(e),
                        want
                    );
                }
                bad += 1;
            }
        }
        println!(
            "{name}: column {column}: {}/{} equal",
            events.len() - bad,
            events.len()
        );
        assert!(
            bad * 100 <= events.len(),
            "{name}: column {column} differs on {bad} lines"
        );
    }
}

fn label(e: &Event, k: &str) -> Option<String> {
    e.labels.get(k).cloned()
}

fn level_upper(e: &Event) -> Option<String> {
    // The CSV keeps the raw word; ours is normalised. Map back the spellings the samples use.
    e.level.as_deref().map(|l| match l {
        "warn" => "WARN".to_string(),
        other => other.to_ascii_uppercase(),
    })
}

#[test]
fn apache_error() {
    check("Apache", "apache.error", &[("Level", |e| e.level.clone())]);
}

#[test]
fn bgl() {
    check(
        "BGL",
        "loghub.bgl",
        &[
            ("Node", |e| e.host.clone()),
            ("Component", |e| label(e, "component")),
            ("Type", |e| label(e, "bgl.type")),
        ],
    );
}

#[test]
fn bgl_levels_normalise() {
    let Some(data) = data_dir() else {
        return;
    };
    let s = load(&data, "BGL");
    let events = parse_all(&s, Timestamp::now());
    // BGL's raw level words are normalised; check the mapping on every line.
    let c = s.headers.iter().position(|h| h == "Level").unwrap();
    for (e, row) in events.iter().zip(&s.rows) {
        let want = match &row[c] {
            "FATAL" => "crit",
            "SEVERE" | "ERROR" => "error",
            "WARNING" => "warn",
            "INFO" => "info",
            other => panic!("unexpected BGL level {other}"),
        };
        assert_eq!(e.level.as_deref(), Some(want));
    }
}

#[test]
fn hdfs() {
    check(
        "HDFS",
        "loghub.hdfs",
        &[
            ("Pid", |e| e.pid.map(|p| p.to_string())),
            ("Level", level_upper),
            ("Component", |e| label(e, "log.logger")),
        ],
    );
}

#[test]
fn hpc() {
    check(
        "HPC",
        "loghub.hpc",
        &[
            ("Node", |e| e.host.clone()),
            ("Component", |e| label(e, "component")),
            ("State", |e| label(e, "hpc.state")),
            ("Time", |e| {
                Some((e.timestamp.as_nanos() / 1_000_000_000).to_string())
            }),
        ],
    );
}

#[test]
fn linux() {
    check(
        "Linux",
        "syslog",
        &[
            ("PID", |e| e.pid.map(|p| p.to_string())),
            ("Component", |e| e.process_name.clone()),
            // This CSV's `Level` column holds the host name (`combo`).
            ("Level", |e| e.host.clone()),
        ],
    );
}

#[test]
fn openssh() {
    check(
        "OpenSSH",
        "syslog",
        // This CSV's `Component` column holds the host name (`LabSZ`).
        &[
            ("Pid", |e| e.pid.map(|p| p.to_string())),
            ("Component", |e| e.host.clone()),
        ],
    );
}

#[test]
fn proxifier() {
    check(
        "Proxifier",
        "loghub.proxifier",
        &[("Program", |e| e.process_name.clone())],
    );
}

#[test]
fn zookeeper() {
    check(
        "Zookeeper",
        "loghub.zookeeper",
        &[
            ("Level", level_upper),
            ("Id", |e| label(e, "log.origin.file.line")),
        ],
    );
}

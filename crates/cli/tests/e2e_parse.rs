//! `loglynx parse FILE`: the structure it reports for real files, offline.

mod support;

use std::process::Command;

use serde_json::Value;
use support::BIN;

fn parse(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).arg("parse").args(args).output().expect("run loglynx parse");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, out, err) = parse(&a);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("one JSON object")
}

fn top(r: &Value, table: &str) -> (String, f64) {
    let first = &r[table][0];
    (first["name"].as_str().unwrap().to_string(), first["percent"].as_f64().unwrap())
}

#[test]
fn loghub_files_are_described_by_their_layout_and_timestamp_format() {
    let Some(root) = loglynx_testkit::shared_data("loghub") else { return };
    let cases = [
        ("Linux/Linux_2k.log", "syslog: time + host + program + pid", "MMM dd dd:dd:dd"),
        ("Zookeeper/Zookeeper_2k.log", "loghub.zookeeper: time + level + thread + logger", "dddd-dd-dd dd:dd:dd,ddd"),
        ("Apache/Apache_2k.log", "apache.error: time + level", "EEE MMM dd dd:dd:dd dddd"),
        ("OpenSSH/OpenSSH_2k.log", "syslog: time + host + program + pid", "MMM dd dd:dd:dd"),
    ];
    for (file, layout, shape) in cases {
        let path = root.join(file);
        let r = report(&[path.to_str().unwrap(), "--events", "3"]);
        assert_eq!((r["lines"].as_u64(), r["events"].as_u64()), (Some(2000), Some(2000)), "{file}: one event per line");
        let (name, share) = top(&r, "layouts");
        assert_eq!(name, layout, "{file}");
        assert!(share >= 90.0, "{file}: {share}%");
        assert_eq!(top(&r, "timestamp_formats").0, shape, "{file}");
        assert_eq!(r["explained"].as_u64(), Some(2000), "{file}");
        assert_eq!(r["timed"].as_u64(), Some(2000), "{file}");
        assert_eq!(r["flagged"].as_u64(), Some(0), "{file}");
        let first = r["first"].as_array().unwrap();
        assert_eq!(first.len(), 3);
        assert_eq!(first[0]["log.file.path"].as_str().unwrap(), std::fs::canonicalize(&path).unwrap().to_str().unwrap());
    }
    // --lines: only the first lines are read.
    let r = report(&[root.join("Linux/Linux_2k.log").to_str().unwrap(), "--lines", "100"]);
    assert_eq!(r["lines"].as_u64(), Some(100));
}

const APP: &str = "\
2024-05-31 10:00:00,001 INFO  [main] com.acme.Server - started
2024-05-31 10:00:01,002 ERROR [http-1] com.acme.Handler - request failed
java.lang.IllegalStateException: no session
\tat com.acme.Handler.handle(Handler.java:42)
Caused by: java.io.IOException: closed
\t... 2 more
2024-05-31 10:00:02,003 WARN  [main] com.acme.Server - slow
not a log line at all
";

#[test]
fn a_java_log_with_a_stack_trace_and_the_zone_of_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    std::fs::write(&file, APP).unwrap();
    let (code, out, err) = parse(&[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("8 lines read, 3 events"), "{out}");
    assert!(out.contains("100.0%       3  timestamped: time + level + thread + logger"), "{out}");
    assert!(out.contains("dddd-dd-dd dd:dd:dd,ddd"), "{out}");
    assert!(out.contains("events per flag: multiline 2"), "{out}");
    let events: Vec<Value> = out.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["log.level"], "error");
    assert_eq!(events[1]["@timestamp"], "2024-05-31T10:00:01.002Z");
    assert!(events[1]["message"].as_str().unwrap().ends_with("Caused by: java.io.IOException: closed\n\t... 2 more"));
    assert_eq!(events[2]["log.flags"], serde_json::json!(["multiline"]));

    // The zone of the file comes from the configuration; multi-line can be turned off.
    let cfg = dir.path().join("loglynx.toml");
    std::fs::write(&cfg, "[files]\nmultiline = \"off\"\n[[files.zones]]\npaths = [\"*/app.log\"]\ntimezone = \"Europe/Paris\"\n").unwrap();
    let r = report(&[file.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(r["events"].as_u64(), Some(8));
    assert_eq!(r["first"][0]["@timestamp"], "2024-05-31T08:00:00.001Z");
    // One line, one event: the five lines without a header are unparsed and flagged.
    assert_eq!(r["explained"].as_u64(), Some(3));
    assert_eq!(r["flagged"].as_u64(), Some(5));
    assert_eq!(r["flags"]["unparsed"].as_u64(), Some(5));
    assert_eq!(top(&r, "layouts"), ("unparsed (no format matched)".to_string(), 62.5));
    assert_eq!(r["layouts"][1]["name"], "timestamped: time + level + thread + logger");
}

#[test]
fn a_missing_file_is_an_error_that_names_it() {
    let (code, _, err) = parse(&["/nonexistent/x.log"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open /nonexistent/x.log"), "{err}");
}

#[test]
fn an_explicit_layout_of_the_config_wins_over_detection() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("billing.log");
    let lines: String = (0..50)
        .map(|i| format!("31.05.2024 10:00:{:02}.250|{}|worker-{}|billing.Invoice|invoice {i} sent\n", i % 60, if i % 10 == 0 { "ERROR" } else { "INFO" }, i % 3))
        .collect();
    std::fs::write(&file, lines).unwrap();
    // Without the layout the structure is learned: the time format, the delimiter and the
    // fields.
    let r = report(&[file.to_str().unwrap()]);
    assert_eq!(r["learned_timestamp_format"], "%d.%m.%Y %H:%M:%S%.f");
    assert_eq!(r["learned_structure"], "time(%d.%m.%Y %H:%M:%S%.f)|level|thread|logger|message");
    assert_eq!(r["timed"].as_u64(), Some(50));
    assert_eq!(r["first"][0]["log.level"], "error", "{}", r["first"][0]);
    assert_eq!(r["first"][1]["message"], "invoice 1 sent");
    assert_eq!(r["first"][1]["labels.process.thread.name"], "worker-1", "{}", r["first"][1]);
    let cfg = dir.path().join("loglynx.toml");
    std::fs::write(
        &cfg,
        "[[files.layouts]]\npaths = [\"*/billing.log\"]\npattern = '^(?P<timestamp>[^|]+)\\|(?P<level>[^|]*)\\|(?P<thread>[^|]*)\\|(?P<logger>[^|]*)\\|(?P<message>.*)$'\ntimestamp_format = \"%d.%m.%Y %H:%M:%S%.3f\"\n",
    )
    .unwrap();
    let r = report(&[file.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(top(&r, "layouts"), ("custom: time + level + thread + logger".to_string(), 100.0));
    assert_eq!(r["timed"].as_u64(), Some(50));
    assert_eq!(r["first"][0]["@timestamp"], "2024-05-31T10:00:00.250Z");
    assert_eq!(r["first"][0]["log.level"], "error");
    assert_eq!(r["first"][0]["message"], "invoice 0 sent");
    // A layout that does not compile is refused with its place.
    std::fs::write(&cfg, "[[files.layouts]]\npaths = [\"*\"]\npattern = '(?P<when>x)'\n").unwrap();
    let (code, _, err) = parse(&[file.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("files.layouts[0]: pattern group \"when\""), "{err}");
}

#[test]
fn a_timestamp_format_detection_does_not_know_is_learned_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jul.log");
    // java.util.logging's SimpleFormatter: the time line, then the level and message.
    let text: String = (0..40)
        .map(|i| format!("May {:02}, 2024 {}:{:02}:00 {} com.acme.Main run\nINFO: step {i}\n", 1 + i % 28, 1 + i % 12, i % 60, if i % 2 == 0 { "AM" } else { "PM" }))
        .collect();
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = parse(&[file.to_str().unwrap(), "--events", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("80 lines read, 40 events"), "{out}");
    assert!(out.contains("learned timestamp format: %b %d, %Y %I:%M:%S %p"), "{out}");
    assert!(out.contains("time from the line: 100.0%"), "{out}");
    let first: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(first["@timestamp"], "2024-05-01T01:00:00Z");
    assert_eq!(first["message"], "com.acme.Main run\nINFO: step 0");
}

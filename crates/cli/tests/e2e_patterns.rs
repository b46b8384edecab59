//! Patterns end to end on the real binary: `loglynx run` tails Loghub's `OpenSSH_2k.log`, every
//! event gets a `pattern.id`, `GET /api/v1/patterns` lists the templates with counts that
//! agree with the index and with the lines themselves, `compare=previous` marks them, the
//! miner's state survives a restart (same ids, same templates), new templates are announced by
//! new-pattern events, and `loglynx patterns` prints the same answer.
//!
//! Needs `../shared/data` (fails in CI when absent, see loglynx-testkit).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::{Server, BIN};

const EVENTS: &str = "NOT event.dataset:loglynx.alert AND NOT event.dataset:loglynx.pattern";
const ALL_TIME: [(&str, &str); 2] = [("start", "2000-01-01T00:00:00Z"), ("end", "2030-01-01T00:00:00Z")];

fn patterns(s: &Server, extra: &[(&str, &str)]) -> Value {
    let r = s.client().get(s.url("/api/v1/patterns")).query(&ALL_TIME).query(extra).send().unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert!(status.is_success(), "{status} {body}");
    body
}

/// id -> (template, count)
fn table(v: &Value) -> BTreeMap<String, (String, u64)> {
    v["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), (p["template"].as_str().unwrap().to_string(), p["count"].as_u64().unwrap())))
        .collect()
}

#[test]
fn openssh_patterns_are_counted_exactly_compared_and_kept_across_a_restart() {
    let Some(dir) = loglynx_testkit::shared_data("loghub/OpenSSH") else { return };
    let text = std::fs::read_to_string(dir.join("OpenSSH_2k.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("auth.log"), &text).unwrap();
    let glob = format!("{}/*.log", logs.display());
    let data = tmp.path().join("data");
    let config = tmp.path().join("loglynx.toml");
    std::fs::write(&config, "[patterns]\nsignals = true\n").unwrap();
    let args = ["--tail", glob.as_str(), "--syslog-udp", "off", "--syslog-tcp", "off", "--config", config.to_str().unwrap()];

    let s = Server::start(&data, &args);
    s.wait_total(EVENTS, lines.len() as u64, Duration::from_secs(120));
    // every event has a pattern id
    assert_eq!(s.total(&format!("({EVENTS}) AND pattern.id:*")), lines.len() as u64);

    let all = patterns(&s, &[("limit", "1000"), ("q", EVENTS)]);
    let rows = all["patterns"].as_array().unwrap();
    assert_eq!(all["total"].as_u64(), Some(lines.len() as u64));
    let sum: u64 = rows.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, lines.len() as u64, "the counts cover every event once");
    // most frequent first, and each count is what a search for the pattern's ids finds
    let counts: Vec<u64> = rows.iter().map(|p| p["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    for p in rows.iter().take(8) {
        let mut ids = vec![p["id"].as_str().unwrap().to_string()];
        ids.extend(p["former"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()));
        let q = ids.iter().map(|i| format!("pattern.id:{i}")).collect::<Vec<_>>().join(" OR ");
        assert_eq!(s.total(&format!("({EVENTS}) AND ({q})")), p["count"].as_u64().unwrap(), "{p}");
        let series: u64 = p["series"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
        assert_eq!(series, p["count"].as_u64().unwrap(), "the series adds up: {p}");
    }
    // the kinds of line, counted from the lines themselves
    let by_template = |t: &str| rows.iter().find(|p| p["template"] == t).unwrap_or_else(|| panic!("no pattern {t:?} in {all}"));
    let bye = lines.iter().filter(|l| l.ends_with("Bye Bye [preauth]") && l.contains("]: Received disconnect from ")).count();
    assert_eq!(by_template("Received disconnect from <*>: <*>: Bye Bye [preauth]")["count"].as_u64(), Some(bye as u64));
    let failed = lines.iter().filter(|l| l.contains("]: Failed password for ") && !l.contains("invalid user")).count();
    assert_eq!(by_template("Failed password for <*> from <*> port <*> ssh2")["count"].as_u64(), Some(failed as u64));
    assert_eq!(rows[0]["template"], "Received disconnect from <*>: <*>: Bye Bye [preauth]");

    // each new template's first line was followed by a new-pattern event
    let signals = s.all_hits("event.dataset:loglynx.pattern AND event.action:pattern-new");
    assert!(signals.len() >= rows.len(), "{} new-pattern events for {} patterns", signals.len(), rows.len());
    for e in &signals {
        assert_eq!(e["service.name"].as_str().or(e["process.name"].as_str()), Some("sshd"), "{e}");
        assert!(e["labels.pattern_template"].as_str().is_some_and(|t| !t.is_empty()), "{e}");
        // warm once an hour of event time has passed since the first line (06:55:46, same day)
        let t = e["@timestamp"].as_str().unwrap();
        let secs = |hms: &str| hms.split(':').fold(0, |acc, x| acc * 60 + x.parse::<i64>().unwrap());
        let warm = secs(&t[11..19]) - secs("06:55:46") >= 3600;
        assert_eq!(e["labels.pattern_warm"], warm.to_string(), "{e}");
    }

    // a range after the data: everything was in the previous range, so everything is gone
    let later = s
        .client()
        .get(s.url("/api/v1/patterns"))
        .query(&[("start", "2030-01-01T00:00:00Z"), ("end", "2060-01-01T00:00:00Z"), ("compare", "previous"), ("limit", "1000"), ("q", EVENTS)])
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    let gone = later["patterns"].as_array().unwrap();
    assert_eq!(gone.len(), rows.len());
    for p in gone {
        assert_eq!(p["change"], "gone", "{p}");
        assert_eq!(p["count"], 0);
        assert_eq!(p["previous_count"], table(&all)[p["id"].as_str().unwrap()].1);
    }
    // and the range of the data against the empty one before it: everything is new
    let new = patterns(&s, &[("compare", "previous"), ("limit", "3"), ("q", EVENTS)]);
    assert!(new["patterns"].as_array().unwrap().iter().all(|p| p["change"] == "new" && p["previous_count"] == 0));
    // bad parameters are refused with a reason
    let r = s.client().get(s.url("/api/v1/patterns")).query(&[("compare", "yesterday")]).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("compare must be previous"));

    let spec = s.client().get(s.url("/api/v1/openapi.yaml")).send().unwrap().text().unwrap();
    assert!(spec.contains("/api/v1/patterns:"), "the endpoint is documented");

    // the command line prints the same answer
    let out = std::process::Command::new(BIN)
        .args(["patterns", "--server", &s.url(""), "--since", "2000-01-01T00:00:00Z", "--until", "2030-01-01T00:00:00Z", "-n", "1000", "--json"])
        .arg(EVENTS)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(table(&cli), table(&all));
    let out = std::process::Command::new(BIN)
        .args(["patterns", "--server", &s.url(""), "--since", "2000-01-01T00:00:00Z", "-n", "2"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("Received disconnect from <*>: <*>: Bye Bye [preauth]"), "{printed}");

    // a restart resumes the miner: the same templates under the same ids
    s.stop();
    let s = Server::start(&data, &args);
    let again = patterns(&s, &[("limit", "1000"), ("q", EVENTS)]);
    assert_eq!(table(&again), table(&all));
    // new lines of known kinds get the known ids
    let more: String = lines.iter().filter(|l| l.contains("Failed password for ")).take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(logs.join("more.log"), more).unwrap();
    s.wait_total(EVENTS, lines.len() as u64 + 5, Duration::from_secs(60));
    let after = table(&patterns(&s, &[("limit", "1000"), ("q", EVENTS)]));
    assert_eq!(after.keys().collect::<Vec<_>>(), table(&all).keys().collect::<Vec<_>>(), "no new pattern for known lines");
}

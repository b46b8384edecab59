//! Detection end to end on the real binary: `loglynx run` tails a copy of Loghub's
//! `OpenSSH_2k.log` (the first half, SIGKILL, then the second half after a restart) and the
//! built-in rules raise the brute-force alerts of its top sources, found through
//! `/api/v1/alerts` with the counts the rule's definition gives (computed here from the stored
//! lines), none twice; the alert lifecycle (ack, close) and `/api/v1/rules`, with a rule
//! folder changed while running.
//!
//! Needs `../shared/data` (fails in CI when absent, see loglynx-testkit).

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use serde_json::Value;
use support::Server;

const NOT_ALERTS: &str = "NOT event.dataset:loglynx.alert";

fn alerts(s: &Server, query: &[(&str, &str)]) -> Value {
    let r = s.client().get(s.url("/api/v1/alerts")).query(query).send().unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().unwrap()
}

fn post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = s.client().post(s.url(path)).json(&body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn openssh_brute_force_alerts_survive_sigkill_exactly_and_have_a_lifecycle() {
    let Some(dir) = loglynx_testkit::shared_data("loghub/OpenSSH") else { return };
    let text = std::fs::read_to_string(dir.join("OpenSSH_2k.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    let path = logs.join("auth.log");
    // Split in the middle of the top source's first burst, before it reaches the threshold: the
    // restarted process must rebuild the window from the store to count it right.
    let split = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("Failed password") && l.contains("from 183.62.140.253 "))
        .nth(4)
        .map(|(i, _)| i + 1)
        .unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    for l in &lines[..split] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    let glob = format!("{}/*.log", logs.display());
    let data = tmp.path().join("data");
    let rules_arg = rules.to_str().unwrap();
    let args = ["--tail", glob.as_str(), "--syslog-udp", "off", "--syslog-tcp", "off", "--rules", rules_arg];

    let first = Server::start(&data, &args);
    first.wait_total(NOT_ALERTS, split as u64, Duration::from_secs(120));
    // some alerts exist before the kill (the top source starts early)
    first.wait_for(Duration::from_secs(30), "a first alert", || alerts(&first, &[])["total"].as_u64().unwrap() > 0);
    first.kill();

    for l in &lines[split..] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    let s = Server::start(&data, &args);
    s.wait_total(NOT_ALERTS, 2000, Duration::from_secs(120));

    // What the rule must raise, from the stored lines (time, id, message)
    let hits = s.all_hits(NOT_ALERTS);
    assert_eq!(hits.len(), 2000);
    let stored: Vec<(i64, String, String)> = hits
        .iter()
        .map(|h| {
            let t = chrono::DateTime::parse_from_rfc3339(h["@timestamp"].as_str().unwrap()).unwrap().timestamp();
            (t, h["event.id"].as_str().unwrap().to_string(), h["message"].as_str().unwrap().to_string())
        })
        .collect();
    let mut sorted = stored.clone();
    sorted.sort_by_key(|(t, _, _)| *t);
    let fails = loglynx_testkit::oracle::ssh_failures(sorted.iter().map(|(t, id, m)| (*t, id.as_str(), m.as_str())));
    // (source, first event time, count) of each alert
    let expected: BTreeSet<(String, i64, u64)> = fails
        .iter()
        .flat_map(|(ip, t)| {
            loglynx_testkit::oracle::event_count_alerts(t, 10, 300, 3600).into_iter().map(|(f, c)| (ip.clone(), f, c))
        })
        .collect();
    assert!(expected.len() >= 4, "{expected:?}");

    let mut got = BTreeSet::new();
    s.wait_for(Duration::from_secs(30), "the brute-force alerts", || {
        let v = alerts(&s, &[("rule", "ssh_brute_force"), ("limit", "10000")]);
        got = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let first = chrono::DateTime::parse_from_rfc3339(a["first_seen"].as_str().unwrap()).unwrap().timestamp();
                (a["group"]["source.ip"].as_str().unwrap().to_string(), first, a["count"].as_u64().unwrap())
            })
            .collect();
        got == expected
    });
    let v = alerts(&s, &[("rule", "ssh_brute_force"), ("limit", "10000")]);
    assert_eq!(v["total"].as_u64().unwrap() as usize, expected.len(), "one alert per source, none twice: {:#}", v["alerts"].as_array().unwrap().iter().map(|a| serde_json::json!([a["group"], a["count"], a["first_seen"], a["last_seen"], a["created"]])).collect::<Vec<_>>().iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n"));
    let ids: BTreeSet<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    for a in v["alerts"].as_array().unwrap() {
        assert_eq!(a["rule"]["author"], "loglynx");
        assert_eq!(a["rule"]["level"], "high");
        assert_eq!(a["rule"]["name"], "ssh_brute_force");
        assert_eq!(a["status"], "open");
        let ev = a["evidence"].as_array().unwrap();
        assert_eq!(ev.len() as u64, a["count"].as_u64().unwrap());
        assert!(ev.iter().all(|e| ids.contains(e.as_str().unwrap())), "evidence names stored events");
        assert!(a["first_seen"].as_str().unwrap() <= a["last_seen"].as_str().unwrap());
    }

    // every alert is also an event, once
    let all = alerts(&s, &[("limit", "10000")]);
    let total = all["total"].as_u64().unwrap();
    s.wait_total("event.dataset:loglynx.alert", total, Duration::from_secs(30));
    let alert_events = s.all_hits("event.dataset:loglynx.alert");
    let distinct: BTreeSet<&str> = alert_events.iter().map(|h| h["alert.id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len() as u64, total);
    // matched events carry their rules
    assert_eq!(s.total("rule.name:ssh_failed_login"), fails.values().map(|v| v.len() as u64).sum::<u64>());

    // /metrics: per-rule matches and the alerts raised by this process (after the restart)
    let m = s.client().get(s.url("/metrics")).send().unwrap().text().unwrap();
    let line = |name: &str| m.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in /metrics"));
    let raised: u64 = line("loglynx_detect_alerts_raised_total ").rsplit(' ').next().unwrap().parse().unwrap();
    assert!(raised >= 1 && raised <= total, "{raised} of {total}");
    assert!(m.contains("loglynx_detect_rule_matches_total{rule=\"6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a01\"}"), "{m}");
    assert_eq!(line("loglynx_detect_rules_active "), "loglynx_detect_rules_active 17", "the built-in detection rules (new_error_pattern, tcp_connect_failed, the six network.perf rules with tcp_rtt_above_baseline, the three socket-count rules and tcp_short_connection included)");

    // lifecycle
    let top = v["alerts"].as_array().unwrap().iter().find(|a| a["group"]["source.ip"] == "183.62.140.253").unwrap();
    let id = top["id"].as_str().unwrap();
    let (code, a) = post(&s, &format!("/api/v1/alerts/{id}/ack"), serde_json::json!({"by": "alice", "comment": "looking"}));
    assert_eq!((code, a["status"].as_str()), (200, Some("acknowledged")));
    let (code, a) = post(&s, &format!("/api/v1/alerts/{id}/close"), serde_json::json!({"by": "bob"}));
    assert_eq!((code, a["status"].as_str()), (200, Some("closed")));
    let hist: Vec<(&str, &str)> = a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["status"].as_str().unwrap(), h["by"].as_str().unwrap()))
        .collect();
    assert_eq!(hist, vec![("open", "loglynx"), ("acknowledged", "alice"), ("closed", "bob")]);
    let closed = alerts(&s, &[("status", "closed")]);
    assert_eq!(closed["total"], 1);
    assert_eq!(closed["alerts"][0]["id"], id);
    let r = s.client().get(s.url(&format!("/api/v1/alerts/{id}"))).send().unwrap();
    assert_eq!(r.json::<Value>().unwrap()["status"], "closed");
    let (code, _) = post(&s, "/api/v1/alerts/nope/ack", Value::Null);
    assert_eq!(code, 404);
    let r = s.client().get(s.url("/api/v1/alerts")).query(&[("status", "sleeping")]).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // time range: by the alerts' event time
    let none = alerts(&s, &[("end", "2000-01-01T00:00:00Z")]);
    assert_eq!(none["total"], 0);

    // backtest: the loaded rule over the stored events raises what ran live; a pasted rule
    // with a lower threshold raises more; nothing of it is stored
    let (code, bt) = post(&s, "/api/v1/rules/backtest", serde_json::json!({"rule": "ssh_brute_force", "start": "2000-01-01"}));
    assert_eq!(code, 200, "{bt}");
    assert_eq!(bt["events_scanned"], 2000);
    assert_eq!(bt["matched"].as_u64().unwrap(), fails.values().map(|v| v.len() as u64).sum::<u64>());
    let back: BTreeSet<(String, i64, u64)> = bt["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let first = chrono::DateTime::parse_from_rfc3339(a["first_seen"].as_str().unwrap()).unwrap().timestamp();
            (a["group"]["source.ip"].as_str().unwrap().to_string(), first, a["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(back, expected);
    let lower = "title: five failures\nname: five_failures\ncorrelation:\n  type: event_count\n  rules: [ssh_failed_login]\n  group-by: [source.ip]\n  timespan: 5m\n  condition:\n    gte: 5\nlevel: medium\n";
    let (code, bt5) = post(&s, "/api/v1/rules/backtest", serde_json::json!({"yaml": lower}));
    assert_eq!(code, 200, "{bt5}");
    let five: BTreeSet<(String, i64, u64)> = fails
        .iter()
        .flat_map(|(ip, t)| {
            loglynx_testkit::oracle::event_count_alerts(t, 5, 300, 3600).into_iter().map(|(f, c)| (ip.clone(), f, c))
        })
        .collect();
    assert_eq!(bt5["alerts"].as_array().unwrap().len(), five.len());
    assert!(five.len() > expected.len());
    assert_eq!(alerts(&s, &[("rule", "five_failures")])["total"], 0, "a backtest stores nothing");
    let (code, bad) = post(&s, "/api/v1/rules/backtest", serde_json::json!({"yaml": "title: x\ndetection: [\n"}));
    assert_eq!(code, 400, "{bad}");
    let (code, _) = post(&s, "/api/v1/rules/backtest", serde_json::json!({"rule": "no_such_rule"}));
    assert_eq!(code, 404);

    // enable / disable, durable in the alerts database
    let (code, r) = post(&s, "/api/v1/rules/sudo_auth_failure/disable", Value::Null);
    assert_eq!((code, &r["enabled"]), (200, &Value::Bool(false)), "{r}");
    let v: Value = s.client().get(s.url("/api/v1/rules")).send().unwrap().json().unwrap();
    let sudo = v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "sudo_auth_failure").unwrap();
    assert_eq!(sudo["enabled"], false);
    let (code, r) = post(&s, "/api/v1/rules/sudo_auth_failure/enable", Value::Null);
    assert_eq!((code, &r["enabled"]), (200, &Value::Bool(true)));
    let (code, _) = post(&s, "/api/v1/rules/nope/disable", Value::Null);
    assert_eq!(code, 404);

    // rules: built-in, hits, and a rule folder changed while running
    let rules_v: Value = s.client().get(s.url("/api/v1/rules")).send().unwrap().json().unwrap();
    let find = |v: &Value, name: &str| v["rules"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned();
    let brute = find(&rules_v, "ssh_brute_force").expect("built-in rule listed");
    assert_eq!(brute["kind"], "correlation");
    assert!(brute["hits"].as_u64().unwrap() > 0);
    std::fs::write(
        rules.join("mine.yml"),
        "title: root login\nname: root_login\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    user.name: root\n    event.outcome: success\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    std::fs::write(rules.join("broken.yml"), "title: broken\nlogsource:\n  product: linux\ndetection:\n  sel:\n    message|containz: x\n  condition: sel\n").unwrap();
    s.wait_for(Duration::from_secs(20), "the new rule loaded", || {
        let v: Value = s.client().get(s.url("/api/v1/rules")).send().unwrap().json().unwrap();
        find(&v, "root_login").is_some()
            && v["rejected"].as_array().unwrap().iter().any(|r| r["file"].as_str().unwrap().ends_with("broken.yml"))
    });
    // a rule file with a built-in rule's name replaces it, while running
    let mine = rules.join("brute.yml");
    std::fs::write(
        &mine,
        "title: SSH brute force (site)\nname: ssh_brute_force\ncorrelation:\n  type: event_count\n  rules: [ssh_failed_login]\n  group-by: [source.ip]\n  timespan: 5m\n  condition:\n    gte: 50\nlevel: high\n",
    )
    .unwrap();
    s.wait_for(Duration::from_secs(20), "the built-in ssh_brute_force replaced", || {
        let v: Value = s.client().get(s.url("/api/v1/rules")).send().unwrap().json().unwrap();
        let named: Vec<Value> = v["rules"].as_array().unwrap().iter().filter(|r| r["name"] == "ssh_brute_force").cloned().collect();
        named.len() == 1
            && named[0]["file"] == mine.to_str().unwrap()
            && v["replaced"] == serde_json::json!([{"key": brute["key"], "file": "builtin:ssh.yml", "by": mine.to_str().unwrap()}])
    });
    s.stop();
}

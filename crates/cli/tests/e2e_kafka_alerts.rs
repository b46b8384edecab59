//! Detection across workers: `loglynx agent` tails sshd logs into a 2-partition topic, two
//! `loglynx worker` processes index them, and the failed logins of one source, spread over both
//! partitions, raise exactly one brute-force alert: each worker tags its events and sends the
//! matches to the signals topic, the correlator (one of the workers) counts them together and
//! publishes the alert to the alerts topic (listed by `loglynx serve --brokers`) and as an event
//! (searchable). An acknowledgement made through serve lives in Kafka: a new serve sees it. A
//! rule disabled through serve reaches the workers through the rules topic. An alert of a rule
//! tagged `loglynx.resolve` resolves in the correlator, also after a handover.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::kafka::{agent, config, held_partitions, worker, write_failed_logins};
use support::{Proc, Server, Tansu};

const TOPIC: &str = "e2e-alerts";
/// Files the failures are spread over: each file is one stream, on one partition; with this
/// many, both partitions carry some (checked below through the workers' counts).
const FILES: usize = 16;
const SOURCE: &str = "203.0.113.77";

/// Writes `n` failed logins from [`SOURCE`], 3 s apart (all inside the built-in rule's 5 min),
/// one per file in turn.
fn write_failures(dir: &Path, n: usize) {
    write_failures_from(dir, 0, n);
}

/// [`write_failures`] of the failures `from..to` (the `i`-th always at the same time).
fn write_failures_from(dir: &Path, from: usize, to: usize) {
    write_failed_logins(dir, FILES, SOURCE, from, to);
}

/// The keys of every record in the signals topic (read from its start to its end).
fn signal_keys(kafka: &Tansu) -> Vec<String> {
    let cfg = loglynx_config::KafkaConfig { brokers: kafka.brokers.clone(), ..Default::default() };
    let mut reader = loglynx_bus::kafka::TopicReader::new(&cfg, &loglynx_bus::kafka::signals_topic(TOPIC)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut keys = Vec::new();
    while !reader.caught_up() {
        assert!(std::time::Instant::now() < deadline, "the signals topic not read to its end in 30 s");
        keys.extend(reader.poll(1000, Duration::from_millis(500)).unwrap().into_iter().map(|r| r.key));
    }
    keys
}

/// `GET /api/v1/alerts?rule=ssh_brute_force` of `serve`.
fn brute_force_alerts(serve: &Server) -> Value {
    alerts_of(serve, "ssh_brute_force")
}

/// `GET /api/v1/alerts?rule=RULE` of `serve`.
fn alerts_of(serve: &Server, rule: &str) -> Value {
    serve
        .client()
        .get(serve.url(&format!("/api/v1/alerts?rule={rule}&limit=100")))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// A rule of the user's tagged `loglynx.resolve`: its alert resolves once no match came for
/// `[detect] resolve_after` of event time.
const SPOOL_RULE: &str = "title: Upload spool full\nname: spool_full\ntags:\n  - loglynx.resolve\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'upload spool full'\n  condition: keywords\nlevel: high\n";

/// Appends `line` to the log file `name` of `dir`.
fn append_line(dir: &Path, name: &str, line: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name)).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Records in each partition of the topic (their high watermarks), from the workers' health
/// reports.
fn records_per_partition(data: &Path) -> std::collections::BTreeMap<i64, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(data.join("health")) else {
        return out;
    };
    for r in dir
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("worker-"))
        .filter_map(|e| serde_json::from_str::<Value>(&std::fs::read_to_string(e.path()).ok()?).ok())
    {
        for p in r["consumer"]["partitions"].as_array().into_iter().flatten() {
            if let (Some(n), Some(hw)) = (p["partition"].as_i64(), p["high_watermark"].as_u64()) {
                let e = out.entry(n).or_insert(0);
                *e = (*e).max(hw);
            }
        }
    }
    out
}

#[test]
fn failures_spread_over_two_partitions_raise_exactly_one_alert_listed_by_serve() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let failures = 24;
    write_failures(&logs, failures);

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, TOPIC);
    let w1 = worker(&kafka, &cfg, &data, TOPIC, "worker 1");
    let w2 = worker(&kafka, &cfg, &data, TOPIC, "worker 2");
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);

    serve.wait_total("rule.name:ssh_failed_login", failures as u64, Duration::from_secs(120));
    // Both partitions carried failures (the alert event adds one record to one of them).
    serve.wait_for(Duration::from_secs(30), "both partitions in the workers' health reports", || {
        let p = records_per_partition(&data);
        p.len() == 2 && p.values().sum::<u64>() >= failures as u64
    });
    let per_partition = records_per_partition(&data);
    assert!(per_partition.values().all(|n| *n >= 2), "one partition carried every failure: {per_partition:?}");

    serve.wait_for(Duration::from_secs(60), "the brute-force alert in serve", || {
        brute_force_alerts(&serve)["total"].as_u64() == Some(1)
            && brute_force_alerts(&serve)["alerts"][0]["count"].as_u64() == Some(failures as u64)
    });
    let listed = brute_force_alerts(&serve);
    let alert = &listed["alerts"][0];
    assert_eq!(alert["group"], serde_json::json!({ "source.ip": SOURCE }), "{alert}");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["rule"]["name"], "ssh_brute_force");
    let id = alert["id"].as_str().unwrap().to_string();
    // Each failure went through the signals topic keyed by rule + group key: ssh_brute_force's
    // id (the first correlation using ssh_failed_login) and the source.
    let keys = signal_keys(&kafka);
    let failure_keys: Vec<&String> = keys.iter().filter(|k| k.as_str() != "loglynx.progress").collect();
    assert_eq!(failure_keys.len(), failures, "{keys:?}");
    let want = format!("6f1c1a52-6f2e-4c57-9a55-3b1b7c1f0a03|source.ip={SOURCE}");
    assert!(failure_keys.iter().all(|k| **k == want), "{failure_keys:?}");
    // The alert is an event too, indexed once.
    serve.wait_total("event.dataset:loglynx.alert AND rule.name:ssh_brute_force", 1, Duration::from_secs(60));
    assert_eq!(serve.total(&format!("alert.id:{id}")), 1);

    // Acknowledged through serve: the change goes to the alerts topic, so a new serve has it.
    let r = serve
        .client()
        .post(serve.url(&format!("/api/v1/alerts/{id}/ack")))
        .json(&serde_json::json!({ "by": "analyst", "comment": "looking" }))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    serve.stop();
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);
    serve.wait_for(Duration::from_secs(60), "the acknowledged alert in a new serve", || {
        brute_force_alerts(&serve)["alerts"][0]["status"] == "acknowledged"
    });
    let again = brute_force_alerts(&serve);
    assert_eq!(again["total"], 1, "{again}");
    assert_eq!(again["alerts"][0]["count"].as_u64(), Some(failures as u64));
    assert_eq!(again["alerts"][0]["history"].as_array().map(Vec::len), Some(2), "{again}");

    // More failures of the same source fold into the acknowledged alert (it stays one).
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(logs.join("auth0.log")).unwrap();
        writeln!(f, "Dec 10 07:02:00 gate sshd[5000]: Failed password for invalid user late from {SOURCE} port 50000 ssh2").unwrap();
    }
    serve.wait_for(Duration::from_secs(60), "the late failure folded into the alert", || {
        brute_force_alerts(&serve)["alerts"][0]["count"].as_u64() == Some(failures as u64 + 1)
    });
    let last = brute_force_alerts(&serve);
    assert_eq!(last["total"], 1, "{last}");
    assert_eq!(last["alerts"][0]["status"], "acknowledged", "{last}");

    agent.stop();
    w1.stop();
    w2.stop();
}

/// A worker whose log shows the correlator's partitions (`loglynx_node` at info).
fn logged_worker(kafka: &Tansu, cfg: &Path, data: &Path, name: &str) -> Proc {
    Proc::start_logged(
        name,
        &[
            "worker", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(),
            "--brokers", &kafka.brokers, "--topic", TOPIC, "--group", "e2e", "--consumers", "1",
            "--log", "warn,loglynx_node=info,loglynx_bus=info",
        ],
        "loglynx worker ready",
    )
}

/// The correlating worker stops in the middle of a brute force: the other one takes the
/// signals partition over, reads again the signals its windows need, and the alert is raised
/// once, counting the failures from before and after the handover. An alert of a resolving
/// rule raised before the handover is resolved by the new correlator, on an event that no rule
/// matches (the shards' progress records move its watermark). (A stop, not a SIGKILL:
/// Tansu 0.6 does not reassign a group whose leader died, see e2e_kafka_faults.rs; what the
/// new correlator reads again is the same either way: from the committed offset, which is the
/// oldest signal a window still needs.)
#[test]
fn the_correlator_stopped_mid_brute_force_is_replaced_and_the_alert_raised_once() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("spool.yml"), SPOOL_RULE).unwrap();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("[detect]\nrules = [{:?}]\nresolve_after = \"10s\"\n", rules.to_str().unwrap()));
    std::fs::write(&cfg, text).unwrap();

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, TOPIC);
    let w1 = logged_worker(&kafka, &cfg, &data, "worker 1");
    w1.wait_log(Duration::from_secs(60), "worker 1 in both groups", |log| {
        held_partitions(log).is_some_and(|p| p.len() == 2) && correlating(log)
    });
    let w2 = logged_worker(&kafka, &cfg, &data, "worker 2");
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);
    let split = |w: &Proc| held_partitions(&w.log_lines()).is_some_and(|p| p.len() == 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(split(&w1) && split(&w2)) {
        assert!(std::time::Instant::now() < deadline, "the two workers did not split the partitions within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Below the threshold (10): no alert yet. The spool fills at the last failure's time
    // (07:00:15): its alert is open.
    write_failures_from(&logs, 0, 6);
    append_line(&logs, "spool.log", "Dec 10 07:00:15 gate sshd[90]: upload spool full: /srv/spool");
    serve.wait_total("rule.name:ssh_failed_login", 6, Duration::from_secs(120));
    serve.wait_for(Duration::from_secs(60), "the spool alert in serve", || alerts_of(&serve, "spool_full")["total"] == 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(brute_force_alerts(&serve)["total"], 0);
    let spool = alerts_of(&serve, "spool_full");
    assert_eq!(spool["alerts"][0]["status"], "open", "{spool}");
    let spool_id = spool["alerts"][0]["id"].as_str().unwrap().to_string();
    let (leaving, staying) = if correlating(&w1.log_lines()) { (w1, w2) } else { (w2, w1) };
    eprintln!("=== stopping the correlating worker (pid {})", leaving.pid());
    leaving.stop();
    staying.wait_log(Duration::from_secs(90), "the other worker correlating", correlating);

    // One event no rule matches, 15 s of event time after the spool's last match (more than
    // resolve_after): the new correlator resolves the alert it took over, once.
    append_line(&logs, "app.log", "Dec 10 07:00:30 gate backup[7]: nightly run finished");
    serve.wait_for(Duration::from_secs(60), "the spool alert resolved in serve", || {
        alerts_of(&serve, "spool_full")["alerts"][0]["status"] == "resolved"
    });
    let spool = alerts_of(&serve, "spool_full");
    assert_eq!((spool["total"].as_u64(), spool["alerts"][0]["id"].as_str()), (Some(1), Some(spool_id.as_str())), "{spool}");
    let last = spool["alerts"][0]["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["by"], "loglynx", "{spool}");
    serve.wait_total(&format!("alert.id:{spool_id} AND event.action:resolved"), 1, Duration::from_secs(60));

    write_failures_from(&logs, 6, 14);
    serve.wait_total("rule.name:ssh_failed_login", 14, Duration::from_secs(120));
    serve.wait_for(Duration::from_secs(60), "the alert counting all 14 failures", || {
        brute_force_alerts(&serve)["alerts"][0]["count"].as_u64() == Some(14)
    });
    let listed = brute_force_alerts(&serve);
    assert_eq!(listed["total"], 1, "{listed}");
    let id = listed["alerts"][0]["id"].as_str().unwrap().to_string();
    serve.wait_total(&format!("alert.id:{id}"), 1, Duration::from_secs(60));
    agent.stop();
    staying.stop();
}

/// Whether the last correlator line of a worker's log says it holds the signals partition.
fn correlating(log: &[String]) -> bool {
    log.iter()
        .rev()
        .find(|l| l.contains("signals partitions held"))
        .is_some_and(|l| l.contains("[0]"))
}

/// The time of the last failed notification in a worker's log (the line's first word).
fn last_failure(log: &[String]) -> Option<String> {
    log.iter()
        .rev()
        .find(|l| l.contains("notification failed"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
}

/// `GET /api/v1/rules` of `serve`: the entry of the built-in rule `name`.
fn rule_entry(serve: &Server, name: &str) -> Value {
    let all: Value = serve.client().get(serve.url("/api/v1/rules")).send().unwrap().json().unwrap();
    all["rules"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap_or(Value::Null)
}

/// A rule disabled through serve reaches the workers through the rules topic: the running
/// worker stops tagging with it, a worker started later reads the topic before it consumes,
/// and a new serve lists it disabled.
#[test]
fn a_rule_disabled_through_serve_is_disabled_in_the_workers() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let from_source = format!("source.ip:{SOURCE}");

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, TOPIC);
    let w1 = logged_worker(&kafka, &cfg, &data, "worker 1");
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);
    write_failures_from(&logs, 0, 4);
    serve.wait_total("rule.name:ssh_failed_login", 4, Duration::from_secs(120));

    let r = serve
        .client()
        .post(serve.url("/api/v1/rules/ssh_failed_login/disable"))
        .json(&serde_json::json!({ "by": "analyst" }))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    assert_eq!(rule_entry(&serve, "ssh_failed_login")["enabled"], false);
    w1.wait_log(Duration::from_secs(60), "the worker applying the rule state", |log| {
        log.iter().any(|l| l.contains("rule states from") && l.contains("applied"))
    });

    // Indexed, not tagged.
    write_failures_from(&logs, 4, 8);
    serve.wait_total(&from_source, 8, Duration::from_secs(120));
    assert_eq!(serve.total("rule.name:ssh_failed_login"), 4);

    // A worker started after the change has it before it consumes.
    w1.stop();
    write_failures_from(&logs, 8, 9);
    let w2 = logged_worker(&kafka, &cfg, &data, "worker 2");
    serve.wait_total(&from_source, 9, Duration::from_secs(120));
    assert_eq!(serve.total("rule.name:ssh_failed_login"), 4);

    // A new serve reads the state back from the topic.
    serve.stop();
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);
    serve.wait_for(Duration::from_secs(60), "the rule disabled in a new serve", || {
        rule_entry(&serve, "ssh_failed_login")["enabled"] == false
    });

    // Enabled again: tagged again.
    let r = serve.client().post(serve.url("/api/v1/rules/ssh_failed_login/enable")).send().unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    w2.wait_log(Duration::from_secs(60), "the worker enabling the rule again", |log| {
        log.iter().filter(|l| l.contains("rule states from") && l.contains("applied")).count() >= 2
    });
    write_failures_from(&logs, 9, 10);
    serve.wait_total("rule.name:ssh_failed_login", 5, Duration::from_secs(120));
    agent.stop();
    w2.stop();
}

/// Notifications in the scale-out shape: the correlator notifies the alerts it raises; a
/// notification still failing when the correlating worker stops is sent by the worker that
/// takes over (the alerts topic says it is not delivered), and each alert reaches the webhook
/// exactly once.
#[test]
fn a_pending_notification_survives_a_correlator_handover_and_is_delivered_once() {
    use std::sync::Arc;
    use support::receiver::{Answer, Receiver};
    let recv = Receiver::start(Arc::new(|_| Answer::Fail));
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("[detect.notify]\nwebhook = \"http://127.0.0.1:{}/hook\"\ntimeout = \"1s\"\n", recv.port));
    std::fs::write(&cfg, text).unwrap();

    let agent = agent(&kafka, &tmp.path().join("agent"), &logs, TOPIC);
    let w1 = logged_worker(&kafka, &cfg, &data, "worker 1");
    w1.wait_log(Duration::from_secs(60), "worker 1 correlating", correlating);
    let w2 = logged_worker(&kafka, &cfg, &data, "worker 2");
    let serve = Server::start_serve_with(&data, &["--brokers", &kafka.brokers, "--topic", TOPIC]);

    write_failures_from(&logs, 0, 12);
    serve.wait_for(Duration::from_secs(120), "the brute-force alert in serve", || brute_force_alerts(&serve)["total"] == 1);
    serve.wait_for(Duration::from_secs(60), "a failed delivery", || recv.requests.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(recv.delivered.lock().unwrap().is_empty());

    // The worker retrying the notifications leaves: the one that failed a delivery last (the
    // correlator that raised the alert may have handed the signals over to the worker just
    // started since, which then retries them: asking who correlates now races with that).
    serve.wait_for(Duration::from_secs(60), "a second failed delivery", || recv.requests.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    let (leaving, staying) = if last_failure(&w1.log_lines()) >= last_failure(&w2.log_lines()) { (w1, w2) } else { (w2, w1) };
    leaving.stop();
    staying.wait_log(Duration::from_secs(90), "the other worker taking the notifications over", |log| {
        correlating(log) && log.iter().any(|l| l.contains("pending notifications taken over"))
    });
    *recv.plan.lock().unwrap() = Arc::new(|_| Answer::Ok);
    let all: Value = serve.client().get(serve.url("/api/v1/alerts?limit=100")).send().unwrap().json().unwrap();
    let ids: Vec<String> = all["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect();
    assert!(!ids.is_empty());
    serve.wait_for(Duration::from_secs(120), "every alert delivered", || recv.delivered.lock().unwrap().len() == ids.len());
    // the delivery is recorded in the alerts topic
    serve.wait_for(Duration::from_secs(60), "the delivery in serve's alerts", || {
        brute_force_alerts(&serve)["alerts"][0]["notified"] == serde_json::json!(["webhook"])
    });
    std::thread::sleep(Duration::from_secs(3));
    let d = recv.delivered.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(d.get(id), Some(&1), "{id} delivered {:?} times: {d:?}", d.get(id));
    }
    agent.stop();
    staying.stop();
}

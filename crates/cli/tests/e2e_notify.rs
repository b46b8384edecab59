//! Alert notifications on the real binary: a webhook receiver that hangs once and fails twice,
//! then answers, gets each new alert exactly once; a notification pending when loglynx is
//! SIGKILLed is delivered after the restart (the outbox is durable). Uses Loghub's
//! `OpenSSH_2k.log` (fails in CI when `../shared/data` is absent, see loglynx-testkit).

mod support;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::receiver::{Answer, Receiver};
use support::Server;

fn alert_ids(s: &Server) -> Vec<String> {
    let v: Value = s.client().get(s.url("/api/v1/alerts?limit=10000")).send().unwrap().json().unwrap();
    v["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect()
}

fn notifications(s: &Server) -> Value {
    s.client().get(s.url("/api/v1/notifications")).send().unwrap().json().unwrap()
}

#[test]
fn a_webhook_that_hangs_and_fails_gets_each_alert_once_also_across_a_sigkill() {
    let Some(dir) = loglynx_testkit::shared_data("loghub/OpenSSH") else { return };
    let text = std::fs::read_to_string(dir.join("OpenSSH_2k.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // the first request hangs past the timeout, the next two get 500, then 200
    let recv = Receiver::start(Arc::new(|n| match n {
        0 => Answer::Hang,
        1 | 2 => Answer::Fail,
        _ => Answer::Ok,
    }));
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = tmp.path().join("loglynx.toml");
    std::fs::write(
        &cfg,
        format!("[detect.notify]\nwebhook = \"http://127.0.0.1:{}/hook\"\ntimeout = \"1s\"\n", recv.port),
    )
    .unwrap();
    let path = logs.join("auth.log");
    let mut f = std::fs::File::create(&path).unwrap();
    for l in &lines[..1200] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    let glob = format!("{}/*.log", logs.display());
    let data = tmp.path().join("data");
    let args = ["--config", cfg.to_str().unwrap(), "--tail", glob.as_str(), "--syslog-udp", "off", "--syslog-tcp", "off"];

    let s = Server::start(&data, &args);
    s.wait_total("NOT event.dataset:loglynx.alert", 1200, Duration::from_secs(120));
    let mut ids = Vec::new();
    s.wait_for(Duration::from_secs(60), "every alert delivered", || {
        ids = alert_ids(&s);
        !ids.is_empty() && recv.delivered.lock().unwrap().len() == ids.len()
    });
    let n = notifications(&s);
    assert!(n["failed_attempts"].as_u64().unwrap() >= 3, "{n}");
    assert_eq!(n["channels"], serde_json::json!(["webhook"]));
    s.wait_for(Duration::from_secs(10), "nothing pending", || notifications(&s)["pending"].as_array().unwrap().is_empty());
    {
        let d = recv.delivered.lock().unwrap();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(d.keys().cloned().collect::<Vec<_>>(), want);
        assert!(d.values().all(|&n| n == 1), "each alert once: {d:?}");
    }

    // now the receiver fails everything; new alerts stay pending; SIGKILL; it recovers; the
    // restarted loglynx delivers them once
    *recv.plan.lock().unwrap() = Arc::new(|_| Answer::Fail);
    for l in &lines[1200..] {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    s.wait_total("NOT event.dataset:loglynx.alert", 2000, Duration::from_secs(120));
    s.wait_for(Duration::from_secs(30), "a pending notification with its error", || {
        let n = notifications(&s);
        n["pending"].as_array().unwrap().iter().any(|p| p["last_error"].as_str().is_some_and(|e| e.contains("500")))
    });
    let before = ids.len();
    s.kill();
    *recv.plan.lock().unwrap() = Arc::new(|_| Answer::Ok);
    let s = Server::start(&data, &args);
    s.wait_for(Duration::from_secs(60), "the pending alerts delivered after the restart", || {
        ids = alert_ids(&s);
        recv.delivered.lock().unwrap().len() == ids.len()
    });
    assert!(ids.len() > before, "the second half raised new alerts");
    let d = recv.delivered.lock().unwrap();
    assert!(d.values().all(|&n| n == 1), "each alert once: {d:?}");
    assert!(recv.requests.load(Ordering::SeqCst) > ids.len());
    drop(d);
    s.stop();
}

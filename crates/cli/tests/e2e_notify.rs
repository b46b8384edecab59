//! Alert notifications on the real binary: a webhook receiver that hangs once and fails twice,
//! then answers, gets each new alert exactly once; a notification pending when loglynx is
//! SIGKILLed is delivered after the restart (the outbox is durable). Uses Loghub's
//! `OpenSSH_2k.log` (fails in CI when `../shared/data` is absent, see loglynx-testkit).
//! An alert of a rule tagged `loglynx.resolve` is notified raised, then resolved once no match
//! came for `[detect] resolve_after` of event time. Alerts forwarded to syslog (RFC 5424, over
//! UDP, and over TCP to a receiver that is down at first) arrive once each.

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

/// A rule of the user's tagged `loglynx.resolve` (a condition that holds, then clears).
const SPOOL_RULE: &str = "title: Upload spool full\nname: spool_full\ntags:\n  - loglynx.resolve\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'upload spool full'\n  condition: keywords\nlevel: high\n";

/// An rsyslog line (RFC 3339 time, Debian's default) of sshd at `2025-06-01T10:00:SS`.
fn sshd_line(sec: u32, msg: &str) -> String {
    format!("2025-06-01T10:00:{sec:02}+00:00 web1 sshd[4100]: {msg}\n")
}

/// The (type, alert id, alert status) of each notification answered, in order.
fn received(recv: &Receiver) -> Vec<(String, String, String)> {
    recv.bodies
        .lock()
        .unwrap()
        .iter()
        .map(|v| {
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
            (s("/type"), s("/alert/id"), s("/alert/status"))
        })
        .collect()
}

#[test]
fn a_resolving_rule_notifies_its_alert_raised_then_resolved_after_resolve_after_of_event_time() {
    let recv = Receiver::start(Arc::new(|_| Answer::Ok));
    let tmp = tempfile::tempdir().unwrap();
    let (logs, rules) = (tmp.path().join("logs"), tmp.path().join("rules"));
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("spool.yml"), SPOOL_RULE).unwrap();
    let cfg = tmp.path().join("loglynx.toml");
    std::fs::write(
        &cfg,
        format!(
            "[detect]\nrules = [{:?}]\nresolve_after = \"5s\"\n[detect.notify]\nwebhook = \"http://127.0.0.1:{}/hook\"\ntimeout = \"2s\"\n",
            rules.to_str().unwrap(),
            recv.port
        ),
    )
    .unwrap();
    let mut f = std::fs::File::create(logs.join("auth.log")).unwrap();
    let mut write = |lines: &[(u32, &str)]| {
        for (sec, msg) in lines {
            f.write_all(sshd_line(*sec, msg).as_bytes()).unwrap();
        }
        f.flush().unwrap();
    };
    let glob = format!("{}/*.log", logs.display());
    let s = Server::start(
        &tmp.path().join("data"),
        &["--config", cfg.to_str().unwrap(), "--tail", glob.as_str(), "--syslog-udp", "off", "--syslog-tcp", "off"],
    );
    let alert = |id: &str| -> Value { s.client().get(s.url(&format!("/api/v1/alerts/{id}"))).send().unwrap().json().unwrap() };

    // The condition holds from :00 to :02; the next event (:03) is 1 s later, under resolve_after.
    let closed = "Connection closed by 10.1.2.3 port 50022 [preauth]";
    write(&[(0, "upload spool full: /srv/spool"), (1, "upload spool full: /srv/spool"), (2, "upload spool full: /srv/spool"), (3, closed)]);
    s.wait_total("NOT event.dataset:loglynx.alert", 4, Duration::from_secs(60));
    s.wait_for(Duration::from_secs(30), "the raised alert notified", || !received(&recv).is_empty());
    let got = received(&recv);
    assert_eq!(got.len(), 1, "{got:?}");
    let (kind, id, status) = got[0].clone();
    assert_eq!((kind.as_str(), status.as_str()), ("alert", "open"));
    let a = alert(&id);
    assert_eq!(a["rule"]["name"], "spool_full");
    assert_eq!((a["status"].as_str(), a["count"].as_u64()), (Some("open"), Some(3)), "{a}");
    assert_eq!(a["last_seen"], "2025-06-01T10:00:02Z");

    // Events up to :07 (5 s after the last match, not more): still open. At :08 it is quiet for
    // 6 s of event time: resolved, and notified as such.
    write(&[(5, closed), (7, closed)]);
    s.wait_total("NOT event.dataset:loglynx.alert", 6, Duration::from_secs(60));
    assert_eq!(alert(&id)["status"], "open", "5 s without a match is not more than resolve_after");
    write(&[(8, closed)]);
    s.wait_for(Duration::from_secs(30), "the resolution notified", || received(&recv).len() == 2);
    let got = received(&recv);
    assert_eq!(got[1], ("alert.resolved".to_string(), id.clone(), "resolved".to_string()), "{got:?}");
    let a = alert(&id);
    assert_eq!(a["status"], "resolved");
    let last = &a["history"].as_array().unwrap().last().unwrap();
    assert_eq!((last["status"].as_str(), last["by"].as_str()), (Some("resolved"), Some("loglynx")));
    s.wait_for(Duration::from_secs(10), "both deliveries recorded", || {
        let n = alert(&id)["notified"].clone();
        n == serde_json::json!(["webhook", "webhook:resolved"])
    });
    s.wait_total(&format!("event.dataset:loglynx.alert AND event.action:resolved AND alert.id:{id}"), 1, Duration::from_secs(30));

    // The condition returns: a new alert, notified once; the resolved one stays resolved.
    write(&[(20, "upload spool full: /srv/spool")]);
    s.wait_for(Duration::from_secs(30), "the new alert notified", || received(&recv).len() == 3);
    let got = received(&recv);
    assert_eq!((got[2].0.as_str(), got[2].2.as_str()), ("alert", "open"), "{got:?}");
    assert_ne!(got[2].1, id);
    assert_eq!(alert(&id)["status"], "resolved");
    let d = recv.delivered.lock().unwrap().clone();
    assert_eq!(d.len(), 3, "{d:?}");
    assert!(d.values().all(|&n| n == 1), "each notification once: {d:?}");
    assert_eq!(recv.requests.load(Ordering::SeqCst), 3);
    s.stop();
}

/// `n` failed logins of `ip` as root from second `from` on (sshd lines as [`sshd_line`] writes
/// them): ten or more within 5 minutes are one `ssh_brute_force` alert (one user name: no
/// `ssh_password_spraying`).
fn failed_logins(ip: &str, from: u32, n: u32) -> String {
    (from..from + n)
        .map(|s| {
            sshd_line(
                s,
                &format!(
                    "Failed password for root from {ip} port {} ssh2",
                    40000 + s
                ),
            )
        })
        .collect()
}

/// Starts `loglynx run` tailing `<tmp>/logs/*.log` with `[detect.notify] syslog = target`.
fn start_with_syslog(tmp: &std::path::Path, target: &str) -> (Server, std::fs::File) {
    let logs = tmp.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = tmp.join("loglynx.toml");
    std::fs::write(
        &cfg,
        format!("[detect.notify]\nsyslog = \"{target}\"\ntimeout = \"2s\"\n"),
    )
    .unwrap();
    let f = std::fs::File::create(logs.join("auth.log")).unwrap();
    let glob = format!("{}/*.log", logs.display());
    let s = Server::start(
        &tmp.join("data"),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--tail",
            glob.as_str(),
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
        ],
    );
    (s, f)
}

/// Reads an RFC 5424 line as loglynx forwards an alert: `<PRI>1 TIMESTAMP HOST loglynx -
/// MSGID - {"type": ..., "alert": {...}}`. Returns (PRI, MSGID, the JSON).
fn syslog_alert(line: &str) -> (u32, String, Value) {
    let rest = line
        .strip_prefix('<')
        .unwrap_or_else(|| panic!("no PRI: {line}"));
    let (pri, rest) = rest
        .split_once(">1 ")
        .unwrap_or_else(|| panic!("not RFC 5424 version 1: {line}"));
    let parts: Vec<&str> = rest.splitn(7, ' ').collect();
    assert_eq!(parts.len(), 7, "{line}");
    let (time, host, app, procid, msgid, sd, msg) = (
        parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6],
    );
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("timestamp {time:?}: {e}"));
    assert!(!host.is_empty() && host != "-", "{line}");
    assert_eq!((app, procid, sd), ("loglynx", "-", "-"), "{line}");
    (
        pri.parse().unwrap(),
        msgid.to_string(),
        serde_json::from_str(msg).unwrap_or_else(|e| panic!("message is not JSON ({e}): {line}")),
    )
}

/// The alert ids of `rule`, as the API lists them.
fn rule_alert_ids(s: &Server, rule: &str) -> Vec<String> {
    let v: Value = s
        .client()
        .get(s.url(&format!("/api/v1/alerts?rule={rule}&limit=10000")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn alerts_are_forwarded_to_syslog_over_udp_one_datagram_each() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (s, mut f) =
        start_with_syslog(tmp.path(), &format!("udp://{}", sock.local_addr().unwrap()));
    f.write_all(failed_logins("203.0.113.7", 0, 12).as_bytes())
        .unwrap();
    f.write_all(failed_logins("198.51.100.9", 20, 12).as_bytes())
        .unwrap();
    f.flush().unwrap();

    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < 2 {
        let n = sock
            .recv(&mut buf)
            .expect("an alert forwarded to syslog within 60 s");
        got.push(syslog_alert(std::str::from_utf8(&buf[..n]).unwrap()));
    }
    let mut ids = rule_alert_ids(&s, "ssh_brute_force");
    ids.sort();
    let mut forwarded: Vec<String> = got
        .iter()
        .map(|(_, _, v)| v["alert"]["id"].as_str().unwrap().to_string())
        .collect();
    forwarded.sort();
    assert_eq!(forwarded, ids, "one datagram per alert");
    for (pri, msgid, v) in &got {
        // facility 13 (log audit), severity 3 (error) for a rule of level high
        assert_eq!(*pri, 13 * 8 + 3);
        assert_eq!(
            (msgid.as_str(), v["type"].as_str()),
            ("alert", Some("alert"))
        );
        assert_eq!(v["alert"]["rule"]["name"], "ssh_brute_force");
        assert_eq!(v["alert"]["rule"]["author"], "loglynx");
        let count = v["alert"]["count"].as_u64().unwrap();
        assert!((10..=12).contains(&count), "{v}");
    }
    let sources: Vec<&str> = got
        .iter()
        .map(|(_, _, v)| v["alert"]["group"]["source.ip"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"203.0.113.7") && sources.contains(&"198.51.100.9"),
        "{sources:?}"
    );
    let n = notifications(&s);
    assert_eq!(n["channels"], serde_json::json!(["syslog"]));
    s.stop();
}

#[test]
fn a_syslog_receiver_down_at_first_gets_each_alert_once_over_tcp() {
    // A port nothing listens on yet: the first deliveries are refused, stay in the outbox and
    // are retried until the receiver is up.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let (s, mut f) = start_with_syslog(tmp.path(), &format!("tcp://127.0.0.1:{port}"));
    f.write_all(failed_logins("203.0.113.7", 0, 12).as_bytes())
        .unwrap();
    f.flush().unwrap();
    s.wait_for(
        Duration::from_secs(60),
        "a pending syslog notification with its error",
        || {
            let n = notifications(&s);
            n["pending"].as_array().unwrap().iter().any(|p| {
                p["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains(&port.to_string()))
            })
        },
    );

    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(c) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                // RFC 6587 octet counting: "LEN SP MSG", frames back to back
                let mut r = std::io::BufReader::new(c);
                loop {
                    let mut len = Vec::new();
                    if std::io::BufRead::read_until(&mut r, b' ', &mut len).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = std::str::from_utf8(&len[..len.len() - 1])
                        .unwrap()
                        .parse()
                        .expect("an octet count");
                    let mut msg = vec![0u8; n];
                    std::io::Read::read_exact(&mut r, &mut msg).unwrap();
                    tx.send(String::from_utf8(msg).unwrap()).unwrap();
                }
            });
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the pending alert delivered once the receiver is up");
    let (pri, _, v) = syslog_alert(&first);
    assert_eq!(pri, 13 * 8 + 3);
    let ids = rule_alert_ids(&s, "ssh_brute_force");
    assert_eq!(ids.len(), 1);
    assert_eq!(v["alert"]["id"].as_str(), Some(ids[0].as_str()));
    s.wait_for(Duration::from_secs(10), "nothing pending", || {
        notifications(&s)["pending"].as_array().unwrap().is_empty()
    });

    // A second source's alert: the next frame on the wire is that one, not the first again.
    f.write_all(failed_logins("198.51.100.9", 20, 12).as_bytes())
        .unwrap();
    f.flush().unwrap();
    let second = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the second alert forwarded");
    let (_, _, v2) = syslog_alert(&second);
    assert_eq!(
        v2["alert"]["group"]["source.ip"], "198.51.100.9",
        "{second}"
    );
    assert_ne!(v2["alert"]["id"], v["alert"]["id"]);
    assert!(rx.try_recv().is_err(), "no other frame");
    s.stop();
}

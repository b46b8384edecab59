//! The routes that fold over events, through a search root (issue 13): two workers in one
//! consumer group (each with its own data directory and leaf API, so each holds different
//! partitions) and `loglynx serve --catalog` as the root. Network connection and performance
//! events written by hand (JSON lines the agent tails) are the input; the oracle is the
//! answer one process over all of them would give, computed here from the lines: talkers,
//! the service map, the performance history (RTT percentiles from the summed histograms) and
//! a rule backtest. Then one worker is SIGKILLed: every route names the partitions it held
//! in `missing` and counts exactly the rest.
//!
//! Needs tansu (`scripts/tansu.sh install`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use support::kafka::{config, held_partitions, log_level};
use support::{Proc, Server, Tansu};

const TOPIC: &str = "e2e-leaf-routes";
/// Files the agent tails (8 streams, so the 4 partitions all get some).
const FILES: usize = 8;
/// Connections and summaries per file.
const N: usize = 30;

/// One connection: (file, i) -> (process, peer, source bytes, destination bytes, retransmits).
fn conn(f: usize, i: usize) -> (String, String, u64, u64, u64) {
    (format!("p{}", f % 3), format!("10.9.0.{}", i % 4), (i + 1) as u64, 1000 * (f as u64 + 1), (i % 2) as u64)
}

/// One summary: (file, i) -> (process, peer, retransmits, segments, rtt slot).
fn perf(f: usize, i: usize) -> (String, String, u64, u64, usize) {
    (format!("p{}", f % 3), format!("10.9.0.{}", i % 4), (i % 3) as u64, 100, 8 + (f + i) % 6)
}

fn write_lines(dir: &Path) {
    let now = chrono::Utc::now();
    for f in 0..FILES {
        let mut buf = String::new();
        for i in 0..N {
            let t = (now - chrono::Duration::seconds((N - i) as i64)).to_rfc3339();
            let (p, peer, sb, db, rt) = conn(f, i);
            buf.push_str(&json!({
                "@timestamp": t, "message": format!("conn {f} {i}"), "event.dataset": "network.connection",
                "process.name": p, "source.ip": format!("10.0.0.{f}"), "source.port": 40000 + i,
                "destination.ip": peer, "destination.port": 443, "source.bytes": sb, "destination.bytes": db,
                "tcp.retransmits": rt, "labels.network.direction": "outbound",
            }).to_string());
            buf.push('\n');
            let (p, peer, rt, segs, slot) = perf(f, i);
            buf.push_str(&json!({
                "@timestamp": t, "message": format!("perf {f} {i}"), "event.dataset": "network.perf", "event.action": "peer",
                "process.name": p, "destination.ip": peer, "tcp.retransmits": rt,
                "labels.tcp.segs_out": segs.to_string(), "labels.tcp.rtt_hist": format!("{slot}:2"),
            }).to_string());
            buf.push('\n');
        }
        std::fs::write(dir.join(format!("n{f}.log")), buf).unwrap();
    }
}

/// A worker of the group with its own data directory and leaf API (logged, so that its
/// partitions can be read from its log); returns it and the leaf address.
fn worker(kafka: &Tansu, cfg: &Path, data: &Path, name: &str) -> (Proc, String) {
    let addr = format!("127.0.0.1:{}", loglynx_testkit::free_port());
    let p = Proc::start_logged(
        name,
        &[
            "worker", "-c", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "--brokers", &kafka.brokers,
            "--topic", TOPIC, "--group", "routes", "--consumers", "1", "--search-listen", &addr, "--log", "info",
        ],
        "loglynx worker ready",
    );
    (p, addr)
}

fn get(serve: &Server, path: &str, query: &[(&str, &str)]) -> Value {
    let r = serve.client().get(serve.url(path)).query(query).send().unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

fn post(serve: &Server, path: &str, body: Value) -> Value {
    let r = serve.client().post(serve.url(path)).json(&body).send().unwrap();
    let status = r.status();
    let body: Value = r.json().unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The partitions an answer names missing.
fn missing(body: &Value) -> BTreeSet<i64> {
    body["missing"].as_array().map(|a| a.iter().map(|m| m["partition"].as_i64().unwrap()).collect()).unwrap_or_default()
}

/// Upper bound (us) of the log2 slot holding quantile `q` (the API's own rule).
fn quantile_us(slots: &BTreeMap<usize, u64>, q: f64) -> u64 {
    let total: u64 = slots.values().sum();
    let want = (total as f64 * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in slots {
        seen += n;
        if seen >= want {
            return 1 << (i + 1);
        }
    }
    0
}

/// What one process over the files `files` answers: talkers per (process, peer) as
/// (connections, sent, received, retransmits); perf per (process, peer) as (retransmits,
/// segments, samples, p50, p99).
type Talkers = BTreeMap<(String, String), (u64, u64, u64, u64)>;
type Perf = BTreeMap<(String, String), (u64, u64, u64, u64, u64)>;

fn oracle(files: &[usize]) -> (Talkers, Perf) {
    let mut talkers: Talkers = BTreeMap::new();
    let mut slots: BTreeMap<(String, String), (u64, u64, BTreeMap<usize, u64>)> = BTreeMap::new();
    for &f in files {
        for i in 0..N {
            let (p, peer, sb, db, rt) = conn(f, i);
            let t = talkers.entry((p, peer)).or_default();
            *t = (t.0 + 1, t.1 + sb, t.2 + db, t.3 + rt);
            let (p, peer, rt, segs, slot) = perf(f, i);
            let s = slots.entry((p, peer)).or_default();
            s.0 += rt;
            s.1 += segs;
            *s.2.entry(slot).or_default() += 2;
        }
    }
    let perf = slots
        .into_iter()
        .map(|(k, (rt, segs, s))| (k, (rt, segs, s.values().sum(), quantile_us(&s, 0.5), quantile_us(&s, 0.99))))
        .collect();
    (talkers, perf)
}

fn talkers_of(body: &Value) -> Talkers {
    body["talkers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!((t["direction"].as_str(), t["port"].as_u64()), (Some("outbound"), Some(443)), "{t}");
            let n = |k: &str| t[k].as_u64().unwrap();
            ((t["process"].as_str().unwrap().to_string(), t["peer"].as_str().unwrap().to_string()), (n("connections"), n("sent_bytes"), n("received_bytes"), n("retransmits")))
        })
        .collect()
}

fn perf_of(body: &Value) -> Perf {
    body["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_u64().unwrap();
            (
                (p["process"].as_str().unwrap().to_string(), p["peer"].as_str().unwrap().to_string()),
                (n("retransmits"), n("segs_out"), n("rtt_samples"), n("rtt_p50_us"), n("rtt_p99_us")),
            )
        })
        .collect()
}

#[test]
fn network_folds_and_backtests_through_the_root_equal_one_process_over_all_the_data() {
    let kafka = Tansu::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let cfg = config(tmp.path());
    let level = log_level();
    // The agent first (it makes the topic), then both workers in the group before a line
    // is sent: each partition has one owner.
    let glob = format!("{}/*.log", logs.display());
    let agent_dir = tmp.path().join("agent");
    let agent = Proc::start_logged(
        "agent",
        &[
            "agent", "--data-dir", agent_dir.to_str().unwrap(), "--brokers", &kafka.brokers, "--topic", TOPIC,
            "--partitions", "4", "--tail", &glob, "--syslog-udp", "off", "--syslog-tcp", "off", "--http", "off",
            "--log", &level,
        ],
        "loglynx agent ready",
    );
    let (a, a_addr) = worker(&kafka, &cfg, &tmp.path().join("a"), "worker a");
    let (b, b_addr) = worker(&kafka, &cfg, &tmp.path().join("b"), "worker b");
    let split = || match (held_partitions(&a.log_lines()), held_partitions(&b.log_lines())) {
        (Some(x), Some(y)) => !x.is_empty() && !y.is_empty() && x.len() + y.len() == 4,
        _ => false,
    };
    let started = std::time::Instant::now();
    while !split() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the partitions not split between a and b: {:?} {:?}",
            held_partitions(&a.log_lines()),
            held_partitions(&b.log_lines())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let serve = Server::start_serve_with(&tmp.path().join("root"), &["--brokers", &kafka.brokers, "--topic", TOPIC, "--catalog"]);
    write_lines(&logs);
    let lines = (FILES * N * 2) as u64;
    serve.wait_total("*", lines, Duration::from_secs(180));
    // Both leaves answer a part of the offsets.
    serve.wait_for(Duration::from_secs(60), "both leaves in the cover", || {
        let s = get(&serve, "/api/v1/leaves", &[]);
        let used: BTreeSet<String> = s["cover"].as_array().unwrap().iter().map(|p| p["leaf"].as_str().unwrap().to_string()).collect();
        used.contains(&a_addr) && used.contains(&b_addr)
    });
    let all: Vec<usize> = (0..FILES).collect();
    let (want_talkers, want_perf) = oracle(&all);

    let t = get(&serve, "/api/v1/network/talkers", &[("size", "1000")]);
    assert_eq!((t["connections"].as_u64(), t["scanned"].as_u64(), t["truncated"].as_bool()), (Some(lines / 2), Some(lines / 2), Some(false)), "{t}");
    assert_eq!(talkers_of(&t), want_talkers, "{t}");
    assert_eq!(t["groups"].as_u64(), Some(want_talkers.len() as u64));
    assert!(t.get("missing").is_none(), "{t}");

    let h = get(&serve, "/api/v1/network/perf/history", &[("size", "1000"), ("buckets", "10")]);
    assert_eq!(h["events"].as_u64(), Some(lines / 2), "{h}");
    assert_eq!(perf_of(&h), want_perf, "{h}");
    for p in h["peers"].as_array().unwrap() {
        let sum: u64 = p["series"].as_array().unwrap().iter().map(|s| s["retransmits"].as_u64().unwrap()).sum();
        assert_eq!(Some(sum), p["retransmits"].as_u64(), "{p}");
    }

    let m = get(&serve, "/api/v1/network/map", &[("size", "1000")]);
    assert_eq!(m["events"].as_u64(), Some(lines), "{m}");
    let edges = m["edges"].as_array().unwrap();
    let conns: u64 = edges.iter().map(|e| e["connections"].as_u64().unwrap()).sum();
    let bytes: u64 = edges.iter().map(|e| e["bytes"].as_u64().unwrap()).sum();
    let segs: u64 = edges.iter().map(|e| e["segs_out"].as_u64().unwrap()).sum();
    assert_eq!(conns, lines / 2);
    assert_eq!(bytes, want_talkers.values().map(|v| v.1 + v.2).sum::<u64>());
    assert_eq!(segs, want_perf.values().map(|v| v.1).sum::<u64>());
    // One edge per (process, peer:443), its summaries joined to it.
    assert_eq!(edges.len(), want_talkers.len(), "{m}");

    let rule = "title: to peer one\nid: 0b5e2f38-1d7e-4a70-9a51-6c0a9e3d7b11\nname: to_peer_one\nlogsource:\n  product: loglynx\n  category: network_connection\ndetection:\n  sel:\n    destination.ip: 10.9.0.1\n  condition: sel\nlevel: low\n";
    let bt = post(&serve, "/api/v1/rules/backtest", json!({"yaml": rule, "start": "now-1d"}));
    let to_one = want_talkers.iter().filter(|(k, _)| k.1 == "10.9.0.1").map(|(_, v)| v.0).sum::<u64>();
    assert_eq!((bt["events_scanned"].as_u64(), bt["matched"].as_u64()), (Some(lines), Some(to_one)), "{bt}");
    assert_eq!(bt["truncated"], false);
    assert!(bt.get("missing").is_none(), "{bt}");

    // A leaf SIGKILLed: its partitions are named missing (its record is still within the
    // TTL, it does not answer), the rest counted exactly.
    b.kill();
    let t = get(&serve, "/api/v1/network/talkers", &[("size", "1000")]);
    let gone = missing(&t);
    assert!(!gone.is_empty(), "{t}");
    let left = t["connections"].as_u64().unwrap();
    assert!(left < lines / 2, "{t}");
    let total = serve.search("event.dataset:network.connection", 1, 0, "desc");
    assert_eq!(missing(&total), gone);
    assert_eq!(total["total"].as_u64(), Some(left), "talkers count what search counts: {total}");
    for (path, q) in [("/api/v1/network/map", vec![]), ("/api/v1/network/perf/history", vec![])] {
        let r: Value = get(&serve, path, &q);
        assert_eq!(missing(&r), gone, "{path}: {r}");
    }
    let bt = post(&serve, "/api/v1/rules/backtest", json!({"yaml": rule, "start": "now-1d"}));
    assert_eq!(missing(&bt), gone, "{bt}");
    let stdout = std::io::stdout();
    writeln!(stdout.lock(), "missing after the kill: {gone:?}, connections left {left}").unwrap();
    agent.stop();
    a.stop();
}

//! RTT against a baseline, with real traffic between two network namespaces joined by an
//! emulated link: while the delay stays at 10 ms the monitor's peer summaries compare each
//! interval with the baseline of the process and peer and the built-in rules raise nothing; once
//! the link's delay goes to 60 ms the intervals are flagged against the baseline and the
//! built-in rule `tcp_rtt_regression` (run here by the detection stage on the very events the
//! monitor sent) raises one alert for the client process and the server's address.
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{perf_config, Watched};
use loglynx_core::Event;
use loglynx_detect::{AlertBook, AlertFilter, DetectionStage, DetectionStats, Detector, DetectorOptions, LoadOptions, RuleSet};
use loglynx_netmon::PERF_DATASET;
use loglynx_testkit::netns::{Link, NetnsPair, Side, ADDR_B};

const SERVER: &str = r#"
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(4)
print("ready", flush=True)
conn, _ = srv.accept()
while conn.recv(65536):
    pass
"#;

/// 100 bytes every 10 ms (one segment each) until stdin closes.
const CLIENT: &str = r#"
import select, socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("connected", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    c.sendall(b"x" * 100)
    time.sleep(0.01)
"#;

fn label(e: &Event, key: &str) -> Option<f64> {
    e.labels.get(key)?.parse().ok()
}

#[test]
fn a_delay_added_after_the_baseline_raises_the_rtt_regression_alert_and_a_constant_one_none() {
    if !loglynx_testkit::require_root("CAP_BPF and network namespaces") {
        return;
    }
    let mut pair = NetnsPair::emulated(Link {
        delay_b_to_a_ms: 10,
        ..Default::default()
    });
    let port = loglynx_testkit::free_port();
    let watched = Watched::<Event>::start(&perf_config(port, Duration::from_secs(1)));
    let erx = &watched.events;

    let (mut server, srx) = pair.python(Side::B, SERVER, &[port.to_string()]);
    assert_eq!(srx.recv_timeout(Duration::from_secs(10)).as_deref(), Ok("ready"));
    let (mut client, crx) = pair.python(Side::A, CLIENT, &[ADDR_B.to_string(), port.to_string()]);
    assert_eq!(crx.recv_timeout(Duration::from_secs(10)).as_deref(), Ok("connected"));
    let cpid = client.id();

    // The built-in rules with their defaults (factor 2, 1 ms more), as `loglynx run` loads them.
    let texts = loglynx_detect::rules::builtin_with(&[]);
    let texts: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let rules = RuleSet::load_all::<&str>(&[], &texts, LoadOptions::default()).unwrap();
    let detector = Arc::new(Detector::new(rules, DetectorOptions::default()));
    let book = Arc::new(AlertBook::in_memory(3600, 1000).unwrap());
    let mut stage = DetectionStage::new(detector.clone(), book.clone(), Arc::new(Mutex::new(DetectionStats::default())));
    let alerts = |book: &AlertBook| {
        let (_, a) = book.list(&AlertFilter { limit: 100, ..Default::default() }).unwrap();
        a.into_iter().filter(|a| a.rule.name.starts_with("tcp_rtt")).collect::<Vec<_>>()
    };
    // The client's peer summaries, each through the rules; `until` says when to stop.
    let mut follow = |what: &str, secs: u64, until: &mut dyn FnMut(&Event) -> bool| -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        loop {
            let Ok(mut e) = erx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                panic!("{what}: not within {secs} s; client peer summaries: {seen:#?}");
            };
            if e.dataset.as_deref() != Some(PERF_DATASET) {
                continue;
            }
            detector.tag(&mut e);
            let mine = e.action.as_deref() == Some("peer") && e.pid == Some(cpid) && e.destination_ip.as_deref() == Some(ADDR_B);
            let mut batch = vec![e.clone()];
            stage.process(&mut batch).unwrap();
            if mine {
                seen.push(e.clone());
                if until(&e) {
                    return seen;
                }
            }
        }
    };

    // Constant delay: the baseline forms (4 intervals), then 4 intervals compared with it.
    let mut compared = 0;
    let steady = follow("4 intervals compared with the baseline", 40, &mut |e| {
        compared += usize::from(e.labels.contains_key("tcp.rtt_mean_ratio"));
        compared >= 4
    });
    for e in steady.iter().filter(|e| e.labels.contains_key("tcp.rtt_mean_ratio")) {
        let (r50, r99) = (label(e, "tcp.rtt_mean_ratio").unwrap(), label(e, "tcp.rtt_p99_ratio").unwrap());
        // Below the rule's factor (measured: 0.99-1.00 on an idle machine; a loaded one delays
        // the forwarder and the client a little).
        assert!(r50 < 2.0 && r99 <= 2.0, "constant delay, ratios {r50} / {r99}: {e:#?}");
        let base = label(e, "tcp.rtt_baseline_mean_us").unwrap();
        assert!((10_000.0..20_000.0).contains(&base), "baseline mean {base} us for a 10 ms link: {e:#?}");
        assert!(e.rule_ids.is_empty(), "no rule matches a constant RTT: {e:#?}");
    }
    assert!(alerts(&book).is_empty(), "{:#?}", alerts(&book));

    // 60 ms from now on: two intervals flagged, one alert for the client and the server.
    pair.set_link(Link {
        delay_b_to_a_ms: 60,
        ..Default::default()
    });
    let mut flagged = 0;
    let slow = follow("two intervals flagged against the baseline", 30, &mut |e| {
        flagged += usize::from(label(e, "tcp.rtt_mean_ratio").is_some_and(|r| r >= 2.0));
        flagged >= 2
    });
    let ratios = |evs: &[Event]| -> Vec<String> {
        evs.iter()
            .filter_map(|e| Some(format!("{:.2}/{:.2}", label(e, "tcp.rtt_mean_ratio")?, label(e, "tcp.rtt_p99_ratio")?)))
            .collect()
    };
    eprintln!(
        "rtt baseline: mean {:?} us; mean/p99 ratios at 10 ms: {:?}; after the change to 60 ms: {:?}",
        steady.last().and_then(|e| label(e, "tcp.rtt_baseline_mean_us")),
        ratios(&steady),
        ratios(&slow)
    );
    let last = slow.last().unwrap();
    assert!(label(last, "tcp.rtt_mean_increase_us").unwrap() >= 30_000.0, "{last:#?}");
    assert!(last.rule_names.iter().any(|n| n == "tcp_rtt_above_baseline"), "{last:#?}");
    let a = alerts(&book);
    let regression: Vec<_> = a.iter().filter(|a| a.rule.name == "tcp_rtt_regression").collect();
    assert_eq!(regression.len(), 1, "{a:#?}");
    assert_eq!(regression[0].group.get("destination.ip").map(String::as_str), Some(ADDR_B));
    // Grouped by the pair's service: the client's unit, else container, else its command.
    let service = last.labels.get("tcp.service").expect("peer summaries name the service");
    assert_eq!(regression[0].group.get("labels.tcp.service"), Some(service));

    drop(client.stdin.take());
    let _ = client.wait();
    watched.stop();
    let _ = server.kill();
    let _ = server.wait();
}

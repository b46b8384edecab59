//! Retransmit rate against a baseline, with real traffic between two network namespaces joined
//! by an emulated link that drops a share of the client's data segments:
//! - loss from the start (5%): the pair's baseline is its lossy rate, the intervals compared
//!   with it are not flagged and the built-in rule `tcp_retransmit_rate_high` raises nothing,
//!   although every interval retransmits more than the old fixed 5% threshold would allow;
//! - a clean link first, then 10% loss: the intervals are flagged against the clean baseline
//!   and the rule raises one alert for the client's service and the server's address.
//!
//! Each case has its own monitor (the baselines live in it), so the two runs of the same
//! command towards the same address do not share a baseline.
//!
//! Needs root (CI runs as root): skipped otherwise, or failed when `LOGLYNX_REQUIRE_ROOT` is set.

mod common;

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{perf_config, Watched};
use loglynx_core::Event;
use loglynx_detect::{
    Alert, AlertBook, AlertFilter, DetectionStage, DetectionStats, Detector, DetectorOptions,
    LoadOptions, RuleSet,
};
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

/// 100 bytes every 2 ms (one segment each, some 400 a second) until stdin closes: enough
/// segments per interval for the rate to be steady under a steady loss.
const CLIENT: &str = r#"
import select, socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("connected", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    c.sendall(b"x" * 100)
    time.sleep(0.002)
"#;

fn label(e: &Event, key: &str) -> Option<f64> {
    e.labels.get(key)?.parse().ok()
}

fn link(loss: f64) -> Link {
    Link {
        loss_a_to_b: loss,
        delay_b_to_a_ms: 5,
        ..Default::default()
    }
}

/// A monitor watching a client in namespace A that sends to a server in B over an emulated
/// link, its `network.perf` events run through the built-in rules.
struct Case {
    pair: NetnsPair,
    watched: Watched<Event>,
    server: Child,
    client: Child,
    cpid: u32,
    detector: Arc<Detector>,
    stage: DetectionStage,
    book: Arc<AlertBook>,
}

impl Case {
    fn start(loss: f64) -> Case {
        let pair = NetnsPair::emulated(link(loss));
        let port = loglynx_testkit::free_port();
        let watched = Watched::start(&perf_config(port, Duration::from_secs(1)));
        let (server, srx) = pair.python(Side::B, SERVER, &[port.to_string()]);
        assert_eq!(
            srx.recv_timeout(Duration::from_secs(10)).as_deref(),
            Ok("ready")
        );
        let (client, crx) = pair.python(Side::A, CLIENT, &[ADDR_B.to_string(), port.to_string()]);
        assert_eq!(
            crx.recv_timeout(Duration::from_secs(10)).as_deref(),
            Ok("connected")
        );
        let cpid = client.id();
        // The built-in rules with their defaults (factor 2, one point more), as `loglynx run`
        // loads them.
        let texts = loglynx_detect::rules::builtin_with(&[]);
        let texts: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let rules = RuleSet::load_all::<&str>(&[], &texts, LoadOptions::default()).unwrap();
        let detector = Arc::new(Detector::new(rules, DetectorOptions::default()));
        let book = Arc::new(AlertBook::in_memory(3600, 1000).unwrap());
        let stage = DetectionStage::new(
            detector.clone(),
            book.clone(),
            Arc::new(Mutex::new(DetectionStats::default())),
        );
        Case {
            pair,
            watched,
            server,
            client,
            cpid,
            detector,
            stage,
            book,
        }
    }

    fn alerts(&self) -> Vec<Alert> {
        let (_, a) = self
            .book
            .list(&AlertFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        a.into_iter()
            .filter(|a| a.rule.name.starts_with("tcp_retransmit"))
            .collect()
    }

    /// The client's peer summaries, each through the rules, until `until` says stop.
    fn follow(
        &mut self,
        what: &str,
        secs: u64,
        until: &mut dyn FnMut(&Event) -> bool,
    ) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let erx = &self.watched.events;
        let mut seen = Vec::new();
        loop {
            let Ok(mut e) = erx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                panic!("{what}: not within {secs} s; client peer summaries: {seen:#?}");
            };
            if e.dataset.as_deref() != Some(PERF_DATASET) {
                continue;
            }
            self.detector.tag(&mut e);
            let mine = e.action.as_deref() == Some("peer")
                && e.pid == Some(self.cpid)
                && e.destination_ip.as_deref() == Some(ADDR_B);
            let mut batch = vec![e.clone()];
            self.stage.process(&mut batch).unwrap();
            if mine {
                seen.push(e.clone());
                if until(&e) {
                    return seen;
                }
            }
        }
    }

    /// Follows until `n` intervals were compared with the pair's baseline; returns those.
    fn compared(&mut self, what: &str, n: usize) -> Vec<Event> {
        let mut count = 0;
        let seen = self.follow(what, 60, &mut |e| {
            count += usize::from(e.labels.contains_key("tcp.retransmit_rate_ratio"));
            count >= n
        });
        seen.into_iter()
            .filter(|e| e.labels.contains_key("tcp.retransmit_rate_ratio"))
            .collect()
    }

    fn stop(mut self) {
        drop(self.client.stdin.take());
        let _ = self.client.wait();
        self.watched.stop();
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn rates(evs: &[Event]) -> Vec<String> {
    evs.iter()
        .filter_map(|e| {
            Some(format!(
                "{:.2}%/{:.2}%",
                100.0 * label(e, "tcp.retransmit_rate")?,
                100.0 * label(e, "tcp.retransmit_baseline_rate")?
            ))
        })
        .collect()
}

#[test]
fn loss_added_after_a_clean_baseline_raises_the_retransmit_alert_and_steady_loss_none() {
    if !loglynx_testkit::require_root("CAP_BPF and network namespaces") {
        return;
    }

    // Loss from the start: the pair is its own baseline.
    let mut steady = Case::start(0.05);
    let evs = steady.compared("6 intervals with 5% loss compared with the baseline", 6);
    eprintln!(
        "retransmit baseline, 5% loss throughout: rate/baseline per interval {:?}",
        rates(&evs)
    );
    for e in &evs {
        let (rate, base) = (
            label(e, "tcp.retransmit_rate").unwrap(),
            label(e, "tcp.retransmit_baseline_rate").unwrap(),
        );
        assert!(label(e, "tcp.segs_out").unwrap() >= 100.0, "{e:#?}");
        // The loss is real: the link drops about 5% of the data segments.
        assert!(base >= 0.02, "baseline rate {base} with 5% loss: {e:#?}");
        assert!(
            rate < 2.0 * base,
            "steady loss, rate {rate} against {base}: {e:#?}"
        );
        assert!(
            !e.rule_names
                .iter()
                .any(|n| n == "tcp_retransmit_above_baseline"),
            "{e:#?}"
        );
    }
    assert!(steady.alerts().is_empty(), "{:#?}", steady.alerts());
    steady.stop();

    // A clean link first: a baseline of (about) no retransmits, nothing flagged.
    let mut case = Case::start(0.0);
    let clean = case.compared("4 clean intervals compared with the baseline", 4);
    for e in &clean {
        assert!(
            label(e, "tcp.retransmit_baseline_rate").unwrap() < 0.01,
            "{e:#?}"
        );
        assert!(
            e.rule_ids.is_empty(),
            "no rule matches a clean link: {e:#?}"
        );
    }
    assert!(case.alerts().is_empty(), "{:#?}", case.alerts());

    // 10% of the client's data segments dropped from now on: two intervals flagged, one alert
    // for the client's service and the server.
    case.pair.set_link(link(0.10));
    let mut flagged = 0;
    let lossy = case.follow("two intervals flagged against the baseline", 30, &mut |e| {
        flagged += usize::from(
            e.rule_names
                .iter()
                .any(|n| n == "tcp_retransmit_above_baseline"),
        );
        flagged >= 2
    });
    eprintln!(
        "retransmit baseline, clean then 10% loss: rate/baseline per interval {:?} then {:?}",
        rates(&clean),
        rates(&lossy)
    );
    let last = lossy.last().unwrap();
    assert!(
        label(last, "tcp.retransmit_rate_increase").unwrap() >= 0.01,
        "{last:#?}"
    );
    assert!(
        label(last, "tcp.retransmit_rate_ratio").unwrap() >= 2.0,
        "{last:#?}"
    );
    let a = case.alerts();
    let regression: Vec<_> = a
        .iter()
        .filter(|a| a.rule.name == "tcp_retransmit_rate_high")
        .collect();
    assert_eq!(regression.len(), 1, "{a:#?}");
    assert_eq!(
        regression[0]
            .group
            .get("destination.ip")
            .map(String::as_str),
        Some(ADDR_B)
    );
    let service = last
        .labels
        .get("tcp.service")
        .expect("peer summaries name the service");
    assert_eq!(regression[0].group.get("labels.tcp.service"), Some(service));
    case.stop();
}

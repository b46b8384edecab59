//! The built-in rule pack over real logs: Loghub's `OpenSSH_2k.log` parsed and decoded as the
//! pipeline does, tagged, correlated and folded into alerts. The expected alerts are computed
//! here from the lines themselves (a plain scan of "Failed ... from ADDR" lines), not by the
//! code under test.
//!
//! Skipped when the data is absent, unless `LOGLYNX_REQUIRE_SHARED` is set (see loglynx-testkit).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use loglynx_core::{Event, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{AlertBook, AlertFilter, DetectionStage, DetectionStats, Detector};
use loglynx_pipeline::parse::{parse_record, ParseContext};

fn events(dataset: &str, file: &str) -> Option<Vec<Event>> {
    let dir = loglynx_testkit::shared_data(dataset)?;
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let source = Arc::new(SourceKind::File { path: file.into() });
    let now = Timestamp::from_secs(1_717_200_000);
    let ctx = ParseContext { now, keep_original: false, utc_offset_secs: 0 };
    Some(
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                let rec = RawRecord {
                    body: l.as_bytes().to_vec(),
                    truncated: false,
                    hint: FormatHint::Auto,
                    source: source.clone(),
                    host: Some("labsz".into()),
                    received: now,
                    id: format!("line-{i}"),
                };
                let mut e = parse_record(&rec, &ctx);
                loglynx_pipeline::decode::decode(&mut e);
                e
            })
            .collect(),
    )
}

fn stage(dir: &std::path::Path) -> (Arc<Detector>, DetectionStage, Arc<AlertBook>) {
    common::builtin_stage(&[], AlertBook::open(dir, 3600, 10_000).unwrap(), 0)
}

fn failures(events: &[Event]) -> BTreeMap<String, Vec<(i64, String)>> {
    loglynx_testkit::oracle::ssh_failures(
        events.iter().map(|e| (e.timestamp.as_millis() / 1000, e.id.as_str(), e.message.as_str())),
    )
}

/// The brute-force alerts a source must get, by the rule's definition (10 failures within 5
/// minutes; then every failure within an hour of the previous one folds in): (first, count).
fn expected_brute_force(times: &[(i64, String)]) -> Vec<(i64, u64)> {
    loglynx_testkit::oracle::event_count_alerts(times, 10, 300, 3600)
}

#[test]
fn ssh_brute_force_alerts_of_openssh_2k_with_exact_counts_and_none_twice_on_replay() {
    let Some(mut evs) = events("loghub/OpenSSH", "OpenSSH_2k.log") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (detector, mut stage, book) = stage(dir.path());
    for e in &mut evs {
        detector.tag(e);
    }
    let fails = failures(&evs);
    let expected: BTreeSet<(String, i64, u64)> = fails
        .iter()
        .flat_map(|(ip, t)| expected_brute_force(t).into_iter().map(|(f, c)| (ip.clone(), f, c)))
        .collect();
    println!("expected brute-force alerts: {expected:?}");
    assert!(expected.len() >= 4, "the file has at least four brute-forcing sources");

    // in batches of 100 lines, as a tail would deliver them
    let mut raised = Vec::new();
    for chunk in evs.chunks(100) {
        let mut batch = chunk.to_vec();
        let n = batch.len();
        stage.process(&mut batch).unwrap();
        raised.extend(batch.drain(n..));
    }
    let list = |rule: &str| {
        book.list(&AlertFilter { rule: Some(rule.into()), limit: 10_000, ..Default::default() }).unwrap().1
    };
    let brute = list("ssh_brute_force");
    let got: BTreeSet<(String, i64, u64)> =
        brute.iter().map(|a| (a.group["source.ip"].clone(), a.first_seen.as_millis() / 1000, a.count)).collect();
    assert_eq!(got, expected);
    assert_eq!(brute.len(), expected.len());
    for a in &brute {
        assert_eq!(a.rule.author.as_deref(), Some("loglynx"));
        assert_eq!(a.rule.level.as_deref(), Some("high"));
        assert_eq!(a.evidence.len() as u64, a.count);
        let ids: HashMap<&str, i64> = fails[&a.group["source.ip"]].iter().map(|(t, id)| (id.as_str(), *t)).collect();
        assert!(a.evidence.iter().all(|id| ids.contains_key(id.as_str())), "evidence is the source's failures");
    }
    // every alert created is also an event of the batch
    let alert_events: Vec<_> = raised.iter().filter(|e| e.dataset.as_deref() == Some("loglynx.alert")).collect();
    let (total, _) = book.list(&AlertFilter { limit: 0, ..Default::default() }).unwrap();
    assert_eq!(alert_events.len(), total);

    // spraying: many user names from one source; the top source tries many
    let spray = list("ssh_password_spraying");
    assert!(spray.iter().any(|a| a.group["source.ip"] == "183.62.140.253"), "{spray:?}");

    // a replay of the whole file (a crash before the store commit) raises nothing new and
    // counts nothing twice
    let before = book.list(&AlertFilter { limit: 10_000, ..Default::default() }).unwrap().1;
    let (_, mut stage2, _) = {
        let (d, _, _) = (detector.clone(), (), ());
        let s = DetectionStage::new(d.clone(), book.clone(), Arc::new(Mutex::new(DetectionStats::default())));
        (d, s, ())
    };
    for chunk in evs.chunks(100) {
        let mut batch = chunk.to_vec();
        let n = batch.len();
        assert_eq!(stage2.process(&mut batch).unwrap(), 0);
        assert_eq!(batch.len(), n);
    }
    let after = book.list(&AlertFilter { limit: 10_000, ..Default::default() }).unwrap().1;
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        assert_eq!((&a.id, a.count, &a.evidence), (&b.id, b.count, &b.evidence));
    }
}


/// `new_error_pattern`: a new-pattern event (as the pattern miner emits them) of an error-level
/// line after the service's warm-up matches; during warm-up, at another level, or another kind
/// of event, it does not.
#[test]
fn new_error_pattern_matches_warm_error_level_new_patterns_only() {
    let detector = common::builtin_detector(&[]);
    let signal = |level: &str, warm: bool, action: &str| {
        let mut e = Event::new("new pattern: disk <*> failed", Timestamp::from_secs(1), Timestamp::from_secs(1), "x-pattern".into());
        e.dataset = Some("loglynx.pattern".into());
        e.action = Some(action.to_string().into());
        e.level = Some(level.into());
        e.labels.insert("pattern_warm".into(), warm.to_string());
        e.labels.insert("pattern_template".into(), "disk <*> failed".into());
        detector.tag(&mut e);
        e.rule_names
    };
    assert_eq!(signal("error", true, "pattern-new"), ["new_error_pattern"]);
    assert_eq!(signal("ERROR", true, "pattern-new"), ["new_error_pattern"]);
    assert!(signal("error", false, "pattern-new").is_empty(), "warm-up");
    assert!(signal("info", true, "pattern-new").is_empty(), "level");
    assert!(signal("error", true, "something-else").is_empty(), "action");
    // the same fields on an ordinary log line do not match: the rule is routed to loglynx.pattern
    let mut e = Event::new("x", Timestamp::from_secs(1), Timestamp::from_secs(1), "y".into());
    e.action = Some("pattern-new".into());
    e.level = Some("error".into());
    e.labels.insert("pattern_warm".into(), "true".into());
    detector.tag(&mut e);
    assert!(e.rule_names.is_empty());
}

/// `tcp_connect_failures`: the network monitor's failed connection attempts (SYN_SENT -> CLOSE
/// events, as `crates/netmon` writes them) to one destination, 20 within a minute by default
/// (the `[tcp_states]` settings, given as parameters): one alert per destination, none for a
/// destination below the threshold, none for the same count spread over longer than the window.
#[test]
fn tcp_connect_failures_alert_per_destination_over_the_configured_threshold() {
    let params = [("failed_connect_threshold", "5"), ("failed_connect_window", "30s")];
    let (detector, mut stage, book) = common::builtin_stage(&params, AlertBook::in_memory(3600, 1000).unwrap(), 0);
    let mut n = 0;
    let mut attempt = |dest: &str, port: u16, t: i64, new_state: &str| {
        n += 1;
        let mut e = Event::new(format!("tcp SYN_SENT -> {new_state}"), Timestamp::from_secs(t), Timestamp::from_secs(t), format!("tcp-{n}"));
        e.dataset = Some("network.tcp".into());
        e.process_name = Some("curl".into());
        e.source_ip = Some("10.0.0.1".into());
        e.source_port = Some(40000 + n as u16);
        e.destination_ip = Some(dest.into());
        e.destination_port = Some(port);
        e.tcp_old_state = Some("SYN_SENT".into());
        e.tcp_new_state = Some(new_state.into());
        detector.tag(&mut e);
        e
    };
    let mut events = Vec::new();
    for i in 0..6 {
        events.push(attempt("10.0.0.9", 5432, 1000 + i * 3, "CLOSE")); // 6 in 15 s: over 5
        events.push(attempt("10.0.0.8", 443, 1000 + i * 3, "ESTABLISHED")); // connected: not failures
    }
    for i in 0..4 {
        events.push(attempt("10.0.0.7", 22, 1000 + i, "CLOSE")); // 4: below 5
    }
    for i in 0..6 {
        events.push(attempt("10.0.0.6", 80, 1000 + i * 40, "CLOSE")); // 6 but 40 s apart: never 5 in 30 s
    }
    events.sort_by_key(|e| e.timestamp);
    assert_eq!(events.iter().filter(|e| e.rule_names.iter().any(|r| r == "tcp_connect_failed")).count(), 16);
    stage.process(&mut events).unwrap();
    let (total, alerts) = book.list(&AlertFilter { limit: 100, ..Default::default() }).unwrap();
    assert_eq!(total, 1, "{alerts:?}");
    assert_eq!(alerts[0].rule.name, "tcp_connect_failures");
    assert_eq!(alerts[0].group.get("destination.ip").map(String::as_str), Some("10.0.0.9"));
    assert_eq!(alerts[0].group.get("destination.port").map(String::as_str), Some("5432"));
    assert_eq!(alerts[0].count, 6);
}

/// The rules over the monitor's performance summaries (`network.perf` events, shaped as
/// `crates/netmon/src/summary.rs` writes them): a retransmit rate of 5% or more over two
/// intervals raises one alert per service (`labels.tcp.service`) and peer, also when two
/// processes of the service make the two intervals, a single bad interval or a lower rate none;
/// the same for an RTT p99 of 262 ms or more; drops per reason over 1000 in an interval raise
/// one, except NOT_SPECIFIED.
#[test]
fn network_perf_rules_alert_per_process_and_peer_on_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let (detector, mut stage, book) = stage(dir.path());
    let mut n = 0;
    let mut perf_of = |comm: &str, service: &str, t: i64, action: &str, labels: &[(&str, &str)], peer: Option<&str>| {
        n += 1;
        let mut e = Event::new("perf", Timestamp::from_secs(t), Timestamp::from_secs(t), format!("perf-{n}"));
        e.dataset = Some("network.perf".into());
        e.action = Some(action.to_string().into());
        e.process_name = Some(comm.into());
        e.labels.insert("tcp.service".into(), service.into());
        e.destination_ip = peer.map(str::to_string);
        for (k, v) in labels {
            e.labels.insert(k.to_string(), v.to_string());
        }
        detector.tag(&mut e);
        e
    };
    let lossy = [("tcp.retransmit_rate", "0.080000"), ("tcp.segs_out", "500"), ("tcp.rtt_samples", "0")];
    // Two processes of one systemd unit, one lossy interval each towards the same peer.
    let batch = [
        perf_of("worker-a", "batch.service", 1000, "peer", &lossy, Some("10.0.0.5")),
        perf_of("worker-b", "batch.service", 1060, "peer", &lossy, Some("10.0.0.5")),
    ];
    let mut perf = |t: i64, action: &str, labels: &[(&str, &str)], peer: Option<&str>| perf_of("curl", "curl", t, action, labels, peer);
    let fine = [("tcp.retransmit_rate", "0.010000"), ("tcp.segs_out", "500"), ("tcp.rtt_samples", "0")];
    let slow = [("tcp.retransmit_rate", "0.000000"), ("tcp.segs_out", "50"), ("tcp.rtt_samples", "40"), ("tcp.rtt_p99_us", "524288")];
    let mut events = vec![
        perf(1000, "peer", &lossy, Some("10.0.0.9")),
        perf(1060, "peer", &lossy, Some("10.0.0.9")),
        perf(1000, "peer", &lossy, Some("10.0.0.8")), // once only
        perf(1000, "peer", &fine, Some("10.0.0.7")),
        perf(1060, "peer", &fine, Some("10.0.0.7")),
        perf(1000, "peer", &slow, Some("10.0.0.6")),
        perf(1060, "peer", &slow, Some("10.0.0.6")),
    ];
    events.extend(batch);
    // Drops are typed fields: network.drop.reason (keyword) and network.drops (a number).
    for (reason, count) in [("NO_SOCKET", 5000), ("NOT_SPECIFIED", 5000), ("TCP_CSUM", 10)] {
        let mut e = perf(1000, "drop", &[], None);
        e.network_drop_reason = Some(reason.into());
        e.network_drops = Some(count);
        e.rule_ids.clear();
        e.rule_names.clear();
        detector.tag(&mut e);
        events.push(e);
    }
    events.sort_by_key(|e| e.timestamp);
    stage.process(&mut events).unwrap();
    let (_, alerts) = book.list(&AlertFilter { limit: 100, ..Default::default() }).unwrap();
    let mut got: Vec<(String, Option<String>, u64)> = alerts
        .iter()
        .map(|a| (a.rule.name.clone(), a.group.get("destination.ip").cloned(), a.count))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("network_drops".to_string(), None, 1),
            ("tcp_retransmit_rate_high".to_string(), Some("10.0.0.5".to_string()), 2),
            ("tcp_retransmit_rate_high".to_string(), Some("10.0.0.9".to_string()), 2),
            ("tcp_rtt_high".to_string(), Some("10.0.0.6".to_string()), 2),
        ],
        "{alerts:#?}"
    );
}

/// `tcp_rtt_regression`: the monitor's peer summaries compared with the pair's RTT baseline
/// (labels as `crates/netmon/src/summary.rs` writes them). Two intervals at twice the baseline
/// or more, and 1 ms more, raise one alert per process and peer; a constant RTT, a single slow
/// interval, a doubling of a tiny RTT (less than the minimum increase) or a p99 one log2 bucket
/// up (exactly 2) raise none; the factor and the minimum come from `[tcp_states]` as parameters.
#[test]
fn rtt_regressions_against_the_baseline_alert_per_process_and_peer() {
    let run = |params: &[(&str, &str)]| {
        let (detector, mut stage, book) = common::builtin_stage(params, AlertBook::in_memory(3600, 1000).unwrap(), 0);
        let mut n = 0;
        let mut peer = |t: i64, peer: &str, ratio: f64, base_us: f64| {
            n += 1;
            let mut e = Event::new("perf", Timestamp::from_secs(t), Timestamp::from_secs(t), format!("rtt-{n}"));
            e.dataset = Some("network.perf".into());
            e.action = Some("peer".into());
            e.process_name = Some("api".into());
            e.labels.insert("tcp.service".into(), "api.service".into());
            e.destination_ip = Some(peer.into());
            let now = ratio * base_us;
            for (k, v) in [
                ("tcp.rtt_samples", "40".to_string()),
                ("tcp.rtt_baseline_mean_us", base_us.to_string()),
                ("tcp.rtt_baseline_p99_us", (2.0 * base_us).to_string()),
                ("tcp.rtt_mean_ratio", format!("{ratio:.3}")),
                ("tcp.rtt_p99_ratio", format!("{ratio:.3}")),
                ("tcp.rtt_mean_increase_us", (now - base_us).max(0.0).to_string()),
                ("tcp.rtt_p99_increase_us", (2.0 * (now - base_us)).max(0.0).to_string()),
            ] {
                e.labels.insert(k.into(), v);
            }
            detector.tag(&mut e);
            e
        };
        let mut events = Vec::new();
        for i in 0..5 {
            let t = 1000 + i * 60;
            events.push(peer(t, "10.0.0.1", 1.0, 20_000.0)); // constant
            events.push(peer(t, "10.0.0.2", if i >= 3 { 3.0 } else { 1.0 }, 20_000.0)); // 60 ms from 40 ms
            events.push(peer(t, "10.0.0.3", if i == 2 { 5.0 } else { 1.0 }, 20_000.0)); // once
            events.push(peer(t, "10.0.0.4", if i >= 3 { 3.0 } else { 1.0 }, 100.0)); // +200 us only
        }
        // The p99 alone, over one log2 bucket (a ratio of 2.000): not more than the factor.
        for i in 0..5 {
            let mut e = peer(1000 + i * 60, "10.0.0.5", 1.0, 20_000.0);
            e.labels.insert("tcp.rtt_p99_ratio".into(), "2.000".into());
            e.labels.insert("tcp.rtt_p99_increase_us".into(), "40000".into());
            e.rule_ids.clear();
            e.rule_names.clear();
            detector.tag(&mut e);
            events.push(e);
        }
        events.sort_by_key(|e| e.timestamp);
        stage.process(&mut events).unwrap();
        let (_, alerts) = book.list(&AlertFilter { limit: 100, ..Default::default() }).unwrap();
        let mut got: Vec<(String, Option<String>, u64)> = alerts
            .iter()
            .map(|a| (a.rule.name.clone(), a.group.get("destination.ip").cloned(), a.count))
            .collect();
        got.sort();
        got
    };
    assert_eq!(run(&[]), vec![("tcp_rtt_regression".to_string(), Some("10.0.0.2".to_string()), 2)]);
    // A higher factor: 3x is not enough; a lower minimum increase: the small RTT counts.
    assert_eq!(run(&[("rtt_regression_factor", "4")]), vec![]);
    let got = run(&[("rtt_regression_min_us", "100")]);
    assert_eq!(got.iter().map(|(_, ip, _)| ip.clone().unwrap()).collect::<Vec<_>>(), vec!["10.0.0.2", "10.0.0.4"]);
}

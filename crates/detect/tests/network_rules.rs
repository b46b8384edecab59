//! The built-in rules over the network monitor's socket counts (`network.sockets`) and finished
//! connections (`network.connection`), with events shaped as `crates/netmon` writes them, run
//! through the detection stage: which alerts they raise, with which group, and when the alerts
//! resolve (`[detect] resolve_after`, in event time). The same rules over real sockets:
//! `crates/cli/tests/e2e_network.rs`.

mod common;

use std::sync::Arc;

use common::all_alerts as alerts;
use loglynx_core::{Event, Timestamp};
use loglynx_detect::{AlertBook, AlertStatus, DetectionStage, Detector};

fn stage(params: &[(&str, &str)], resolve_after: u64) -> (Arc<Detector>, DetectionStage, Arc<AlertBook>) {
    common::builtin_stage(params, AlertBook::in_memory(3600, 1000).unwrap(), resolve_after)
}

/// A `network.sockets` event as the monitor sends it.
fn count(d: &Detector, t: i64, action: &str, group: &str, n: usize, growing_s: u64) -> Event {
    let mut e = Event::new(format!("{n} sockets in {action} for {group}"), Timestamp::from_secs(t), Timestamp::from_secs(t), format!("c-{t}-{action}-{group}"));
    e.dataset = Some("network.sockets".into());
    e.category = Some("network".into());
    e.action = Some(action.to_string().into());
    e.labels.insert("tcp.sockets".into(), n.to_string());
    e.labels.insert("tcp.group".into(), group.into());
    if let Some(pid) = group.strip_prefix("pid:") {
        e.pid = Some(pid.parse().unwrap());
        e.process_name = Some("leaky".into());
    } else {
        e.labels.insert("tcp.endpoint".into(), group.into());
    }
    if action == "close_wait" {
        e.labels.insert("tcp.growing_s".into(), growing_s.to_string());
    }
    d.tag(&mut e);
    e
}

#[test]
fn socket_counts_over_the_configured_thresholds_raise_one_alert_per_group_and_resolve_when_they_stop() {
    let params = [("close_wait_threshold", "3"), ("close_wait_growth_s", "600"), ("time_wait_threshold", "100"), ("fin_wait2_threshold", "10")];
    let (d, mut st, book) = stage(&params, 300);
    let mut batch = vec![
        count(&d, 1000, "close_wait", "pid:42", 3, 0),          // at the threshold
        count(&d, 1010, "close_wait", "pid:42", 4, 10),         // same group: folds
        count(&d, 1000, "close_wait", "pid:43", 2, 0),          // below, not rising long enough
        count(&d, 1000, "close_wait", "pid:44", 1, 700),        // below, but rising for 700 s > 600
        count(&d, 1000, "time_wait", "remote 10.9.9.9:443", 150, 0),
        count(&d, 1000, "time_wait", "local 127.0.0.1:80", 99, 0),
        count(&d, 1000, "fin_wait2", "pid:5", 10, 0),
    ];
    let created = st.process(&mut batch).unwrap();
    let got = alerts(&book);
    let summary: Vec<(String, String, u64)> = got
        .iter()
        .map(|a| (a.rule.name.clone(), serde_json::to_string(&a.group).unwrap(), a.count))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("tcp_close_wait_leak".into(), r#"{"process.name":"leaky","process.pid":"42"}"#.into(), 2),
            ("tcp_close_wait_leak".into(), r#"{"process.name":"leaky","process.pid":"44"}"#.into(), 1),
            ("tcp_fin_wait2_storm".into(), r#"{"labels.tcp.group":"pid:5"}"#.into(), 1),
            ("tcp_time_wait_storm".into(), r#"{"labels.tcp.endpoint":"remote 10.9.9.9:443"}"#.into(), 1),
        ],
    );
    assert_eq!(created, 4);
    assert_eq!(got[0].rule.level.as_deref(), Some("high"));
    assert!(got.iter().all(|a| a.status == AlertStatus::Open));
    // the alert events joined the batch
    assert_eq!(batch.iter().filter(|e| e.dataset.as_deref() == Some("loglynx.alert")).count(), 4);

    // pid 42 holds on (the monitor sends its count again), the others stop; 300 s later in event
    // time the others resolve, pid 42 stays open.
    let mut batch = vec![count(&d, 1200, "close_wait", "pid:42", 4, 0), count(&d, 1290, "close_wait", "pid:42", 0, 0)];
    st.process(&mut batch).unwrap();
    assert!(alerts(&book).iter().all(|a| a.status == AlertStatus::Open), "not quiet for 300 s yet");
    let mut batch = vec![count(&d, 1400, "close_wait", "pid:42", 0, 0)];
    st.process(&mut batch).unwrap();
    let got = alerts(&book);
    let status: Vec<(&str, &str)> = got.iter().map(|a| (a.group.values().next().unwrap().as_str(), a.status.as_str())).collect();
    assert_eq!(status, vec![("leaky", "open"), ("leaky", "resolved"), ("pid:5", "resolved"), ("remote 10.9.9.9:443", "resolved")]);
    let resolved: Vec<&Event> = batch.iter().filter(|e| e.action.as_deref() == Some("resolved")).collect();
    assert_eq!(resolved.len(), 3, "one resolution event each");
    assert!(resolved.iter().all(|e| e.dataset.as_deref() == Some("loglynx.alert")));
    let h = got[1].history.last().unwrap();
    assert_eq!((h.status, h.by.as_str()), (AlertStatus::Resolved, "loglynx"));

    // pid 42 stopped at 1200 (its last count over the threshold): resolved after 1500
    let mut batch = vec![count(&d, 1501, "time_wait", "local 127.0.0.1:80", 1, 0)];
    st.process(&mut batch).unwrap();
    assert_eq!(alerts(&book)[0].status, AlertStatus::Resolved);
    // the leak comes back: a new alert for pid 42, the resolved one stays resolved
    let mut batch = vec![count(&d, 1600, "close_wait", "pid:42", 5, 0)];
    assert_eq!(st.process(&mut batch).unwrap(), 1);
    let got = alerts(&book);
    assert_eq!(got.iter().filter(|a| a.group.get("process.pid").map(String::as_str) == Some("42")).count(), 2);
}

#[test]
fn resolution_is_off_with_zero_and_for_rules_not_tagged() {
    let (d, mut st, book) = stage(&[("close_wait_threshold", "1")], 0);
    let mut batch = vec![count(&d, 1000, "close_wait", "pid:1", 1, 0), count(&d, 99_000, "time_wait", "local 127.0.0.1:80", 1, 0)];
    st.process(&mut batch).unwrap();
    assert_eq!(alerts(&book)[0].status, AlertStatus::Open, "resolve_after 0: never");
    // ssh_brute_force is not tagged loglynx.resolve
    assert!(!d.rules().find("ssh_brute_force").unwrap().resolves);
    assert!(d.rules().find("tcp_close_wait_leak").unwrap().resolves);
    assert!(d.rules().find("tcp_connect_failures").unwrap().resolves);
}

/// `tcp_connection_churn`: outbound connections shorter than a second from one process to one
/// peer, `churn_threshold` within a minute.
#[test]
fn connection_churn_alerts_per_process_and_peer() {
    let (d, mut st, book) = stage(&[("churn_threshold", "20")], 300);
    let mut n = 0;
    let mut conn = |t: i64, comm: &str, peer: &str, direction: &str, duration_ns: u64| {
        n += 1;
        let mut e = Event::new("conn", Timestamp::from_secs(t), Timestamp::from_secs(t), format!("conn-{n}"));
        e.dataset = Some("network.connection".into());
        e.category = Some("network".into());
        e.process_name = Some(comm.into());
        e.pid = Some(7);
        e.destination_ip = Some(peer.into());
        e.destination_port = Some(8080);
        e.duration_ns = Some(duration_ns);
        e.labels.insert("network.direction".into(), direction.into());
        d.tag(&mut e);
        e
    };
    let mut batch = Vec::new();
    for i in 0..25 {
        batch.push(conn(1000 + i, "client", "10.0.0.2", "outbound", 2_000_000)); // 25 short in 25 s
        batch.push(conn(1000 + i, "server", "10.0.0.2", "inbound", 2_000_000)); // accepted side: not counted
        batch.push(conn(1000 + i, "pooled", "10.0.0.3", "outbound", 5_000_000_000)); // long-lived
    }
    for i in 0..25 {
        batch.push(conn(1000 + i * 10, "slow", "10.0.0.4", "outbound", 1_000)); // 25 but over 250 s
    }
    batch.sort_by_key(|e| e.timestamp);
    st.process(&mut batch).unwrap();
    let got = alerts(&book);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].rule.name, "tcp_connection_churn");
    assert_eq!(serde_json::to_string(&got[0].group).unwrap(), r#"{"destination.ip":"10.0.0.2","process.name":"client"}"#);
    assert_eq!(got[0].count, 25);
    assert_eq!(got[0].rule.level.as_deref(), Some("low"));
}

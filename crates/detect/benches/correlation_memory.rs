//! Memory of the correlation state with many distinct group keys: 1,000,000 failed SSH logins,
//! each from its own `source.ip`, all within one minute of event time (so no window expires and
//! every group stays live), fed through the built-in pack's `Correlator` (`ssh_brute_force`
//! and `ssh_password_spraying` group by `source.ip`; `ssh_success_after_brute_force` only
//! sees firings, and none fires), with `max_groups` at its default (100,000) and at 1,000,000.
//! Reports VmRSS growth and VmHWM (peak) from /proc/self/status, the groups held and the groups
//! evicted per correlation. One run per process (`CORR_MAX_GROUPS`), so peaks do not mix.
//!
//! `CORR_MAX_GROUPS=100000 cargo bench --workspace --bench correlation_memory`
//! Env: `CORR_EVENTS` (default 1000000), `CORR_MAX_GROUPS` (default 100000).
//! Prints `RESULT<TAB>max_groups<TAB>events<TAB>rss_before_kib<TAB>rss_after_kib<TAB>
//! hwm_kib<TAB>held<TAB>evicted<TAB>secs`.

use std::sync::Arc;
use std::time::Instant;

use loglynx_core::{Event, Timestamp};
use loglynx_detect::{Detector, DetectorOptions, LoadOptions, RuleSet};

fn status_kib(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

/// A decoded failed sshd login, as `loglynx_pipeline::decode` leaves it.
fn failed_login(i: usize, t0: i64) -> Event {
    let ip = format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    let ts = Timestamp::from_millis(t0 + (i as i64 % 60_000));
    let mut e = Event::new(
        format!("Failed password for invalid user admin from {ip} port 4242 ssh2"),
        ts,
        ts,
        format!("ev-{i}"),
    );
    e.host = Some("bastion".into());
    e.process_name = Some("sshd".into());
    e.dataset = Some("syslog".into());
    e.action = Some("ssh_login".into());
    e.outcome = Some("failure".into());
    e.category = Some("authentication".into());
    e.source_ip = Some(ip);
    e.user_name = Some("admin".into());
    e
}

fn main() {
    let n = env_usize("CORR_EVENTS", 1_000_000);
    let max_groups = env_usize("CORR_MAX_GROUPS", 100_000);
    // `cargo bench` also runs harness = false benches with `--bench`; a plain `cargo test`
    // passes no `--bench`: then do a small run only
    let n = if std::env::args().any(|a| a == "--bench") { n } else { n.min(10_000) };
    let rules = RuleSet::load_all::<&str>(&[], loglynx_detect::rules::BUILTIN, LoadOptions::default()).unwrap();
    assert!(rules.rejected().is_empty(), "{:?}", rules.rejected());
    let detector = Arc::new(Detector::new(rules, DetectorOptions { max_groups, ..DetectorOptions::default() }));
    let mut correlator = detector.correlator();
    let t0 = 1_764_000_000_000i64;

    let rss_before = status_kib("VmRSS:");
    let hwm_before = status_kib("VmHWM:");
    let t = Instant::now();
    let mut fired = 0usize;
    let mut tagged = 0usize;
    for i in 0..n {
        // made and tagged one at a time, as they flow: only the correlator keeps anything
        let mut e = failed_login(i, t0);
        detector.tag(&mut e);
        tagged += usize::from(!e.rule_ids.is_empty());
        fired += correlator.observe(&e).iter().filter(|o| o.fired.is_some()).count();
    }
    let secs = t.elapsed().as_secs_f64();
    let rss_after = status_kib("VmRSS:");
    let hwm = status_kib("VmHWM:");
    let held = correlator.group_counts();
    let evicted = correlator.evicted().to_vec();
    for (i, s) in correlator.specs().iter().enumerate() {
        eprintln!("  {}: {} groups held, {} evicted", s.key(), held[i], evicted[i]);
    }
    eprintln!(
        "max_groups {max_groups}: {n} events ({tagged} tagged, {fired} firings) in {secs:.2} s; VmRSS {rss_before} -> {rss_after} KiB (+{} MiB), VmHWM {hwm_before} -> {hwm} KiB",
        (rss_after as i64 - rss_before as i64) / 1024
    );
    println!(
        "RESULT\t{max_groups}\t{n}\t{rss_before}\t{rss_after}\t{hwm}\t{}\t{}\t{secs:.2}",
        held.iter().sum::<usize>(),
        evicted.iter().sum::<u64>()
    );
    drop(correlator);
}

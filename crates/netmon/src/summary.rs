//! `network.perf` events: what the performance counters gained over one interval, so network
//! performance over time is stored, searchable and charted over any time range (the kernel's
//! counters are cumulative since the monitor started, see `perf.rs`).
//!
//! Each interval gives, for what changed (`event.action`):
//! - `peer`: one owner towards one peer: `tcp.retransmits`, `labels.tcp.segs_out`,
//!   `labels.tcp.retransmit_rate` (retransmits / segments sent), the RTT samples of the interval
//!   (`labels.tcp.rtt_samples`, `labels.tcp.rtt_p50_us` / `labels.tcp.rtt_p99_us`: upper bounds
//!   of their log2 buckets, `tcp.srtt_us`: their mean, `labels.tcp.rtt_hist`: the buckets as
//!   `slot:count,...`, slot i holding [2^i, 2^(i+1)) us, so ranges merge exactly), and, once
//!   the pair (service or command, peer) has a baseline (`baseline.rs`: the median of its past
//!   intervals), the interval against it: `labels.tcp.rtt_baseline_mean_us` / `_p99_us`,
//!   `labels.tcp.rtt_mean_ratio` / `labels.tcp.rtt_p99_ratio` (this interval's mean, exact, and
//!   p99 estimate over the baseline's) and `labels.tcp.rtt_mean_increase_us` /
//!   `labels.tcp.rtt_p99_increase_us` (by how much they rose, 0 if not),
//!   which the built-in rule `tcp_rtt_regression` compares with `[tcp_states]
//!   rtt_regression_factor` and `rtt_regression_min_increase`; with at least 100 segments
//!   sent, the retransmit rate against the pair's baseline rate the same way:
//!   `labels.tcp.retransmit_baseline_rate`, `labels.tcp.retransmit_rate_ratio` (over the
//!   baseline, at least 0.1%) and `labels.tcp.retransmit_rate_increase` (0 if not above it),
//!   which the built-in rule `tcp_retransmit_rate_high` compares with
//!   `retransmit_regression_factor` and `retransmit_regression_min_increase`; `labels.tcp.service`, the
//!   owner's systemd unit, else container, else command: what the rules group by with the peer;
//! - `process`: one owner: bytes sent (`source.bytes`) and received (`destination.bytes`),
//!   `tcp.retransmits` (SYN retransmits included), resets sent / received, SYN-ACK retransmits,
//!   packets its sockets received that were dropped (`network.drops`);
//! - `drop`: packets dropped for one reason (`network.drop.reason`, the kernel's name, count in
//!   `network.drops`), host-wide; `owner_drop`: the same for the packets one owner's sockets
//!   received (a part of the `drop` count). Both are typed fields (a number column and a
//!   keyword), so drops sum, range and aggregate like bytes; versions before stored them as
//!   labels `network.drops` / `drop.reason`, which the API still reads.
//!
//! Owners carry `systemd.unit` / `labels.container.id` / `labels.cgroup.path` from
//! `/proc/<pid>/cgroup`, like `network.connection` events.

use std::collections::HashMap;
use std::net::IpAddr;

use loglynx_core::{Event, Timestamp};

use crate::baseline::Baselines;
use crate::perf::{PerfSnapshot, ProcessPerf, RttHistogram, RTT_SLOTS};

/// `event.dataset` of the summaries.
pub const DATASET: &str = "network.perf";

/// Turns successive [`PerfSnapshot`]s into the events of what changed between them.
/// Holds the previous snapshot and the services of the owners in it (bounded by the kernel
/// maps' sizes: entries of owners no longer in the snapshot are dropped).
#[derive(Default)]
pub(crate) struct Summarizer {
    prev: Option<(Timestamp, PerfSnapshot)>,
    services: HashMap<u32, Option<String>>,
    baselines: Baselines,
}

/// `now - before`, or `now` when the counter restarted (a pid reused after its entry was gone).
fn gain(now: u64, before: u64) -> u64 {
    if now >= before {
        now - before
    } else {
        now
    }
}

/// The log2 slot of a bucket's lower bound.
fn slot_of(lo_us: u64) -> usize {
    (63 - lo_us.max(1).leading_zeros()) as usize
}

fn slots_of(h: &RttHistogram) -> [u64; RTT_SLOTS] {
    let mut s = [0u64; RTT_SLOTS];
    for b in &h.buckets {
        let i = slot_of(b.lo_us);
        if i < RTT_SLOTS {
            s[i] = b.count;
        }
    }
    s
}

/// Upper bound (us) of the bucket holding quantile `q` of `slots` (0 when empty).
pub(crate) fn quantile_us(slots: &[u64], q: f64) -> u64 {
    let total: u64 = slots.iter().sum();
    if total == 0 {
        return 0;
    }
    let want = (total as f64 * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in slots.iter().enumerate() {
        seen += n;
        if seen >= want {
            return 1u64 << (i + 1);
        }
    }
    0
}

fn put(e: &mut Event, key: &str, value: impl ToString) {
    e.labels.insert(key.to_string(), value.to_string());
}

impl Summarizer {
    /// The service of `pid` (cached while the pid has counters).
    fn service(&mut self, pid: u32) -> Option<String> {
        if pid == 0 {
            return None;
        }
        self.services
            .entry(pid)
            .or_insert_with(|| crate::cgroup::proc_cgroup(pid))
            .clone()
    }

    fn owner(&mut self, e: &mut Event, pid: u32, comm: Option<&str>) {
        e.pid = Some(pid);
        if let Some(c) = comm.filter(|c| !c.is_empty()) {
            e.process_name = Some(c.to_string());
        }
        if let Some(path) = self.service(pid) {
            match crate::cgroup::service_of(&path) {
                Some(s) if s.contains(':') => put(e, "container.id", s),
                Some(unit) => e.systemd_unit = Some(unit),
                None => {}
            }
            put(e, "cgroup.path", path);
        }
    }

    /// The owners of the last snapshot summed whose process is gone (pid 0, the unknown
    /// owner, never is): their counters can go from the kernel maps ([`Summarizer::forget`]).
    pub(crate) fn exited(&self, alive: impl Fn(u32) -> bool) -> std::collections::HashSet<u32> {
        let Some((_, prev)) = &self.prev else {
            return Default::default();
        };
        let pids = prev.processes.iter().map(|p| p.pid);
        let pids = pids.chain(prev.rtt.iter().map(|h| h.pid));
        let pids = pids.chain(prev.owner_drops.iter().map(|d| d.pid));
        pids.filter(|pid| *pid != 0 && !alive(*pid)).collect()
    }

    /// Forgets `pids`, whose counters were deleted from the kernel maps after this
    /// summarizer's last interval: a later process with the same pid starts from zero.
    pub(crate) fn forget(&mut self, pids: &std::collections::HashSet<u32>) {
        if let Some((_, prev)) = &mut self.prev {
            prev.processes.retain(|p| !pids.contains(&p.pid));
            prev.rtt.retain(|h| !pids.contains(&h.pid));
            prev.owner_drops.retain(|d| !pids.contains(&d.pid));
        }
        self.services.retain(|pid, _| !pids.contains(pid));
    }

    /// A summarizer whose first interval starts at `at` from zero counters (the kernel maps
    /// are empty when the tracer starts).
    pub(crate) fn starting_at(at: Timestamp) -> Self {
        Summarizer {
            prev: Some((at, PerfSnapshot::default())),
            ..Default::default()
        }
    }

    /// The events of what changed since the previous call (none at the first call, which
    /// only records the starting point), stamped `at`, named `host`.
    pub(crate) fn events(&mut self, now: &PerfSnapshot, at: Timestamp, host: &str) -> Vec<Event> {
        let Some((t0, before)) = self.prev.take() else {
            self.prev = Some((at, now.clone()));
            return Vec::new();
        };
        let interval_ns = (at.0 - t0.0).max(0) as u64;
        let id_base = format!("netperf-{host}-{:x}", at.0);
        let new = |what: &str, message: String, action: &'static str| {
            let mut e = Event::new(message, at, Timestamp::now(), format!("{id_base}-{what}"));
            e.dataset = Some(DATASET.to_string());
            e.category = Some("network".into());
            e.action = Some(action.into());
            e.network_transport = Some("tcp".to_string());
            e.duration_ns = Some(interval_ns);
            e
        };
        let comms: HashMap<u32, &str> = now
            .processes
            .iter()
            .map(|p| (p.pid, p.comm.as_str()))
            .collect();
        let mut out = Vec::new();

        let prev_rtt: HashMap<(u32, IpAddr), &RttHistogram> =
            before.rtt.iter().map(|h| ((h.pid, h.peer), h)).collect();
        for h in &now.rtt {
            let b = prev_rtt.get(&(h.pid, h.peer));
            let (retrans, segs) = match b {
                Some(b) => (
                    gain(h.retransmits, b.retransmits),
                    gain(h.segs_out, b.segs_out),
                ),
                None => (h.retransmits, h.segs_out),
            };
            let mut slots = slots_of(h);
            let mut sum_us = h.mean_us * h.count as f64;
            if let Some(b) = b {
                if h.count >= b.count {
                    for (s, p) in slots.iter_mut().zip(slots_of(b)) {
                        *s = s.saturating_sub(p);
                    }
                    sum_us -= b.mean_us * b.count as f64;
                }
            }
            let samples: u64 = slots.iter().sum();
            if retrans == 0 && segs == 0 && samples == 0 {
                continue;
            }
            let comm = comms.get(&h.pid).copied().unwrap_or("");
            let rate = if segs > 0 {
                retrans as f64 / segs as f64
            } else {
                0.0
            };
            let (p50, p99) = (quantile_us(&slots, 0.5), quantile_us(&slots, 0.99));
            let message = format!(
                "{comm} ({}) -> {}: {segs} segments sent, {retrans} retransmitted ({:.2}%), {samples} rtt samples, p50 {:.1} ms, p99 {:.1} ms",
                h.pid,
                h.peer,
                rate * 100.0,
                p50 as f64 / 1e3,
                p99 as f64 / 1e3
            );
            let mut e = new(&format!("peer-{}-{}", h.pid, h.peer), message, "peer");
            self.owner(&mut e, h.pid, Some(comm));
            e.destination_ip = Some(h.peer.to_string());
            e.tcp_retransmits = Some(retrans);
            put(&mut e, "tcp.segs_out", segs);
            put(&mut e, "tcp.retransmit_rate", format!("{rate:.6}"));
            put(&mut e, "tcp.rtt_samples", samples);
            if samples > 0 {
                e.tcp_srtt_us = Some((sum_us.max(0.0) / samples as f64).round() as u64);
                put(&mut e, "tcp.rtt_p50_us", p50);
                put(&mut e, "tcp.rtt_p99_us", p99);
                let hist: Vec<String> = slots
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, n)| format!("{i}:{n}"))
                    .collect();
                put(&mut e, "tcp.rtt_hist", hist.join(","));
            }
            let key = e
                .systemd_unit
                .clone()
                .or_else(|| e.labels.get("container.id").cloned())
                .unwrap_or_else(|| {
                    if comm.is_empty() {
                        format!("pid {}", h.pid)
                    } else {
                        comm.to_string()
                    }
                });
            // The pair's service as the rules group it: the systemd unit, else the container,
            // else the command.
            put(&mut e, "tcp.service", &key);
            if let Some(c) =
                self.baselines
                    .observe_retransmits((key.clone(), h.peer), retrans, segs)
            {
                put(
                    &mut e,
                    "tcp.retransmit_baseline_rate",
                    format!("{:.6}", c.base_rate),
                );
                put(
                    &mut e,
                    "tcp.retransmit_rate_ratio",
                    format!("{:.3}", c.ratio()),
                );
                put(
                    &mut e,
                    "tcp.retransmit_rate_increase",
                    format!("{:.6}", c.increase()),
                );
            }
            let mean_us = if samples > 0 {
                sum_us.max(0.0) / samples as f64
            } else {
                0.0
            };
            if let Some(c) = self.baselines.observe((key, h.peer), &slots, mean_us) {
                put(&mut e, "tcp.rtt_baseline_mean_us", c.base_mean_us.round());
                put(&mut e, "tcp.rtt_baseline_p99_us", c.base_p99_us.round());
                put(
                    &mut e,
                    "tcp.rtt_mean_ratio",
                    format!("{:.3}", c.mean_ratio()),
                );
                put(&mut e, "tcp.rtt_p99_ratio", format!("{:.3}", c.p99_ratio()));
                put(
                    &mut e,
                    "tcp.rtt_mean_increase_us",
                    (c.mean_us - c.base_mean_us).max(0.0).round(),
                );
                put(
                    &mut e,
                    "tcp.rtt_p99_increase_us",
                    (c.p99_us - c.base_p99_us).max(0.0).round(),
                );
            }
            out.push(e);
        }

        let prev_proc: HashMap<u32, _> = before.processes.iter().map(|p| (p.pid, p)).collect();
        for p in &now.processes {
            let b = prev_proc.get(&p.pid).copied();
            let d = |f: fn(&ProcessPerf) -> u64| gain(f(p), b.map_or(0, f));
            let (tx, rx) = (d(|p| p.tx_bytes), d(|p| p.rx_bytes));
            let retrans = d(|p| p.retransmits);
            let synack = d(|p| p.synack_retransmits);
            let (rst_s, rst_r) = (d(|p| p.resets_sent), d(|p| p.resets_received));
            let drops = d(|p| p.drops);
            if tx + rx + retrans + synack + rst_s + rst_r + drops == 0 {
                continue;
            }
            let message = format!(
                "{} ({}): sent {tx} B, received {rx} B, {retrans} retransmits, {rst_s} resets sent, {rst_r} received, {drops} drops",
                p.comm, p.pid
            );
            let mut e = new(&format!("process-{}", p.pid), message, "process");
            self.owner(&mut e, p.pid, Some(&p.comm));
            e.source_bytes = Some(tx);
            e.destination_bytes = Some(rx);
            e.network_bytes = Some(tx.saturating_add(rx));
            e.tcp_retransmits = Some(retrans);
            put(&mut e, "tcp.synack_retransmits", synack);
            put(&mut e, "tcp.resets_sent", rst_s);
            put(&mut e, "tcp.resets_received", rst_r);
            e.network_drops = Some(drops);
            out.push(e);
        }

        let prev_drops: HashMap<u32, u64> =
            before.drops.iter().map(|d| (d.code, d.count)).collect();
        for d in &now.drops {
            let n = gain(d.count, prev_drops.get(&d.code).copied().unwrap_or(0));
            if n == 0 {
                continue;
            }
            let mut e = new(
                &format!("drop-{}", d.code),
                format!("{n} packets dropped: {}", d.reason),
                "drop",
            );
            e.network_drop_reason = Some(d.reason.clone());
            e.network_drops = Some(n);
            out.push(e);
        }
        let prev_owner: HashMap<(u32, u32), u64> = before
            .owner_drops
            .iter()
            .map(|d| ((d.pid, d.code), d.count))
            .collect();
        for d in &now.owner_drops {
            let n = gain(
                d.count,
                prev_owner.get(&(d.pid, d.code)).copied().unwrap_or(0),
            );
            if n == 0 {
                continue;
            }
            let comm = comms.get(&d.pid).copied().unwrap_or("");
            let mut e = new(
                &format!("owner-drop-{}-{}", d.pid, d.code),
                format!(
                    "{comm} ({}): {n} received packets dropped: {}",
                    d.pid, d.reason
                ),
                "owner_drop",
            );
            self.owner(&mut e, d.pid, Some(comm));
            e.network_drop_reason = Some(d.reason.clone());
            e.network_drops = Some(n);
            out.push(e);
        }

        self.services.retain(|pid, _| comms.contains_key(pid));
        self.prev = Some((at, now.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::{ReasonCount, RttBucket};

    fn hist(retrans: u64, segs: u64, slots: &[(usize, u64)]) -> RttHistogram {
        let buckets: Vec<RttBucket> = slots
            .iter()
            .map(|(i, n)| RttBucket {
                lo_us: 1 << i,
                hi_us: 1 << (i + 1),
                count: *n,
            })
            .collect();
        let count = buckets.iter().map(|b| b.count).sum();
        RttHistogram {
            pid: 0,
            peer: "10.77.0.2".parse().unwrap(),
            retransmits: retrans,
            segs_out: segs,
            count,
            mean_us: 40_000.0,
            p50_us: 0,
            p99_us: 0,
            buckets,
        }
    }

    fn process(tx: u64, retrans: u64) -> ProcessPerf {
        ProcessPerf {
            pid: 0,
            comm: "curl".into(),
            retransmits: retrans,
            synack_retransmits: 0,
            resets_sent: 0,
            resets_received: 1,
            tx_bytes: tx,
            rx_bytes: 0,
            drops: 0,
        }
    }

    fn drop(count: u64) -> ReasonCount {
        ReasonCount {
            code: 3,
            reason: "NO_SOCKET".into(),
            count,
        }
    }

    #[test]
    fn events_carry_what_changed_over_the_interval() {
        let mut s = Summarizer::default();
        let first = PerfSnapshot {
            processes: vec![process(1000, 1)],
            rtt: vec![hist(1, 100, &[(15, 10)])],
            drops: vec![drop(4)],
            ..Default::default()
        };
        assert!(s.events(&first, Timestamp::from_secs(10), "h").is_empty());
        let second = PerfSnapshot {
            processes: vec![process(5000, 3)],
            rtt: vec![hist(3, 300, &[(15, 19), (17, 1)])],
            drops: vec![drop(4)],
            ..Default::default()
        };
        let ev = s.events(&second, Timestamp::from_secs(70), "h");
        let peer = ev
            .iter()
            .find(|e| e.action.as_deref() == Some("peer"))
            .unwrap();
        assert_eq!(peer.dataset.as_deref(), Some(DATASET));
        assert_eq!(peer.destination_ip.as_deref(), Some("10.77.0.2"));
        assert_eq!(peer.tcp_retransmits, Some(2));
        assert_eq!(peer.labels["tcp.segs_out"], "200");
        assert_eq!(peer.labels["tcp.retransmit_rate"], "0.010000");
        assert_eq!(peer.labels["tcp.rtt_samples"], "10");
        assert_eq!(peer.labels["tcp.rtt_hist"], "15:9,17:1");
        assert_eq!(peer.labels["tcp.rtt_p50_us"], "65536");
        assert_eq!(peer.labels["tcp.rtt_p99_us"], "262144");
        assert_eq!(peer.duration_ns, Some(60_000_000_000));
        let proc_ = ev
            .iter()
            .find(|e| e.action.as_deref() == Some("process"))
            .unwrap();
        assert_eq!(proc_.source_bytes, Some(4000));
        assert_eq!(proc_.tcp_retransmits, Some(2));
        assert_eq!(proc_.labels["tcp.resets_received"], "0");
        assert!(
            ev.iter().all(|e| e.action.as_deref() != Some("drop")),
            "no new drop: no drop event"
        );
        assert_eq!(ev.len(), 2, "{ev:#?}");
        // Ids are unique per interval and item.
        let third = PerfSnapshot {
            drops: vec![drop(9)],
            ..second.clone()
        };
        let ev = s.events(&third, Timestamp::from_secs(130), "h");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].network_drops, Some(5));
        assert_eq!(ev[0].network_drop_reason.as_deref(), Some("NO_SOCKET"));
        assert_ne!(ev[0].id, peer.id);
    }

    #[test]
    fn quantiles_are_bucket_upper_bounds() {
        let mut slots = [0u64; RTT_SLOTS];
        assert_eq!(quantile_us(&slots, 0.5), 0);
        slots[15] = 99;
        slots[20] = 1;
        assert_eq!(quantile_us(&slots, 0.5), 65_536);
        assert_eq!(quantile_us(&slots, 0.99), 65_536);
        assert_eq!(quantile_us(&slots, 1.0), 2 << 20);
        assert_eq!(slot_of(32_768), 15);
        assert_eq!(gain(5, 7), 5);
    }
}

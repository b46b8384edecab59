//! `GET /api/v1/network/perf/history`: network performance over a time range, folded from the
//! stored `network.perf` events (what the monitor's kernel counters gained per interval, see
//! the netmon crate's `summary.rs`): per (process, service, peer) the retransmits, segments
//! sent, retransmit rate and RTT percentiles, in total and per time bucket; drops per reason
//! per time bucket; drops per owner and reason.
//!
//! RTT percentiles over a range are exact to the bucket: each event carries its interval's
//! log2 histogram (`labels.tcp.rtt_hist`), and histograms add up. Beside them, the mean RTT
//! (`tcp.srtt_us`, weighted by samples) and the baseline the monitor compared each interval
//! with (`labels.tcp.rtt_baseline_mean_us`, weighted the same way), and how many intervals the
//! built-in rule `tcp_rtt_above_baseline` flags (its condition on the interval's ratio and
//! increase labels, with `[tcp_states] rtt_regression_factor` / `rtt_regression_min_increase`
//! of the configuration): "usual vs now" per bucket. The same for the retransmit rate: the
//! baseline rate the monitor compared each interval with (`labels.tcp.retransmit_baseline_rate`,
//! weighted by segments sent) and the intervals `tcp_retransmit_above_baseline` flags
//! (`retransmit_regression_factor` / `retransmit_regression_min_increase`). Like talkers, the events
//! of the range are read a page at a time, at most [`MAX_SCAN`](crate::routes::talkers::MAX_SCAN) per request (`truncated` says
//! when the range held more), so memory is bounded by the page and the groups.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use loglynx_core::{Event, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::network_range::range_filter;
use crate::routes::scan::ScanFold;
use crate::routes::{bounded, Answer, ApiQuery};
use crate::state::AppState;

/// Log2 RTT slots (slot i: [2^i, 2^(i+1)) us), as the netmon histograms.
pub(crate) const SLOTS: usize = 32;
const DEFAULT_BUCKETS: usize = 60;
const MAX_BUCKETS: usize = 500;
const DEFAULT_SIZE: usize = 20;
const MAX_SIZE: usize = 1_000;

/// Parameters of `GET /api/v1/network/perf/history`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    buckets: Option<usize>,
    size: Option<usize>,
}

/// One interval against its pair's baseline: what the rule `tcp_rtt_above_baseline` reads
/// (labels `tcp.rtt_samples`, `tcp.rtt_mean_ratio`, `tcp.rtt_mean_increase_us`,
/// `tcp.rtt_p99_ratio`, `tcp.rtt_p99_increase_us`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct RttCheck {
    samples: u64,
    mean_ratio: f64,
    mean_increase_us: f64,
    p99_ratio: f64,
    p99_increase_us: f64,
}

impl RttCheck {
    /// The check of a `peer` summary that carries a comparison with its baseline.
    fn of(e: &Event) -> Option<RttCheck> {
        let f = |k: &str| e.labels.get(k).and_then(|v| v.parse::<f64>().ok());
        Some(RttCheck {
            samples: label_u64(e, "tcp.rtt_samples"),
            mean_ratio: f("tcp.rtt_mean_ratio")?,
            mean_increase_us: f("tcp.rtt_mean_increase_us").unwrap_or(0.0),
            p99_ratio: f("tcp.rtt_p99_ratio").unwrap_or(0.0),
            p99_increase_us: f("tcp.rtt_p99_increase_us").unwrap_or(0.0),
        })
    }
}

/// One interval's retransmit rate against its pair's baseline: what the rule
/// `tcp_retransmit_above_baseline` reads (labels `tcp.segs_out`, `tcp.retransmit_rate_ratio`,
/// `tcp.retransmit_rate_increase`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct RetransmitCheck {
    segs_out: u64,
    ratio: f64,
    increase: f64,
}

impl RetransmitCheck {
    fn of(e: &Event) -> Option<RetransmitCheck> {
        let f = |k: &str| e.labels.get(k).and_then(|v| v.parse::<f64>().ok());
        Some(RetransmitCheck {
            segs_out: label_u64(e, "tcp.segs_out"),
            ratio: f("tcp.retransmit_rate_ratio")?,
            increase: f("tcp.retransmit_rate_increase").unwrap_or(0.0),
        })
    }
}

/// The thresholds of the rules `tcp_rtt_above_baseline` (its parameters `rtt_regression_factor`
/// and `rtt_regression_min_us`) and `tcp_retransmit_above_baseline`
/// (`retransmit_regression_factor`, `retransmit_regression_min_increase`), from `[tcp_states]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RttRule {
    factor: f64,
    min_increase_us: f64,
    retransmit_factor: f64,
    retransmit_min_increase: f64,
}

impl RttRule {
    /// At least 10 samples, and the mean at least `factor` times the baseline's, or the p99
    /// more than that, each higher by at least the minimum increase (crates/detect/rules/network.yml).
    fn flags(&self, c: &RttCheck) -> bool {
        c.samples >= 10
            && ((c.mean_ratio >= self.factor && c.mean_increase_us >= self.min_increase_us)
                || (c.p99_ratio > self.factor && c.p99_increase_us >= self.min_increase_us))
    }

    /// At least 100 segments sent, the rate at least `retransmit_factor` times the baseline's
    /// and higher by at least the minimum increase (crates/detect/rules/network.yml).
    fn flags_retransmits(&self, c: &RetransmitCheck) -> bool {
        c.segs_out >= 100
            && c.ratio >= self.retransmit_factor
            && c.increase >= self.retransmit_min_increase
    }
}

impl From<&loglynx_config::TcpStatesConfig> for RttRule {
    fn from(c: &loglynx_config::TcpStatesConfig) -> Self {
        RttRule {
            factor: c.rtt_regression_factor,
            min_increase_us: c.rtt_regression_min_increase.as_micros() as f64,
            retransmit_factor: c.retransmit_regression_factor,
            retransmit_min_increase: c.retransmit_regression_min_increase,
        }
    }
}

/// Retransmits, segments and RTT samples added up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Acc {
    pub(crate) retransmits: u64,
    pub(crate) segs_out: u64,
    pub(crate) slots: [u64; SLOTS],
    /// Sum of the RTT samples (each interval's mean times its samples), microseconds.
    #[serde(default)]
    pub(crate) rtt_sum_us: f64,
    /// Sum of the baselines of the intervals compared with one, weighted by their samples.
    #[serde(default)]
    pub(crate) baseline_sum_us: f64,
    #[serde(default)]
    pub(crate) baseline_weight: u64,
    /// Intervals the rule flags (counted when the answer is cut into buckets).
    #[serde(default)]
    pub(crate) above: u64,
    /// One interval's comparison, until then.
    #[serde(default)]
    pub(crate) check: Option<RttCheck>,
    /// Sum of the baseline retransmit rates of the intervals compared with one, weighted by
    /// their segments sent, and that weight.
    #[serde(default)]
    pub(crate) retransmit_baseline_sum: f64,
    #[serde(default)]
    pub(crate) retransmit_baseline_segs: u64,
    /// Intervals `tcp_retransmit_above_baseline` flags (counted like `above`).
    #[serde(default)]
    pub(crate) retransmit_above: u64,
    /// One interval's retransmit comparison, until then.
    #[serde(default)]
    pub(crate) retransmit_check: Option<RetransmitCheck>,
}

impl Acc {
    pub(crate) fn add(&mut self, o: &Acc) {
        self.retransmits = self.retransmits.saturating_add(o.retransmits);
        self.segs_out = self.segs_out.saturating_add(o.segs_out);
        for (a, b) in self.slots.iter_mut().zip(o.slots) {
            *a = a.saturating_add(b);
        }
        self.rtt_sum_us += o.rtt_sum_us;
        self.baseline_sum_us += o.baseline_sum_us;
        self.baseline_weight = self.baseline_weight.saturating_add(o.baseline_weight);
        self.above = self.above.saturating_add(o.above);
        self.retransmit_baseline_sum += o.retransmit_baseline_sum;
        self.retransmit_baseline_segs = self
            .retransmit_baseline_segs
            .saturating_add(o.retransmit_baseline_segs);
        self.retransmit_above = self.retransmit_above.saturating_add(o.retransmit_above);
    }

    /// One `peer` summary's figures.
    fn of(e: &Event) -> Acc {
        let slots = e
            .labels
            .get("tcp.rtt_hist")
            .map_or([0; SLOTS], |h| slots_of(h));
        let samples: u64 = slots.iter().sum();
        let baseline = e
            .labels
            .get("tcp.rtt_baseline_mean_us")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
        let weight = samples.max(1);
        let segs_out = label_u64(e, "tcp.segs_out");
        let base_rate = e
            .labels
            .get("tcp.retransmit_baseline_rate")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && (0.0..=1.0).contains(v));
        Acc {
            retransmits: e.tcp_retransmits.unwrap_or(0),
            segs_out,
            slots,
            rtt_sum_us: e.tcp_srtt_us.unwrap_or(0) as f64 * samples as f64,
            baseline_sum_us: baseline.map_or(0.0, |b| b * weight as f64),
            baseline_weight: if baseline.is_some() { weight } else { 0 },
            above: 0,
            check: RttCheck::of(e),
            retransmit_baseline_sum: base_rate.map_or(0.0, |b| b * segs_out as f64),
            retransmit_baseline_segs: if base_rate.is_some() { segs_out } else { 0 },
            retransmit_above: 0,
            retransmit_check: RetransmitCheck::of(e),
        }
    }

    fn point(&self) -> Point {
        let samples: u64 = self.slots.iter().sum();
        Point {
            rtt_mean_us: (samples > 0).then(|| (self.rtt_sum_us / samples as f64).round() as u64),
            rtt_baseline_mean_us: (self.baseline_weight > 0)
                .then(|| (self.baseline_sum_us / self.baseline_weight as f64).round() as u64),
            rtt_above_baseline: self.above,
            retransmits: self.retransmits,
            segs_out: self.segs_out,
            retransmit_rate: (self.segs_out > 0)
                .then(|| self.retransmits as f64 / self.segs_out as f64),
            retransmit_baseline_rate: (self.retransmit_baseline_segs > 0)
                .then(|| self.retransmit_baseline_sum / self.retransmit_baseline_segs as f64),
            retransmit_above_baseline: self.retransmit_above,
            rtt_samples: samples,
            rtt_p50_us: (samples > 0).then(|| quantile_us(&self.slots, 0.5)),
            rtt_p99_us: (samples > 0).then(|| quantile_us(&self.slots, 0.99)),
        }
    }
}

/// Upper bound (us) of the log2 bucket holding quantile `q`.
pub(crate) fn quantile_us(slots: &[u64; SLOTS], q: f64) -> u64 {
    let total: u64 = slots.iter().sum();
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

/// Totals of a group or of one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Point {
    retransmits: u64,
    segs_out: u64,
    /// `retransmits / segs_out` (null without segments).
    retransmit_rate: Option<f64>,
    /// The baseline rate the monitor compared these intervals with (their pair's usual
    /// retransmit rate), weighted by segments sent; null when none had one yet.
    retransmit_baseline_rate: Option<f64>,
    /// Intervals that `tcp_retransmit_above_baseline` flags.
    retransmit_above_baseline: u64,
    rtt_samples: u64,
    /// Upper bound of the log2 bucket holding the median RTT sample, microseconds.
    rtt_p50_us: Option<u64>,
    rtt_p99_us: Option<u64>,
    /// Mean of the RTT samples, microseconds (exact: the kernel sums them).
    rtt_mean_us: Option<u64>,
    /// The baseline the monitor compared these intervals with (their pair's usual mean RTT),
    /// weighted by samples; null when none had one yet.
    rtt_baseline_mean_us: Option<u64>,
    /// Intervals that `tcp_rtt_above_baseline` flags.
    rtt_above_baseline: u64,
}

/// One (process, service, peer).
#[derive(Debug, Serialize)]
pub(crate) struct PeerSeries {
    process: String,
    /// `systemd.unit`, else `labels.container.id`, else `labels.cgroup.path` ("" when unknown).
    service: String,
    peer: String,
    #[serde(flatten)]
    total: Point,
    /// One point per bucket of `buckets`.
    series: Vec<Point>,
}

/// Drops for one reason, host-wide.
#[derive(Debug, Serialize)]
pub(crate) struct DropSeries {
    reason: String,
    count: u64,
    /// Per bucket of `buckets`.
    series: Vec<u64>,
}

/// Drops of packets one owner's sockets received, for one reason.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub(crate) struct OwnerDrops {
    process: String,
    service: String,
    reason: String,
    count: u64,
}

/// The answer.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryResponse {
    /// `network.perf` events matching in the range.
    events: u64,
    /// Events folded (newest first; fewer than `events` when `truncated`).
    scanned: u64,
    truncated: bool,
    /// Start of each time bucket (RFC 3339), and their width in milliseconds.
    buckets: Vec<Timestamp>,
    bucket_ms: i64,
    /// Groups in total (before `size`).
    groups: usize,
    /// Most retransmits first, then most segments.
    peers: Vec<PeerSeries>,
    /// Most drops first.
    drops: Vec<DropSeries>,
    owner_drops: Vec<OwnerDrops>,
}

pub(crate) fn label_u64(e: &Event, key: &str) -> u64 {
    e.labels.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The reason and count of a drop summary: the typed fields, or the labels `drop.reason` /
/// `network.drops` of events stored by versions before the fields existed.
fn drop_of(e: &Event) -> (String, u64) {
    let reason = e
        .network_drop_reason
        .clone()
        .or_else(|| e.labels.get("drop.reason").cloned())
        .unwrap_or_default();
    (
        reason,
        e.network_drops
            .unwrap_or_else(|| label_u64(e, "network.drops")),
    )
}

pub(crate) fn service_of(e: &Event) -> String {
    e.systemd_unit
        .clone()
        .or_else(|| e.labels.get("container.id").cloned())
        .or_else(|| e.labels.get("cgroup.path").cloned())
        .unwrap_or_default()
}

/// `slot:count,...` (a malformed part is skipped).
pub(crate) fn slots_of(text: &str) -> [u64; SLOTS] {
    let mut s = [0u64; SLOTS];
    for part in text.split(',') {
        if let Some((i, n)) = part.split_once(':') {
            if let (Ok(i), Ok(n)) = (i.trim().parse::<usize>(), n.trim().parse::<u64>()) {
                if i < SLOTS {
                    s[i] = s[i].saturating_add(n);
                }
            }
        }
    }
    s
}

type PeerKey = (String, String, String);

/// What one read of the events keeps: the points with their time, per group ([`ScanFold`]:
/// the buckets are cut once the whole span is known, so the points travel as they are).
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Fold {
    #[serde(with = "crate::routes::scan::pairs")]
    peers: HashMap<PeerKey, Vec<(Timestamp, Acc)>>,
    drops: HashMap<String, Vec<(Timestamp, u64)>>,
    #[serde(with = "crate::routes::scan::pairs")]
    owner_drops: HashMap<(String, String, String), u64>,
    earliest: Option<Timestamp>,
    latest: Option<Timestamp>,
}

impl ScanFold for Fold {
    fn add(&mut self, e: &Event) {
        Fold::add(self, e);
    }

    fn merge(&mut self, other: Self) {
        for (k, v) in other.peers {
            self.peers.entry(k).or_default().extend(v);
        }
        for (k, v) in other.drops {
            self.drops.entry(k).or_default().extend(v);
        }
        for (k, n) in other.owner_drops {
            let m = self.owner_drops.entry(k).or_default();
            *m = m.saturating_add(n);
        }
        self.earliest = self.earliest.into_iter().chain(other.earliest).min();
        self.latest = self.latest.into_iter().chain(other.latest).max();
    }
}

impl Fold {
    fn add(&mut self, e: &Event) {
        let t = e.timestamp;
        self.earliest = Some(self.earliest.map_or(t, |x| x.min(t)));
        self.latest = Some(self.latest.map_or(t, |x| x.max(t)));
        let process = e.process_name.clone().unwrap_or_default();
        match e.action.as_deref() {
            Some("peer") => {
                let Some(peer) = e.destination_ip.clone() else {
                    return;
                };
                let acc = Acc::of(e);
                self.peers
                    .entry((process, service_of(e), peer))
                    .or_default()
                    .push((t, acc));
            }
            Some("drop") => {
                let (reason, n) = drop_of(e);
                self.drops.entry(reason).or_default().push((t, n));
            }
            Some("owner_drop") => {
                let (reason, n) = drop_of(e);
                let sum = self
                    .owner_drops
                    .entry((process, service_of(e), reason))
                    .or_default();
                *sum = sum.saturating_add(n);
            }
            _ => {}
        }
    }

    /// The answer for `[start, end)` (else the events' own span) in `buckets` buckets, with
    /// at most `size` groups; `events` matched, `scanned` folded.
    fn answer(
        self,
        (start, end): (Option<Timestamp>, Option<Timestamp>),
        buckets: usize,
        size: usize,
        (events, scanned): (u64, u64),
        rule: RttRule,
    ) -> HistoryResponse {
        let lo = start.or(self.earliest).unwrap_or_else(Timestamp::now).0;
        let hi = end
            .or(self.latest.map(|t| Timestamp(t.0 + 1)))
            .unwrap_or_else(Timestamp::now)
            .0
            .max(lo + 1);
        let width = ((hi - lo) as u128).div_ceil(buckets as u128).max(1) as i64;
        let slot = |t: Timestamp| (((t.0 - lo).max(0) / width) as usize).min(buckets - 1);
        let times: Vec<Timestamp> = (0..buckets)
            .map(|i| Timestamp(lo + i as i64 * width))
            .collect();

        let groups = self.peers.len();
        // Totals first, then series only for the `size` groups kept: a series is `buckets`
        // points, and a range may hold many thousands of (process, peer) groups.
        let mut totals: Vec<_> = self
            .peers
            .into_iter()
            .map(|(key, mut points)| {
                let mut total = Acc::default();
                for (_, a) in &mut points {
                    a.above = a.check.take().map_or(0, |c| u64::from(rule.flags(&c)));
                    a.retransmit_above = a
                        .retransmit_check
                        .take()
                        .map_or(0, |c| u64::from(rule.flags_retransmits(&c)));
                    total.add(a);
                }
                (total.point(), key, points)
            })
            .collect();
        totals.sort_by(|(a, ka, _), (b, kb, _)| {
            b.retransmits
                .cmp(&a.retransmits)
                .then(b.segs_out.cmp(&a.segs_out))
                .then_with(|| (&ka.0, &ka.2).cmp(&(&kb.0, &kb.2)))
        });
        totals.truncate(size);
        let peers: Vec<PeerSeries> = totals
            .into_iter()
            .map(|(total, (process, service, peer), points)| {
                let mut per = vec![Acc::default(); buckets];
                for (t, a) in &points {
                    per[slot(*t)].add(a);
                }
                PeerSeries {
                    process,
                    service,
                    peer,
                    total,
                    series: per.iter().map(Acc::point).collect(),
                }
            })
            .collect();

        let mut drops: Vec<DropSeries> = self
            .drops
            .into_iter()
            .map(|(reason, points)| {
                let mut series = vec![0u64; buckets];
                for (t, n) in &points {
                    series[slot(*t)] += n;
                }
                DropSeries {
                    reason,
                    count: series.iter().sum(),
                    series,
                }
            })
            .collect();
        drops.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));

        let mut owner_drops: Vec<OwnerDrops> = self
            .owner_drops
            .into_iter()
            .map(|((process, service, reason), count)| OwnerDrops {
                process,
                service,
                reason,
                count,
            })
            .collect();
        owner_drops.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| (&a.process, &a.reason).cmp(&(&b.process, &b.reason)))
        });
        owner_drops.truncate(size);
        HistoryResponse {
            events,
            scanned,
            truncated: scanned < events,
            buckets: times,
            bucket_ms: width / 1_000_000,
            groups,
            peers,
            drops,
            owner_drops,
        }
    }
}

/// Handler of `GET /api/v1/network/perf/history`.
pub(crate) async fn history(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<Answer<HistoryResponse>>, ApiError> {
    let size = bounded("size", p.size, DEFAULT_SIZE, MAX_SIZE)?;
    let buckets = bounded("buckets", p.buckets, DEFAULT_BUCKETS, MAX_BUCKETS)?;
    if buckets == 0 {
        return Err(ApiError::BadRequest(
            "buckets must be at least 1".to_string(),
        ));
    }
    let f = range_filter(
        "event.dataset:network.perf",
        p.q.as_deref(),
        p.start.as_deref(),
        p.end.as_deref(),
    )?;
    let (start, end) = (f.start, f.end);
    let out = crate::routes::scan::fold::<Fold>(&st, "perf_history", f).await?;
    let s = out.body;
    let rule = st.learned_config.as_deref().map_or_else(
        || RttRule::from(&Default::default()),
        |c| RttRule::from(&c.tcp_states),
    );
    let mut body = s
        .fold
        .answer((start, end), buckets, size, (s.total, s.scanned), rule);
    body.truncated = s.truncated;
    Ok(Json(Answer {
        body,
        missing: out.missing,
        approximate: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(secs: i64, retrans: u64, segs: u64, hist: &str) -> Event {
        let mut e = Event::new(
            "p",
            Timestamp::from_secs(secs),
            Timestamp::from_secs(secs),
            format!("i{secs}"),
        );
        e.action = Some("peer".into());
        e.process_name = Some("curl".into());
        e.systemd_unit = Some("curl.service".into());
        e.destination_ip = Some("10.0.0.2".into());
        e.tcp_retransmits = Some(retrans);
        e.labels.insert("tcp.segs_out".into(), segs.to_string());
        e.labels.insert("tcp.rtt_hist".into(), hist.into());
        e
    }

    fn drop(secs: i64, reason: &str, n: u64) -> Event {
        let mut e = peer(secs, 0, 0, "");
        e.action = Some("drop".into());
        e.process_name = None;
        e.network_drop_reason = Some(reason.into());
        e.network_drops = Some(n);
        e
    }

    /// A drop summary stored before the fields existed: labels.
    fn labelled_drop(secs: i64, reason: &str, n: u64) -> Event {
        let mut e = peer(secs, 0, 0, "");
        e.action = Some("drop".into());
        e.process_name = None;
        e.labels.insert("drop.reason".into(), reason.into());
        e.labels.insert("network.drops".into(), n.to_string());
        e
    }

    #[test]
    fn folds_intervals_into_buckets_with_merged_percentiles() {
        let mut f = Fold::default();
        f.add(&peer(0, 1, 100, "10:10"));
        f.add(&peer(30, 0, 100, "10:5"));
        f.add(&peer(70, 9, 100, "16:85,bad,40:1"));
        f.add(&drop(10, "NO_SOCKET", 2));
        f.add(&labelled_drop(80, "NO_SOCKET", 3));
        let r = f.answer(
            (
                Some(Timestamp::from_secs(0)),
                Some(Timestamp::from_secs(120)),
            ),
            2,
            10,
            (5, 5),
            RttRule::from(&Default::default()),
        );
        assert_eq!(r.buckets.len(), 2);
        assert_eq!((r.bucket_ms, r.groups, r.truncated), (60_000, 1, false));
        let (p, drops) = (&r.peers[0], &r.drops);
        assert_eq!(p.service, "curl.service");
        assert_eq!((p.total.retransmits, p.total.segs_out), (10, 300));
        assert_eq!(p.total.rtt_samples, 100);
        assert_eq!(p.total.rtt_p50_us, Some(1 << 17));
        assert_eq!(p.series[0].rtt_p99_us, Some(1 << 11));
        assert_eq!(p.series[0].retransmit_rate, Some(1.0 / 200.0));
        assert_eq!(p.series[1].retransmit_rate, Some(0.09));
        assert_eq!(drops[0].series, vec![2, 3]);
        assert_eq!(drops[0].count, 5);
        assert_eq!(
            (p.total.rtt_baseline_mean_us, p.total.rtt_above_baseline),
            (None, 0)
        );
    }

    /// A `peer` summary of `samples` RTT samples averaging `mean_us`, compared with a baseline
    /// of `base_us` (p99 as the mean: one bucket, the same ratio).
    fn compared(secs: i64, samples: u64, mean_us: u64, base_us: u64) -> Event {
        let slot = 63 - mean_us.leading_zeros();
        let mut e = peer(secs, 0, 10, &format!("{slot}:{samples}"));
        e.tcp_srtt_us = Some(mean_us);
        let ratio = mean_us as f64 / base_us as f64;
        let up = mean_us.saturating_sub(base_us);
        for (k, v) in [
            ("tcp.rtt_samples", samples.to_string()),
            ("tcp.rtt_baseline_mean_us", base_us.to_string()),
            ("tcp.rtt_mean_ratio", format!("{ratio:.3}")),
            ("tcp.rtt_mean_increase_us", up.to_string()),
            ("tcp.rtt_p99_ratio", format!("{ratio:.3}")),
            ("tcp.rtt_p99_increase_us", up.to_string()),
        ] {
            e.labels.insert(k.into(), v);
        }
        e
    }

    #[test]
    fn shows_the_baseline_beside_the_mean_and_counts_the_intervals_the_rule_flags() {
        let mut f = Fold::default();
        // Usual: 10 ms against a 10 ms baseline, and one interval before any baseline.
        f.add(&peer(0, 0, 10, "13:20"));
        f.add(&compared(10, 20, 10_000, 10_000));
        // Now: 30 ms against the same baseline (flagged), then 30 ms with too few samples and
        // 10.5 ms (ratio and increase too small): not flagged.
        f.add(&compared(70, 20, 30_000, 10_000));
        f.add(&compared(80, 5, 30_000, 10_000));
        f.add(&compared(90, 20, 10_500, 10_000));
        let range = (
            Some(Timestamp::from_secs(0)),
            Some(Timestamp::from_secs(120)),
        );
        let rule = RttRule::from(&loglynx_config::TcpStatesConfig::default());
        let r = f.answer(range, 2, 10, (5, 5), rule);
        let p = &r.peers[0];
        let (usual, now) = (&p.series[0], &p.series[1]);
        assert_eq!(usual.rtt_baseline_mean_us, Some(10_000));
        assert_eq!((usual.rtt_above_baseline, now.rtt_above_baseline), (0, 1));
        assert_eq!(now.rtt_baseline_mean_us, Some(10_000));
        // (20 * 30 ms + 5 * 30 ms + 20 * 10.5 ms) / 45
        assert_eq!(now.rtt_mean_us, Some(21_333));
        assert_eq!(p.total.rtt_above_baseline, 1);
        assert_eq!(p.total.rtt_baseline_mean_us, Some(10_000));

        // A stricter factor flags nothing.
        let mut g = Fold::default();
        g.add(&compared(70, 20, 30_000, 10_000));
        let strict = RttRule {
            factor: 4.0,
            min_increase_us: 1000.0,
            ..rule
        };
        let r = g.answer(range, 2, 10, (1, 1), strict);
        assert_eq!(r.peers[0].total.rtt_above_baseline, 0);
        let json = serde_json::to_value(&r.peers[0].series[1]).unwrap();
        assert_eq!(json["rtt_baseline_mean_us"], 10_000);
        assert_eq!(json["rtt_mean_us"], 30_000);
    }
    /// A `peer` summary of `segs` segments sent, `retrans` retransmitted, compared with a
    /// baseline rate of `base`.
    fn rated(secs: i64, retrans: u64, segs: u64, base: f64) -> Event {
        let mut e = peer(secs, retrans, segs, "10:20");
        let rate = retrans as f64 / segs as f64;
        for (k, v) in [
            ("tcp.retransmit_baseline_rate", format!("{base:.6}")),
            (
                "tcp.retransmit_rate_ratio",
                format!("{:.3}", rate / base.max(0.001)),
            ),
            (
                "tcp.retransmit_rate_increase",
                format!("{:.6}", (rate - base).max(0.0)),
            ),
        ] {
            e.labels.insert(k.into(), v);
        }
        e
    }

    #[test]
    fn shows_the_baseline_retransmit_rate_and_counts_the_intervals_the_rule_flags() {
        let mut f = Fold::default();
        // Usual: clean against a clean baseline, and one interval before any baseline.
        f.add(&peer(0, 0, 500, "10:20"));
        f.add(&rated(10, 0, 500, 0.0));
        // Now: 8% against the clean baseline (flagged); 0.2% (below the one point floor) and
        // 8% over 50 segments (too few): not flagged.
        f.add(&rated(70, 40, 500, 0.0));
        f.add(&rated(80, 1, 500, 0.0));
        f.add(&rated(90, 4, 50, 0.0));
        let range = (
            Some(Timestamp::from_secs(0)),
            Some(Timestamp::from_secs(120)),
        );
        let rule = RttRule::from(&loglynx_config::TcpStatesConfig::default());
        let r = f.answer(range, 2, 10, (5, 5), rule);
        let p = &r.peers[0];
        let (usual, now) = (&p.series[0], &p.series[1]);
        assert_eq!(
            (
                usual.retransmit_above_baseline,
                now.retransmit_above_baseline
            ),
            (0, 1)
        );
        assert_eq!(
            (usual.retransmit_baseline_rate, now.retransmit_baseline_rate),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(p.total.retransmit_above_baseline, 1);

        // A pair that always lost 5%: its baseline is shown, nothing is flagged.
        let mut g = Fold::default();
        g.add(&rated(70, 26, 500, 0.05));
        g.add(&rated(80, 24, 500, 0.05));
        let r = g.answer(range, 2, 10, (2, 2), rule);
        assert_eq!(r.peers[0].total.retransmit_above_baseline, 0);
        let json = serde_json::to_value(&r.peers[0].series[1]).unwrap();
        assert_eq!(json["retransmit_baseline_rate"], 0.05);
        assert_eq!(json["retransmit_above_baseline"], 0);
    }
}

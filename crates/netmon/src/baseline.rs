//! RTT and retransmit-rate baselines per service (or command) and peer, so a summary interval's
//! RTT and retransmit rate can be compared with what is usual for that pair rather than with one
//! fixed threshold (a WAN peer at 80 ms is normal, a LAN peer at 80 ms is not; a path that
//! always loses 3% is not news, a LAN link going from 0% to 3% is).
//!
//! Two figures per interval (with at least [`MIN_SAMPLES`] RTT samples; intervals with fewer
//! are neither compared nor kept): the mean of the smoothed-RTT samples, exact (the kernel
//! keeps their sum), and the p99, estimated from the log2 histogram with the position inside
//! its bucket interpolated geometrically. The median would come from the histogram too, and a
//! tight distribution that crosses a bucket boundary (16.0 ms -> 16.5 ms) moves its estimate by
//! a whole factor of 2: the mean stands for the usual RTT instead. The p99 keeps that coarseness
//! (a one-bucket shift is a ratio of at most about 2, which the rule does not count as a
//! regression: it asks for more than its factor there).
//!
//! The retransmit rate of an interval is its retransmits over the segments it sent, kept and
//! compared when it sent at least [`MIN_SEGMENTS`] (the same floor as the built-in rules': below
//! it one retransmit moves the rate by a percent or more). Its baseline is kept the same way,
//! in the same windows, beside the RTT's.
//!
//! The baseline of a pair is the median of its last [`WINDOWS`] intervals' figures. A median
//! rather than a moving average: one odd interval does not move it, and a lasting change
//! becomes the new normal only once it fills half the windows, so a regression is flagged for
//! about `WINDOWS / 2` intervals, then stops (the alert resolves) while the new level holds.
//!
//! Keyed by the owner's systemd unit or container when it has one, else its command name, and
//! the peer address: a restarted service keeps its baseline. At most [`MAX_PAIRS`] pairs; the
//! one not seen for the longest goes first.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::perf::RTT_SLOTS;

/// Intervals a baseline holds.
pub(crate) const WINDOWS: usize = 16;
/// Intervals a pair needs before its intervals are compared with its baseline.
pub(crate) const WARMUP: usize = 4;
/// RTT samples an interval needs to be compared and kept.
pub(crate) const MIN_SAMPLES: u64 = 10;
/// Segments sent an interval needs for its retransmit rate to be compared and kept.
pub(crate) const MIN_SEGMENTS: u64 = 100;
/// The baseline rate a ratio divides by at least (0.1%): a pair that never retransmitted has a
/// baseline of 0, and its ratio stays finite (the rule's floor on the increase does the rest).
const MIN_BASE_RATE: f64 = 0.001;
/// Pairs kept.
pub(crate) const MAX_PAIRS: usize = 4096;

/// An estimate of quantile `q` of log2 `slots` (slot i holds [2^i, 2^(i+1)) us), microseconds,
/// interpolated geometrically inside its bucket; None when empty.
pub(crate) fn quantile_est_us(slots: &[u64], q: f64) -> Option<f64> {
    let total: u64 = slots.iter().sum();
    if total == 0 {
        return None;
    }
    let want = (total as f64 * q).max(1.0);
    let mut seen = 0u64;
    for (i, n) in slots.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        if (seen + n) as f64 >= want {
            let frac = ((want - seen as f64) / *n as f64).clamp(0.0, 1.0);
            return Some(2f64.powi(i as i32) * 2f64.powf(frac));
        }
        seen += n;
    }
    None
}

/// One interval compared with its pair's baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Comparison {
    /// This interval's mean and p99 estimate, us.
    pub mean_us: f64,
    pub p99_us: f64,
    /// The baseline's (median of the past intervals), us.
    pub base_mean_us: f64,
    pub base_p99_us: f64,
}

impl Comparison {
    pub(crate) fn mean_ratio(&self) -> f64 {
        self.mean_us / self.base_mean_us.max(1.0)
    }
    pub(crate) fn p99_ratio(&self) -> f64 {
        self.p99_us / self.base_p99_us.max(1.0)
    }
}

/// One interval's retransmit rate compared with its pair's baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateComparison {
    /// Retransmits over segments sent in this interval.
    pub rate: f64,
    /// The baseline's (median of the past intervals' rates).
    pub base_rate: f64,
}

impl RateComparison {
    pub(crate) fn ratio(&self) -> f64 {
        self.rate / self.base_rate.max(MIN_BASE_RATE)
    }
    /// By how much the rate rose above the baseline (0 if not).
    pub(crate) fn increase(&self) -> f64 {
        (self.rate - self.base_rate).max(0.0)
    }
}

#[derive(Debug, Default)]
struct Pair {
    mean: VecDeque<f64>,
    p99: VecDeque<f64>,
    rate: VecDeque<f64>,
    seen: u64,
}

fn push(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == WINDOWS {
        q.pop_front();
    }
    q.push_back(v);
}

fn median(v: &VecDeque<f64>) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().collect();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The baselines of every (service, peer) pair seen.
#[derive(Debug, Default)]
pub(crate) struct Baselines {
    pairs: HashMap<(String, IpAddr), Pair>,
    tick: u64,
}

impl Baselines {
    /// The pair of `key`, marked as seen now; a new one evicts the pair not seen for the
    /// longest when [`MAX_PAIRS`] are kept.
    fn pair(&mut self, key: (String, IpAddr)) -> &mut Pair {
        self.tick += 1;
        if !self.pairs.contains_key(&key) && self.pairs.len() >= MAX_PAIRS {
            if let Some(oldest) = self
                .pairs
                .iter()
                .min_by_key(|(_, p)| p.seen)
                .map(|(k, _)| k.clone())
            {
                self.pairs.remove(&oldest);
            }
        }
        let pair = self.pairs.entry(key).or_default();
        pair.seen = self.tick;
        pair
    }

    /// Compares the interval of `key` (its samples' histogram `slots` and their mean) with
    /// its baseline (None while the pair has fewer than [`WARMUP`] intervals, or the interval
    /// fewer than [`MIN_SAMPLES`] samples), then adds the interval to the baseline.
    pub(crate) fn observe(
        &mut self,
        key: (String, IpAddr),
        slots: &[u64; RTT_SLOTS],
        mean_us: f64,
    ) -> Option<Comparison> {
        if slots.iter().sum::<u64>() < MIN_SAMPLES || !mean_us.is_finite() {
            return None;
        }
        let p99 = quantile_est_us(slots, 0.99)?;
        let pair = self.pair(key);
        let cmp = (pair.mean.len() >= WARMUP).then(|| Comparison {
            mean_us,
            p99_us: p99,
            base_mean_us: median(&pair.mean),
            base_p99_us: median(&pair.p99),
        });
        push(&mut pair.mean, mean_us);
        push(&mut pair.p99, p99);
        cmp
    }

    /// Compares the retransmit rate of the interval of `key` (`retransmits` over `segs_out`)
    /// with its baseline (None while the pair has fewer than [`WARMUP`] rated intervals, or
    /// the interval fewer than [`MIN_SEGMENTS`] segments sent), then adds it to the baseline.
    pub(crate) fn observe_retransmits(
        &mut self,
        key: (String, IpAddr),
        retransmits: u64,
        segs_out: u64,
    ) -> Option<RateComparison> {
        if segs_out < MIN_SEGMENTS {
            return None;
        }
        let rate = retransmits as f64 / segs_out as f64;
        let pair = self.pair(key);
        let cmp = (pair.rate.len() >= WARMUP).then(|| RateComparison {
            rate,
            base_rate: median(&pair.rate),
        });
        push(&mut pair.rate, rate);
        cmp
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.pairs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(at: &[(usize, u64)]) -> [u64; RTT_SLOTS] {
        let mut s = [0; RTT_SLOTS];
        for (i, n) in at {
            s[*i] = *n;
        }
        s
    }

    fn key() -> (String, IpAddr) {
        ("curl".into(), "10.0.0.2".parse().unwrap())
    }

    #[test]
    fn quantiles_are_interpolated_inside_their_bucket() {
        assert_eq!(quantile_est_us(&[0; RTT_SLOTS], 0.5), None);
        // 10 samples in [1024, 2048): the median is half-way (geometrically).
        let m = quantile_est_us(&slots(&[(10, 10)]), 0.5).unwrap();
        assert!((m - 1024.0 * 2f64.sqrt()).abs() < 1e-6, "{m}");
        // The top of the bucket for the last sample.
        assert_eq!(quantile_est_us(&slots(&[(10, 10)]), 1.0), Some(2048.0));
        let p99 = quantile_est_us(&slots(&[(10, 99), (14, 1)]), 0.99).unwrap();
        assert!((1024.0..=2048.0).contains(&p99), "{p99}");
    }

    #[test]
    fn a_lasting_change_is_flagged_for_half_the_windows_then_is_the_baseline() {
        let mut b = Baselines::default();
        let (normal, normal_mean) = (slots(&[(12, 40)]), 5_000.0); // ~4-8 ms
        let (slow, slow_mean) = (slots(&[(15, 40)]), 40_000.0); // ~32-64 ms
        for _ in 0..WARMUP {
            assert_eq!(b.observe(key(), &normal, normal_mean), None);
        }
        // Constant: ratio 1.
        let c = b.observe(key(), &normal, normal_mean).unwrap();
        assert!((c.mean_ratio() - 1.0).abs() < 1e-9 && (c.p99_ratio() - 1.0).abs() < 1e-9);
        // Too few samples: neither compared nor kept.
        assert_eq!(b.observe(key(), &slots(&[(20, 3)]), 2e6), None);
        // 8x slower from now on: flagged while the slow intervals are not yet the majority.
        let ratios: Vec<(f64, f64)> = (0..12)
            .map(|_| {
                let c = b.observe(key(), &slow, slow_mean).unwrap();
                (c.mean_ratio(), c.p99_ratio())
            })
            .collect();
        assert!(
            ratios[0].0 > 7.9 && ratios[4].0 > 7.9 && ratios[4].1 > 7.9,
            "{ratios:?}"
        );
        assert!(
            (ratios[11].0 - 1.0).abs() < 1e-9,
            "the new level became the baseline: {ratios:?}"
        );
        // One odd interval does not move the baseline.
        let spike = b.observe(key(), &slots(&[(20, 40)]), 1.5e6).unwrap();
        assert!(spike.mean_ratio() > 30.0 && spike.p99_ratio() > 30.0);
        let after = b.observe(key(), &slow, slow_mean).unwrap();
        assert!((after.mean_ratio() - 1.0).abs() < 1e-9, "{after:?}");
    }

    #[test]
    fn a_tight_distribution_crossing_a_bucket_boundary_is_not_a_mean_regression() {
        let mut b = Baselines::default();
        // 16.0 ms is the top of slot 13, 16.5 ms the bottom of slot 14.
        for _ in 0..WARMUP {
            b.observe(key(), &slots(&[(13, 40)]), 16_000.0);
        }
        let c = b.observe(key(), &slots(&[(14, 40)]), 16_500.0).unwrap();
        assert!(c.mean_ratio() < 1.05, "{c:?}");
        assert!(c.p99_ratio() <= 2.0 + 1e-9, "a one-bucket shift: {c:?}");
    }

    #[test]
    fn a_retransmit_rate_is_compared_with_its_own_pair_s_usual_rate() {
        let mut b = Baselines::default();
        for _ in 0..WARMUP {
            assert_eq!(b.observe_retransmits(key(), 0, 500), None);
        }
        // Clean so far: the baseline is 0, and a ratio divides by 0.1% at least.
        let c = b.observe_retransmits(key(), 1, 500).unwrap();
        assert_eq!(c.base_rate, 0.0);
        assert!(
            (c.ratio() - 2.0).abs() < 1e-9 && (c.increase() - 0.002).abs() < 1e-12,
            "{c:?}"
        );
        // Too few segments: neither compared nor kept.
        assert_eq!(b.observe_retransmits(key(), 50, 99), None);
        // 5% from now on: flagged while the lossy intervals are not yet the majority.
        let cmps: Vec<RateComparison> = (0..12)
            .map(|_| b.observe_retransmits(key(), 25, 500).unwrap())
            .collect();
        assert!(
            cmps[0].ratio() > 49.0 && (cmps[0].increase() - 0.05).abs() < 1e-12,
            "{cmps:?}"
        );
        let flagged = cmps
            .iter()
            .take_while(|c| c.ratio() >= 2.0 && c.increase() >= 0.01)
            .count();
        assert_eq!(
            flagged, 5,
            "until the lossy intervals are half the window: {cmps:?}"
        );
        assert!(
            (cmps[11].ratio() - 1.0).abs() < 1e-9 && cmps[11].increase() == 0.0,
            "the new level became the baseline: {cmps:?}"
        );
        // A pair that always lost 5% is its own baseline from its first compared interval.
        let other = ("rsync".to_string(), "10.0.0.3".parse().unwrap());
        for _ in 0..WARMUP {
            b.observe_retransmits(other.clone(), 50, 1000);
        }
        let c = b.observe_retransmits(other, 55, 1000).unwrap();
        assert!(
            (c.base_rate - 0.05).abs() < 1e-12 && c.ratio() < 1.2,
            "{c:?}"
        );
        // The RTT baseline of the first pair is untouched by its rates.
        assert_eq!(b.observe(key(), &slots(&[(12, 40)]), 5_000.0), None);
    }

    #[test]
    fn pairs_are_bounded() {
        let mut b = Baselines::default();
        let s = slots(&[(12, 40)]);
        for i in 0..MAX_PAIRS + 10 {
            b.observe((format!("p{i}"), "10.0.0.2".parse().unwrap()), &s, 5_000.0);
        }
        assert_eq!(b.len(), MAX_PAIRS);
        assert!(!b
            .pairs
            .contains_key(&("p0".to_string(), "10.0.0.2".parse().unwrap())));
    }
}

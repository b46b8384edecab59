//! Failed authentication attempts, limited per client address.
//!
//! Each address has a bucket of [`FAILURE_BURST`] attempts that refills by one every
//! [`REFILL`]; a wrong key takes one. While an address's bucket is empty every request from it
//! that carries credentials is answered 429 before the credentials are looked at, so a client
//! guessing keys learns nothing from the answers (a right key is refused too). Requests without
//! credentials are not attempts and are not counted.
//!
//! Written here rather than with a rate-limit crate: only failures count (a limiter crate
//! counts every check), and the table must stay bounded under a flood of addresses
//! ([`MAX_TRACKED`], recovered entries dropped first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong attempts an address may make in a row.
pub(crate) const FAILURE_BURST: f64 = 10.0;
/// One more attempt is allowed after each of these.
pub(crate) const REFILL: Duration = Duration::from_secs(6);
/// Addresses tracked at most.
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The failure table.
#[derive(Debug, Default)]
pub(crate) struct FailureLimiter {
    buckets: HashMap<IpAddr, Bucket>,
}

impl FailureLimiter {
    /// `Some(seconds to wait)` when `ip` has no attempt left.
    pub fn blocked(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        let b = self.buckets.get_mut(&ip)?;
        refill(b, now);
        (b.tokens < 1.0).then(|| {
            let missing = 1.0 - b.tokens;
            (missing * REFILL.as_secs_f64()).ceil().max(1.0) as u64
        })
    }

    /// Counts a wrong attempt from `ip`; true when it used the last one.
    pub fn fail(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= MAX_TRACKED {
            self.evict(now);
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            tokens: FAILURE_BURST,
            at: now,
        });
        refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
        b.tokens < 1.0
    }

    /// Drops the recovered entries, or the oldest half when none has recovered.
    fn evict(&mut self, now: Instant) {
        self.buckets.retain(|_, b| {
            refill(b, now);
            b.tokens < FAILURE_BURST
        });
        if self.buckets.len() >= MAX_TRACKED {
            let mut ages: Vec<Instant> = self.buckets.values().map(|b| b.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.buckets.retain(|_, b| b.at > cut);
        }
    }
}

fn refill(b: &mut Bucket, now: Instant) {
    let gained = now.saturating_duration_since(b.at).as_secs_f64() / REFILL.as_secs_f64();
    b.tokens = (b.tokens + gained).min(FAILURE_BURST);
    b.at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_burst_and_recovers() {
        let mut l = FailureLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..9 {
            assert!(!l.fail(ip, t0), "attempt {i}");
            assert_eq!(l.blocked(ip, t0), None);
        }
        assert!(l.fail(ip, t0), "the tenth uses the last attempt");
        assert_eq!(l.blocked(ip, t0), Some(6));
        assert_eq!(l.blocked(other, t0), None, "other addresses are not affected");
        assert_eq!(l.blocked(ip, t0 + REFILL), None, "one attempt back after REFILL");
        assert!(l.fail(ip, t0 + REFILL));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut l = FailureLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 * 3) {
            let ip = IpAddr::from(i.to_be_bytes());
            l.fail(ip, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(l.buckets.len() <= MAX_TRACKED);
    }
}

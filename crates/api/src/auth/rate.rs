//! Ingest rate per API key (`http.ingest_rate`, records per second).
//!
//! Each key (by name: `token` for `http.auth_token`, `anonymous` when no credential is
//! required) has a bucket of one second's worth of records that refills continuously. A
//! request is let in while its key's bucket is not empty and takes all of its records, going
//! into debt if it is larger than what is left (so a request larger than a second's worth
//! still gets through once, and the key then waits for the debt to be paid back); a request
//! arriving while the bucket is empty or in debt is answered 429 with the seconds until it is
//! not. Counting records rather than requests keeps one big `_bulk` from counting as one.
//!
//! Written here rather than with a rate-limit crate (governor): the cost of a request is
//! known only after its body is framed, may exceed the burst (governor refuses such a cell
//! for ever), and the wait must be reported in whole seconds for `Retry-After`.

use std::collections::HashMap;
use std::time::Instant;

/// Keys tracked at most; the names come from the key file, so this is only a guard.
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Records that may still be sent now; negative: the debt of a large request.
    tokens: f64,
    at: Instant,
}

/// The per-key buckets of one server.
#[derive(Debug)]
pub(crate) struct KeyRates {
    /// Records per second per key; 0: no limit.
    rate: u64,
    buckets: HashMap<String, Bucket>,
}

impl KeyRates {
    /// Buckets for `rate` records per second per key (0: no limit).
    pub fn new(rate: u64) -> KeyRates {
        KeyRates { rate, buckets: HashMap::new() }
    }

    /// The configured records per second (0: no limit).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Takes `records` from `key`'s bucket: `Err(seconds to wait)` when the key must wait.
    pub fn take(&mut self, key: &str, records: u64, now: Instant) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let rate = self.rate as f64;
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_TRACKED {
            // Full buckets carry no state worth keeping.
            self.buckets.retain(|_, b| {
                refill(b, rate, now);
                b.tokens < rate
            });
        }
        let b = self
            .buckets
            .entry(key.to_string())
            .or_insert(Bucket { tokens: rate, at: now });
        refill(b, rate, now);
        if b.tokens <= 0.0 {
            let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0);
            return Err(wait as u64);
        }
        b.tokens -= records as f64;
        Ok(())
    }
}

fn refill(b: &mut Bucket, rate: f64, now: Instant) {
    let gained = now.saturating_duration_since(b.at).as_secs_f64() * rate;
    b.tokens = (b.tokens + gained).min(rate);
    b.at = now;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_key_gets_its_rate_and_waits_after_a_burst() {
        let mut r = KeyRates::new(100);
        let t0 = Instant::now();
        assert_eq!(r.take("a", 60, t0), Ok(()));
        assert_eq!(r.take("a", 60, t0), Ok(()), "40 left: let in, 20 in debt");
        assert_eq!(r.take("a", 1, t0), Err(1), "in debt: wait");
        assert_eq!(r.take("b", 100, t0), Ok(()), "other keys have their own bucket");
        // 0.5 s later the debt of 20 is paid and 30 are back.
        assert_eq!(r.take("a", 1, t0 + Duration::from_millis(500)), Ok(()));
        // A request larger than a second's worth passes once, then the key waits ~9 s.
        let mut r = KeyRates::new(100);
        assert_eq!(r.take("a", 1_000, t0), Ok(()));
        assert_eq!(r.take("a", 1, t0), Err(10));
        assert_eq!(r.take("a", 1, t0 + Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn zero_is_no_limit_and_the_table_stays_bounded() {
        let mut r = KeyRates::new(0);
        for _ in 0..10 {
            assert_eq!(r.take("a", u64::MAX, Instant::now()), Ok(()));
        }
        let mut r = KeyRates::new(10);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED * 2) {
            let _ = r.take(&format!("k{i}"), 1, t0 + Duration::from_secs(i as u64));
        }
        assert!(r.buckets.len() <= MAX_TRACKED + 1);
    }
}

//! What readers see: one searcher per time window, with the window's time bounds for pruning.

use loglynx_core::Timestamp;

/// A point-in-time view of one window index.
#[derive(Clone)]
pub struct WindowSnapshot {
    /// Window id (its directory name under `<data_dir>/store/`).
    pub id: String,
    /// Smallest and largest `@timestamp` in the window (None when it holds no events yet).
    pub min_timestamp: Option<Timestamp>,
    pub max_timestamp: Option<Timestamp>,
    /// A searcher over the window's last commit.
    pub searcher: tantivy::Searcher,
}

impl WindowSnapshot {
    /// Whether the window may hold events with `start <= @timestamp < end`.
    pub fn overlaps(&self, start: Option<Timestamp>, end: Option<Timestamp>) -> bool {
        match (self.min_timestamp, self.max_timestamp) {
            (Some(lo), Some(hi)) => start.is_none_or(|s| hi >= s) && end.is_none_or(|e| lo < e),
            _ => true,
        }
    }

    /// Whether every event of the window has `start <= @timestamp < end`: always without
    /// bounds; with bounds, only when the window's recorded bounds prove it (they are truncated
    /// to the microseconds the index keeps, hence the microsecond of margin above `max`).
    pub fn within(&self, start: Option<Timestamp>, end: Option<Timestamp>) -> bool {
        if start.is_none() && end.is_none() {
            return true;
        }
        match (self.min_timestamp, self.max_timestamp) {
            (Some(lo), Some(hi)) => {
                start.is_none_or(|s| s <= lo)
                    && end.is_none_or(|e| e.0 > hi.0.saturating_add(1_000))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_needs_the_bounds_to_prove_it() {
        let index = tantivy::Index::create_in_ram(tantivy::schema::Schema::builder().build());
        let w = |lo: Option<i64>, hi: Option<i64>| WindowSnapshot {
            id: "w".into(),
            min_timestamp: lo.map(Timestamp),
            max_timestamp: hi.map(Timestamp),
            searcher: index.reader().unwrap().searcher(),
        };
        let t = |v| Some(Timestamp(v));
        assert!(w(None, None).within(None, None));
        assert!(!w(None, None).within(t(0), None));
        let a = w(Some(10_000), Some(20_000));
        assert!(a.within(None, None));
        assert!(a.within(t(10_000), t(21_001)));
        assert!(!a.within(t(10_001), None));
        // The last event may be up to 999 ns after the recorded (truncated) maximum.
        assert!(!a.within(None, t(21_000)));
    }
}

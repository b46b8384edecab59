//! [`OffsetFilter`]: which Kafka offsets of which partitions a leaf answers for.
//!
//! The root gives each leaf, per partition, the half-open offset ranges its cover assigned to
//! that leaf; the leaf adds them to the query as a clause on the fast fields every stored event
//! carries, `kafka.partition` and `kafka.offset` (so a generation held twice, on two leaves, is
//! counted on one of them only).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use loglynx_query::Filter;
use serde::{Deserialize, Serialize};

/// The field with an event's Kafka partition.
pub const PARTITION_FIELD: &str = "kafka.partition";
/// The field with an event's Kafka offset.
pub const OFFSET_FIELD: &str = "kafka.offset";

/// Kafka offsets `from <= offset < to` (`to` = `u64::MAX`: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OffsetRange {
    /// First offset in the range.
    pub from: u64,
    /// First offset after the range.
    pub to: u64,
}

/// Partition -> offset ranges. An empty filter selects nothing; the ranges of a partition are
/// kept sorted and merged where they touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OffsetFilter(pub BTreeMap<i32, Vec<OffsetRange>>);

impl OffsetFilter {
    /// Adds `[from, to)` of `partition` (nothing when empty).
    pub fn add(&mut self, partition: i32, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let ranges = self.0.entry(partition).or_default();
        ranges.push(OffsetRange { from, to });
        ranges.sort();
        let mut merged: Vec<OffsetRange> = Vec::with_capacity(ranges.len());
        for r in ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if r.from <= last.to => last.to = last.to.max(r.to),
                _ => merged.push(r),
            }
        }
        *ranges = merged;
    }

    /// Whether it selects nothing.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(Vec::is_empty)
    }

    /// The clause of the query language that keeps these offsets (`None` when empty):
    /// `(kafka.partition:0 AND (kafka.offset:[0 TO 99] OR kafka.offset:>=200)) OR (...)`.
    pub fn clause(&self) -> Option<String> {
        let mut out = String::new();
        for (p, ranges) in &self.0 {
            if ranges.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push_str(" OR ");
            }
            let _ = write!(out, "({PARTITION_FIELD}:{p} AND (");
            for (i, r) in ranges.iter().enumerate() {
                if i > 0 {
                    out.push_str(" OR ");
                }
                if r.to == u64::MAX {
                    let _ = write!(out, "{OFFSET_FIELD}:>={}", r.from);
                } else {
                    let _ = write!(out, "{OFFSET_FIELD}:[{} TO {}]", r.from, r.to - 1);
                }
            }
            out.push_str("))");
        }
        (!out.is_empty()).then_some(out)
    }

    /// `filter` narrowed to these offsets; `None` when nothing can match (an empty filter).
    pub fn restrict(&self, filter: &Filter) -> Option<Filter> {
        let clause = self.clause()?;
        let q = filter.query.trim();
        let query = if q.is_empty() || q == "*" {
            clause
        } else {
            format!("({q}) AND ({clause})")
        };
        Some(Filter {
            query,
            ..filter.clone()
        })
    }

    /// Every (partition, range), in order.
    pub fn ranges(&self) -> impl Iterator<Item = (i32, OffsetRange)> + '_ {
        self.0
            .iter()
            .flat_map(|(p, rs)| rs.iter().map(move |r| (*p, *r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_become_one_clause() {
        let mut f = OffsetFilter::default();
        assert!(f.is_empty());
        assert_eq!(f.clause(), None);
        f.add(1, 10, 20);
        f.add(1, 0, 10);
        f.add(1, 30, u64::MAX);
        f.add(0, 5, 5);
        f.add(0, 0, 1);
        assert_eq!(
            f.0[&1],
            vec![OffsetRange { from: 0, to: 20 }, OffsetRange { from: 30, to: u64::MAX }]
        );
        assert_eq!(
            f.clause().unwrap(),
            "(kafka.partition:0 AND (kafka.offset:[0 TO 0])) OR (kafka.partition:1 AND (kafka.offset:[0 TO 19] OR kafka.offset:>=30))"
        );
        let r = f
            .restrict(&Filter { query: "error OR warn".into(), ..Filter::default() })
            .unwrap();
        assert!(r.query.starts_with("(error OR warn) AND ((kafka.partition:0"), "{}", r.query);
        let all = f.restrict(&Filter { query: "*".into(), ..Filter::default() }).unwrap();
        assert!(all.query.starts_with("(kafka.partition:0"), "{}", all.query);
        assert!(OffsetFilter::default().restrict(&Filter::default()).is_none());
    }

    #[test]
    fn a_filter_travels_as_json() {
        let mut f = OffsetFilter::default();
        f.add(3, 7, 9);
        let s = serde_json::to_string(&f).unwrap();
        assert_eq!(s, r#"{"3":[{"from":7,"to":9}]}"#);
        assert_eq!(serde_json::from_str::<OffsetFilter>(&s).unwrap(), f);
    }
}

//! The distinct count of a field and the stats (count, min, max, sum, avg) of a numeric one,
//! in one pass over the field's column, merged across segments and windows.
//!
//! Count, min, max and sum are exact and take constant memory. Distinct values are counted
//! exactly (a set of 64-bit hashes of the values) up to the budget's cardinality cap
//! (`query.max_distinct_terms`, as terms), then estimated with HyperLogLog++ (the
//! `cardinality-estimator` crate: about 3 KB, ~1.6% standard error), and the answer says
//! `distinct_approximate`: memory is bounded by the cap, not by the field's cardinality
//! (Elasticsearch's `cardinality` is an estimate the same way, past `precision_threshold`).

use std::collections::HashSet;

use cardinality_estimator::CardinalityEstimator;
use loglynx_core::Timestamp;
use loglynx_store::{FieldKind, WindowSnapshot};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};
use xxhash_rust::xxh3::xxh3_64;

use super::terms::TermsColumn;
use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::Filter;

/// What [`QueryEngine::field_stats`] found among the matching events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldStats {
    /// Values seen (an event without the field adds none).
    pub count: u64,
    /// Distinct values: exact unless `distinct_approximate`.
    pub distinct: u64,
    /// The field had more distinct values than `query.max_distinct_terms`: `distinct` is a
    /// HyperLogLog++ estimate (about 1.6% standard error).
    #[serde(default)]
    pub distinct_approximate: bool,
    /// Numeric fields: the smallest value (None without values or for a keyword field).
    pub min: Option<u64>,
    /// Numeric fields: the largest value.
    pub max: Option<u64>,
    /// Numeric fields: the sum of the values (u128: no overflow).
    pub sum: Option<u128>,
}

impl FieldStats {
    /// The mean of a numeric field's values.
    pub fn avg(&self) -> Option<f64> {
        self.sum.filter(|_| self.count > 0).map(|s| s as f64 / self.count as f64)
    }
}

impl QueryEngine {
    /// The values of `field` among the events matching `filter`: how many, how many distinct,
    /// and for a numeric field min, max and sum. A field that cannot be aggregated (full text,
    /// dates, `event.id`) is refused like by terms.
    pub fn field_stats(
        &self,
        windows: &[WindowSnapshot],
        filter: &Filter,
        field: &str,
    ) -> Result<FieldStats, QueryError> {
        let column = self.terms_column(field)?;
        let numeric = self.schema().kind(field) == Some(FieldKind::Numeric);
        let p = self.prepare(windows, filter, Timestamp::now())?;
        let cap = crate::budget::max_distinct_terms();
        let collector = StatsCollector { column, cap };
        let mut all = Part::new(cap);
        for w in &p.windows {
            let part = crate::budget::search(&w.searcher, &*p.query, &collector)?;
            all.merge(part);
        }
        let mut s = FieldStats {
            count: all.count,
            distinct: all.distinct.count(),
            distinct_approximate: all.distinct.is_estimate(),
            ..FieldStats::default()
        };
        if numeric {
            s.min = all.min;
            s.max = all.max;
            s.sum = Some(all.sum);
        }
        Ok(s)
    }
}

/// Distinct values: hashes kept exactly up to `cap`, then a HyperLogLog++ sketch.
enum Distinct {
    Exact { hashes: HashSet<u64>, cap: usize },
    Estimate(Box<CardinalityEstimator<u64>>),
}

impl Distinct {
    fn new(cap: usize) -> Distinct {
        Distinct::Exact { hashes: HashSet::new(), cap: cap.max(1) }
    }

    fn insert(&mut self, hash: u64) {
        match self {
            Distinct::Exact { hashes, cap } => {
                hashes.insert(hash);
                if hashes.len() > *cap {
                    let mut sketch = Box::new(CardinalityEstimator::<u64>::new());
                    for h in hashes.drain() {
                        sketch.insert_hash(h);
                    }
                    *self = Distinct::Estimate(sketch);
                }
            }
            Distinct::Estimate(sketch) => sketch.insert_hash(hash),
        }
    }

    fn merge(&mut self, other: Distinct) {
        match other {
            Distinct::Exact { hashes, .. } => {
                for h in hashes {
                    self.insert(h);
                }
            }
            Distinct::Estimate(theirs) => match self {
                Distinct::Estimate(mine) => mine.merge(&theirs),
                Distinct::Exact { hashes, .. } => {
                    let mut sketch = theirs;
                    for h in hashes.drain() {
                        sketch.insert_hash(h);
                    }
                    *self = Distinct::Estimate(sketch);
                }
            },
        }
    }

    fn count(&self) -> u64 {
        match self {
            Distinct::Exact { hashes, .. } => hashes.len() as u64,
            Distinct::Estimate(sketch) => sketch.estimate() as u64,
        }
    }

    fn is_estimate(&self) -> bool {
        matches!(self, Distinct::Estimate(_))
    }
}

/// What one segment (or several merged) found.
struct Part {
    count: u64,
    min: Option<u64>,
    max: Option<u64>,
    sum: u128,
    distinct: Distinct,
}

impl Part {
    fn new(cap: usize) -> Part {
        Part { count: 0, min: None, max: None, sum: 0, distinct: Distinct::new(cap) }
    }

    fn merge(&mut self, other: Part) {
        self.count += other.count;
        self.min = self.min.into_iter().chain(other.min).min();
        self.max = self.max.into_iter().chain(other.max).max();
        self.sum += other.sum;
        self.distinct.merge(other.distinct);
    }
}

/// The stats of one column among the matching documents.
struct StatsCollector {
    column: TermsColumn,
    cap: usize,
}

enum StatsSegment {
    /// The term ordinals seen; their values are hashed at the end.
    Str { column: StrColumn, seen: Vec<bool>, part: Part },
    U64 { column: Column<u64>, part: Part },
    /// The column is absent in this segment.
    Missing { cap: usize },
}

impl Collector for StatsCollector {
    type Fruit = Part;
    type Child = StatsSegment;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<StatsSegment> {
        let ff = reader.fast_fields();
        Ok(match &self.column {
            TermsColumn::Str(name) => match ff.str(name)? {
                Some(column) => {
                    let seen = vec![false; column.num_terms()];
                    StatsSegment::Str { column, seen, part: Part::new(self.cap) }
                }
                None => StatsSegment::Missing { cap: self.cap },
            },
            TermsColumn::U64(name) => match ff.column_opt::<u64>(name)? {
                Some(column) => StatsSegment::U64 { column, part: Part::new(self.cap) },
                None => StatsSegment::Missing { cap: self.cap },
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<std::io::Result<Part>>) -> tantivy::Result<Part> {
        let mut all = Part::new(self.cap);
        for fruit in fruits {
            all.merge(fruit?);
        }
        Ok(all)
    }
}

impl SegmentCollector for StatsSegment {
    type Fruit = std::io::Result<Part>;

    fn collect(&mut self, doc: DocId, _: Score) {
        match self {
            StatsSegment::Str { column, seen, part } => {
                for ord in column.term_ords(doc) {
                    if let Some(s) = seen.get_mut(ord as usize) {
                        *s = true;
                        part.count += 1;
                    }
                }
            }
            StatsSegment::U64 { column, part } => {
                for v in column.values_for_doc(doc) {
                    part.count += 1;
                    part.min = Some(part.min.map_or(v, |m| m.min(v)));
                    part.max = Some(part.max.map_or(v, |m| m.max(v)));
                    part.sum += u128::from(v);
                    part.distinct.insert(xxh3_64(&v.to_le_bytes()));
                }
            }
            StatsSegment::Missing { .. } => {}
        }
    }

    fn harvest(self) -> Self::Fruit {
        match self {
            StatsSegment::Str { column, seen, mut part } => {
                let ords = seen.iter().enumerate().filter(|(_, s)| **s).map(|(o, _)| o as u64);
                // One sequential walk over the dictionary hashes every value seen.
                column.dictionary().sorted_ords_to_term_cb(ords, |bytes| {
                    part.distinct.insert(xxh3_64(bytes));
                    Ok(())
                })?;
                Ok(part)
            }
            StatsSegment::U64 { part, .. } => Ok(part),
            StatsSegment::Missing { cap } => Ok(Part::new(cap)),
        }
    }
}

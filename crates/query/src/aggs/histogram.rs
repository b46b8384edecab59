//! Date histogram on `@timestamp`: fixed-width buckets, or in a time zone with daylight
//! saving time, buckets cut on its local clock (`zoned.rs`).

use std::sync::Arc;
use std::time::Instant;

use loglynx_core::{fields as f, Timestamp};
use loglynx_store::WindowSnapshot;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex};
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::engine::QueryEngine;
use crate::error::QueryError;
use crate::request::{HistogramBucket, HistogramRequest, HistogramResponse};
use crate::topk::extent;

/// Most buckets one histogram returns.
pub const MAX_BUCKETS: usize = 10_000;
const DEFAULT_TARGET: usize = 60;

const SEC: u64 = 1_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// Round widths a histogram may pick, in milliseconds.
const NICE_MS: &[u64] = &[
    1,
    5,
    10,
    50,
    100,
    500,
    SEC,
    5 * SEC,
    10 * SEC,
    30 * SEC,
    MIN,
    5 * MIN,
    10 * MIN,
    30 * MIN,
    HOUR,
    3 * HOUR,
    12 * HOUR,
    DAY,
    7 * DAY,
    30 * DAY,
];

/// The smallest round width (1s, 5s, 10s, 30s, 1m, 5m ... 1d, 7d, 30d) that covers `span_ms`
/// in at most `target` buckets (beyond 30 days: whole multiples of 30 days).
pub fn auto_interval_ms(span_ms: u64, target: usize) -> u64 {
    let target = target.max(1) as u64;
    let raw = span_ms.div_ceil(target).max(1);
    NICE_MS
        .iter()
        .copied()
        .find(|w| *w >= raw)
        .unwrap_or_else(|| raw.div_ceil(30 * DAY) * 30 * DAY)
}

impl QueryEngine {
    /// Counts of matching events per fixed-width time bucket over `[start, end)` (the data's
    /// own extent where a bound is open). Buckets are aligned on multiples of the width since
    /// the epoch; empty ones inside the range are returned with count 0.
    pub fn histogram(
        &self,
        windows: &[WindowSnapshot],
        req: &HistogramRequest,
    ) -> Result<HistogramResponse, QueryError> {
        self.histogram_offset(windows, req, 0)
    }

    /// [`QueryEngine::histogram`] with buckets aligned on `offset_ms` plus multiples of the
    /// width of the local clock of `req.time_zone` (Elasticsearch's `offset` and `time_zone`).
    /// In a zone with daylight saving time, buckets follow its clock: a `1d` bucket is a local
    /// day, 23 or 25 hours long across a change.
    pub fn histogram_offset(
        &self,
        windows: &[WindowSnapshot],
        req: &HistogramRequest,
        offset_ms: i64,
    ) -> Result<HistogramResponse, QueryError> {
        let started = Instant::now();
        if req.interval_ms == Some(0) {
            return Err(QueryError::BadRequest(
                "interval_ms must be at least 1; leave it out for an automatic width".into(),
            ));
        }
        let zone = req.time_zone.as_deref().map(super::zoned::parse).transpose()?;
        // A zone that never changes its offset shifts fixed-width buckets; None: it has rules.
        let fixed_east = zone.as_ref().map_or(Some(0), |z| z.fixed_offset_secs());
        let p = self.prepare(windows, &req.filter, Timestamp::now())?;
        let target = req.target_buckets.unwrap_or(DEFAULT_TARGET);
        let (start, end) = match (req.filter.start, req.filter.end) {
            (Some(s), Some(e)) => (s.as_micros(), e.as_micros()),
            (s, e) => match data_extent(&p.windows)? {
                Some((lo, hi)) => {
                    let start = s.map_or(lo, |s| s.as_micros());
                    (start, e.map_or(hi + 1, |e| e.as_micros()).max(start))
                }
                None => {
                    let interval_ms = req.interval_ms.unwrap_or(MIN);
                    let took_ms = started.elapsed().as_millis() as u64;
                    return Ok(HistogramResponse {
                        interval_ms,
                        buckets: Vec::new(),
                        total: 0,
                        took_ms,
                    });
                }
            },
        };
        let span_ms = ((end - start).max(0) as u64).div_ceil(1_000);
        let interval_ms = req
            .interval_ms
            .unwrap_or_else(|| auto_interval_ms(span_ms, target));
        let interval_us = i64::try_from(interval_ms.saturating_mul(1_000))
            .map_err(|_| {
                QueryError::BadRequest(format!(
                    "interval {interval_ms} ms is too large: give at most {} ms, or leave it out for an automatic width",
                    i64::MAX / 1_000
                ))
            })?;
        let grid = match (fixed_east, &zone) {
            (Some(east), _) => {
                let shift = offset_ms.saturating_sub(i64::from(east) * 1_000);
                let offset_us = shift.saturating_mul(1_000).rem_euclid(interval_us);
                // In i128: near the ends of the time line a wide interval's grid starts before
                // i64's first microsecond (a fuzzed `start` of i64::MIN overflowed here).
                let (start_w, interval_w) = (i128::from(start), i128::from(interval_us));
                let origin_w = (start_w - i128::from(offset_us)).div_euclid(interval_w) * interval_w
                    + i128::from(offset_us);
                let span_w = i128::from(end) - origin_w;
                let (Ok(origin), Ok(_)) = (i64::try_from(origin_w), i64::try_from(span_w)) else {
                    return Err(QueryError::BadRequest(format!(
                        "interval {interval_ms} ms does not fit this time range: the buckets would reach past the representable times; give a narrower interval_ms or a range away from the ends of time"
                    )));
                };
                let n = if end <= start {
                    0
                } else {
                    (span_w as u128).div_ceil(interval_w as u128).min(usize::MAX as u128) as usize
                };
                if n > MAX_BUCKETS {
                    return Err(QueryError::TooLarge {
                        what: "bucket count (widen interval_ms)",
                        value: n,
                        max: MAX_BUCKETS,
                    });
                }
                Grid::Uniform { origin, interval_us, buckets: n }
            }
            (None, Some(zone)) if end > start => {
                let edges = super::zoned::edges(
                    zone.time_zone(),
                    interval_us / 1_000,
                    offset_ms,
                    start.div_euclid(1_000),
                    end.div_euclid(1_000) + i64::from(end.rem_euclid(1_000) > 0),
                    MAX_BUCKETS,
                )?;
                Grid::Edges(edges.iter().map(|ms| ms.saturating_mul(1_000)).collect::<Vec<_>>().into())
            }
            (None, _) => Grid::Edges(Arc::from(Vec::new())),
        };
        let n = grid.len();
        let collector = DateHistogram { grid: grid.clone() };
        let mut counts = vec![0u64; n];
        for w in &p.windows {
            let part = crate::budget::search(&w.searcher, &*p.query, &collector)?;
            for (c, x) in counts.iter_mut().zip(part) {
                *c += x;
            }
        }
        let buckets: Vec<HistogramBucket> = counts
            .iter()
            .enumerate()
            .map(|(i, c)| HistogramBucket {
                start: Timestamp::from_micros(grid.start(i)),
                count: *c,
            })
            .collect();
        let total = counts.iter().sum();
        Ok(HistogramResponse {
            interval_ms,
            buckets,
            total,
            took_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// Smallest and largest `@timestamp` (µs) in the windows, from the columns' statistics.
fn data_extent(windows: &[&WindowSnapshot]) -> Result<Option<(i64, i64)>, QueryError> {
    let mut all: Option<(i64, i64)> = None;
    for w in windows {
        if let Some((lo, hi)) = extent(&w.searcher, f::TIMESTAMP)? {
            all = Some(all.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    Ok(all)
}

/// Where a histogram's buckets lie (µs).
#[derive(Clone)]
enum Grid {
    /// Bucket i covers `origin + i*interval_us ..+interval_us`.
    Uniform {
        origin: i64,
        interval_us: i64,
        buckets: usize,
    },
    /// Bucket i covers `edges[i]..edges[i+1]` (a zone with daylight saving time).
    Edges(Arc<[i64]>),
}

impl Grid {
    fn len(&self) -> usize {
        match self {
            Grid::Uniform { buckets, .. } => *buckets,
            Grid::Edges(e) => e.len().saturating_sub(1),
        }
    }

    fn start(&self, i: usize) -> i64 {
        match self {
            Grid::Uniform { origin, interval_us, .. } => {
                origin.saturating_add((i as i64).saturating_mul(*interval_us))
            }
            Grid::Edges(e) => e[i],
        }
    }
}

/// Counts docs per bucket of `@timestamp`.
struct DateHistogram {
    grid: Grid,
}

struct DateHistogramSegment {
    column: Column<DateTime>,
    grid: Grid,
    /// 1 / interval_us of a uniform grid.
    inverse: f64,
    counts: Vec<u64>,
    buf: Vec<DateTime>,
}

impl Collector for DateHistogram {
    type Fruit = Vec<u64>;
    type Child = DateHistogramSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let inverse = match self.grid {
            Grid::Uniform { interval_us, .. } => 1.0 / interval_us as f64,
            Grid::Edges(_) => 0.0,
        };
        Ok(DateHistogramSegment {
            column: reader.fast_fields().date(f::TIMESTAMP)?,
            grid: self.grid.clone(),
            inverse,
            counts: vec![0; self.grid.len()],
            buf: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut out = vec![0u64; self.grid.len()];
        for fruit in fruits {
            for (o, x) in out.iter_mut().zip(fruit) {
                *o += x;
            }
        }
        Ok(out)
    }
}

impl DateHistogramSegment {
    #[inline]
    fn add(&mut self, t: DateTime) {
        let t = t.into_timestamp_micros();
        let idx = match &self.grid {
            Grid::Uniform { origin, interval_us, .. } => {
                let Some(rel) = t.checked_sub(*origin).filter(|r| *r >= 0) else {
                    return;
                };
                // A multiplication instead of a division per document; f64 may land one
                // bucket off at an edge, which the two comparisons correct.
                let mut idx = (rel as f64 * self.inverse) as i64;
                // (in i128: a bucket's end may lie past i64's last microsecond)
                let (i, r, w) = (i128::from(idx), i128::from(rel), i128::from(*interval_us));
                if i * w > r {
                    idx -= 1;
                } else if (i + 1) * w <= r {
                    idx += 1;
                }
                idx as usize
            }
            Grid::Edges(e) => match e.partition_point(|s| *s <= t) {
                0 => return,
                i => i - 1,
            },
        };
        if let Some(c) = self.counts.get_mut(idx) {
            *c += 1;
        }
    }
}

impl SegmentCollector for DateHistogramSegment {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(t) = self.column.first(doc) {
            self.add(t);
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        if matches!(self.column.index, ColumnIndex::Full) {
            let mut buf = std::mem::take(&mut self.buf);
            buf.resize(docs.len(), DateTime::MIN);
            self.column.values.get_vals(docs, &mut buf);
            for t in &buf {
                self.add(*t);
            }
            self.buf = buf;
        } else {
            for doc in docs {
                self.collect(*doc, 0.0);
            }
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_interval_picks_round_widths() {
        assert_eq!(auto_interval_ms(60 * MIN, 60), MIN);
        assert_eq!(auto_interval_ms(61 * MIN, 60), 5 * MIN);
        assert_eq!(auto_interval_ms(DAY, 60), 30 * MIN);
        assert_eq!(auto_interval_ms(DAY, 24), HOUR);
        assert_eq!(auto_interval_ms(7 * DAY, 60), 3 * HOUR);
        assert_eq!(auto_interval_ms(30 * SEC, 60), 500);
        assert_eq!(auto_interval_ms(0, 60), 1);
        assert_eq!(auto_interval_ms(365 * DAY, 6), 90 * DAY);
        assert_eq!(auto_interval_ms(5 * MIN, 0), 5 * MIN);
    }
}

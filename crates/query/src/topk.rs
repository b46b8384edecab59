//! Top-k documents by a date fast field, narrowing the time span first.
//!
//! Logs are indexed in time order, so "newest first" over many matches makes every document
//! beat the current k-th best: the top-k heap churns on each one. When a query matches many
//! more documents than wanted, we first look only at the newest (or oldest) slice of the
//! field's range, sized from the match count, and widen it until it holds k hits. Every
//! document outside the slice ranks below every document inside, so the result is the same.

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::{Field, Term};
use tantivy::{DateTime, DocAddress, Order, Searcher};

use std::ops::Bound;

use crate::error::QueryError;

/// The top `k` matches of `query` in `searcher` by date field `field` (its schema name
/// `name`), ties by ascending doc address. `matches` is the query's match count.
pub(crate) fn top_by_date(
    searcher: &Searcher,
    query: &dyn Query,
    field: Field,
    name: &str,
    k: usize,
    order: Order,
    matches: u64,
) -> Result<Vec<(DateTime, DocAddress)>, QueryError> {
    if k == 0 || matches == 0 {
        return Ok(Vec::new());
    }
    let collector = || TopDocs::with_limit(k).order_by_fast_field::<DateTime>(name, order.clone());
    if matches > 8 * k as u64 {
        if let Some((lo, hi)) = extent(searcher, name)? {
            let span = (hi - lo) as f64;
            let mut fraction = 4.0 * k as f64 / matches as f64;
            while fraction < 0.5 {
                let width = (span * fraction) as i64 + 1;
                let (lower, upper) = match order {
                    Order::Desc => (Bound::Included(hi - width), Bound::Unbounded),
                    Order::Asc => (Bound::Unbounded, Bound::Included(lo + width)),
                };
                let term =
                    |us: &i64| Term::from_field_date(field, DateTime::from_timestamp_micros(*us));
                let range = RangeQuery::new(map(&lower, term), map(&upper, term));
                let narrowed = BooleanQuery::new(vec![
                    (Occur::Must, query.box_clone()),
                    (Occur::Must, Box::new(range)),
                ]);
                let docs = crate::budget::search(searcher, &narrowed, &collector())?;
                if docs.len() >= k {
                    return Ok(docs);
                }
                fraction *= 4.0;
            }
        }
    }
    crate::budget::search(searcher, query, &collector())
}

fn map<T, U>(b: &Bound<T>, f: impl Fn(&T) -> U) -> Bound<U> {
    match b {
        Bound::Included(v) => Bound::Included(f(v)),
        Bound::Excluded(v) => Bound::Excluded(f(v)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Smallest and largest value (µs) of a date fast field over the searcher's segments.
pub(crate) fn extent(searcher: &Searcher, name: &str) -> Result<Option<(i64, i64)>, QueryError> {
    let mut extent: Option<(i64, i64)> = None;
    for seg in searcher.segment_readers() {
        if seg.num_docs() == 0 {
            continue;
        }
        let col = seg.fast_fields().date(name)?;
        let (lo, hi) = (
            col.min_value().into_timestamp_micros(),
            col.max_value().into_timestamp_micros(),
        );
        extent = Some(extent.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    Ok(extent)
}

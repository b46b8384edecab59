//! Merging the leaves' answers: hits by timestamp then event id, exact totals (the cover makes
//! the leaves' matches disjoint, so they add up), histograms bucket by bucket, terms exact up
//! to [`TERMS_CAP`] values per leaf.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use loglynx_core::{Event, Timestamp};
use loglynx_query::{HistogramBucket, HistogramResponse, SortOrder, TermsBucket, TermsResponse};

/// Values the root asks each leaf for in a terms aggregation (at least the request's size):
/// the merged counts are exact when every leaf had fewer distinct values than that, and marked
/// approximate otherwise (a value below one leaf's cut may be missing some of its count).
pub const TERMS_CAP: usize = 1_000;

/// The page `offset..offset + limit` of the leaves' hits (each leaf sent its best
/// `offset + limit`), by `@timestamp` in `sort` order, ties by event id.
pub fn merge_hits(parts: Vec<Vec<Event>>, sort: SortOrder, offset: usize, limit: usize) -> Vec<Event> {
    let mut all: Vec<Event> = parts.into_iter().flatten().collect();
    all.sort_by(|a, b| {
        let t = match sort {
            SortOrder::Desc => b.timestamp.cmp(&a.timestamp),
            SortOrder::Asc => a.timestamp.cmp(&b.timestamp),
        };
        t.then_with(|| a.id.cmp(&b.id))
    });
    all.into_iter().skip(offset).take(limit).collect()
}

/// The sum of histograms of one bucket width (empty buckets between the first and last filled
/// in, as the engine does); `None` without parts.
pub fn merge_histograms(parts: Vec<HistogramResponse>) -> Option<HistogramResponse> {
    let interval_ms = parts.first()?.interval_ms;
    let mut counts: BTreeMap<Timestamp, u64> = BTreeMap::new();
    let mut took_ms = 0;
    for p in &parts {
        took_ms = took_ms.max(p.took_ms);
        for b in &p.buckets {
            *counts.entry(b.start).or_default() += b.count;
        }
    }
    let mut buckets = Vec::with_capacity(counts.len());
    if let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value()) {
        let step = i64::try_from(interval_ms).unwrap_or(i64::MAX).saturating_mul(1_000);
        let mut t = first.as_micros();
        while t <= last.as_micros() {
            let start = Timestamp::from_micros(t);
            buckets.push(HistogramBucket { start, count: counts.get(&start).copied().unwrap_or(0) });
            t = t.saturating_add(step.max(1));
        }
    }
    let total = buckets.iter().map(|b| b.count).sum();
    Some(HistogramResponse { interval_ms, buckets, total, took_ms })
}

/// The top `size` values of the leaves' terms (each asked for `asked` values) and whether the
/// counts are approximate (more than one leaf answered and one of them had `asked` values or
/// more, so its list was cut).
pub fn merge_terms(field: &str, size: usize, asked: usize, parts: Vec<TermsResponse>) -> (TermsResponse, bool) {
    // A leaf's own list is approximate past its cardinality cap (`query.max_distinct_terms`).
    let approximate = (parts.len() > 1 && parts.iter().any(|p| p.buckets.len() >= asked))
        || parts.iter().any(|p| p.approximate);
    // A value missing from a leaf's list had at most that leaf's error plus, when its list was
    // cut at `asked`, the count of its last value (Elasticsearch's bound for shards).
    let error: u64 = if approximate {
        parts
            .iter()
            .map(|p| {
                let cut = if p.buckets.len() >= asked { p.buckets.last().map_or(0, |b| b.count) } else { 0 };
                p.error_upper_bound.saturating_add(cut)
            })
            .fold(0u64, u64::saturating_add)
    } else {
        0
    };
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut total = 0u64;
    let mut took_ms = 0;
    for p in parts {
        took_ms = took_ms.max(p.took_ms);
        total += p.other;
        for b in p.buckets {
            total += b.count;
            *counts.entry(b.value).or_default() += b.count;
        }
    }
    let mut all: Vec<(String, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| value_order(&a.0, &b.0)));
    all.truncate(size);
    let in_buckets: u64 = all.iter().map(|(_, c)| c).sum();
    let buckets = all.into_iter().map(|(value, count)| TermsBucket { value, count }).collect();
    (
        TermsResponse {
            field: field.to_string(),
            buckets,
            other: total.saturating_sub(in_buckets),
            approximate,
            error_upper_bound: error,
            took_ms,
        },
        approximate,
    )
}

/// Numbers in numeric order (the engine's order for numeric fields), else text order.
fn value_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(ms: i64, count: u64) -> HistogramBucket {
        HistogramBucket { start: Timestamp::from_millis(ms), count }
    }

    #[test]
    fn histograms_add_up_bucket_by_bucket() {
        let a = HistogramResponse { interval_ms: 1000, buckets: vec![bucket(0, 1), bucket(1000, 2)], total: 3, took_ms: 1 };
        let b = HistogramResponse { interval_ms: 1000, buckets: vec![bucket(3000, 5)], total: 5, took_ms: 4 };
        let m = merge_histograms(vec![a, b]).unwrap();
        assert_eq!(m.buckets, vec![bucket(0, 1), bucket(1000, 2), bucket(2000, 0), bucket(3000, 5)]);
        assert_eq!((m.total, m.took_ms), (8, 4));
        assert!(merge_histograms(Vec::new()).is_none());
    }

    #[test]
    fn terms_add_up_and_say_when_a_leaf_was_cut() {
        let t = |buckets: &[(&str, u64)], other| TermsResponse {
            field: "f".into(),
            buckets: buckets.iter().map(|(v, c)| TermsBucket { value: v.to_string(), count: *c }).collect(),
            other,
            approximate: false,
            error_upper_bound: 0,
            took_ms: 0,
        };
        let (m, approx) = merge_terms("f", 2, 3, vec![t(&[("10", 5), ("9", 1)], 2), t(&[("9", 4), ("2", 1)], 0)]);
        assert!(!approx);
        let got: Vec<(&str, u64)> = m.buckets.iter().map(|b| (b.value.as_str(), b.count)).collect();
        assert_eq!(got, vec![("9", 5), ("10", 5)]);
        assert_eq!(m.other, 3);
        let (_, approx) = merge_terms("f", 2, 2, vec![t(&[("a", 5), ("b", 1)], 2), t(&[("c", 4)], 0)]);
        assert!(approx);
        let (_, one) = merge_terms("f", 2, 2, vec![t(&[("a", 5), ("b", 1)], 2)]);
        assert!(!one, "one leaf's top values are exact");
    }
}

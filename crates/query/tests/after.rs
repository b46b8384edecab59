//! `search_after` over a pinned snapshot: every match once, in `@timestamp` order with ties
//! broken by position, whatever the page size, across windows and segments.

mod common;

use std::collections::HashSet;

use common::{event, window};
use loglynx_query::{Filter, PageRequest, QueryError, SortOrder};
use loglynx_store::WindowSnapshot;

/// 60 events over 10 distinct seconds (six per second: ties), spread over two windows of two
/// segments each, the same seconds in both windows.
fn tied() -> Vec<WindowSnapshot> {
    let ev = |i: usize| event(&format!("e{i:02}"), (i % 10) as i64, if i % 3 == 0 { "x" } else { "y" });
    let seg = |r: std::ops::Range<usize>| r.map(ev).collect::<Vec<_>>();
    vec![window("a", &[seg(0..15), seg(15..30)]), window("b", &[seg(30..45), seg(45..60)])]
}

fn walk(w: &[WindowSnapshot], query: &str, sort: SortOrder, limit: usize) -> (Vec<String>, Vec<i64>, Option<u64>) {
    let engine = common::engine();
    let mut after = None;
    let (mut ids, mut times) = (Vec::new(), Vec::new());
    let mut total;
    loop {
        let req = PageRequest {
            filter: Filter { query: query.into(), start: None, end: None },
            limit,
            sort,
            after,
            count_total: true,
        };
        let page = engine.search_after(w, &req).unwrap();
        total = page.total;
        let Some(last) = page.hits.last() else { break };
        after = Some(last.1);
        for (e, _) in &page.hits {
            ids.push(e.id.clone());
            times.push(e.timestamp.0);
        }
    }
    (ids, times, total)
}

#[test]
fn every_match_once_in_order_whatever_the_page_size() {
    let w = tied();
    for sort in [SortOrder::Asc, SortOrder::Desc] {
        let (whole, _, _) = walk(&w, "", sort, 1000);
        assert_eq!(whole.len(), 60);
        for limit in [1, 4, 6, 7, 59] {
            let (ids, times, total) = walk(&w, "", sort, limit);
            assert_eq!(total, Some(60));
            assert_eq!(ids, whole, "{sort:?} pages of {limit} read the same sequence as one page");
            assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 60, "each once");
            let ordered = match sort {
                SortOrder::Asc => times.windows(2).all(|t| t[0] <= t[1]),
                SortOrder::Desc => times.windows(2).all(|t| t[0] >= t[1]),
            };
            assert!(ordered, "{sort:?} by @timestamp");
        }
        let (xs, _, total) = walk(&w, "x", sort, 3);
        assert_eq!((xs.len(), total), (20, Some(20)));
        assert!(xs.iter().all(|id| id[1..].parse::<usize>().unwrap() % 3 == 0));
    }
}

#[test]
fn a_cursor_outside_the_snapshot_is_refused() {
    let req = PageRequest {
        filter: Filter::default(),
        limit: 5,
        sort: SortOrder::Asc,
        after: Some(1_000),
        count_total: false,
    };
    let e = common::engine().search_after(&tied(), &req).unwrap_err();
    assert!(matches!(e, QueryError::BadRequest(ref m) if m.contains("not in this point in time")), "{e}");
}

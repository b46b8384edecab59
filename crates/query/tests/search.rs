//! Search across windows: ordering, pagination, exact totals, time bounds, pruning.

mod common;

use common::{at, event, window, window_with_bounds};
use loglynx_core::Timestamp;
use loglynx_query::{Filter, QueryError, SearchRequest, SortOrder, MAX_LIMIT};
use loglynx_store::WindowSnapshot;

/// Three windows of ten events each: event i at base + i s, ids `id-000`..`id-029`;
/// even events say "even", odd ones "odd". Window b has two segments.
fn three_windows() -> Vec<WindowSnapshot> {
    let ev = |i: i64| {
        event(
            &format!("id-{i:03}"),
            i,
            if i % 2 == 0 { "tick even" } else { "tick odd" },
        )
    };
    vec![
        window("a", &[(0..10).map(ev).collect()]),
        window(
            "b",
            &[(10..15).map(ev).collect(), (15..20).map(ev).collect()],
        ),
        window("c", &[(20..30).map(ev).collect()]),
    ]
}

fn req(query: &str, limit: usize, offset: usize) -> SearchRequest {
    SearchRequest {
        filter: Filter {
            query: query.into(),
            ..Default::default()
        },
        limit,
        offset,
        sort: SortOrder::Desc,
    }
}

fn ids(hits: &[loglynx_core::Event]) -> Vec<String> {
    hits.iter().map(|e| e.id.clone()).collect()
}

fn range(from: i64, to_incl: i64, desc: bool) -> Vec<String> {
    let mut v: Vec<String> = (from..=to_incl).map(|i| format!("id-{i:03}")).collect();
    if desc {
        v.reverse();
    }
    v
}

#[test]
fn newest_first_with_exact_total_across_windows() {
    let windows = three_windows();
    let r = common::engine().search(&windows, &req("", 5, 0)).unwrap();
    assert_eq!(r.total, 30);
    assert_eq!(ids(&r.hits), range(25, 29, true));
    let r = common::engine()
        .search(&windows, &req("odd", 4, 0))
        .unwrap();
    assert_eq!(r.total, 15);
    assert_eq!(ids(&r.hits), ["id-029", "id-027", "id-025", "id-023"]);
    assert_eq!(r.hits[0].message, "tick odd");
    assert_eq!(r.hits[0].timestamp, at(29));
}

#[test]
fn pages_cover_every_hit_once_in_order() {
    let windows = three_windows();
    let engine = common::engine();
    for sort in [SortOrder::Desc, SortOrder::Asc] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let mut r = req("", 7, offset);
            r.sort = sort;
            let page = engine.search(&windows, &r).unwrap();
            assert_eq!(page.total, 30);
            if page.hits.is_empty() {
                break;
            }
            seen.extend(ids(&page.hits));
            offset += 7;
        }
        assert_eq!(seen, range(0, 29, sort == SortOrder::Desc), "{sort:?}");
    }
    let page = engine.search(&windows, &req("", 7, 28)).unwrap();
    assert_eq!(ids(&page.hits), ["id-001", "id-000"]);
}

#[test]
fn equal_timestamps_page_stably() {
    // Two windows with the same five timestamps: ten hits, ties ordered by window.
    let mk = |p: &str| {
        (0..5)
            .map(|i| event(&format!("{p}{i}"), i, "same"))
            .collect::<Vec<_>>()
    };
    let windows = vec![window("x", &[mk("x")]), window("y", &[mk("y")])];
    let engine = common::engine();
    let mut seen = Vec::new();
    for offset in (0..10).step_by(3) {
        seen.extend(ids(&engine
            .search(&windows, &req("same", 3, offset))
            .unwrap()
            .hits));
    }
    assert_eq!(
        seen,
        ["x4", "y4", "x3", "y3", "x2", "y2", "x1", "y1", "x0", "y0"]
    );
}

#[test]
fn time_range_is_start_inclusive_end_exclusive() {
    let windows = three_windows();
    let mut r = req("", 100, 0);
    r.filter.start = Some(at(5));
    r.filter.end = Some(at(15));
    let page = common::engine().search(&windows, &r).unwrap();
    assert_eq!(page.total, 10);
    assert_eq!(ids(&page.hits), range(5, 14, true));
    // One nanosecond either way moves the bounds by one event.
    r.filter.start = Some(Timestamp(at(5).0 + 1_000));
    r.filter.end = Some(Timestamp(at(15).0 + 1_000));
    let page = common::engine().search(&windows, &r).unwrap();
    assert_eq!(ids(&page.hits), range(6, 15, true));
    // Combined with a query.
    r.filter.query = "even".into();
    assert_eq!(common::engine().search(&windows, &r).unwrap().total, 5);
}

#[test]
fn windows_outside_the_range_are_not_read() {
    // Window "liar" says it holds 2020 events but holds events inside the range: pruning
    // trusts the bounds, so its events are not counted when the range excludes 2020.
    let mut windows = three_windows();
    let old = Timestamp::parse_rfc3339("2020-01-01T00:00:00Z").unwrap();
    windows.push(window_with_bounds(
        "liar",
        &[vec![event("liar-1", 12, "tick")]],
        Some(old),
        Some(old),
    ));
    let engine = common::engine();
    let filter = Filter {
        query: String::new(),
        start: Some(at(0)),
        end: Some(at(100)),
    };
    assert_eq!(engine.count(&windows, &filter).unwrap(), 30);
    // Without a range every window is read.
    assert_eq!(engine.count(&windows, &Filter::default()).unwrap(), 31);
}

#[test]
fn limits_are_enforced() {
    let windows = three_windows();
    let err = common::engine()
        .search(&windows, &req("", MAX_LIMIT + 1, 0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "limit 10001 is too large: the maximum is 10000"
    );
    assert!(matches!(
        common::engine().search(&windows, &req("", 10, 100_000)),
        Err(QueryError::TooLarge { .. })
    ));
    let r = common::engine().search(&windows, &req("", 0, 0)).unwrap();
    assert_eq!((r.total, r.hits.len()), (30, 0));
    let mut bad = req("", 1, 0);
    bad.filter.start = Some(at(10));
    bad.filter.end = Some(at(5));
    assert!(matches!(
        common::engine().search(&windows, &bad),
        Err(QueryError::BadRequest(_))
    ));
}

#[test]
fn no_windows_no_hits() {
    let r = common::engine()
        .search(&[], &req("anything", 10, 0))
        .unwrap();
    assert_eq!((r.total, r.hits.len()), (0, 0));
}

#[test]
fn first_pages_of_many_matches_are_exact() {
    // 500 events, ten per timestamp in places, in two windows: the engine narrows the time
    // span before ranking; the pages must equal a full sort.
    let evs: Vec<_> = (0..500i64).map(|i| event(&format!("m{i:03}"), i / 3, "many")).collect();
    let windows = vec![window("p", &[evs[..250].to_vec()]), window("q", &[evs[250..].to_vec()])];
    let engine = common::engine();
    for (sort, limit) in [(SortOrder::Desc, 1), (SortOrder::Desc, 5), (SortOrder::Asc, 4), (SortOrder::Asc, 50)] {
        let mut r = req("many", limit, 0);
        r.sort = sort;
        let page = engine.search(&windows, &r).unwrap();
        assert_eq!(page.total, 500);
        let mut want: Vec<usize> = (0..500).collect();
        // Ties on the timestamp keep index order (window, then doc).
        want.sort_by_key(|i| if sort == SortOrder::Desc { (-(*i as i64 / 3), *i) } else { (*i as i64 / 3, *i) });
        let want: Vec<String> = want[..limit].iter().map(|i| format!("m{i:03}")).collect();
        assert_eq!(ids(&page.hits), want, "{sort:?} limit {limit}");
    }
}

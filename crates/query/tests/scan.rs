//! The export scan: every matching event once, whole, window by window, in one pass.

mod common;

use std::collections::HashSet;
use std::ops::ControlFlow;

use common::{at, event, unmerged_window, window};
use loglynx_core::Event;
use loglynx_query::{Filter, QueryError, ScanStats};
use loglynx_store::{StoreSchema, WindowSnapshot};
use tantivy::{Index, IndexWriter, Term};

/// Event `i` at base + `i` s; every third says "error", the rest "ok"; some carry a host.
fn ev(i: i64) -> Event {
    let mut e = event(&format!("id-{i:04}"), i, if i % 3 == 0 { "disk error" } else { "all ok" });
    if i % 2 == 0 {
        e.host = Some(format!("web{}", i % 4));
    }
    e
}

/// Windows a (one segment), b (seven unmerged segments) and c (one segment, its `web0` events
/// deleted after the commit).
fn corpus() -> (Vec<WindowSnapshot>, Vec<Event>) {
    let a: Vec<Event> = (0..50).map(ev).collect();
    let b: Vec<Vec<Event>> = (50..120).collect::<Vec<_>>().chunks(10).map(|c| c.iter().map(|i| ev(*i)).collect()).collect();
    let c: Vec<Event> = (120..200).map(ev).collect();

    let schema = StoreSchema::new();
    let index = Index::create_in_ram(schema.schema.clone());
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    for e in &c {
        writer.add_document(schema.to_document(e)).unwrap();
    }
    writer.commit().unwrap();
    writer.delete_term(Term::from_field_text(schema.field("host.name").unwrap(), "web0"));
    writer.commit().unwrap();
    let wc = WindowSnapshot {
        id: "c".into(),
        min_timestamp: Some(at(120)),
        max_timestamp: Some(at(199)),
        searcher: index.reader().unwrap().searcher(),
    };
    let windows = vec![window("a", std::slice::from_ref(&a)), unmerged_window("b", &b), wc];
    let mut kept: Vec<Event> = a;
    kept.extend(b.into_iter().flatten());
    kept.extend(c.into_iter().filter(|e| e.host.as_deref() != Some("web0")));
    (windows, kept)
}

fn scan(windows: &[WindowSnapshot], filter: &Filter) -> (Vec<Event>, ScanStats) {
    let mut out = Vec::new();
    let stats = common::engine()
        .scan(windows, filter, &|| false, |e| {
            out.push(e);
            ControlFlow::Continue(())
        })
        .unwrap();
    (out, stats)
}

fn query(q: &str) -> Filter {
    Filter { query: q.into(), ..Default::default() }
}

#[test]
fn everything_comes_once_whole_and_in_the_stores_order() {
    let (windows, kept) = corpus();
    let (got, stats) = scan(&windows, &query(""));
    assert_eq!(stats, ScanStats { events: kept.len() as u64, unreadable: 0 });
    // Window by window: every event of a before any of b, b's before c's.
    let window_of = |e: &Event| match e.id[3..].parse::<i64>().unwrap() { 0..50 => 0, 50..120 => 1, _ => 2 };
    assert!(got.windows(2).all(|p| window_of(&p[0]) <= window_of(&p[1])));
    // Whole (every field read back, both times included), each once, none deleted.
    let (mut got, mut kept) = (got, kept);
    got.sort_by(|x, y| x.id.cmp(&y.id));
    kept.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(got, kept);
}

#[test]
fn a_query_and_a_time_range_select_what_search_selects() {
    let (windows, kept) = corpus();
    let (got, _) = scan(&windows, &query("error AND host.name:web2"));
    let want: Vec<&Event> = kept
        .iter()
        .filter(|e| e.message.contains("error") && e.host.as_deref() == Some("web2"))
        .collect();
    assert!(!want.is_empty());
    let mut got: Vec<&Event> = got.iter().collect();
    got.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(got, want);

    // @timestamp in [40 s, 131 s): across all three windows, the deleted 120, 124, 128 excluded.
    let filter = Filter { query: "".into(), start: Some(at(40)), end: Some(at(131)) };
    let (got, _) = scan(&windows, &filter);
    let want: Vec<String> = (40..=130).filter(|i| *i < 120 || i % 4 != 0).map(|i| format!("id-{i:04}")).collect();
    let mut got: Vec<String> = got.iter().map(|e| e.id.clone()).collect();
    got.sort();
    assert_eq!(got, want);
    let total = common::engine().count(&windows, &filter).unwrap();
    assert_eq!(total, want.len() as u64, "the scan agrees with count (X-Total-Count)");
}

#[test]
fn the_visitor_stops_the_scan() {
    let (windows, _) = corpus();
    let mut seen = HashSet::new();
    let stats = common::engine()
        .scan(&windows, &query(""), &|| false, |e| {
            seen.insert(e.id);
            if seen.len() == 75 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .unwrap();
    assert_eq!(stats.events, 75);
    assert_eq!(seen.len(), 75);
}

#[test]
fn a_bad_query_is_refused_before_anything_is_visited() {
    let (windows, _) = corpus();
    let mut visited = 0;
    let err = common::engine()
        .scan(&windows, &query("host.name:("), &|| false, |_| {
            visited += 1;
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(err, QueryError::Syntax { .. }), "{err:?}");
    assert_eq!(visited, 0);
}


#[test]
fn the_stop_check_ends_a_scan_whose_matches_never_reach_the_visitor() {
    let (windows, _) = corpus();
    let asked = std::cell::Cell::new(0);
    let stats = common::engine()
        .scan(&windows, &query(""), &|| {
            asked.set(asked.get() + 1);
            asked.get() > 2
        }, |_| ControlFlow::Continue(()))
        .unwrap();
    // Asked before each segment: two segments scanned, stopped before the third.
    assert_eq!(asked.get(), 3);
    assert!(stats.events > 0 && stats.events < 160, "{stats:?}");
}

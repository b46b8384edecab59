//! Live tail: cursors walk every event exactly once in (ingested, id) order.

mod common;

use std::collections::HashSet;

use common::{at, event, window};
use loglynx_core::{Event, Timestamp};
use loglynx_query::{Filter, TailCursor, TailRequest};
use loglynx_store::WindowSnapshot;

/// Event `id` ingested at base + `ingest_ms` milliseconds.
fn ev(id: &str, ingest_ms: i64) -> Event {
    let mut e = event(id, 0, if id.starts_with('w') { "warn" } else { "info" });
    e.ingested = Timestamp(at(0).0 + ingest_ms * 1_000_000);
    e
}

/// 20 events over three windows; several share an ingest time (a batch), ids not in
/// ingest order, and one window's events interleave with another's.
fn corpus() -> Vec<Vec<Event>> {
    vec![
        vec![
            ev("a1", 10),
            ev("a2", 10),
            ev("a3", 10),
            ev("w4", 20),
            ev("a5", 30),
        ],
        vec![
            ev("b1", 10),
            ev("wb2", 25),
            ev("b3", 25),
            ev("b4", 25),
            ev("b5", 25),
            ev("wb6", 40),
        ],
        vec![
            ev("c1", 5),
            ev("c2", 40),
            ev("c3", 40),
            ev("wc4", 41),
            ev("c5", 50),
            ev("c6", 50),
            ev("c7", 60),
            ev("c8", 60),
            ev("c9", 70),
        ],
    ]
}

fn windows(parts: &[Vec<Event>]) -> Vec<WindowSnapshot> {
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| window(&format!("w{i}"), std::slice::from_ref(p)))
        .collect()
}

fn expected_order(parts: &[Vec<Event>], filter: impl Fn(&Event) -> bool) -> Vec<String> {
    let mut all: Vec<&Event> = parts.iter().flatten().filter(|e| filter(e)).collect();
    all.sort_by_key(|e| (e.ingested, e.id.clone()));
    all.iter().map(|e| e.id.clone()).collect()
}

fn walk(windows: &[WindowSnapshot], query: &str, start: TailCursor, limit: usize) -> Vec<String> {
    let engine = common::engine();
    let mut cursor = Some(start);
    let mut seen = Vec::new();
    for _ in 0..100 {
        let req = TailRequest {
            filter: Filter {
                query: query.into(),
                ..Default::default()
            },
            cursor: cursor.clone(),
            limit,
        };
        let r = engine.tail(windows, &req).unwrap();
        assert!(r.events.len() <= limit);
        if r.events.is_empty() {
            assert_eq!(r.cursor, cursor, "an empty page keeps the cursor");
            return seen;
        }
        let last = r.events.last().unwrap();
        assert_eq!(
            r.cursor,
            Some(TailCursor {
                ingested: last.ingested,
                id: last.id.clone()
            })
        );
        seen.extend(r.events.iter().map(|e| e.id.clone()));
        cursor = r.cursor;
    }
    panic!("tail did not end");
}

fn origin() -> TailCursor {
    TailCursor {
        ingested: Timestamp(0),
        id: String::new(),
    }
}

#[test]
fn cursor_walk_yields_every_event_once_in_order() {
    let parts = corpus();
    let w = windows(&parts);
    let want = expected_order(&parts, |_| true);
    assert_eq!(want.len(), 20);
    for limit in [1, 2, 3, 4, 7, 20, 50] {
        let seen = walk(&w, "", origin(), limit);
        assert_eq!(seen, want, "limit {limit}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 20);
    }
}

#[test]
fn cursor_walk_with_a_query() {
    let parts = corpus();
    let w = windows(&parts);
    let want = expected_order(&parts, |e| e.message == "warn");
    assert_eq!(want, ["w4", "wb2", "wb6", "wc4"]);
    assert_eq!(walk(&w, "warn", origin(), 1), want);
}

#[test]
fn no_cursor_returns_the_newest_oldest_first() {
    let parts = corpus();
    let w = windows(&parts);
    let engine = common::engine();
    let r = engine
        .tail(
            &w,
            &TailRequest {
                limit: 4,
                ..Default::default()
            },
        )
        .unwrap();
    let got: Vec<&str> = r.events.iter().map(|e| e.id.as_str()).collect();
    // Newest four by (ingested, id): c5 c6 (50), c7 c8 (60), c9 (70) -> the last four.
    assert_eq!(got, ["c6", "c7", "c8", "c9"]);
    assert_eq!(r.cursor.as_ref().map(|c| c.id.as_str()), Some("c9"));
    // The boundary microsecond holds c2, c3 and wb6 (40 ms): the seventh newest cuts inside it.
    let r = engine
        .tail(
            &w,
            &TailRequest {
                limit: 7,
                ..Default::default()
            },
        )
        .unwrap();
    let got: Vec<&str> = r.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, ["wb6", "wc4", "c5", "c6", "c7", "c8", "c9"]);
    let empty = engine
        .tail(
            &[],
            &TailRequest {
                limit: 4,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(empty.events.is_empty() && empty.cursor.is_none());
}

#[test]
fn tail_follows_new_events() {
    let mut parts = corpus();
    let engine = common::engine();
    let first = engine
        .tail(
            &windows(&parts),
            &TailRequest {
                limit: 3,
                ..Default::default()
            },
        )
        .unwrap();
    let cursor = first.cursor.clone().unwrap();
    assert_eq!(cursor.id, "c9");
    // New events arrive: one in an existing window, two in a new one.
    parts[0].push(ev("a6", 80));
    parts.push(vec![ev("d1", 75), ev("d2", 90)]);
    let w = windows(&parts);
    let next = engine
        .tail(
            &w,
            &TailRequest {
                cursor: Some(cursor),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    let got: Vec<&str> = next.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, ["d1", "a6", "d2"]);
}

#[test]
fn tail_limits() {
    let w = windows(&corpus());
    let engine = common::engine();
    assert!(engine
        .tail(
            &w,
            &TailRequest {
                limit: 10_001,
                ..Default::default()
            }
        )
        .is_err());
    let r = engine
        .tail(
            &w,
            &TailRequest {
                limit: 0,
                cursor: Some(origin()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(r.events.is_empty());
    assert_eq!(r.cursor, Some(origin()));
}

#[test]
fn newest_page_of_many_events_is_exact() {
    let parts = vec![(0..300).map(|i| ev(&format!("n{i:03}"), i / 4)).collect::<Vec<_>>()];
    let w = windows(&parts);
    let r = common::engine().tail(&w, &TailRequest { limit: 6, ..Default::default() }).unwrap();
    let got: Vec<&str> = r.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, ["n294", "n295", "n296", "n297", "n298", "n299"]);
    assert_eq!(walk(&w, "", origin(), 37), expected_order(&parts, |_| true));
}

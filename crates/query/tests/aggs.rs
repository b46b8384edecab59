//! Histogram and terms aggregations: exact counts across windows.

mod common;

use common::{at, event, window};
use loglynx_core::Event;
use loglynx_query::{Filter, HistogramRequest, QueryError, TermsBucket, TermsRequest};
use loglynx_store::WindowSnapshot;

fn hist(
    windows: &[WindowSnapshot],
    query: &str,
    start: i64,
    end: i64,
    interval_ms: Option<u64>,
) -> (u64, Vec<u64>, u64) {
    let req = HistogramRequest {
        filter: Filter {
            query: query.into(),
            start: Some(at(start)),
            end: Some(at(end)),
        },
        interval_ms,
        target_buckets: None,
        time_zone: None,
    };
    let r = common::engine().histogram(windows, &req).unwrap();
    (
        r.interval_ms,
        r.buckets.iter().map(|b| b.count).collect(),
        r.total,
    )
}

/// Events at 0, 0.5, 30, 125, 130, 299 and 300 s, split over two windows.
fn timeline() -> Vec<WindowSnapshot> {
    let mut half = event("h", 0, "x");
    half.timestamp = loglynx_core::Timestamp(at(0).0 + 500_000_000);
    vec![
        window("a", &[vec![event("a", 0, "x"), half, event("b", 30, "y")]]),
        window(
            "b",
            &[
                vec![event("c", 125, "x"), event("d", 130, "y")],
                vec![event("e", 299, "x"), event("f", 300, "x")],
            ],
        ),
    ]
}

#[test]
fn fixed_interval_counts_with_empty_buckets() {
    let w = timeline();
    // [0, 300 s) in minutes: 3, 0, 2, 0, 1 (the event at 300 s is outside).
    assert_eq!(
        hist(&w, "", 0, 300, Some(60_000)),
        (60_000, vec![3, 0, 2, 0, 1], 6)
    );
    assert_eq!(
        hist(&w, "x", 0, 300, Some(60_000)),
        (60_000, vec![2, 0, 1, 0, 1], 4)
    );
    // Buckets align on the interval: a range starting at 30 s starts its first bucket at 0.
    assert_eq!(
        hist(&w, "", 30, 180, Some(60_000)),
        (60_000, vec![1, 0, 2], 3)
    );
    let r = common::engine()
        .histogram(
            &w,
            &HistogramRequest {
                filter: Filter {
                    start: Some(at(30)),
                    end: Some(at(180)),
                    ..Default::default()
                },
                interval_ms: Some(60_000),
                target_buckets: None,
                time_zone: None,
            },
        )
        .unwrap();
    assert_eq!(r.buckets[0].start, at(0));
    assert_eq!(r.buckets[2].start, at(120));
}

#[test]
fn auto_interval_gives_round_widths() {
    let w = timeline();
    // 1 h over 60 buckets: 1 minute each.
    let (interval, counts, total) = hist(&w, "", 0, 3600, None);
    assert_eq!((interval, counts.len(), total), (60_000, 60, 7));
    assert_eq!(&counts[..6], &[3, 0, 2, 0, 1, 1]);
    // 5 min with target 10: 30 s buckets.
    let req = HistogramRequest {
        filter: Filter {
            start: Some(at(0)),
            end: Some(at(300)),
            ..Default::default()
        },
        interval_ms: None,
        target_buckets: Some(10),
        time_zone: None,
    };
    let r = common::engine().histogram(&w, &req).unwrap();
    assert_eq!(r.interval_ms, 30_000);
    assert_eq!(
        r.buckets.iter().map(|b| b.count).collect::<Vec<_>>(),
        vec![2, 1, 0, 0, 2, 0, 0, 0, 0, 1]
    );
}

#[test]
fn open_range_uses_the_data_extent() {
    let w = timeline();
    let req = HistogramRequest {
        filter: Filter::default(),
        interval_ms: Some(60_000),
        target_buckets: None,
        time_zone: None,
    };
    let r = common::engine().histogram(&w, &req).unwrap();
    // Data spans 0..=300 s: buckets 0,1,2,3,4,5 minutes; every event counted.
    assert_eq!(
        r.buckets.iter().map(|b| b.count).collect::<Vec<_>>(),
        vec![3, 0, 2, 0, 1, 1]
    );
    assert_eq!(r.total, 7);
    assert_eq!(r.buckets[0].start, at(0));
    let empty = common::engine().histogram(&[], &req).unwrap();
    assert_eq!((empty.buckets.len(), empty.total), (0, 0));
}

#[test]
fn histogram_limits() {
    let w = timeline();
    let req = HistogramRequest {
        filter: Filter {
            start: Some(at(0)),
            end: Some(at(86_400)),
            ..Default::default()
        },
        interval_ms: Some(1),
        target_buckets: None,
        time_zone: None,
    };
    assert!(matches!(
        common::engine().histogram(&w, &req),
        Err(QueryError::TooLarge { .. })
    ));
    let req = HistogramRequest {
        interval_ms: Some(0),
        ..req
    };
    assert!(matches!(
        common::engine().histogram(&w, &req),
        Err(QueryError::BadRequest(_))
    ));
}

/// Found by AFL (`histogram_tail`, 2026-12-04): a range at the ends of the time line with a very
/// wide interval overflowed the grid's arithmetic (`attempt to multiply with overflow` in debug
/// builds, a wrong grid in release builds). Every combination answers or errs, never panics, and
/// an answer's buckets add up to its total.
#[test]
fn histograms_at_the_ends_of_time_with_any_interval_answer_or_err() {
    let w = timeline();
    let ends = [
        (i64::MIN, i64::MAX),
        (i64::MIN, 0),
        (0, i64::MAX),
        (i64::MAX - 1, i64::MAX),
        (i64::MIN, i64::MIN + 1_000_000),
        (-1, 1),
    ];
    let intervals = [
        None,
        Some(1),
        Some(60_000),
        Some(i64::MAX as u64 / 1_000),
        Some(i64::MAX as u64 / 1_000 - 1),
        Some(i64::MAX as u64 / 2_000),
        Some(u64::MAX),
    ];
    let zones = [None, Some("+05:30"), Some("-11:00"), Some("Europe/Berlin")];
    let mut answered = 0;
    for (start, end) in ends {
        for interval_ms in intervals {
            for zone in zones {
                let req = HistogramRequest {
                    filter: Filter {
                        query: String::new(),
                        start: Some(loglynx_core::Timestamp(start)),
                        end: Some(loglynx_core::Timestamp(end)),
                    },
                    interval_ms,
                    target_buckets: None,
                    time_zone: zone.map(str::to_string),
                };
                if let Ok(r) = common::engine().histogram(&w, &req) {
                    answered += 1;
                    let sum: u64 = r.buckets.iter().map(|b| b.count).sum();
                    assert_eq!(sum, r.total, "{start} {end} {interval_ms:?} {zone:?}");
                }
            }
        }
    }
    // the ordinary ranges still answer (a fix that refuses everything would pass the loop)
    assert!(answered >= 20, "only {answered} answers");
    assert_eq!(hist(&w, "", 0, 300, Some(60_000)).2, 6);
}

fn host_event(id: &str, host: Option<&str>, pid: u32, env: Option<&str>) -> Event {
    let mut e = event(id, 0, "m");
    e.host = host.map(Into::into);
    e.pid = Some(pid);
    if let Some(env) = env {
        e.labels.insert("env".into(), env.into());
    }
    e
}

/// web1 x5, web2 x4, web3 x3, db1 x2 (+1 without host), spread so that no window alone
/// shows the global order.
fn hosts() -> Vec<WindowSnapshot> {
    let h = |id: &str, host: &str, pid: u32| {
        host_event(
            id,
            Some(host),
            pid,
            Some(if pid.is_multiple_of(2) { "prod" } else { "dev" }),
        )
    };
    vec![
        window(
            "a",
            &[vec![
                h("1", "web3", 1),
                h("2", "web3", 1),
                h("3", "web3", 2),
                h("4", "web1", 2),
            ]],
        ),
        window(
            "b",
            &[
                vec![h("5", "web2", 3), h("6", "web2", 3), h("7", "web1", 4)],
                vec![h("8", "db1", 4), h("9", "db1", 4)],
            ],
        ),
        window(
            "c",
            &[vec![
                h("10", "web1", 5),
                h("11", "web1", 5),
                h("12", "web1", 6),
                h("13", "web2", 6),
                h("14", "web2", 6),
            ]],
        ),
        window("d", &[vec![host_event("15", None, 7, None)]]),
    ]
}

fn terms(
    windows: &[WindowSnapshot],
    field: &str,
    query: &str,
    size: usize,
) -> (Vec<(String, u64)>, u64) {
    let req = TermsRequest {
        filter: Filter {
            query: query.into(),
            ..Default::default()
        },
        field: field.into(),
        size: Some(size),
    };
    let r = common::engine().terms(windows, &req).unwrap();
    assert_eq!(r.field, field);
    (
        r.buckets
            .into_iter()
            .map(|TermsBucket { value, count }| (value, count))
            .collect(),
        r.other,
    )
}

fn b(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(s, c)| (s.to_string(), *c)).collect()
}

#[test]
fn keyword_terms_are_exact_across_windows() {
    let w = hosts();
    assert_eq!(
        terms(&w, "host.name", "", 2),
        (b(&[("web1", 5), ("web2", 4)]), 6)
    );
    assert_eq!(
        terms(&w, "host.name", "", 10),
        (b(&[("web1", 5), ("web2", 4), ("web3", 3), ("db1", 2)]), 1)
    );
    assert_eq!(
        terms(&w, "host.name", "process.pid:[1 TO 3]", 1),
        (b(&[("web3", 3)]), 3)
    );
    assert_eq!(terms(&w, "host.name", "host.name:nothing", 5), (b(&[]), 0));
}

#[test]
fn numeric_and_label_terms() {
    let w = hosts();
    // pids: 1 x2, 2 x2, 3 x2, 4 x3, 5 x2, 6 x3, 7 x1; ties by value.
    assert_eq!(
        terms(&w, "process.pid", "", 3),
        (b(&[("4", 3), ("6", 3), ("1", 2)]), 7)
    );
    assert_eq!(
        terms(&w, "labels.env", "", 5),
        (b(&[("prod", 8), ("dev", 6)]), 1)
    );
    assert_eq!(
        terms(&w, "labels.env", "host.name:web1", 5),
        (b(&[("prod", 3), ("dev", 2)]), 0)
    );
}

#[test]
fn terms_errors() {
    let w = hosts();
    let req = |field: &str| TermsRequest {
        field: field.into(),
        ..Default::default()
    };
    assert!(matches!(
        common::engine().terms(&w, &req("nope")),
        Err(QueryError::UnknownField { .. })
    ));
    let err = common::engine().terms(&w, &req("message")).unwrap_err();
    assert!(err.to_string().contains("full text"), "{err}");
    assert!(matches!(
        common::engine().terms(&w, &req("@timestamp")),
        Err(QueryError::BadRequest(_))
    ));
    assert!(matches!(
        common::engine().terms(&w, &req("event.id")),
        Err(QueryError::UnknownField { .. })
    ));
    let big = TermsRequest {
        size: Some(1_000_000),
        ..req("host.name")
    };
    assert!(matches!(
        common::engine().terms(&w, &big),
        Err(QueryError::TooLarge { .. })
    ));
}

/// Events of `service.name` values: `(value, how many)` in one segment each list.
fn services(segments: &[&[(&str, usize)]]) -> Vec<WindowSnapshot> {
    let mut n = 0;
    let segs: Vec<Vec<Event>> = segments
        .iter()
        .map(|seg| {
            let mut evs = Vec::new();
            for (svc, count) in seg.iter() {
                for _ in 0..*count {
                    n += 1;
                    let mut e = event(&format!("e{n}"), n as i64, "x");
                    e.service = Some(svc.to_string());
                    evs.push(e);
                }
            }
            evs
        })
        .collect();
    vec![window("w", &segs)]
}

fn terms_with_cap(windows: &[WindowSnapshot], cap: usize, size: usize) -> loglynx_query::TermsResponse {
    let req = TermsRequest {
        filter: Filter::default(),
        field: "service.name".into(),
        size: Some(size),
    };
    loglynx_query::Budget::new(std::time::Duration::from_secs(60), cap)
        .run(|| common::engine().terms(windows, &req))
        .unwrap()
}

#[test]
fn terms_past_the_cardinality_cap_keep_the_most_frequent_and_say_approximate() {
    // Two segments: a and b frequent in both, many values seen once in each.
    let many1: Vec<(String, usize)> = (0..50).map(|i| (format!("one{i}"), 1)).collect();
    let many2: Vec<(String, usize)> = (0..50).map(|i| (format!("two{i}"), 1)).collect();
    let mut s1: Vec<(&str, usize)> = vec![("a", 9), ("b", 5)];
    s1.extend(many1.iter().map(|(v, c)| (v.as_str(), *c)));
    let mut s2: Vec<(&str, usize)> = vec![("a", 3), ("b", 4)];
    s2.extend(many2.iter().map(|(v, c)| (v.as_str(), *c)));
    let w = services(&[&s1, &s2]);

    let exact = terms_with_cap(&w, 1_000, 2);
    assert!(!exact.approximate);
    let capped = terms_with_cap(&w, 4, 2);
    assert!(capped.approximate, "102 distinct values over a cap of 4");
    // The frequent values survive the cap with their exact counts here.
    assert_eq!(capped.buckets, exact.buckets);
    assert_eq!(
        capped.buckets,
        vec![
            TermsBucket { value: "a".into(), count: 12 },
            TermsBucket { value: "b".into(), count: 9 }
        ]
    );
    assert_eq!(capped.other, exact.other);
    assert_eq!(capped.other, 100);
}

#[test]
fn past_the_cap_the_error_bound_covers_every_count_kept_or_dropped() {
    // Six segments: x twice in each (12 in all, the most frequent value overall) but beaten in
    // every segment by five values of its own seen three times each, so a cap of 4 drops it.
    let own: Vec<Vec<(String, usize)>> = (0..6).map(|s| (0..5).map(|i| (format!("s{s}v{i}"), 3)).collect()).collect();
    let segs: Vec<Vec<(&str, usize)>> = own
        .iter()
        .map(|vs| {
            let mut seg: Vec<(&str, usize)> = vs.iter().map(|(v, c)| (v.as_str(), *c)).collect();
            seg.push(("x", 2));
            seg
        })
        .collect();
    let refs: Vec<&[(&str, usize)]> = segs.iter().map(|s| s.as_slice()).collect();
    let w = services(&refs);
    let exact = terms_with_cap(&w, 1_000, 100);
    assert_eq!((exact.approximate, exact.error_upper_bound), (false, 0));
    assert_eq!(exact.buckets[0], TermsBucket { value: "x".into(), count: 12 });

    // A query (every event says "x"), so the values are counted per segment, not read from
    // the window's term dictionary.
    let req = TermsRequest { filter: Filter { query: "x".into(), ..Default::default() }, field: "service.name".into(), size: Some(100) };
    let capped = loglynx_query::Budget::new(std::time::Duration::from_secs(60), 4).run(|| common::engine().terms(&w, &req)).unwrap();
    assert!(capped.approximate);
    assert!(capped.error_upper_bound > 0);
    let truth: std::collections::HashMap<&str, u64> = exact.buckets.iter().map(|b| (b.value.as_str(), b.count)).collect();
    // Each count given is a lower bound short by at most the bound...
    for b in &capped.buckets {
        let t = truth[b.value.as_str()];
        assert!(b.count <= t && t - b.count <= capped.error_upper_bound, "{b:?}: true {t}, bound {}", capped.error_upper_bound);
    }
    // ... and every value left out (x among them here) matched at most the bound.
    assert!(!capped.buckets.iter().any(|b| b.value == "x"), "x is dropped in every segment");
    for (v, t) in &truth {
        if !capped.buckets.iter().any(|b| b.value == *v) {
            assert!(*t <= capped.error_upper_bound, "{v}: {t} left out, bound {}", capped.error_upper_bound);
        }
    }
}

#[test]
fn a_budget_past_its_deadline_stops_the_query() {
    let w = services(&[&[("a", 3)], &[("b", 3)]]);
    let req = TermsRequest {
        filter: Filter::default(),
        field: "service.name".into(),
        size: None,
    };
    let e = loglynx_query::Budget::new(std::time::Duration::ZERO, 10)
        .run(|| common::engine().terms(&w, &req))
        .unwrap_err();
    assert!(matches!(e, QueryError::TimedOut { .. }), "{e}");
    assert!(!e.is_user_error());
    // A budget whose guard was dropped (the client went away) stops it as cancelled.
    let b = loglynx_query::Budget::new(std::time::Duration::from_secs(60), 10);
    drop(b.cancel_on_drop());
    let e = b.run(|| common::engine().search(&w, &loglynx_query::SearchRequest { limit: 10, ..Default::default() })).unwrap_err();
    assert!(matches!(e, QueryError::Cancelled), "{e}");
}

/// An event at each UTC hour from `from`, for `hours` hours.
fn hourly(from: &str, hours: i64) -> Vec<WindowSnapshot> {
    let t0 = common::ts(from).0;
    let events: Vec<Event> = (0..hours)
        .map(|h| {
            let mut e = event(&format!("e{h}"), 0, "x");
            e.timestamp = loglynx_core::Timestamp(t0 + h * 3_600_000_000_000);
            e
        })
        .collect();
    vec![window("dst", &[events])]
}

fn zoned(w: &[WindowSnapshot], from: &str, to: &str, interval_ms: u64, tz: &str) -> Vec<(String, u64)> {
    let req = HistogramRequest {
        filter: Filter { query: String::new(), start: Some(common::ts(from)), end: Some(common::ts(to)) },
        interval_ms: Some(interval_ms),
        target_buckets: None,
        time_zone: Some(tz.into()),
    };
    let r = common::engine().histogram(w, &req).unwrap();
    assert_eq!(r.total, r.buckets.iter().map(|b| b.count).sum::<u64>());
    r.buckets.iter().map(|b| (b.start.to_rfc3339(), b.count)).collect()
}

/// Berlin's spring (31 March 2024) and autumn (27 October 2024) changes: local days hold 23
/// and 25 hourly events, the days around them 24; hourly buckets hold one event each, with
/// none lost or doubled at the skipped or repeated hour.
#[test]
fn a_named_zone_cuts_local_days_of_23_and_25_hours_and_keeps_hours() {
    for (from, to, day) in [
        ("2024-03-29T23:00:00Z", "2024-04-01T22:00:00Z", 23),
        ("2024-10-25T22:00:00Z", "2024-10-28T23:00:00Z", 25),
    ] {
        let hours = (common::ts(to).0 - common::ts(from).0) / 3_600_000_000_000;
        let w = hourly(from, hours);
        let days = zoned(&w, from, to, 86_400_000, "Europe/Berlin");
        assert_eq!(days.iter().map(|d| d.1).collect::<Vec<_>>(), vec![24, day, 24], "{days:?}");
        assert_eq!(days[0].0, common::ts(from).to_rfc3339());
        let hourly = zoned(&w, from, to, 3_600_000, "Europe/Berlin");
        assert_eq!(hourly.len() as i64, hours);
        assert!(hourly.iter().all(|h| h.1 == 1), "{hourly:?}");
        // The same hours in UTC: a whole-hour zone does not move them.
        assert_eq!(hourly, zoned(&w, from, to, 3_600_000, "UTC"));
    }
    // In New York (10 March 2024, 02:00 EST -> 03:00 EDT at 07:00Z) the day starts at 05:00Z
    // and the next at 04:00Z.
    let w = hourly("2024-03-10T05:00:00Z", 47);
    let days = zoned(&w, "2024-03-10T05:00:00Z", "2024-03-12T04:00:00Z", 86_400_000, "America/New_York");
    assert_eq!(
        days,
        vec![("2024-03-10T05:00:00Z".to_string(), 23), ("2024-03-11T04:00:00Z".to_string(), 24)]
    );
    let e = common::engine()
        .histogram(&w, &HistogramRequest { time_zone: Some("Mars/Olympus".into()), ..Default::default() })
        .unwrap_err();
    assert!(e.to_string().contains("Mars/Olympus") && e.is_user_error(), "{e}");
}

/// One window of `segments` segments of 40 events each, every event with words of its own.
fn one_big_window(segments: usize) -> Vec<WindowSnapshot> {
    let segs: Vec<Vec<Event>> = (0..segments)
        .map(|s| {
            (0..40)
                .map(|i| {
                    let n = s * 40 + i;
                    event(&format!("e{n}"), n as i64, &format!("job{n} step{} host{} done", n * 7, n * 13))
                })
                .collect()
        })
        .collect();
    vec![common::unmerged_window("w", &segs)]
}

#[test]
fn regression_issue_11_a_count_over_one_window_stops_between_its_segments() {
    let w = one_big_window(300);
    assert_eq!(w[0].searcher.segment_readers().len(), 300);
    // Many words: each is looked up in every segment's term dictionary.
    let words: Vec<String> = (0..400).map(|i| format!("step{}", i * 21)).collect();
    let filter = Filter { query: words.join(" OR "), ..Default::default() };
    // The time of the whole count here (the quickest of three).
    let mut whole = std::time::Duration::MAX;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let all = common::engine().count(&w, &filter).unwrap();
        whole = whole.min(started.elapsed());
        assert!(all > 0);
    }
    eprintln!("count over {} segments: {whole:?}", w[0].searcher.segment_readers().len());
    // A deadline a quarter of the way through the window: the count stops there (before, it
    // counted the whole window and answered).
    let e = loglynx_query::Budget::new(whole / 4, 10)
        .run(|| common::engine().count(&w, &filter))
        .unwrap_err();
    assert!(matches!(e, QueryError::TimedOut { .. }), "{e}");
}

/// Two windows of three segments each; event i has pid `1000 + i % distinct` and service
/// `svc<i % distinct>`, so each value repeats across segments and windows.
fn spread(n: usize, distinct: usize) -> Vec<WindowSnapshot> {
    let ev = |i: usize| {
        let mut e = event(&format!("e{i}"), i as i64, "x");
        e.pid = Some(1000 + (i % distinct) as u32);
        e.service = Some(format!("svc{}", i % distinct));
        e
    };
    let per = n / 6;
    (0..2)
        .map(|w| {
            let segs: Vec<Vec<Event>> = (0..3).map(|s| ((w * 3 + s) * per..(w * 3 + s + 1) * per).map(ev).collect()).collect();
            window(&format!("w{w}"), &segs)
        })
        .collect()
}

#[test]
fn field_stats_count_distinct_exactly_under_the_cap_and_estimate_past_it() {
    let stats = |w: &[WindowSnapshot], cap: usize, field: &str| {
        loglynx_query::Budget::new(std::time::Duration::from_secs(60), cap)
            .run(|| common::engine().field_stats(w, &Filter { query: "x".into(), ..Default::default() }, field))
            .unwrap()
    };
    // 6,000 events, 5,000 distinct values: the first 1,000 seen twice, in other segments.
    let w = spread(6_000, 5_000);
    let exact = stats(&w, 100_000, "process.pid");
    assert_eq!((exact.count, exact.distinct, exact.distinct_approximate), (6_000, 5_000, false));
    let sum: u128 = (0..6_000u128).map(|i| 1000 + i % 5_000).sum();
    assert_eq!((exact.min, exact.max, exact.sum), (Some(1000), Some(5999), Some(sum)));
    assert_eq!(stats(&w, 100_000, "service.name").distinct, 5_000);

    // Past a cap of 100 distinct values: an estimate, said so; the other stats stay exact.
    for field in ["process.pid", "service.name"] {
        let capped = stats(&w, 100, field);
        assert!(capped.distinct_approximate, "{field}: {capped:?}");
        let off = (capped.distinct as f64 - 5_000.0).abs() / 5_000.0;
        assert!(off < 0.06, "{field}: estimated {} distinct of 5,000", capped.distinct);
        assert_eq!(capped.count, 6_000);
        if field == "process.pid" {
            assert_eq!((capped.min, capped.max, capped.sum), (exact.min, exact.max, exact.sum));
        }
    }
}

//! Query engine over 1 M generated events in four windows (temp dir, zstd doc store).
//!
//! `cargo bench -p loglynx-query` (set `LOGLYNX_BENCH_EVENTS` to change the size). Prints the
//! build time once, then criterion's figures for: a term query count, term query +
//! histogram, local days in UTC and in Europe/Berlin, a first page of 100 newest hits, a
//! top-10 terms, and a tail page.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use loglynx_core::{Event, Timestamp};
use loglynx_query::{
    Filter, HistogramRequest, QueryEngine, SearchRequest, TailRequest, TermsRequest,
};
use loglynx_store::{StoreSchema, WindowSnapshot};
use tantivy::{Index, IndexWriter};

const WINDOWS: usize = 4;
const LEVELS: &[&str] = &[
    "info", "info", "info", "info", "warn", "debug", "debug", "error",
];
const WORDS: &[&str] = &[
    "connection",
    "timeout",
    "disk",
    "user",
    "login",
    "request",
    "served",
    "failed",
    "retry",
    "cache",
];

fn build(dir: &std::path::Path, n: usize) -> Vec<WindowSnapshot> {
    let schema = StoreSchema::new();
    let base = Timestamp::parse_rfc3339("2024-05-01T00:00:00Z").unwrap_or_default();
    let per = n / WINDOWS;
    // Events evenly spread over 30 days.
    let step = 30 * 86_400 * 1_000_000_000 / n.max(1) as i64;
    let mut windows = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for w in 0..WINDOWS {
        let path = dir.join(format!("w{w}"));
        std::fs::create_dir_all(&path).expect("dir");
        let index = Index::create_in_dir(&path, schema.schema.clone()).expect("index");
        let mut writer: IndexWriter = index
            .writer_with_num_threads(2, 200_000_000)
            .expect("writer");
        for i in 0..per {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let seq = (w * per + i) as i64;
            let t = Timestamp(base.0 + seq * step);
            let words: Vec<&str> = (0..6)
                .map(|k| WORDS[((x >> (k * 4)) % WORDS.len() as u64) as usize])
                .collect();
            let mut e = Event::new(
                format!("{} id={}", words.join(" "), x % 100_000),
                t,
                t,
                format!("{seq:016x}"),
            );
            e.host = Some(format!("web{}", x % 50));
            e.level = Some(LEVELS[(x >> 20) as usize % LEVELS.len()].into());
            e.service = Some(["nginx", "api", "db", "auth"][(x >> 24) as usize % 4].into());
            e.pid = Some((x >> 30) as u32 % 5_000);
            writer.add_document(schema.to_document(&e)).expect("add");
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        let min = Some(Timestamp(base.0 + (w * per) as i64 * step));
        let max = Some(Timestamp(
            base.0 + ((w + 1) * per).saturating_sub(1) as i64 * step,
        ));
        windows.push(WindowSnapshot {
            id: format!("w{w}"),
            min_timestamp: min,
            max_timestamp: max,
            searcher,
        });
    }
    windows
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("LOGLYNX_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let windows = build(dir.path(), n);
    eprintln!(
        "built {n} events in {WINDOWS} windows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let engine = QueryEngine::new(StoreSchema::new());
    let term = Filter {
        query: "log.level:error".into(),
        ..Default::default()
    };
    let mut g = c.benchmark_group(format!("{n}_events"));
    g.sample_size(20);
    g.bench_function("count log.level:error", |b| {
        b.iter(|| engine.count(&windows, &term).unwrap())
    });
    g.bench_function("count + histogram log.level:error", |b| {
        b.iter(|| {
            let req = HistogramRequest {
                filter: term.clone(),
                interval_ms: None,
                target_buckets: Some(60),
                time_zone: None,
            };
            let h = engine.histogram(&windows, &req).unwrap();
            (engine.count(&windows, &term).unwrap(), h.total)
        })
    });
    g.bench_function("histogram all", |b| {
        b.iter(|| {
            engine
                .histogram(&windows, &HistogramRequest::default())
                .unwrap()
                .total
        })
    });
    // Local days over the 30 days: fixed-width buckets (a division per event) against a zone
    // with daylight saving time (a binary search over the bucket edges per event).
    for zone in ["UTC", "Europe/Berlin"] {
        g.bench_function(format!("histogram all, 1d in {zone}"), |b| {
            let req = HistogramRequest {
                interval_ms: Some(86_400_000),
                time_zone: Some(zone.into()),
                ..Default::default()
            };
            b.iter(|| engine.histogram(&windows, &req).unwrap().total)
        });
    }
    g.bench_function("search timeout AND failed, 100 newest", |b| {
        let req = SearchRequest {
            filter: Filter {
                query: "timeout AND failed".into(),
                ..Default::default()
            },
            limit: 100,
            ..Default::default()
        };
        b.iter(|| engine.search(&windows, &req).unwrap().total)
    });
    g.bench_function("terms host.name top 10", |b| {
        let req = TermsRequest {
            field: "host.name".into(),
            ..Default::default()
        };
        b.iter(|| engine.terms(&windows, &req).unwrap().other)
    });
    g.bench_function("tail newest 100", |b| {
        let req = TailRequest {
            limit: 100,
            ..Default::default()
        };
        b.iter(|| engine.tail(&windows, &req).unwrap().events.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

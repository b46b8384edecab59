//! What the metrics registry costs an ingest request: the three internal events a successful
//! `POST /api/v1/ingest` emits (request received, events accepted, request served: label
//! lookups in `prometheus-client` families, then atomic adds), beside the peer of plain
//! `AtomicU64` adds (what the pipeline's and the network monitor's counters are). Counters are
//! touched once per request, not per event. Also one scrape (`Registry::render`) of those
//! series. Results: docs/BENCHMARKS.md.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, Criterion};
use loglynx_telemetry::internal_events::{
    HttpMetrics, HttpRequestServed, IngestEndpoint, IngestEventsAccepted, IngestRequestReceived,
};
use loglynx_telemetry::{InternalEvent, Registry};

fn counters(c: &mut Criterion) {
    let registry = Registry::new();
    let metrics = HttpMetrics::register(&registry);
    let mut g = c.benchmark_group("ingest_request_counters");
    g.bench_function("registry_events", |b| {
        b.iter(|| {
            IngestRequestReceived { endpoint: IngestEndpoint::Ingest }.emit(&metrics);
            IngestEventsAccepted { endpoint: IngestEndpoint::Ingest, count: black_box(1000) }
                .emit(&metrics);
            HttpRequestServed { route: black_box("/api/v1/ingest"), status: 200 }.emit(&metrics);
        })
    });
    let plain = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    g.bench_function("plain_atomics", |b| {
        b.iter(|| {
            plain[0].fetch_add(1, Ordering::Relaxed);
            plain[1].fetch_add(black_box(1000), Ordering::Relaxed);
            plain[2].fetch_add(1, Ordering::Relaxed);
        })
    });
    g.finish();
    c.bench_function("render_http_series", |b| b.iter(|| black_box(registry.render())));
}

criterion_group!(benches, counters);
criterion_main!(benches);

//! A data directory written before `network.drops` / `network.drop.reason` were fields (the
//! network monitor's drop summaries then carried them as labels): it opens with this version,
//! its old events stay searchable (labels included), and the typed fields work through the
//! query engine (term, range, stats, terms) on the events written after, matching nothing in
//! the old windows instead of failing on them.

use std::time::Duration;

use loglynx_config::{ByteSize, StoreConfig};
use loglynx_core::{ack_channel, fields as f, Event, EventBatch, Timestamp};
use loglynx_query::{Filter, QueryEngine, TermsRequest};
use loglynx_store::{Store, StoreSchema};

fn cfg(window_max_size: ByteSize) -> StoreConfig {
    StoreConfig {
        commit_interval: Duration::from_millis(20),
        window: Duration::from_secs(24 * 3600),
        window_max_size,
        retention_age: Duration::ZERO,
        retention_size: ByteSize(0),
        writer_memory: ByteSize(32 << 20),
        writer_threads: 1,
        disk_watermark: ByteSize(0),
        indexing_nice: 0,
    }
}

/// A drop summary as the monitor makes it: with the typed fields, or as the earlier version
/// did, in labels.
fn drop_event(i: u64, reason: &str, n: u64, typed: bool) -> Event {
    let mut e = Event::new(
        format!("{n} packets dropped: {reason}"),
        Timestamp::from_secs(1_700_000_000 + i as i64),
        Timestamp::now(),
        format!("drop-{typed}-{i}"),
    );
    e.dataset = Some("network.perf".into());
    e.action = Some("drop".into());
    if typed {
        e.network_drops = Some(n);
        e.network_drop_reason = Some(reason.into());
    } else {
        e.labels.insert("network.drops".into(), n.to_string());
        e.labels.insert("drop.reason".into(), reason.into());
    }
    e
}

/// Writes `batches` (one acknowledged commit each) and stops the writer.
fn ingest(store: &Store, batches: Vec<Vec<Event>>, key: &str, from: u64) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    let mut pos = from;
    for events in batches {
        pos += events.len() as u64;
        let (ack, done) = ack_channel();
        tx.blocking_send(EventBatch {
            events,
            checkpoint: vec![(key.to_string(), pos)],
            ack: Some(ack),
        })
        .unwrap();
        done.blocking_recv().unwrap().unwrap();
    }
    drop(tx);
    writer.join().unwrap();
}

fn count(engine: &QueryEngine, store: &Store, q: &str) -> u64 {
    engine
        .count(
            &store.snapshot(),
            &Filter {
                query: q.into(),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{q}: {e}"))
}

#[test]
fn drops_become_fields_and_a_store_written_before_opens_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    // The earlier version: no drop fields; two windows (the first closed by size).
    let earlier = StoreSchema::without_fields(&[f::NETWORK_DROPS, f::NETWORK_DROP_REASON]);
    assert!(earlier.field(f::NETWORK_DROPS).is_none());
    {
        let store = Store::open_as(tmp.path(), &cfg(ByteSize(1)), earlier).unwrap();
        let old = (0..2)
            .map(|b| (0..10).map(|i| drop_event(b * 10 + i, "NO_SOCKET", 5, false)).collect())
            .collect();
        ingest(&store, old, "old", 0);
    }

    let store = Store::open(tmp.path(), &cfg(ByteSize(8 << 30))).unwrap();
    assert!(store.snapshot().len() >= 2, "two windows of the earlier version");
    let engine = QueryEngine::new(store.schema().clone());
    assert_eq!(count(&engine, &store, "event.action:drop"), 20);
    assert_eq!(count(&engine, &store, "labels.drop.reason:NO_SOCKET"), 20);
    // The new fields exist and match nothing in the old windows (no error either).
    assert_eq!(count(&engine, &store, "network.drops:[1 TO *]"), 0);
    assert_eq!(count(&engine, &store, "network.drop.reason:NO_SOCKET"), 0);

    // This version writes the typed fields, into the resumed window.
    let new = vec![(0..10)
        .map(|i| drop_event(100 + i, if i < 4 { "SOCKET_FILTER" } else { "NO_SOCKET" }, i + 1, true))
        .collect()];
    ingest(&store, new, "new", 0);
    assert_eq!(count(&engine, &store, "event.action:drop"), 30);
    assert_eq!(count(&engine, &store, "network.drops:[1 TO *]"), 10);
    assert_eq!(count(&engine, &store, "network.drops:>=5"), 6);
    assert_eq!(count(&engine, &store, "network.drop.reason:SOCKET_FILTER"), 4);
    let all = Filter {
        query: "event.action:drop".into(),
        ..Default::default()
    };
    let stats = engine.field_stats(&store.snapshot(), &all, f::NETWORK_DROPS).unwrap();
    assert_eq!((stats.count, stats.min, stats.max, stats.sum), (10, Some(1), Some(10), Some(55)));
    let terms = engine
        .terms(
            &store.snapshot(),
            &TermsRequest {
                filter: all,
                field: f::NETWORK_DROP_REASON.into(),
                size: None,
            },
        )
        .unwrap();
    let buckets: Vec<(&str, u64)> = terms.buckets.iter().map(|b| (b.value.as_str(), b.count)).collect();
    assert_eq!(buckets, vec![("NO_SOCKET", 6), ("SOCKET_FILTER", 4)]);
    // Events read back whole: typed fields on the new, labels on the old.
    drop(store);
    let store = Store::open(tmp.path(), &cfg(ByteSize(8 << 30))).unwrap();
    let engine = QueryEngine::new(store.schema().clone());
    assert_eq!(count(&engine, &store, "network.drops:[1 TO *]"), 10);
    assert_eq!(count(&engine, &store, "labels.network.drops:5"), 20);
}

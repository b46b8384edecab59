//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use loglynx_config::{ByteSize, StoreConfig};
use loglynx_core::{ack_channel, AckError, AckReceiver, Event, EventBatch, Timestamp};
use loglynx_store::{Store, WriterHandle};
use tokio::sync::mpsc::Sender;
use tantivy::collector::{Count, DocSetCollector};
use tantivy::query::AllQuery;

/// A config for tests: fast commits, one small writer thread, no retention.
pub fn cfg() -> StoreConfig {
    StoreConfig {
        commit_interval: Duration::from_millis(20),
        window: Duration::from_secs(24 * 3600),
        window_max_size: ByteSize(8 << 30),
        retention_age: Duration::ZERO,
        retention_size: ByteSize(0),
        writer_memory: ByteSize(32 << 20),
        writer_threads: 1,
        disk_watermark: ByteSize(0),
        indexing_nice: 0,
    }
}

/// `n` events of source `key` from position `start`, with `@timestamp` = `ts_secs` + i.
pub fn batch(key: &str, start: u64, n: u64, ts_secs: i64) -> EventBatch {
    let events = (0..n)
        .map(|i| {
            let pos = start + i;
            let mut e = Event::new(
                format!("<34>Oct 11 22:14:15 web1 sshd[4721]: failed password for root from 10.0.0.{} port 22 ssh2", pos % 256),
                Timestamp::from_secs(ts_secs + i as i64),
                Timestamp::now(),
                format!("{key}-{pos}"),
            );
            e.host = Some("web1".into());
            e
        })
        .collect();
    EventBatch {
        events,
        checkpoint: vec![(key.to_string(), start + n)],
        ack: None,
    }
}

/// Adds an ack to a batch and returns its receiver.
pub fn with_ack(mut b: EventBatch) -> (EventBatch, AckReceiver) {
    let (tx, rx) = ack_channel();
    b.ack = Some(tx);
    (b, rx)
}

/// Waits for an ack, failing the test after 20 s.
pub fn wait_ack(rx: AckReceiver) -> Result<(), AckError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("ack within 20 s")
            .expect("ack fired, not dropped")
    })
}

/// Waits until `cond` holds, failing the test after 20 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Events visible over all windows (tantivy count of AllQuery).
pub fn count(store: &Store) -> u64 {
    store
        .snapshot()
        .iter()
        .map(|w| w.searcher.search(&AllQuery, &Count).unwrap() as u64)
        .sum()
}

/// Every stored event, over all windows (an event stored twice is there twice).
pub fn stored_events(store: &Store) -> Vec<Event> {
    let mut v = Vec::new();
    for w in store.snapshot() {
        for addr in w.searcher.search(&AllQuery, &DocSetCollector).unwrap() {
            let e = store
                .schema()
                .event_at(&w.searcher, addr)
                .unwrap()
                .expect("stored event decodes");
            v.push(e);
        }
    }
    v
}

/// How many times each event id is stored, over all windows.
pub fn id_counts(store: &Store) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in stored_events(store) {
        *m.entry(e.id).or_insert(0) += 1;
    }
    m
}

/// Starts the writer of `store` and sends `batches`, each waited for until acknowledged.
/// Returns the events sent, the sender and the writer: drop the sender, then join the writer,
/// to stop it.
pub fn start_and_send(
    store: &Store,
    batches: impl IntoIterator<Item = EventBatch>,
) -> (Vec<Event>, Sender<EventBatch>, WriterHandle) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    let mut sent = Vec::new();
    for b in batches {
        sent.extend(b.events.iter().cloned());
        let (b, ack) = with_ack(b);
        tx.blocking_send(b).unwrap();
        wait_ack(ack).unwrap();
    }
    (sent, tx, writer)
}

/// [`start_and_send`], then stops the writer (a clean shutdown). Returns the events sent.
pub fn ingest(store: &Store, batches: impl IntoIterator<Item = EventBatch>) -> Vec<Event> {
    let (sent, tx, writer) = start_and_send(store, batches);
    drop(tx);
    writer.join().unwrap();
    sent
}

/// Asserts that exactly the ids `key-0 .. key-(n-1)` are stored, each once.
pub fn assert_exactly(store: &Store, key: &str, n: u64) {
    let counts = id_counts(store);
    let expected: BTreeMap<String, usize> = (0..n).map(|i| (format!("{key}-{i}"), 1)).collect();
    let ours: BTreeMap<String, usize> = counts
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{key}-")))
        .collect();
    assert_eq!(
        ours.len(),
        expected.len(),
        "number of distinct {key} events"
    );
    assert_eq!(ours, expected);
}

//! The writer against real tantivy indexes in temporary directories.

mod common;

use std::time::{Duration, Instant};

use common::*;
use loglynx_core::{Checkpoint, EventBatch, Timestamp};
use loglynx_store::{Store, StoreError};

fn checkpoint(pairs: &[(&str, u64)]) -> Checkpoint {
    let mut c = Checkpoint::default();
    for (k, p) in pairs {
        c.advance(k, *p);
    }
    c
}

#[test]
fn batches_survive_reopen_with_their_checkpoint_and_each_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), &cfg()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    for i in 0..20u64 {
        tx.blocking_send(batch("a", i * 100, 100, 1_700_000_000))
            .unwrap();
        tx.blocking_send(batch("b", i * 7, 7, 1_700_000_000))
            .unwrap();
    }
    drop(tx);
    writer.join().unwrap();
    let stats = store.stats();
    assert_eq!(stats.docs_indexed, 2140);
    assert_eq!(stats.docs_pending, 0);
    assert_eq!(stats.commit_failures, 0);
    assert!(stats.commits >= 1);
    assert_eq!(stats.docs_stored, 2140);
    drop(store);

    let store = Store::open(tmp.path(), &cfg()).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 2000), ("b", 140)]));
    assert_eq!(count(&store), 2140);
    assert_exactly(&store, "a", 2000);
    assert_exactly(&store, "b", 140);
}

#[test]
fn an_ack_fires_only_once_its_batch_is_committed_and_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.commit_interval = Duration::from_secs(3600);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();

    // Without an ack nothing is committed before the (one hour) interval.
    tx.blocking_send(batch("a", 0, 50, 1_700_000_000)).unwrap();
    wait_until("50 pending events", || store.stats().docs_pending == 50);
    assert_eq!(count(&store), 0);
    assert_eq!(store.checkpoint(), Checkpoint::default());

    // An ack (even on an empty batch) makes the pending batches durable within ~100 ms.
    let (b, ack) = with_ack(EventBatch::default());
    let sent = Instant::now();
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    // Within a minute, not the hour of the interval (5 s was tight on a loaded CI machine).
    assert!(
        sent.elapsed() < Duration::from_secs(60),
        "ack took {:?}",
        sent.elapsed()
    );
    assert_eq!(count(&store), 50);
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 50)]));

    // A batch with its own ack is searchable when the ack arrives.
    let (b, ack) = with_ack(batch("a", 50, 30, 1_700_000_100));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(count(&store), 80);
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 80)]));

    // With nothing pending, an empty acked batch is answered at once.
    let (b, ack) = with_ack(EventBatch::default());
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(store.stats().commits, 2);

    drop(tx);
    writer.join().unwrap();
    assert_exactly(&store, "a", 80);
}

#[test]
fn a_forgotten_key_leaves_the_committed_checkpoint_and_other_keys_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), &cfg()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    tx.blocking_send(batch("a", 0, 10, 1_700_000_000)).unwrap();
    tx.blocking_send(batch("b", 0, 5, 1_700_000_000)).unwrap();
    let (b, ack) = with_ack(EventBatch::default());
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 10), ("b", 5)]));

    // A batch with no events that only forgets `a` (and a key the store never had) is
    // committed: the key is gone from the store's checkpoint, also after a reopen.
    let (b, ack) = with_ack(EventBatch {
        checkpoint: vec![("a".into(), loglynx_core::FORGET), ("zz".into(), loglynx_core::FORGET)],
        ..EventBatch::default()
    });
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("b", 5)]));
    drop(tx);
    writer.join().unwrap();
    drop(store);
    let store = Store::open(tmp.path(), &cfg()).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("b", 5)]));
    assert_exactly(&store, "a", 10);
}

#[test]
fn a_crash_keeps_exactly_the_last_commit_and_the_replay_stores_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.commit_interval = Duration::from_secs(3600);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    let (b, ack) = with_ack(batch("a", 0, 100, 1_700_000_000));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    // Two more batches reach the index writer but are never committed.
    tx.blocking_send(batch("a", 100, 100, 1_700_000_100))
        .unwrap();
    tx.blocking_send(batch("b", 0, 10, 1_700_000_100)).unwrap();
    wait_until("110 pending events", || store.stats().docs_pending == 110);
    writer.crash();
    drop(tx);
    drop(store);

    let store = Store::open(tmp.path(), &c).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 100)]));
    assert_eq!(count(&store), 100);
    assert_exactly(&store, "a", 100);

    // The source replays from the checkpoint: every event ends up stored once.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    tx.blocking_send(batch("a", 100, 100, 1_700_000_100))
        .unwrap();
    let (b, ack) = with_ack(batch("b", 0, 10, 1_700_000_100));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    drop(tx);
    writer.join().unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 200), ("b", 10)]));
    assert_exactly(&store, "a", 200);
    assert_exactly(&store, "b", 10);
    assert_eq!(count(&store), 210);
}

#[test]
fn a_second_writer_on_the_same_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), &cfg()).unwrap();
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let w1 = store.start_writer(rx).unwrap();
    let other = Store::open(tmp.path(), &cfg()).unwrap();
    let (_tx2, rx2) = tokio::sync::mpsc::channel(1);
    match other.start_writer(rx2) {
        Err(e @ StoreError::Locked { .. }) => {
            assert!(e.to_string().contains("already being written"), "{e}")
        }
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second writer started"),
    }
    w1.crash();
}

#[test]
fn rollover_makes_windows_with_their_bounds_and_the_checkpoint_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.commit_interval = Duration::from_secs(3600);
    // Any window is "full" after its first commit: every commit rolls over.
    c.window_max_size = loglynx_config::ByteSize(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    for i in 0..5u64 {
        let (b, ack) = with_ack(batch("a", i * 10, 10, 1_700_000_000 + i as i64 * 1000));
        tx.blocking_send(b).unwrap();
        wait_ack(ack).unwrap();
    }
    drop(tx);
    writer.join().unwrap();

    let check = |store: &Store| {
        let snap = store.snapshot();
        assert_eq!(snap.len(), 5);
        let mut ids: Vec<&str> = snap.iter().map(|w| w.id.as_str()).collect();
        let newest_first = ids.clone();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(ids, newest_first, "snapshot is newest first");
        for (k, w) in snap.iter().enumerate() {
            let i = 4 - k as i64;
            assert_eq!(
                w.min_timestamp,
                Some(Timestamp::from_secs(1_700_000_000 + i * 1000)),
                "window {k}"
            );
            assert_eq!(
                w.max_timestamp,
                Some(Timestamp::from_secs(1_700_000_009 + i * 1000)),
                "window {k}"
            );
            assert_eq!(w.searcher.num_docs(), 10);
        }
        assert_eq!(store.checkpoint(), checkpoint(&[("a", 50)]));
    };
    check(&store);
    drop(store);
    let store = Store::open(tmp.path(), &c).unwrap();
    check(&store);
    assert_exactly(&store, "a", 50);
}

#[test]
fn a_crash_between_rollover_and_the_first_commit_falls_back_to_the_previous_window() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.commit_interval = Duration::from_secs(3600);
    c.window_max_size = loglynx_config::ByteSize(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    for i in 0..2u64 {
        let (b, ack) = with_ack(batch("a", i * 10, 10, 1_700_000_000));
        tx.blocking_send(b).unwrap();
        wait_ack(ack).unwrap();
    }
    // The next batch opens a third window, then the process dies before it commits.
    tx.blocking_send(batch("a", 20, 10, 1_700_000_000)).unwrap();
    wait_until("a third window", || {
        store.snapshot().len() == 3 && store.stats().docs_pending == 10
    });
    writer.crash();
    drop(store);

    let store = Store::open(tmp.path(), &c).unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.len(), 3);
    assert_eq!(
        (snap[0].min_timestamp, snap[0].searcher.num_docs()),
        (None, 0)
    );
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 20)]));
    assert_exactly(&store, "a", 20);

    // Retention (size limit 1 byte) keeps the newest window and the one holding the checkpoint.
    drop(store);
    c.retention_size = loglynx_config::ByteSize(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    let newest_two: Vec<String> = store
        .snapshot()
        .iter()
        .take(2)
        .map(|w| w.id.clone())
        .collect();
    let deleted = store.apply_retention(Timestamp::now());
    assert_eq!(deleted.len(), 1);
    let kept: Vec<String> = store.snapshot().iter().map(|w| w.id.clone()).collect();
    assert_eq!(kept, newest_two);
    drop(store);
    let store = Store::open(tmp.path(), &c).unwrap();
    assert_eq!(store.checkpoint(), checkpoint(&[("a", 20)]));
}

#[test]
fn segments_stay_few_after_200_small_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.commit_interval = Duration::from_millis(1);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    let mut most = 0;
    for i in 0..200u64 {
        let (b, ack) = with_ack(batch("a", i * 5, 5, 1_700_000_000));
        tx.blocking_send(b).unwrap();
        wait_ack(ack).unwrap();
        most = most.max(store.snapshot()[0].searcher.segment_readers().len());
    }
    assert_eq!(store.stats().commits, 200);
    drop(tx);
    writer.join().unwrap();
    drop(store);

    let store = Store::open(tmp.path(), &c).unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.len(), 1);
    let segments = snap[0].searcher.segment_readers().len();
    // All 1000 docs are under min_layer_size (20k): one level, merged 8 at a time. Once merges
    // have settled (shutdown waits for them) fewer than 8 segments can remain.
    assert!(segments <= 7, "{segments} segments after merges settled");
    // While running: at most 7 waiting, plus the segments of running merges (2 threads x 8),
    // plus the newest one.
    eprintln!("most segments seen: {most}, final: {segments}");
    assert!(most <= 24, "{most} segments seen while writing");
    assert_exactly(&store, "a", 1000);
}

//! The read-only shard view used by `loglynx serve`: shards written by other writers appear,
//! new commits become visible after `refresh`, nothing is written, and it cannot be written.

mod common;

use common::*;
use loglynx_store::{Store, StoreError};

#[test]
fn a_read_only_view_sees_every_shard_and_their_new_commits_after_refresh() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = tmp.path().join("shards");
    let view = Store::open_read_only(&shards, &cfg()).unwrap();
    assert!(view.is_read_only());
    assert_eq!(count(&view), 0);
    assert!(!shards.exists(), "a read-only view creates nothing");

    let a = Store::open(&shards.join("logs-0"), &cfg()).unwrap();
    let b = Store::open(&shards.join("logs-1"), &cfg()).unwrap();
    let (ta, ra) = tokio::sync::mpsc::channel(4);
    let (tb, rb) = tokio::sync::mpsc::channel(4);
    let wa = a.start_writer(ra).unwrap();
    let wb = b.start_writer(rb).unwrap();
    let (batch_a, ack_a) = with_ack(batch("kafka:logs:0", 0, 30, 1_700_000_000));
    let (batch_b, ack_b) = with_ack(batch("kafka:logs:1", 0, 12, 1_700_000_100));
    ta.blocking_send(batch_a).unwrap();
    tb.blocking_send(batch_b).unwrap();
    wait_ack(ack_a).unwrap();
    wait_ack(ack_b).unwrap();

    assert_eq!(count(&view), 0, "nothing new before refresh");
    view.refresh().unwrap();
    assert_eq!(count(&view), 42);
    assert_exactly(&view, "kafka:logs:0", 30);
    assert_exactly(&view, "kafka:logs:1", 12);
    assert_eq!(view.checkpoint().get("kafka:logs:0"), Some(30));
    assert_eq!(view.checkpoint().get("kafka:logs:1"), Some(12));
    let ids: Vec<String> = view.snapshot().iter().map(|w| w.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().any(|i| i.starts_with("logs-0/w-")), "{ids:?}");
    assert!(ids.iter().any(|i| i.starts_with("logs-1/w-")), "{ids:?}");

    // A later commit in an already known window.
    let (more, ack) = with_ack(batch("kafka:logs:0", 30, 5, 1_700_000_200));
    ta.blocking_send(more).unwrap();
    wait_ack(ack).unwrap();
    view.refresh().unwrap();
    assert_exactly(&view, "kafka:logs:0", 35);
    assert_eq!(view.checkpoint().get("kafka:logs:0"), Some(35));

    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    assert!(matches!(view.start_writer(rx), Err(StoreError::ReadOnly { .. })));
    drop((ta, tb));
    wa.join().unwrap();
    wb.join().unwrap();
}

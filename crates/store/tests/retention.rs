//! Retention deletes whole windows, oldest first, never the active one.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use loglynx_config::{ByteSize, StoreConfig};
use loglynx_core::Timestamp;
use loglynx_store::Store;
use tantivy::collector::Count;
use tantivy::query::AllQuery;

/// Writes `n` windows of 10 events each (every commit rolls over); returns the config used.
fn make_windows(dir: &Path, n: u64) -> StoreConfig {
    let mut c = cfg();
    c.commit_interval = Duration::from_secs(3600);
    c.window_max_size = ByteSize(1);
    let store = Store::open(dir, &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    for i in 0..n {
        let (b, ack) = with_ack(batch("a", i * 10, 10, 1_700_000_000 + i as i64 * 100));
        tx.blocking_send(b).unwrap();
        wait_ack(ack).unwrap();
    }
    drop(tx);
    writer.join().unwrap();
    assert_eq!(store.snapshot().len() as u64, n);
    c
}

/// Window ids oldest first, with the size of their directory.
fn windows_on_disk(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir.join("store"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| {
            let size = std::fs::read_dir(e.path())
                .unwrap()
                .map(|f| f.unwrap().metadata().unwrap().len())
                .sum();
            (e.file_name().to_string_lossy().into_owned(), size)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn size_limit_deletes_the_oldest_windows_until_the_store_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = make_windows(tmp.path(), 4);
    let disk = windows_on_disk(tmp.path());
    assert_eq!(disk.len(), 4);
    // Room for the two newest windows and a little more, but not for a third.
    c.retention_size = ByteSize(disk[2].1 + disk[3].1 + disk[1].1 / 2);
    let store = Store::open(tmp.path(), &c).unwrap();
    let before = store.snapshot();
    let old_searcher = before.last().unwrap().searcher.clone();

    let deleted = store.apply_retention(Timestamp::now());
    assert_eq!(deleted, vec![disk[0].0.clone(), disk[1].0.clone()]);
    let kept: Vec<String> = windows_on_disk(tmp.path())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kept, vec![disk[2].0.clone(), disk[3].0.clone()]);
    assert_eq!(store.snapshot().len(), 2);
    assert_eq!(count(&store), 20);
    assert_eq!(store.stats().windows_deleted, 2);
    // A reader still holding a snapshot of a deleted window keeps working.
    assert_eq!(old_searcher.search(&AllQuery, &Count).unwrap(), 10);
    // Nothing more to delete.
    assert!(store.apply_retention(Timestamp::now()).is_empty());
}

#[test]
fn age_limit_deletes_stale_windows_but_never_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = make_windows(tmp.path(), 3);
    let disk = windows_on_disk(tmp.path());
    c.retention_age = Duration::from_secs(3600);
    let store = Store::open(tmp.path(), &c).unwrap();
    assert!(
        store.apply_retention(Timestamp::now()).is_empty(),
        "fresh windows are kept"
    );
    let later = Timestamp(Timestamp::now().as_nanos() + 2 * 3600 * 1_000_000_000);
    let deleted = store.apply_retention(later);
    assert_eq!(deleted, vec![disk[0].0.clone(), disk[1].0.clone()]);
    assert_eq!(store.snapshot().len(), 1);
    assert_eq!(store.snapshot()[0].id, disk[2].0);
    assert_eq!(store.checkpoint().get("a"), Some(30));
}

#[test]
fn the_writer_applies_retention_at_start_and_keeps_writing_to_the_active_window() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = make_windows(tmp.path(), 3);
    let disk = windows_on_disk(tmp.path());
    c.retention_size = ByteSize(1);
    c.window_max_size = ByteSize(8 << 30);
    let store = Store::open(tmp.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let writer = store.start_writer(rx).unwrap();
    // start_writer applied retention before returning: only the newest window is left, and
    // the writer resumed it (it is young and under window_max_size now).
    let ids: Vec<String> = store.snapshot().iter().map(|w| w.id.clone()).collect();
    assert_eq!(ids, vec![disk[2].0.clone()]);
    let (b, ack) = with_ack(batch("a", 30, 10, 1_700_000_500));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(
        store.apply_retention(Timestamp::now()),
        Vec::<String>::new()
    );
    assert_eq!(store.snapshot().len(), 1);
    assert_eq!(count(&store), 20);
    drop(tx);
    writer.join().unwrap();
}

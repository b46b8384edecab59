//! Issue 11: a full disk in the store. On a 64 MiB tmpfs (root: `mount -t tmpfs`), the writer
//! stops taking batches while free space is below `store.disk_watermark` and takes them again
//! once space returns: every batch is stored once, acknowledged only once stored.

mod common;

use std::time::Duration;

use common::*;
use loglynx_config::ByteSize;
use loglynx_store::Store;

const MIB: u64 = 1 << 20;

use loglynx_testkit::tmpfs::{fill as ballast, free_bytes as fs_free, Tmpfs};

#[test]
fn regression_issue_11_ingestion_pauses_below_the_disk_watermark_and_resumes_without_loss() {
    if !loglynx_testkit::require_root("mounts a tmpfs") {
        return;
    }
    let fs = Tmpfs::mount(64);
    let mut c = cfg();
    c.disk_watermark = ByteSize(16 * MIB);
    let store = Store::open(fs.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let writer = store.start_writer(rx).unwrap();

    // Room on disk: taken and acknowledged.
    let (b, ack) = with_ack(batch("a", 0, 100, 1_700_000_000));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    assert_eq!(store.disk_low(), None);

    // 10 MiB left, below the 16 MiB watermark: the writer stops taking batches.
    let ballast = ballast(fs.path(), 10);
    wait_until("paused", || store.disk_low().is_some());
    let why = store.disk_low().unwrap();
    assert!(why.contains("store.disk_watermark") && why.contains("20971520 bytes are free"), "{why}");
    // The queue (2 batches) fills; a third must wait, as the pipeline would.
    let (b1, mut ack1) = with_ack(batch("a", 100, 100, 1_700_000_000));
    let (b2, mut ack2) = with_ack(batch("a", 200, 100, 1_700_000_000));
    let (b3, ack3) = with_ack(batch("a", 300, 100, 1_700_000_000));
    tx.try_send(b1).unwrap();
    tx.try_send(b2).unwrap();
    let b3 = tx.try_send(b3).expect_err("the queue is full while paused").into_inner();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count(&store), 100, "nothing taken while paused");
    assert!(ack1.try_recv().is_err() && ack2.try_recv().is_err(), "nothing acknowledged while paused");
    let s = store.stats();
    assert!(s.disk_paused && s.disk_pauses == 1 && s.disk_free < 16 * MIB, "{s:?}");

    // Some space returns (18 MiB free: above the watermark, below its resume level of 20).
    let keep = std::fs::metadata(&ballast).unwrap().len() + fs_free(fs.path()) - 18 * MIB;
    std::fs::OpenOptions::new().write(true).open(&ballast).unwrap().set_len(keep).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(store.disk_low().is_some(), "resumes only at a quarter above the watermark");
    assert_eq!(count(&store), 100);

    // Plenty: the queued batches are taken and acknowledged, the waiting one goes in.
    std::fs::remove_file(&ballast).unwrap();
    tx.blocking_send(b3).unwrap();
    for ack in [ack1, ack2, ack3] {
        wait_ack(ack).unwrap();
    }
    assert_eq!(store.disk_low(), None);
    drop(tx);
    writer.join().unwrap();
    let s = store.stats();
    assert_eq!((s.commit_failures, s.disk_pauses, s.disk_paused), (0, 1, false));
    assert_eq!(store.checkpoint().get("a"), Some(400));
    assert_exactly(&store, "a", 400);
}

#[test]
fn a_writer_told_to_stop_while_paused_ends_without_the_queued_batches() {
    if !loglynx_testkit::require_root("mounts a tmpfs") {
        return;
    }
    let fs = Tmpfs::mount(64);
    let mut c = cfg();
    c.disk_watermark = ByteSize(16 * MIB);
    let store = Store::open(fs.path(), &c).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let writer = store.start_writer(rx).unwrap();
    let (b, ack) = with_ack(batch("a", 0, 100, 1_700_000_000));
    tx.blocking_send(b).unwrap();
    wait_ack(ack).unwrap();
    let _ballast = ballast(fs.path(), 10);
    wait_until("paused", || store.disk_low().is_some());
    let (b, ack) = with_ack(batch("a", 100, 100, 1_700_000_000));
    tx.try_send(b).unwrap();
    // The pipeline still holds its sender (it waits to send more): only `stopping` ends it.
    writer.stopping();
    let t = std::time::Instant::now();
    writer.join().unwrap();
    // Promptly, not blocked on the full disk (generous: a loaded CI machine is slow).
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(wait_ack_result(ack).is_none(), "the queued batch is not acknowledged");
    assert!(tx.try_send(batch("a", 200, 1, 0)).is_err(), "the queue is closed");
    drop(store);
    let store = Store::open(fs.path(), &cfg()).unwrap();
    assert_eq!(store.checkpoint().get("a"), Some(100), "its source resumes before it");
    assert_exactly(&store, "a", 100);
}

/// The outcome of an ack: `None` when it was dropped unanswered.
fn wait_ack_result(rx: loglynx_core::AckReceiver) -> Option<Result<(), loglynx_core::AckError>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), rx).await.expect("answered or dropped").ok() })
}

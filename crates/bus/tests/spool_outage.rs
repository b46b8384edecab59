//! The agent's producer through a broker outage, on librdkafka's mock cluster: batches go to
//! the on-disk buffer while the broker is down, are acknowledged there, and reach the topic in
//! order when it returns (the first copy of each record in source order, none missing; a
//! batch unconfirmed when spooling started reaches it twice), also across a restart.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use loglynx_bus::kafka::{AgentCheckpoint, Producer, ProducerStats, Spool};
use loglynx_config::KafkaConfig;
use loglynx_core::{AckReceiver, RawBatch};
use tokio::sync::{mpsc, oneshot};

mod mock;

use mock::{acked, start, start_until};

const PER_BATCH: u64 = 5;

/// The mock cluster, with a quick switch to the disk buffer and quick reconnects.
fn cluster() -> (mock::Mock, KafkaConfig) {
    let (mock, mut cfg) = mock::cluster();
    cfg.spool_after = Duration::from_millis(300);
    cfg.properties
        .insert("reconnect.backoff.max.ms".into(), "200".into());
    (mock, cfg)
}

/// Batch `n`: PER_BATCH records of source `a` (even n) or `b` (odd n), see [`mock::batch`].
fn batch(n: u64) -> (RawBatch, AckReceiver) {
    mock::batch(n, PER_BATCH, &"x".repeat(60))
}

/// The ids expected per message key for batches `0..n`.
fn expected(n: u64) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for b in 0..n {
        let src = if b.is_multiple_of(2) { "a" } else { "b" };
        let ids = m.entry(format!("h1|file:/var/log/{src}.log")).or_default();
        ids.extend((0..PER_BATCH).map(|i| format!("{src}-{b}-{i}")));
    }
    m
}

/// Every record of the topic, its ids per message key in offset order.
fn consume_all(brokers: &str, want: usize) -> BTreeMap<String, Vec<String>> {
    mock::consume_all(brokers, want, "spool-test")
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|(_, id)| id).collect()))
        .collect()
}

/// The ids per key with every id after its first occurrence removed, and how many were
/// removed.
fn first_occurrences(
    got: &BTreeMap<String, Vec<String>>,
) -> (BTreeMap<String, Vec<String>>, usize) {
    let mut dups = 0;
    let firsts = got
        .iter()
        .map(|(k, ids)| {
            let mut seen = std::collections::HashSet::new();
            let kept: Vec<String> = ids.iter().filter(|id| seen.insert(*id)).cloned().collect();
            dups += ids.len() - kept.len();
            (k.clone(), kept)
        })
        .collect();
    (firsts, dups)
}

async fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stop signal for [`start_until`]: it completes once the sender is used (or dropped).
fn stop_signal() -> (
    oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    (stop_tx, stop)
}

fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".spool")
        })
        .count()
}

fn position(data: &Path, key: &str) -> Option<u64> {
    AgentCheckpoint::open(data).unwrap().get().get(key)
}

fn spooled(s: &ProducerStats) -> (bool, u64, u64) {
    (
        s.spooling.load(Ordering::Relaxed),
        s.spool_records.load(Ordering::Relaxed),
        s.spool_bytes.load(Ordering::Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_is_buffered_on_disk_and_drained_in_order() {
    let (mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let spool_dir = data.path().join("agent/spool");
    let spool = Spool::open(&spool_dir, 1 << 20)
        .unwrap()
        .with_segment_bytes(2048);
    let producer = Producer::new(&cfg).unwrap().with_spool(spool);
    let (stats, tx, run) = start(producer, data.path(), 4);

    // Broker up: batches 0..10 go straight through.
    for n in 0..10 {
        let (b, ack) = batch(n);
        tx.send(b).await.unwrap();
        acked(ack, 20).await;
    }
    // (The first connection may take longer than spool_after: then a few went by the disk.)
    wait_until("direct", 20, || spooled(&stats) == (false, 0, 0)).await;

    // Broker down: batch 10 waits in librdkafka, then the producer turns to the disk.
    mock.broker_down(-1).unwrap();
    let (b, stuck_ack) = batch(10);
    tx.send(b).await.unwrap();
    wait_until("spooling", 10, || stats.spooling.load(Ordering::Relaxed)).await;
    // Its copy went to the disk first: acknowledged while the broker is down.
    acked(stuck_ack, 10).await;
    for n in 11..30 {
        let (b, ack) = batch(n);
        tx.send(b).await.unwrap();
        // Spooled batches are acknowledged while the broker is still down.
        acked(ack, 10).await;
    }
    let (spooling, records, bytes) = spooled(&stats);
    assert!(spooling);
    assert_eq!(records, 20 * PER_BATCH);
    assert!(bytes > 2048, "{bytes}");
    assert!(segment_files(&spool_dir) >= 2);
    // Both sources' positions follow their spooled batches (batch 10's copy included).
    wait_until("positions saved", 5, || {
        position(data.path(), "file:b") == Some(3000)
            && position(data.path(), "file:a") == Some(2900)
    })
    .await;

    // Broker back: everything drains, then batches go direct again.
    mock.broker_up(-1).unwrap();
    wait_until("drained", 60, || spooled(&stats) == (false, 0, 0)).await;
    assert_eq!(segment_files(&spool_dir), 0);
    for n in 30..36 {
        let (b, ack) = batch(n);
        tx.send(b).await.unwrap();
        acked(ack, 20).await;
    }
    assert!(!stats.spooling.load(Ordering::Relaxed));
    drop(tx);
    run.await.unwrap().unwrap();

    // Batch 10 (at least) twice: from librdkafka's queue and from its copy on disk.
    let delivered = stats.delivered.load(Ordering::Relaxed);
    assert!(delivered >= 37 * PER_BATCH, "{delivered}");
    let got = consume_all(&cfg.brokers, delivered as usize);
    let (firsts, dups) = first_occurrences(&got);
    assert_eq!(firsts, expected(36));
    assert_eq!(dups as u64 + 36 * PER_BATCH, delivered);
    assert_eq!(position(data.path(), "file:a"), Some(3500));
    assert_eq!(position(data.path(), "file:b"), Some(3600));
    assert_eq!(segment_files(&spool_dir), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_stops_taking_batches_and_loses_nothing() {
    let (mock, mut cfg) = cluster();
    // A tiny librdkafka queue: the second batch finds it full and is cut in two.
    cfg.buffer_messages = 8;
    let data = tempfile::tempdir().unwrap();
    let spool_dir = data.path().join("agent/spool");
    let spool = Spool::open(&spool_dir, 3000)
        .unwrap()
        .with_segment_bytes(700);
    let producer = Producer::new(&cfg).unwrap().with_spool(spool);
    let (stats, tx, run) = start(producer, data.path(), 1);

    mock.broker_down(-1).unwrap();
    let total = 30;
    let mut acks = Vec::new();
    let mut sent = 0;
    let mut blocked = false;
    while sent < total {
        let permit = match tokio::time::timeout(Duration::from_secs(2), tx.reserve()).await {
            Ok(p) => p.unwrap(),
            Err(_) => {
                // The producer stopped reading: the spool is full.
                let (spooling, _, bytes) = spooled(&stats);
                assert!(spooling);
                assert!(bytes >= 3000, "{bytes}");
                blocked = true;
                break;
            }
        };
        let (b, ack) = batch(sent);
        permit.send(b);
        acks.push(ack);
        sent += 1;
    }
    assert!(
        blocked,
        "the producer took all {total} batches with the broker down"
    );
    assert!(sent < total);
    // The batches were acknowledged while the broker was down, batch 0 (in librdkafka) and
    // batch 1 (cut: partly there) too, as their copies went to the disk first.
    let spooled_records = stats.spool_records.load(Ordering::Relaxed);
    assert!(spooled_records >= PER_BATCH, "{spooled_records}");
    let mut fired = 0;
    let mut waiting = Vec::new();
    for (n, mut ack) in acks.into_iter().enumerate() {
        match ack.try_recv() {
            Ok(r) => {
                assert_eq!(r, Ok(()), "batch {n}");
                fired += 1;
            }
            Err(_) => waiting.push(ack),
        }
    }
    // All but at most the batch left in the channel.
    assert!(fired + 1 >= sent as usize, "{fired} of {sent} acknowledged");
    let mut acks = waiting;

    mock.broker_up(-1).unwrap();
    while sent < total {
        let (b, ack) = batch(sent);
        tokio::time::timeout(Duration::from_secs(60), tx.send(b))
            .await
            .expect("the producer takes batches again")
            .unwrap();
        acks.push(ack);
        sent += 1;
    }
    for ack in acks {
        acked(ack, 60).await;
    }
    wait_until("drained", 60, || spooled(&stats) == (false, 0, 0)).await;
    drop(tx);
    run.await.unwrap().unwrap();

    let got = consume_all(&cfg.brokers, (total * PER_BATCH) as usize);
    let (firsts, dups) = first_occurrences(&got);
    assert_eq!(firsts, expected(total));
    // Batch 0 and the head of batch 1 were in librdkafka when their copies were written.
    assert!(dups <= 2 * PER_BATCH as usize, "{dups}");
    assert_eq!(position(data.path(), "file:a"), Some(2900));
    assert_eq!(position(data.path(), "file:b"), Some(3000));
    assert_eq!(segment_files(&spool_dir), 0);
}

/// Sends batches `0..n` of `src` as a file source resuming from `data`'s checkpoint would:
/// those ending after its position. Returns their acks.
async fn resend_from_checkpoint(
    tx: &mpsc::Sender<RawBatch>,
    data: &Path,
    n: u64,
) -> Vec<AckReceiver> {
    let cp = AgentCheckpoint::open(data).unwrap().get().clone();
    let mut acks = Vec::new();
    for b in 0..n {
        let key = if b.is_multiple_of(2) {
            "file:a"
        } else {
            "file:b"
        };
        if (b + 1) * 100 <= cp.get(key).unwrap_or(0) {
            continue;
        }
        let (batch, ack) = batch(b);
        tx.send(batch).await.unwrap();
        acks.push(ack);
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_with_the_spool_full_and_the_broker_down_ends_within_the_drain_time() {
    let (mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let spool = Spool::open(&data.path().join("agent/spool"), 3000)
        .unwrap()
        .with_segment_bytes(700);
    let producer = Producer::new(&cfg).unwrap().with_spool(spool);
    let (stop_tx, stop) = stop_signal();
    let (stats, tx, run) = start_until(producer, data.path(), 1, Duration::from_secs(1), stop);

    mock.broker_down(-1).unwrap();
    let mut sent = 0;
    // Until the producer stops reading (the spool is full).
    while let Ok(p) = tokio::time::timeout(Duration::from_secs(2), tx.reserve()).await {
        p.unwrap().send(batch(sent).0);
        sent += 1;
        assert!(sent < 100, "the producer never stopped taking batches");
    }
    let (spooling, _, bytes) = spooled(&stats);
    assert!(spooling && bytes >= 3000, "{bytes}");
    // The sources still hold the channel (blocked on a full one): only the stop signal ends
    // the run, after at most the drain time.
    let started = std::time::Instant::now();
    stop_tx.send(()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the producer stops within the drain time while the broker is down");
    res.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(tx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_stay_in_source_order_across_a_restart_during_an_outage() {
    let (mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let spool_dir = data.path().join("agent/spool");

    // First run: batches 0..4 delivered; 4 and 5 stuck in librdkafka when the broker goes
    // down; 6..13 spooled; then a stop whose drain times out with 4 and 5 unconfirmed.
    let producer = Producer::new(&cfg)
        .unwrap()
        .with_spool(Spool::open(&spool_dir, 1 << 20).unwrap());
    let (stop_tx, stop) = stop_signal();
    let (stats, tx, run) = start_until(producer, data.path(), 4, Duration::from_millis(500), stop);
    for n in 0..4 {
        let (b, ack) = batch(n);
        tx.send(b).await.unwrap();
        acked(ack, 20).await;
    }
    mock.broker_down(-1).unwrap();
    tx.send(batch(4).0).await.unwrap();
    tx.send(batch(5).0).await.unwrap();
    wait_until("spooling", 10, || stats.spooling.load(Ordering::Relaxed)).await;
    for n in 6..14 {
        let (b, ack) = batch(n);
        tx.send(b).await.unwrap();
        acked(ack, 10).await;
    }
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("stopped")
        .unwrap()
        .unwrap();
    drop(tx);
    assert!(stats.spool_records.load(Ordering::Relaxed) >= 10 * PER_BATCH);

    // Second run with the broker back: the spool goes first, then the sources resume from
    // the checkpoint and send 14..20 too.
    mock.broker_up(-1).unwrap();
    let producer = Producer::new(&cfg)
        .unwrap()
        .with_spool(Spool::open(&spool_dir, 1 << 20).unwrap());
    let (stats, tx, run) = start(producer, data.path(), 4);
    for ack in resend_from_checkpoint(&tx, data.path(), 20).await {
        acked(ack, 60).await;
    }
    wait_until("drained", 60, || spooled(&stats) == (false, 0, 0)).await;
    drop(tx);
    run.await.unwrap().unwrap();

    let got = consume_all(&cfg.brokers, (20 * PER_BATCH) as usize);
    let (firsts, _) = first_occurrences(&got);
    assert_eq!(firsts, expected(20));
    assert_eq!(segment_files(&spool_dir), 0);
}

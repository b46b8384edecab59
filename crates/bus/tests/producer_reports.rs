//! The producer's delivery tracking on librdkafka's mock cluster, without a disk buffer: every
//! record of many batches from two sources reaches the topic once, in order per key, with acks
//! and positions following; a record the broker refuses for good is counted and skipped.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use std::sync::Arc;
use std::time::Duration;

use loglynx_bus::kafka::{AgentCheckpoint, Producer, Replays};
use loglynx_core::{ack_channel, positioned_id, AckReceiver, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

mod mock;

use mock::{acked, batch, cluster, start};

fn consume_all(brokers: &str, want: usize) -> BTreeMap<String, Vec<(String, String)>> {
    mock::consume_all(brokers, want, "reports-test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_many_batches_is_delivered_once_in_order() {
    let (_mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let (stats, tx, run) = start(Producer::new(&cfg).unwrap(), data.path(), 4);
    const BATCHES: u64 = 40;
    const PER: u64 = 300;
    let mut acks = Vec::new();
    for n in 0..BATCHES {
        let (b, ack) = batch(n, PER, "\"quoted\"");
        tx.send(b).await.unwrap();
        acks.push(ack);
    }
    for ack in acks {
        acked(ack, 20).await;
    }
    drop(tx);
    run.await.unwrap().unwrap();
    let total = BATCHES * PER;
    assert_eq!(stats.enqueued.load(Ordering::Relaxed), total);
    assert_eq!(stats.delivered.load(Ordering::Relaxed), total);
    assert_eq!(stats.batches.load(Ordering::Relaxed), BATCHES);
    assert_eq!(stats.failures.load(Ordering::Relaxed), 0);
    let cp = AgentCheckpoint::open(data.path()).unwrap();
    assert_eq!(cp.get().get("file:a"), Some(3900));
    assert_eq!(cp.get().get("file:b"), Some(4000));

    let got = consume_all(&cfg.brokers, total as usize);
    let mut want: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for n in 0..BATCHES {
        let src = if n.is_multiple_of(2) { "a" } else { "b" };
        want.entry(format!("h1|file:/var/log/{src}.log"))
            .or_default()
            .extend((0..PER).map(|i| {
                (
                    format!("{src} line {n} {i} \"quoted\""),
                    format!("{src}-{n}-{i}"),
                )
            }));
    }
    assert_eq!(got, want);
}

/// Issue 11: records the brokers refused as too large were skipped while their batch was
/// acknowledged. Now the batch is not acknowledged, its position stays before it (a restart
/// sends it again) and the producer stops saying what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue_11_records_the_brokers_refuse_as_too_large_are_never_acknowledged() {
    let (mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let (stats, tx, run) = start(Producer::new(&cfg).unwrap(), data.path(), 4);
    // The connection is up (the first batch delivered), then the next produce request fails
    // as too large (the topic's max.message.bytes is below the producer's limit).
    let (b, ack) = batch(0, 3, "\"quoted\"");
    tx.send(b).await.unwrap();
    acked(ack, 20).await;
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let (b, ack) = batch(2, 3, "\"quoted\"");
    tx.send(b).await.unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(20), ack)
        .await
        .expect("answered")
        .expect("ack sent");
    let e = r.expect_err("a batch with a refused record is not acknowledged");
    assert!(e.0.contains("message.max.bytes"), "{e:?}");
    let e = run.await.unwrap().expect_err("the producer stops").to_string();
    assert!(e.contains("set message.max.bytes in [kafka.properties]"), "{e}");
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 0);
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 3);
    drop(tx);
    assert_eq!(
        AgentCheckpoint::open(data.path()).unwrap().get().get("file:a"),
        Some(100),
        "the position stays before the batch"
    );
}

/// Issue 11: a record above the producer's `message.max.bytes` is refused by librdkafka
/// before it is sent; it is sent cut to fit, flagged truncated, in its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue_11_a_record_above_message_max_bytes_is_cut_in_its_place() {
    let (_mock, mut cfg) = cluster();
    cfg.properties.insert("message.max.bytes".into(), "3000".into());
    cfg.batch_size = loglynx_config::ByteSize(3000);
    let data = tempfile::tempdir().unwrap();
    let (stats, tx, run) = start(Producer::new(&cfg).unwrap(), data.path(), 4);
    let (mut b, ack) = batch(0, 5, "ok");
    b.records[2].body = "é".repeat(5000).into_bytes();
    tx.send(b).await.unwrap();
    acked(ack, 20).await;
    drop(tx);
    run.await.unwrap().unwrap();
    assert_eq!(stats.truncated.load(Ordering::Relaxed), 1);
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 0);
    let got = mock::consume_messages(&cfg.brokers, 5, "max-bytes-test");
    let ids: Vec<_> = got.iter().map(|m| m.record.id.as_str()).collect();
    assert_eq!(ids, ["a-0-0", "a-0-1", "a-0-2", "a-0-3", "a-0-4"], "every record, in order");
    let cut = &got[2].record;
    assert!(cut.truncated);
    let text = std::str::from_utf8(&cut.body).expect("cut at a character boundary");
    assert!(text.len() > 2000 && text.len() < 3000 && text.chars().all(|c| c == 'é'), "{}", text.len());
    assert!(got.iter().filter(|m| m.record.id != "a-0-2").all(|m| !m.record.truncated));
}

/// Batch `n` of `per` lines of one file (12 bytes each with the newline), with the positioned
/// ids a file tail gives them, so the workers' replay detection applies.
fn file_batch(n: u64, per: u64) -> (RawBatch, AckReceiver) {
    let source = Arc::new(SourceKind::File { path: "/var/log/a.log".into() });
    let records = (n * per..(n + 1) * per)
        .map(|k| RawRecord {
            body: format!("line {k:06}").into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: source.clone(),
            host: Some("h1".into()),
            received: Timestamp(1),
            id: positioned_id("file:1:2:abc", k * 12),
        })
        .collect();
    let (ack, rx) = ack_channel();
    let b = RawBatch { records, checkpoint: vec![("file:1:2:abc".into(), (n + 1) * per * 12)], ack: Some(ack), kafka: None };
    (b, rx)
}

/// Issue 11: a record whose delivery failed was sent again after later records of its key had
/// been delivered, and the workers' replay detection (which skips a record ending at or below
/// the last one taken from its file) took it for an old copy: acknowledged, never stored.
/// Provoked with message timeouts while the broker is down: the first batch times out, the
/// second (sent after that) is delivered when the broker comes back, with or after the first
/// re-sent record and before the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue_11_a_record_sent_again_after_later_ones_is_still_stored() {
    let (mock, mut cfg) = cluster();
    cfg.properties.insert("message.timeout.ms".into(), "3000".into());
    cfg.properties.insert("reconnect.backoff.ms".into(), "20".into());
    cfg.properties.insert("reconnect.backoff.max.ms".into(), "100".into());
    let data = tempfile::tempdir().unwrap();
    let (stats, tx, run) = start(Producer::new(&cfg).unwrap(), data.path(), 4);
    let (b, ack) = file_batch(0, 5);
    tx.send(b).await.unwrap();
    acked(ack, 20).await;

    mock.broker_down(1).unwrap();
    let (b, ack1) = file_batch(1, 5);
    tx.send(b).await.unwrap();
    // The first batch times out while the broker is down: its records are then sent again one
    // at a time, each once the one before it is delivered (so not before the broker returns).
    wait_until("a delivery failure of the first batch", || stats.failures.load(Ordering::Relaxed) > 0).await;
    // The second batch is handed to librdkafka while the broker is still down: it is queued
    // before every re-send but the first, so the broker stores it before most of the first.
    let (b, ack2) = file_batch(2, 5);
    tx.send(b).await.unwrap();
    wait_until("the second batch enqueued", || stats.enqueued.load(Ordering::Relaxed) == 15).await;
    mock.broker_up(1).unwrap();
    acked(ack1, 20).await;
    acked(ack2, 20).await;
    drop(tx);
    run.await.unwrap().unwrap();

    // A worker reads the partition in offset order: every line is stored once.
    let got = mock::consume_messages(&cfg.brokers, 15, "resent-test");
    let order: Vec<String> = got.iter().map(|m| String::from_utf8_lossy(&m.record.body).into_owned()).collect();
    let first_of_2 = order.iter().position(|l| l == "line 000010").expect("batch 2 sent");
    assert!(
        order[first_of_2..].iter().any(|l| l.as_str() < "line 000010"),
        "the fault did not provoke a re-send after later records: {order:?}"
    );
    let mut replays = Replays::default();
    let mut stored: Vec<String> = got
        .iter()
        .filter(|m| replays.admit(&m.record))
        .map(|m| String::from_utf8(m.record.body.clone()).unwrap())
        .collect();
    stored.sort();
    let want: Vec<String> = (0..15).map(|k| format!("line {k:06}")).collect();
    assert_eq!(stored, want, "sent: {order:?}");
}

/// Polls `cond` every 10 ms; fails the test when it is still false after 20 s.
async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(20), "waited 20 s for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

//! The producer's delivery tracking on librdkafka's mock cluster, without a disk buffer: every
//! record of many batches from two sources reaches the topic once, in order per key, with acks
//! and positions following; a record the broker refuses for good is counted and skipped.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use loglynx_bus::kafka::{AgentCheckpoint, Producer};
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

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_broker_refuses_for_good_are_counted_and_skipped() {
    let (mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let (stats, tx, run) = start(Producer::new(&cfg).unwrap(), data.path(), 4);
    // The connection is up (the first batch delivered), then the next produce request fails
    // with a permanent error.
    let (b, ack) = batch(0, 3, "\"quoted\"");
    tx.send(b).await.unwrap();
    acked(ack, 20).await;
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let (b, ack) = batch(2, 3, "\"quoted\"");
    tx.send(b).await.unwrap();
    acked(ack, 20).await;
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 3);
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 3);
    assert_eq!(stats.failures.load(Ordering::Relaxed), 0);
    drop(tx);
    run.await.unwrap().unwrap();
    assert_eq!(
        AgentCheckpoint::open(data.path())
            .unwrap()
            .get()
            .get("file:a"),
        Some(300)
    );
}

//! The producer's delivery tracking on librdkafka's mock cluster, without a disk buffer: every
//! record of many batches from two sources reaches the topic once, in order per key, with acks
//! and positions following; a record the broker refuses for good is counted and skipped.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use loglynx_bus::kafka::{decode_record, AgentCheckpoint, Producer};
use loglynx_config::KafkaConfig;
use loglynx_core::{
    ack_channel, AckReceiver, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

const TOPIC: &str = "logs";

type Mock = MockCluster<'static, DefaultProducerContext>;

fn cluster() -> (Mock, KafkaConfig) {
    let mock = MockCluster::new(1).unwrap();
    mock.create_topic(TOPIC, 2, 1).unwrap();
    let cfg = KafkaConfig {
        brokers: mock.bootstrap_servers(),
        topic: TOPIC.into(),
        linger: Duration::from_millis(5),
        ..KafkaConfig::default()
    };
    (mock, cfg)
}

/// Batch `n` of source `a` (even n) or `b` (odd n): `per` records with ids `<src>-<n>-<i>`,
/// advancing the source's position to (n + 1) * 100.
fn batch(n: u64, per: u64) -> (RawBatch, AckReceiver) {
    let src = if n.is_multiple_of(2) { "a" } else { "b" };
    let source = Arc::new(SourceKind::File {
        path: format!("/var/log/{src}.log"),
    });
    let records = (0..per)
        .map(|i| RawRecord {
            body: format!("{src} line {n} {i} \"quoted\"").into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: source.clone(),
            host: Some("h1".into()),
            received: Timestamp(1),
            id: format!("{src}-{n}-{i}"),
        })
        .collect();
    let (ack, rx) = ack_channel();
    let b = RawBatch {
        records,
        checkpoint: vec![(format!("file:{src}"), (n + 1) * 100)],
        ack: Some(ack),
    };
    (b, rx)
}

/// Every record of the topic: (body, id) per message key in offset order.
fn consume_all(brokers: &str, want: usize) -> BTreeMap<String, Vec<(String, String)>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reports-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut got: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut n = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut quiet_until = None;
    while std::time::Instant::now() < deadline {
        if quiet_until.is_some_and(|t| std::time::Instant::now() > t) {
            break;
        }
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let r = decode_record(m.payload(), TOPIC, m.partition(), m.offset());
            let body = String::from_utf8(r.body).unwrap();
            got.entry(key).or_default().push((body, r.id));
            n += 1;
            if n >= want && quiet_until.is_none() {
                quiet_until = Some(std::time::Instant::now() + Duration::from_secs(1));
            }
        }
    }
    got
}

async fn ack_of(rx: AckReceiver) -> Result<(), loglynx_core::AckError> {
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("ack within the deadline")
        .expect("ack sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_many_batches_is_delivered_once_in_order() {
    let (_mock, cfg) = cluster();
    let data = tempfile::tempdir().unwrap();
    let producer = Producer::new(&cfg).unwrap();
    let stats = producer.stats();
    let checkpoint = AgentCheckpoint::open(data.path()).unwrap();
    let (tx, rx) = mpsc::channel(4);
    let run = tokio::spawn(producer.run(
        rx,
        checkpoint,
        4,
        Duration::from_secs(5),
        std::future::pending(),
    ));
    const BATCHES: u64 = 40;
    const PER: u64 = 300;
    let mut acks = Vec::new();
    for n in 0..BATCHES {
        let (b, ack) = batch(n, PER);
        tx.send(b).await.unwrap();
        acks.push(ack);
    }
    for ack in acks {
        assert_eq!(ack_of(ack).await, Ok(()));
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
    let producer = Producer::new(&cfg).unwrap();
    let stats = producer.stats();
    let checkpoint = AgentCheckpoint::open(data.path()).unwrap();
    let (tx, rx) = mpsc::channel(4);
    let run = tokio::spawn(producer.run(
        rx,
        checkpoint,
        4,
        Duration::from_secs(5),
        std::future::pending(),
    ));
    // The connection is up (the first batch delivered), then the next produce request fails
    // with a permanent error.
    let (b, ack) = batch(0, 3);
    tx.send(b).await.unwrap();
    assert_eq!(ack_of(ack).await, Ok(()));
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let (b, ack) = batch(2, 3);
    tx.send(b).await.unwrap();
    assert_eq!(ack_of(ack).await, Ok(()));
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

//! What the mock-cluster tests share: a one-broker librdkafka mock cluster with a 2-partition
//! topic, batches of file records from two sources, a producer run fed by a channel, the wait
//! for a batch's ack, and a reader of the whole topic.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_bus::kafka::{decode_record, AgentCheckpoint, Producer, ProducerStats};
use loglynx_bus::BusError;
use loglynx_config::KafkaConfig;
use loglynx_core::{
    ack_channel, AckReceiver, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const TOPIC: &str = "logs";

pub type Mock = MockCluster<'static, DefaultProducerContext>;

/// A mock cluster with [`TOPIC`] (2 partitions) and a producer config for it (linger 5 ms).
pub fn cluster() -> (Mock, KafkaConfig) {
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

/// Batch `n` of source `a` (even n) or `b` (odd n): `per` records with ids `<src>-<n>-<i>` and
/// bodies `<src> line <n> <i> <pad>`, advancing the source's position to (n + 1) * 100.
pub fn batch(n: u64, per: u64, pad: &str) -> (RawBatch, AckReceiver) {
    let src = if n.is_multiple_of(2) { "a" } else { "b" };
    let source = Arc::new(SourceKind::File {
        path: format!("/var/log/{src}.log"),
    });
    let records = (0..per)
        .map(|i| RawRecord {
            body: format!("{src} line {n} {i} {pad}").into_bytes(),
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
        kafka: None,
    };
    (b, rx)
}

/// A running producer: its stats, the sender of its batch channel, and its run.
pub type Running = (
    Arc<ProducerStats>,
    mpsc::Sender<RawBatch>,
    JoinHandle<Result<(), BusError>>,
);

/// Runs `producer` (as configured, spool or not) with the checkpoint of `data`, 4 batches in
/// flight, a 5 s drain and no stop signal: it ends when the returned sender is dropped. The
/// batch channel holds `capacity` batches.
pub fn start(producer: Producer, data: &Path, capacity: usize) -> Running {
    start_until(
        producer,
        data,
        capacity,
        Duration::from_secs(5),
        std::future::pending(),
    )
}

/// [`start`] with this drain time, ending too when `stop` completes.
pub fn start_until(
    producer: Producer,
    data: &Path,
    capacity: usize,
    drain: Duration,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Running {
    let stats = producer.stats();
    let checkpoint = AgentCheckpoint::open(data).unwrap();
    let (tx, rx) = mpsc::channel(capacity);
    let run = tokio::spawn(producer.run(rx, checkpoint, 4, drain, stop));
    (stats, tx, run)
}

/// Waits at most `secs` for the ack of `rx`, which must be a success.
pub async fn acked(rx: AckReceiver, secs: u64) {
    let r = tokio::time::timeout(Duration::from_secs(secs), rx)
        .await
        .expect("ack within the deadline")
        .expect("ack sent");
    assert_eq!(r, Ok(()));
}

/// Every record of the topic as (body, id), per message key in offset order: read until
/// `want` records, then one more second to catch any duplicate (at most 30 s).
pub fn consume_all(
    brokers: &str,
    want: usize,
    group: &str,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut got: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for m in consume_messages(brokers, want, group) {
        let body = String::from_utf8(m.record.body).unwrap();
        got.entry(m.key).or_default().push((body, m.record.id));
    }
    got
}

/// A message of the topic.
pub struct Consumed {
    pub key: String,
    pub record: RawRecord,
}

/// Every message of the topic, in offset order per partition (partitions interleaved as
/// fetched): read until `want`, then one more second to catch any duplicate (at most 30 s).
pub fn consume_messages(brokers: &str, want: usize, group: &str) -> Vec<Consumed> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_until = None;
    while Instant::now() < deadline {
        if quiet_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let record = decode_record(m.payload(), TOPIC, m.partition(), m.offset());
                got.push(Consumed { key, record });
                if got.len() >= want && quiet_until.is_none() {
                    quiet_until = Some(Instant::now() + Duration::from_secs(1));
                }
            }
            Some(Err(e)) => panic!("consume: {e}"),
            None => {}
        }
    }
    got
}

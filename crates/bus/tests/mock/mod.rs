//! What the mock-cluster tests share: a one-broker librdkafka mock cluster with a 2-partition
//! topic, batches of file records from two sources, and a reader of the whole topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_bus::kafka::decode_record;
use loglynx_config::KafkaConfig;
use loglynx_core::{ack_channel, AckReceiver, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

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
    };
    (b, rx)
}

/// Every record of the topic as (body, id), per message key in offset order: read until
/// `want` records, then one more second to catch any duplicate (at most 30 s).
pub fn consume_all(brokers: &str, want: usize, group: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning).unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut got: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_until = None;
    while Instant::now() < deadline {
        if quiet_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                let r = decode_record(m.payload(), TOPIC, m.partition(), m.offset());
                let body = String::from_utf8(r.body).unwrap();
                got.entry(key).or_default().push((body, r.id));
                n += 1;
                if n >= want && quiet_until.is_none() {
                    quiet_until = Some(Instant::now() + Duration::from_secs(1));
                }
            }
            Some(Err(e)) => panic!("consume: {e}"),
            None => {}
        }
    }
    got
}

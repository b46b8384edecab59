//! Side topics of the scale-out shape: small JSON records that are not log records.
//!
//! - `<topic>-signals` ([`signals_topic`]): the events a worker's rules matched, written by
//!   every shard before its store commits them, read by the correlator group (one partition:
//!   every signal of a rule + group meets in one place; Kafka gives failover).
//! - `<topic>-alerts` ([`alerts_topic`], compacted, key = alert id): every change of an alert,
//!   written by the correlator (new matches) and by `serve` (acknowledge, close), read whole by
//!   both: the alert state lives in Kafka, not on a disk.
//!
//! [`SideProducer`] sends a batch and waits until the brokers have it; [`TopicReader`] reads
//! every partition of a topic from the start without a group; [`GroupReader`] is a member of a
//! consumer group that commits the offsets it is told to.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use loglynx_config::KafkaConfig;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::config::{consumer_config, log_error, log_line, producer_config, reader_config, LogContext};
use crate::BusError;

/// The signals topic of `topic`.
pub fn signals_topic(topic: &str) -> String {
    format!("{topic}-signals")
}

/// The alerts topic of `topic`.
pub fn alerts_topic(topic: &str) -> String {
    format!("{topic}-alerts")
}

/// The rules topic of `topic`: rules enabled or disabled through `serve` (compacted, key: the
/// rule key).
pub fn rules_topic(topic: &str) -> String {
    format!("{topic}-rules")
}

/// Creates side topic `name` with one partition unless it exists; `compacted` keeps the last
/// record of each key (the alerts), otherwise `cfg.retention` applies (the signals). Returns
/// whether it was created.
pub async fn ensure_side_topic(cfg: &KafkaConfig, name: &str, compacted: bool) -> Result<bool, BusError> {
    let retention_ms = cfg.retention.as_millis().to_string();
    let mut topic = NewTopic::new(name, 1, TopicReplication::Fixed(cfg.replication_factor));
    if compacted {
        topic = topic.set("cleanup.policy", "compact");
    } else if !cfg.retention.is_zero() {
        topic = topic.set("retention.ms", &retention_ms);
    }
    super::admin::create(cfg, &topic).await
}

/// The delivery state of one [`SideProducer::send`] (opaque outside this module).
pub struct Ticket {
    pending: AtomicUsize,
    failed: Mutex<Option<KafkaError>>,
    done: Condvar,
    lock: Mutex<()>,
}

/// The side producer's client context: logs, and delivery reports to the tickets.
pub struct TicketContext;

impl ClientContext for TicketContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        log_error(error, reason);
    }
}

impl ProducerContext for TicketContext {
    type DeliveryOpaque = Arc<Ticket>;

    fn delivery(&self, result: &DeliveryResult<'_>, ticket: Arc<Ticket>) {
        if let Err((e, _)) = result {
            ticket
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| e.clone());
        }
        if ticket.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _g = ticket.lock.lock().unwrap_or_else(|p| p.into_inner());
            ticket.done.notify_all();
        }
    }
}

/// Sends batches of side records and waits for the brokers to have them. Idempotent, acks=all;
/// unlike the agent's producer a failed batch is simply sent again by the caller (the readers
/// of side topics take a record twice as once), so gaps do not stop it.
pub struct SideProducer {
    producer: ThreadedProducer<TicketContext>,
}

impl SideProducer {
    /// A producer to the brokers of `cfg`.
    pub fn new(cfg: &KafkaConfig) -> Result<SideProducer, BusError> {
        let mut c = producer_config(cfg);
        c.set("enable.gapless.guarantee", "false")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5");
        let producer = c
            .create_with_context(TicketContext)
            .map_err(|e| BusError::kafka("side producer", e))?;
        Ok(SideProducer { producer })
    }

    /// Sends `records` (key, value) to `topic` and waits until every one is acknowledged or
    /// `timeout` passed. An error means some may be missing: send the batch again. An empty
    /// value is sent as a tombstone (no payload: compaction removes the key).
    pub fn send(&self, topic: &str, records: &[(String, Vec<u8>)], timeout: Duration) -> Result<(), BusError> {
        if records.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let ticket = Arc::new(Ticket {
            pending: AtomicUsize::new(records.len() + 1),
            failed: Mutex::new(None),
            done: Condvar::new(),
            lock: Mutex::new(()),
        });
        for (key, value) in records {
            let mut rec = BaseRecord::with_opaque_to(topic, ticket.clone()).key(key);
            if !value.is_empty() {
                rec = rec.payload(value);
            }
            loop {
                match self.producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) if Instant::now() < deadline => {
                        rec = back;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err((e, _)) => {
                        // The records not sent will never report: the batch fails as a whole.
                        return Err(BusError::kafka(format!("send to {topic}"), e));
                    }
                }
            }
        }
        ticket.pending.fetch_sub(1, Ordering::AcqRel);
        let mut g = ticket.lock.lock().unwrap_or_else(|p| p.into_inner());
        while ticket.pending.load(Ordering::Acquire) > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BusError::kafka(
                    format!("send to {topic}"),
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
                ));
            }
            g = ticket.done.wait_timeout(g, left.min(Duration::from_millis(100))).unwrap_or_else(|p| p.into_inner()).0;
        }
        drop(g);
        let failed = ticket.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        match failed {
            Some(e) => Err(BusError::kafka(format!("send to {topic}"), e)),
            None => Ok(()),
        }
    }

    /// Waits up to `timeout` for what is in flight (on exit).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}

/// One record read from a side topic.
#[derive(Debug, Clone)]
pub struct SideRecord {
    pub partition: i32,
    pub offset: i64,
    /// The record's key (lossy UTF-8; empty without one).
    pub key: String,
    /// The value; empty for a tombstone.
    pub payload: Vec<u8>,
}

/// Reads every partition of a topic from its start, without a consumer group (every reader
/// sees everything: the alerts topic).
pub struct TopicReader {
    consumer: BaseConsumer<LogContext>,
    topic: String,
    partitions: usize,
    /// Partitions read to their end at least once.
    at_end: HashSet<i32>,
}

impl TopicReader {
    /// A reader of `topic`; it starts reading once the topic exists.
    pub fn new(cfg: &KafkaConfig, topic: &str) -> Result<TopicReader, BusError> {
        let consumer: BaseConsumer<LogContext> = reader_config(cfg)
            .create_with_context(LogContext)
            .map_err(|e| BusError::kafka("topic reader", e))?;
        Ok(TopicReader { consumer, topic: topic.to_string(), partitions: 0, at_end: HashSet::new() })
    }

    /// Whether every partition has been read to its end once (what was there at the start is
    /// in). False while the topic does not exist.
    pub fn caught_up(&self) -> bool {
        self.partitions > 0 && self.at_end.len() >= self.partitions
    }

    /// The next records, at most `max`, waiting up to `timeout` for the first.
    pub fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<SideRecord>, BusError> {
        if self.partitions == 0 {
            let md = self
                .consumer
                .fetch_metadata(Some(&self.topic), timeout.max(Duration::from_millis(500)))
                .map_err(|e| BusError::kafka("metadata", e))?;
            let n = md
                .topics()
                .iter()
                .find(|t| t.name() == self.topic && t.error().is_none())
                .map(|t| t.partitions().len())
                .filter(|n| *n > 0);
            match n {
                Some(n) => {
                    let mut tpl = TopicPartitionList::new();
                    for p in 0..n as i32 {
                        tpl.add_partition_offset(&self.topic, p, Offset::Beginning)
                            .map_err(|e| BusError::kafka("assign", e))?;
                    }
                    self.consumer.assign(&tpl).map_err(|e| BusError::kafka("assign", e))?;
                    self.partitions = n;
                }
                None => {
                    std::thread::sleep(timeout);
                    return Ok(Vec::new());
                }
            }
        }
        read(&self.consumer, max, timeout, &mut self.at_end)
    }
}

/// Polls `consumer` for up to `max` records (the first waited for up to `timeout`), noting
/// the partitions that reached their end.
fn read<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    max: usize,
    timeout: Duration,
    at_end: &mut HashSet<i32>,
) -> Result<Vec<SideRecord>, BusError> {
    let mut out = Vec::new();
    let mut wait = timeout;
    while out.len() < max {
        match consumer.poll(wait) {
            None => break,
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                out.push(SideRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()).unwrap_or_default(),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
                if out.is_empty() {
                    continue;
                }
                break;
            }
            Some(Err(e)) => {
                if out.is_empty() {
                    return Err(BusError::kafka("read side topic", e));
                }
                tracing::warn!("side topic read: {e}");
                break;
            }
        }
        wait = Duration::ZERO;
    }
    Ok(out)
}

/// A member of a consumer group on one side topic: Kafka gives its partitions to one member at
/// a time and to another when that one dies. Offsets are committed by the caller
/// ([`GroupReader::commit`]), once what it read is safe.
pub struct GroupReader {
    consumer: BaseConsumer<LogContext>,
    topic: String,
    at_end: HashSet<i32>,
}

impl GroupReader {
    /// Joins `group` on `topic` (eager assignment: one partition moves whole).
    pub fn new(cfg: &KafkaConfig, group: &str, topic: &str) -> Result<GroupReader, BusError> {
        let mut c = consumer_config(cfg, group);
        c.set("partition.assignment.strategy", "range");
        let consumer: BaseConsumer<LogContext> = c
            .create_with_context(LogContext)
            .map_err(|e| BusError::kafka("group reader", e))?;
        consumer.subscribe(&[topic]).map_err(|e| BusError::kafka("subscribe", e))?;
        Ok(GroupReader { consumer, topic: topic.to_string(), at_end: HashSet::new() })
    }

    /// The next records, at most `max`, waiting up to `timeout` for the first (this also keeps
    /// the member alive in the group: call it at least every `kafka.max_poll_interval`).
    pub fn poll(&mut self, max: usize, timeout: Duration) -> Result<Vec<SideRecord>, BusError> {
        read(&self.consumer, max, timeout, &mut self.at_end)
    }

    /// The partitions this member holds now.
    pub fn assigned(&self) -> Vec<i32> {
        self.consumer
            .assignment()
            .map(|tpl| tpl.elements_for_topic(&self.topic).iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Commits `next` (the offset to resume from) for `partition`, asynchronously.
    pub fn commit(&self, partition: i32, next: i64) -> Result<(), BusError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic, partition, Offset::Offset(next))
            .map_err(|e| BusError::kafka("commit", e))?;
        self.consumer.commit(&tpl, CommitMode::Async).map_err(|e| BusError::kafka("commit", e))
    }

    /// Leaves the group.
    pub fn close(self) {
        self.consumer.unsubscribe();
    }
}

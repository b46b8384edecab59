//! Handing records to librdkafka and tracking their delivery per batch: every record of a
//! batch carries the batch's [`Tracker`] as its delivery opaque; librdkafka's report
//! (`SendContext::delivery`, on the polling thread) counts it down and keeps a copy of a
//! failed record; the batch completes when its last report is in. One channel per batch
//! instead of a future per record.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_core::RawRecord;
use loglynx_telemetry::internal_events::{
    RecordDelivered, RecordDeliveryFailed, RecordRejected, RecordTruncatedToFit,
};
use loglynx_telemetry::InternalEvent;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::oneshot;

use super::{ProducerStats, DELIVERY_RETRIES};
use crate::kafka::codec::{shrink_value, KeyCache, ValueEncoder};
use crate::kafka::config::{log_error, log_line};
use crate::BusError;

/// The producer's librdkafka client.
pub(super) type Kafka = ThreadedProducer<SendContext>;

/// The producer's client context: librdkafka's logs to `tracing`, delivery reports to the
/// batches' trackers.
pub struct SendContext {
    pub(super) delivered: Arc<ProducerStats>,
    /// librdkafka's `message.max.bytes`: a larger record is refused before it is sent.
    pub(super) max_message: usize,
}

/// Room left in a message for what librdkafka adds to key and value (record headers, the
/// batch header): a record cut to fit `message.max.bytes` keeps this much below it.
const MESSAGE_OVERHEAD: usize = 512;

/// The value of a record librdkafka refused as larger than `message.max.bytes`, cut to fit
/// (flagged `truncated`, counted and logged); `None` when it cannot be made smaller. A first
/// cut aims below `max_message`; a value refused again is halved.
fn cut_to_fit(key: &str, value: &[u8], max_message: usize, stats: &ProducerStats) -> Option<Vec<u8>> {
    let first = max_message.saturating_sub(key.len() + MESSAGE_OVERHEAD);
    let limit = if value.len() > first { first } else { value.len() / 2 };
    let cut = shrink_value(value, limit)?;
    RecordTruncatedToFit { key, bytes: value.len(), kept: cut.len() }.emit(&stats.truncated);
    Some(cut)
}

impl ClientContext for SendContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        log_error(error, reason);
    }
}

impl ProducerContext for SendContext {
    type DeliveryOpaque = Arc<Tracker>;

    fn delivery(&self, result: &DeliveryResult<'_>, tracker: Arc<Tracker>) {
        match result {
            Ok(_) => {
                RecordDelivered.emit(&self.delivered.delivered);
            }
            Err((e, m)) => {
                let failed = Failed {
                    err: e.clone(),
                    key: m
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                };
                tracker
                    .failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(failed);
            }
        }
        tracker.report();
    }
}

/// A record whose delivery failed (a copy, to send it again).
struct Failed {
    err: KafkaError,
    key: String,
    value: Vec<u8>,
}

/// The delivery state of one batch's records.
pub struct Tracker {
    /// Records without a report yet, plus one while the batch is being enqueued.
    pending: AtomicUsize,
    /// Failed records in report order (per partition, the order they were sent in).
    failed: Mutex<Vec<Failed>>,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl Tracker {
    fn new() -> (Arc<Tracker>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let t = Tracker {
            pending: AtomicUsize::new(1),
            failed: Mutex::default(),
            done: Mutex::new(Some(tx)),
        };
        (Arc::new(t), rx)
    }

    /// One report in (or the enqueuing over): the last one completes the batch.
    fn report(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let tx = self.done.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(tx) = tx {
                let _ = tx.send(());
            }
        }
    }
}

/// A batch's records as sent: the values back to back in one buffer, the keys once per run
/// of records sharing one.
#[derive(Debug, Default)]
pub(super) struct Encoded {
    buf: Vec<u8>,
    /// End of each value in `buf`.
    ends: Vec<usize>,
    /// (first record, key) of each run of records with the same key.
    keys: Vec<(usize, String)>,
}

impl Encoded {
    /// Encodes `records` (the codec's key and value of each).
    pub fn from_records(
        records: &[RawRecord],
        keys: &mut KeyCache,
        values: &mut ValueEncoder,
    ) -> Encoded {
        let mut e = Encoded {
            buf: Vec::with_capacity(records.iter().map(|r| r.body.len() + 224).sum()),
            ends: Vec::with_capacity(records.len()),
            keys: Vec::new(),
        };
        for (i, r) in records.iter().enumerate() {
            let (key, new) = keys.key(r);
            if new || e.keys.last().is_none_or(|(_, k)| k != key) {
                e.keys.push((i, key.to_string()));
            }
            values.encode_into(r, &mut e.buf);
            e.ends.push(e.buf.len());
        }
        e
    }

    /// Records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The key and value of each record, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let mut run = 0;
        (0..self.ends.len()).map(move |i| {
            while run + 1 < self.keys.len() && self.keys[run + 1].0 <= i {
                run += 1;
            }
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            (self.keys[run].1.as_str(), &self.buf[start..self.ends[i]])
        })
    }

    /// Records `from..to` as spool records.
    pub fn records(&self, from: usize, to: usize) -> Vec<(String, Vec<u8>)> {
        self.iter()
            .skip(from)
            .take(to.saturating_sub(from))
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect()
    }
}

/// What became of one record handed to librdkafka.
pub(super) enum Sent {
    /// In librdkafka's queue: its report goes to the batch's tracker.
    Queued,
    /// Refused for good (logged and counted).
    Rejected,
    /// The local queue stayed full for `give_up`.
    Full,
}

/// Records of one batch being enqueued; [`Batch::seal`] gives the future of their delivery.
pub(super) struct Batch {
    tracker: Arc<Tracker>,
    done: oneshot::Receiver<()>,
    /// Records enqueued.
    pub queued: u64,
}

impl Batch {
    /// A batch with no record yet.
    pub fn new() -> Batch {
        let (tracker, done) = Tracker::new();
        Batch {
            tracker,
            done,
            queued: 0,
        }
    }

    /// Enqueues one record, waiting while the local queue is full; [`Sent::Full`] when it
    /// stayed full for `give_up`.
    pub async fn send(
        &mut self,
        p: &Kafka,
        topic: &str,
        key: &str,
        value: &[u8],
        give_up: Option<Duration>,
        stats: &ProducerStats,
    ) -> Result<Sent, BusError> {
        let mut full_since = None;
        let mut cut: Option<Vec<u8>> = None;
        loop {
            let value = cut.as_deref().unwrap_or(value);
            self.tracker.pending.fetch_add(1, Ordering::Relaxed);
            let rec = BaseRecord::with_opaque_to(topic, self.tracker.clone())
                .key(key)
                .payload(value);
            let err = match p.send(rec) {
                Ok(()) => {
                    self.queued += 1;
                    return Ok(Sent::Queued);
                }
                Err((e, _)) => e,
            };
            // Not enqueued: no report will come (the guard keeps `pending` above 0).
            self.tracker.pending.fetch_sub(1, Ordering::Relaxed);
            match err {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                    let since = *full_since.get_or_insert_with(Instant::now);
                    if give_up.is_some_and(|g| since.elapsed() >= g) {
                        return Ok(Sent::Full);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                e if too_large(&e) => match cut_to_fit(key, value, p.context().max_message, stats) {
                    // Sent again at once, cut: it keeps its place among its key's records.
                    Some(c) => cut = Some(c),
                    None => {
                        reject(stats, key, value.len(), &e);
                        return Ok(Sent::Rejected);
                    }
                },
                e if rejected_for_good(&e) => {
                    reject(stats, key, value.len(), &e);
                    return Ok(Sent::Rejected);
                }
                e => return Err(BusError::kafka("produce", e)),
            }
        }
    }

    /// Ends the enqueuing: the future completes once every record enqueued is delivered
    /// (failed ones sent again up to [`DELIVERY_RETRIES`] times).
    pub fn seal(
        self,
        p: Kafka,
        topic: Arc<str>,
        stats: Arc<ProducerStats>,
    ) -> impl std::future::Future<Output = Result<(), BusError>> + Send + 'static {
        let Batch { tracker, done, .. } = self;
        tracker.report();
        async move {
            let _ = done.await;
            let failed =
                std::mem::take(&mut *tracker.failed.lock().unwrap_or_else(|p| p.into_inner()));
            for f in failed {
                retry(&p, &topic, f, &stats).await?;
            }
            Ok(())
        }
    }
}

/// Sends a failed record again until it is delivered, refused for good, or has failed
/// [`DELIVERY_RETRIES`] more times. It may then arrive after later records of its key (their
/// batches were in flight): a worker takes such a late first copy of a file line through the
/// hole its stream's jump left (`dedup.rs`), so it is not skipped as an old copy.
async fn retry(p: &Kafka, topic: &str, f: Failed, stats: &ProducerStats) -> Result<(), BusError> {
    let Failed {
        mut err,
        key,
        value,
    } = f;
    let mut attempt = 0;
    loop {
        if too_large(&err) {
            // The brokers refused it: the topic's limit is below the producer's. With the
            // gapless guarantee librdkafka has stopped (nothing after it was stored, so order
            // holds); the batch is not acknowledged and is sent again after the restart, cut
            // to fit once message.max.bytes is set to the topic's limit.
            return Err(BusError::TooLargeForTopic {
                key,
                bytes: value.len(),
                max_message: p.context().max_message,
            });
        }
        if rejected_for_good(&err) {
            reject(stats, &key, value.len(), &err);
            return Ok(());
        }
        attempt += 1;
        if attempt > DELIVERY_RETRIES {
            RecordDeliveryFailed {
                attempt: 0,
                error: &err,
            }
            .emit(&stats.failures);
            return Err(BusError::kafka("delivery", err));
        }
        RecordDeliveryFailed {
            attempt,
            error: &err,
        }
        .emit(&stats.failures);
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        match send_alone(p, topic, &key, &value, stats).await? {
            None => return Ok(()),
            Some(e) => err = e,
        }
    }
}

/// Sends one record and waits for its report: `None` once it is delivered (or cut and
/// delivered, or refused for good), else the error of its report.
async fn send_alone(
    p: &Kafka,
    topic: &str,
    key: &str,
    value: &[u8],
    stats: &ProducerStats,
) -> Result<Option<KafkaError>, BusError> {
    let mut b = Batch::new();
    match b.send(p, topic, key, value, None, stats).await? {
        Sent::Queued => {}
        Sent::Rejected | Sent::Full => return Ok(None),
    }
    let Batch { tracker, done, .. } = b;
    tracker.report();
    let _ = done.await;
    let again = tracker
        .failed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop();
    Ok(again.map(|f| f.err))
}

/// True for a record refused for its size (by librdkafka before sending, or by the brokers).
fn too_large(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge)
}

/// True for an error the brokers (or librdkafka) give for a record that will never be taken.
fn rejected_for_good(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

fn reject(stats: &ProducerStats, key: &str, len: usize, e: &KafkaError) {
    RecordRejected {
        key,
        bytes: len,
        error: e,
    }
    .emit(&stats.rejected);
}

#[cfg(test)]
mod tests {
    use loglynx_core::{FormatHint, SourceKind, Timestamp};

    use super::*;
    use crate::kafka::codec::{encode_record, record_key};

    fn rec(path: &str, host: &str, id: String) -> RawRecord {
        RawRecord {
            body: format!("line {id}").into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File { path: path.into() }),
            host: Some(host.into()),
            received: Timestamp(7),
            id,
        }
    }

    #[test]
    fn a_batch_is_encoded_with_one_key_per_run() {
        let id = |stream: &str, pos| loglynx_core::positioned_id(stream, pos);
        let records = vec![
            rec("/a", "h", id("file:1", 1)),
            rec("/a", "h", id("file:1", 2)),
            rec("/a", "h", id("file:2", 3)),
            rec("/a", "other", id("file:2", 4)),
            rec("/b", "other", "not-positioned".into()),
            rec("/b", "other", "not-positioned-2".into()),
        ];
        let e = Encoded::from_records(
            &records,
            &mut KeyCache::default(),
            &mut ValueEncoder::default(),
        );
        assert_eq!(e.len(), 6);
        assert_eq!(e.keys.len(), 4);
        let want: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|r| (record_key(r), encode_record(r)))
            .collect();
        let got: Vec<(String, Vec<u8>)> =
            e.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
        assert_eq!(got, want);
        assert_eq!(e.records(0, 6), want);
        assert_eq!(e.records(2, 4), want[2..4].to_vec());
        assert!(e.records(6, 6).is_empty());
        let empty =
            Encoded::from_records(&[], &mut KeyCache::default(), &mut ValueEncoder::default());
        assert_eq!((empty.len(), empty.iter().count()), (0, 0));
    }

    #[test]
    fn a_tracker_completes_after_the_last_report_and_the_seal() {
        let (t, mut rx) = Tracker::new();
        t.pending.fetch_add(2, Ordering::Relaxed);
        t.report();
        t.report();
        assert!(rx.try_recv().is_err(), "completed before the seal");
        t.report();
        assert_eq!(rx.try_recv(), Ok(()));
    }
}

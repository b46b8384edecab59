//! Correlation and alerts in the scale-out shape (see ARCHITECTURE.md, "Detection across
//! workers").
//!
//! Each shard tags its events with the rules they match (on the parse threads, as in `run`)
//! and, before its store commits a batch, sends the tagged events to `<topic>-signals`
//! ([`spawn_signals`]), keyed by rule + group key (`Detector::signal_key`): the failed logins
//! of one source read by two workers meet there. Every
//! worker also runs a [`Correlator`], a member of the group `<group>-correlator` on that topic
//! (one partition: one member correlates, Kafka hands the partition to another when it dies).
//! It runs the same [`loglynx_detect::DetectionStage`] as `run`, and publishes each alert change
//! to `<topic>-alerts` (key: alert id; `serve` lists alerts from it) and each new alert as an
//! event to the main topic (the workers index it: alerts are searchable like in `run`).
//!
//! State lives in Kafka, not on a disk: at start the correlator reads the alerts topic whole
//! into its (in-memory) alert book, and it commits on the signals topic only the offset of the
//! oldest signal still inside a correlation window. A member that takes over reads those
//! signals again: windows are rebuilt, matches already folded change nothing (an event id counts
//! once, alert ids derive from rule + group + window start), so nothing is raised twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loglynx_bus::kafka::{
    alerts_topic, encode_record, ensure_side_topic, record_key, signals_topic, GroupReader, SideProducer,
    TopicReader,
};
use loglynx_config::Config;
use loglynx_core::{Event, EventBatch, FormatHint, RawRecord, SourceKind, Timestamp};
use loglynx_detect::{Alert, Detection};
use tokio::sync::mpsc;

use crate::error::{NodeError, Result};

/// How long a side-topic send may take before it is tried again.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Signals read at once.
const BATCH: usize = 1000;
/// Most signals remembered for the commit position (beyond, the oldest are forgotten: a
/// take-over rebuilds less than the whole window, and says so in the log).
const MAX_POSITIONS: usize = 1_000_000;

/// Creates the side topics (signals, alerts) unless they exist.
async fn ensure_topics(kafka: &loglynx_config::KafkaConfig) -> std::result::Result<(), loglynx_bus::BusError> {
    for (name, compacted) in [(signals_topic(&kafka.topic), false), (alerts_topic(&kafka.topic), true)] {
        ensure_side_topic(kafka, &name, compacted).await?;
    }
    Ok(())
}

/// Sends a shard's tagged events to the signals topic, then passes the batch on to the store
/// writer: a batch is committed only once its signals are in Kafka. A send that fails is
/// retried until it succeeds; when the worker stops meanwhile, that batch and the later ones
/// are not passed on (not committed: the partition's next owner reads them again).
pub(crate) fn spawn_signals(
    producer: Arc<SideProducer>,
    topic: String,
    detection: Option<Arc<Detection>>,
    stopping: Arc<AtomicBool>,
    mut rx: mpsc::Receiver<EventBatch>,
    tx: mpsc::Sender<EventBatch>,
) -> Result<std::thread::JoinHandle<()>> {
    let signals = signals_topic(&topic);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut given_up = false;
            let mut progress = Progress::default();
            while let Some(batch) = rx.blocking_recv() {
                if given_up {
                    continue;
                }
                // keyed by rule + group key (`Detector::signal_key`)
                let detector = detection.as_ref().map(|d| d.detector());
                let key = |e: &Event| detector.as_ref().map_or_else(|| e.rule_ids[0].clone(), |d| d.signal_key(e));
                let mut records: Vec<(String, Vec<u8>)> = batch
                    .events
                    .iter()
                    .filter(|e| !e.rule_ids.is_empty() && e.dataset.as_deref() != Some(loglynx_detect::alerts::ALERT_DATASET))
                    .filter_map(|e| Some((key(e), serde_json::to_vec(e).ok()?)))
                    .collect();
                if let Some(p) = progress.next(&batch.events) {
                    records.push(p);
                }
                if let Err(e) = send_until_stopped(&producer, &signals, &records, || stopping.load(Ordering::Relaxed)) {
                    tracing::warn!("signals not sent ({e}) while stopping: the batches left are not committed; the partition's next owner reads them again");
                    given_up = true;
                    continue;
                }
                if tx.blocking_send(batch).is_err() {
                    break;
                }
            }
        })
        .map_err(|source| NodeError::Thread { what: "signals sender", source })
}

/// The event time a shard has read up to, sent to the signals topic as an event without rules
/// (`event.dataset: loglynx.progress`) whenever it moved on by a second. The correlator sees
/// only matched events; without these its watermark (the newest event time it processed, see
/// `loglynx_detect::resolve`) would stand still while no rule matches, and the alerts of rules
/// tagged `loglynx.resolve` (a condition that stops matching) would not resolve until some
/// other rule matched. At most one record per second of event time and shard, most of them in
/// a send of signals that happens anyway.
#[derive(Default)]
struct Progress {
    sent_secs: Option<i64>,
}

/// `event.dataset` of progress records.
const PROGRESS_DATASET: &str = "loglynx.progress";

impl Progress {
    /// The progress record to add to a batch's signals, if its newest event time moved on by
    /// a second since the last one sent.
    fn next(&mut self, events: &[Event]) -> Option<(String, Vec<u8>)> {
        let newest = events.iter().map(|e| e.timestamp).max()?;
        let secs = newest.as_millis().div_euclid(1000);
        if self.sent_secs.is_some_and(|s| secs <= s) {
            return None;
        }
        let mut e = Event::new(String::new(), newest, Timestamp::now(), format!("progress-{}", newest.as_millis()));
        e.dataset = Some(PROGRESS_DATASET.into());
        let bytes = serde_json::to_vec(&e).ok()?;
        self.sent_secs = Some(secs);
        Some((PROGRESS_DATASET.to_string(), bytes))
    }
}

/// Sends `records` to `topic`, again after each failure (backing off from 200 ms to 5 s)
/// until the brokers have them; gives up with the last error once `stopped` says so.
fn send_until_stopped(
    producer: &SideProducer,
    topic: &str,
    records: &[(String, Vec<u8>)],
    stopped: impl Fn() -> bool,
) -> std::result::Result<(), loglynx_bus::BusError> {
    let mut wait = Duration::from_millis(200);
    loop {
        match producer.send(topic, records, SEND_TIMEOUT) {
            Ok(()) => return Ok(()),
            Err(e) if stopped() => return Err(e),
            Err(e) => {
                tracing::warn!("not sent to {topic}: {e}; retrying in {wait:?}");
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Merges the alerts of records read from the alerts topic into `det`'s alert book (the
/// correlator's and `serve`'s); returns how many were read.
pub(crate) fn merge_alert_records(det: &Detection, records: &[loglynx_bus::kafka::SideRecord]) -> usize {
    let read: Vec<Alert> = records
        .iter()
        .filter_map(|r| serde_json::from_slice::<Alert>(&r.payload).ok())
        .collect();
    if let Err(e) = det.alerts().merge(&read) {
        tracing::error!("alerts from the alerts topic not kept: {e}");
    }
    read.len()
}

/// The running correlator of a worker.
pub(crate) struct Correlator {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Correlator {
    /// Joins the correlator group and starts correlating on its own thread; `active` is set
    /// while it holds the signals partition (the notifier sends only then).
    pub(crate) fn start(cfg: &Config, det: Arc<Detection>, producer: Arc<SideProducer>, active: Arc<AtomicBool>) -> Result<Correlator> {
        let stop = Arc::new(AtomicBool::new(false));
        let run = Run {
            kafka: cfg.kafka.clone(),
            group: format!("{}-correlator", cfg.kafka.group),
            host: cfg.host_name(),
            det,
            producer,
            stop: stop.clone(),
            rt: tokio::runtime::Handle::current(),
            active,
        };
        let thread = std::thread::Builder::new()
            .name("correlator".into())
            .spawn(move || {
                // Started again after an error (the brokers went away...), from what Kafka has.
                while let Err(e) = run.run() {
                    tracing::error!("correlator failed: {e}; starting it again in 5 s");
                    for _ in 0..50 {
                        if run.stopped() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
            .map_err(|source| NodeError::Thread { what: "correlator", source })?;
        Ok(Correlator { stop, thread })
    }

    /// Leaves the group and waits for the thread.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

struct Run {
    kafka: loglynx_config::KafkaConfig,
    group: String,
    host: String,
    det: Arc<Detection>,
    producer: Arc<SideProducer>,
    stop: Arc<AtomicBool>,
    rt: tokio::runtime::Handle,
    active: Arc<AtomicBool>,
}

impl Run {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(&self) -> std::result::Result<(), loglynx_bus::BusError> {
        // The shards' signals wait (retrying) until the topic exists.
        let mut told = false;
        while let Err(e) = self.rt.block_on(ensure_topics(&self.kafka)) {
            if self.stopped() {
                return Ok(());
            }
            if !told {
                tracing::warn!("correlator: side topics not created yet: {e}; retrying");
                told = true;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        let alerts_name = alerts_topic(&self.kafka.topic);
        // What is known of the alerts first: a match folds into the alert it belongs to.
        let mut alerts = TopicReader::new(&self.kafka, &alerts_name)?;
        let mut restored = 0usize;
        while !alerts.caught_up() && !self.stopped() {
            restored += self.merge(alerts.poll(BATCH, Duration::from_millis(200))?);
        }
        tracing::info!(alerts = restored, "correlator: alerts read from {alerts_name}");
        let mut signals = GroupReader::new(&self.kafka, &self.group, &signals_topic(&self.kafka.topic))?;
        let (mut stage, mut seen) = self.det.stage();
        stage.keep_changed();
        // (partition, offset, event time s) of the signals read, oldest first: the commit
        // position is the first one still inside a window.
        let mut positions: VecDeque<(i32, i64, i64)> = VecDeque::new();
        let mut newest = i64::MIN;
        let mut owned: Vec<i32> = Vec::new();
        while !self.stopped() {
            // Lifecycle changes made through serve, and this correlator's own (no change).
            self.merge(alerts.poll(BATCH, Duration::ZERO)?);
            let batch = signals.poll(BATCH, Duration::from_millis(200))?;
            let now_owned = signals.assigned();
            if now_owned != owned {
                tracing::info!(partitions = ?now_owned, "correlator: signals partitions held");
                if owned.is_empty() && !now_owned.is_empty() {
                    // Taking over: the alerts the previous correlator raised resolve here.
                    stage.track_open_alerts();
                    // Taking over: the notifications the alerts topic says are not delivered.
                    match self.det.alerts().requeue_pending() {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(notifications = n, "correlator: pending notifications taken over"),
                        Err(e) => tracing::error!("pending notifications not taken over: {e}"),
                    }
                }
                owned = now_owned;
                self.active.store(!owned.is_empty(), Ordering::Relaxed);
                positions.retain(|(p, _, _)| owned.contains(p));
            }
            if batch.is_empty() {
                continue;
            }
            self.det.refresh(&mut stage, &mut seen);
            let mut events = Vec::with_capacity(batch.len());
            for r in &batch {
                match serde_json::from_slice::<Event>(&r.payload) {
                    Ok(e) => {
                        let ts = e.timestamp.as_millis().div_euclid(1000);
                        newest = newest.max(ts);
                        positions.push_back((r.partition, r.offset, ts));
                        events.push(e);
                    }
                    Err(e) => tracing::warn!(partition = r.partition, offset = r.offset, "signal not readable, skipped: {e}"),
                }
            }
            let n = events.len();
            if let Err(e) = stage.process(&mut events) {
                tracing::error!("alerts of a batch of signals not folded: {e}");
            }
            let raised = events.split_off(n);
            let changed = stage.take_changed();
            if !self.publish(&changed, &raised) {
                // Not committed: the next correlator reads these signals again.
                break;
            }
            // Commit what no window needs any more.
            let cutoff = newest.saturating_sub(stage.lookback_secs());
            while positions.front().is_some_and(|(_, _, ts)| *ts < cutoff) || positions.len() > MAX_POSITIONS {
                positions.pop_front();
            }
            for &p in &owned {
                let next = positions
                    .iter()
                    .find(|(q, _, _)| *q == p)
                    .map(|(_, o, _)| *o)
                    .or_else(|| batch.iter().filter(|r| r.partition == p).map(|r| r.offset + 1).max());
                if let Some(next) = next {
                    if let Err(e) = signals.commit(p, next) {
                        tracing::warn!("correlator offsets not committed: {e}");
                    }
                }
            }
        }
        self.active.store(false, Ordering::Relaxed);
        signals.close();
        Ok(())
    }

    /// Merges alert records read from the alerts topic into the book; returns how many.
    fn merge(&self, records: Vec<loglynx_bus::kafka::SideRecord>) -> usize {
        merge_alert_records(&self.det, &records)
    }

    /// Sends the alerts that changed to the alerts topic and the new ones as events to the main
    /// topic, until the brokers have them; false when the worker stopped first.
    fn publish(&self, changed: &[Alert], raised: &[Event]) -> bool {
        let alerts: Vec<(String, Vec<u8>)> = changed
            .iter()
            .filter_map(|a| Some((a.id.clone(), serde_json::to_vec(a).ok()?)))
            .collect();
        let source = Arc::new(SourceKind::Other { name: "alerts".into() });
        let events: Vec<(String, Vec<u8>)> = raised
            .iter()
            .filter_map(|e| {
                let r = RawRecord {
                    body: serde_json::to_vec(e).ok()?,
                    truncated: false,
                    hint: FormatHint::Event,
                    source: source.clone(),
                    host: Some(self.host.clone()),
                    received: Timestamp::now(),
                    id: e.id.clone(),
                };
                Some((record_key(&r), encode_record(&r)))
            })
            .collect();
        for (topic, records) in [(alerts_topic(&self.kafka.topic), alerts), (self.kafka.topic.clone(), events)] {
            if let Err(e) = send_until_stopped(&self.producer, &topic, &records, || self.stopped()) {
                tracing::warn!("alerts not published to {topic} ({e}) while stopping: the next correlator raises them again from the signals");
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Event {
        Event::new("x", Timestamp::from_millis(ms), Timestamp::from_millis(ms), format!("e{ms}"))
    }

    /// The event time of a progress record, read as the correlator reads it.
    fn sent(p: Option<(String, Vec<u8>)>) -> Option<i64> {
        let e: Event = serde_json::from_slice(&p?.1).unwrap();
        assert!(e.rule_ids.is_empty());
        assert_eq!(e.dataset.as_deref(), Some(PROGRESS_DATASET));
        Some(e.timestamp.as_millis())
    }

    #[test]
    fn progress_is_sent_once_per_second_of_event_time_at_the_batch_newest() {
        let mut p = Progress::default();
        assert_eq!(sent(p.next(&[])), None, "an empty batch");
        assert_eq!(sent(p.next(&[at(10_500), at(10_200)])), Some(10_500));
        assert_eq!(sent(p.next(&[at(10_900)])), None, "the same second");
        assert_eq!(sent(p.next(&[at(9_000)])), None, "older events");
        assert_eq!(sent(p.next(&[at(11_000), at(30_250)])), Some(30_250));
    }
}

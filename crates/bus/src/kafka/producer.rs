//! [`Producer`]: the agent's side. Raw batches in, records to the topic, and each batch's
//! positions advanced (and its ack fired) only once every record of it, and of every batch
//! before it, has a delivery report from the brokers.
//!
//! - Records are enqueued in batch order with `send_result`; a full librdkafka queue
//!   (`queue.buffering.max.messages` / `.kbytes`) makes the loop wait, so the bounded source
//!   channel fills and the sources slow down (back-pressure, bounded memory).
//! - At most `max_in_flight` batches wait for their reports; their completions are taken in
//!   order (`FuturesOrdered`), so a position is never written before the records before it.
//! - A failed delivery is retried [`DELIVERY_RETRIES`] times; then the producer stops with an
//!   error and the positions stay before the batch: the agent's restart sends it again.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesOrdered;
use futures::{Future, StreamExt};
use loglynx_config::KafkaConfig;
use loglynx_core::{Ack, AckError, RawBatch};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::mpsc;

use super::checkpoint::AgentCheckpoint;
use super::codec::{encode_record, record_key};
use super::config::{producer_config, LogContext};
use crate::BusError;

/// Delivery attempts of one record after its first failure.
pub const DELIVERY_RETRIES: u32 = 5;
/// How often the checkpoint file is rewritten at most.
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// Counters of the producer (logs, health).
#[derive(Debug, Default)]
pub struct ProducerStats {
    /// Records handed to librdkafka.
    pub enqueued: AtomicU64,
    /// Records acknowledged by the brokers.
    pub delivered: AtomicU64,
    /// Delivery failures (each retried).
    pub failures: AtomicU64,
    /// Batches whose positions were advanced.
    pub batches: AtomicU64,
    /// True while batches go to the on-disk buffer (broker unreachable or stalled, or the
    /// buffer still draining).
    pub spooling: std::sync::atomic::AtomicBool,
    /// Bytes in the on-disk buffer.
    pub spool_bytes: AtomicU64,
    /// Capacity of the on-disk buffer.
    pub spool_max_bytes: AtomicU64,
    /// Records in the on-disk buffer not yet delivered.
    pub spool_records: AtomicU64,
}

/// The agent's Kafka producer.
pub struct Producer {
    inner: FutureProducer<LogContext>,
    topic: Arc<str>,
    stats: Arc<ProducerStats>,
}

type Done =
    Pin<Box<dyn Future<Output = (Vec<(String, u64)>, Option<Ack>, Result<(), BusError>)> + Send>>;

impl Producer {
    /// Creates the producer (idempotent, acks=all; see `config.rs`). Fails on an invalid
    /// property, naming it. Connecting to the brokers happens in the background.
    pub fn new(cfg: &KafkaConfig) -> Result<Producer, BusError> {
        let inner: FutureProducer<LogContext> = producer_config(cfg)
            .create_with_context(LogContext)
            .map_err(|e| BusError::kafka("producer", e))?;
        Ok(Producer {
            inner,
            topic: cfg.topic.as_str().into(),
            stats: Arc::default(),
        })
    }

    /// The producer's counters.
    pub fn stats(&self) -> Arc<ProducerStats> {
        self.stats.clone()
    }

    /// Sends the batches of `rx` until it is closed, advancing `checkpoint` as batches are
    /// delivered. Once `rx` is closed, waits at most `drain` for the last reports; batches
    /// still unconfirmed then are not advanced (they are sent again after a restart).
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<RawBatch>,
        mut checkpoint: AgentCheckpoint,
        max_in_flight: usize,
        drain: Duration,
    ) -> Result<(), BusError> {
        let mut in_flight: FuturesOrdered<Done> = FuturesOrdered::new();
        let mut open = true;
        let mut drain_until = None;
        let mut last_save = Instant::now();
        let mut save_tick = tokio::time::interval(SAVE_EVERY);
        let result = loop {
            if !open && in_flight.is_empty() {
                break Ok(());
            }
            let deadline = drain_until
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                b = rx.recv(), if open && in_flight.len() < max_in_flight.max(1) => match b {
                    Some(batch) => match self.enqueue(batch).await {
                        Ok(done) => in_flight.push_back(done),
                        Err(e) => break Err(e),
                    },
                    None => {
                        open = false;
                        drain_until = Some(tokio::time::Instant::now() + drain);
                    }
                },
                Some((positions, ack, res)) = in_flight.next() => {
                    match res {
                        Ok(()) => {
                            checkpoint.advance(&positions);
                            self.stats.batches.fetch_add(1, Ordering::Relaxed);
                            if let Some(a) = ack {
                                let _ = a.send(Ok(()));
                            }
                            if last_save.elapsed() >= SAVE_EVERY {
                                checkpoint.save()?;
                                last_save = Instant::now();
                            }
                        }
                        Err(e) => {
                            if let Some(a) = ack {
                                let _ = a.send(Err(AckError(e.to_string())));
                            }
                            break Err(e);
                        }
                    }
                }
                // Positions delivered since the last write reach the file within SAVE_EVERY.
                _ = save_tick.tick() => {
                    checkpoint.save()?;
                    last_save = Instant::now();
                }
                _ = tokio::time::sleep_until(deadline), if drain_until.is_some() => {
                    tracing::warn!(
                        batches = in_flight.len(),
                        "stopping with batches not confirmed by the brokers: they are sent again at the next start"
                    );
                    break Ok(());
                }
            }
        };
        checkpoint.save()?;
        let s = &self.stats;
        tracing::info!(
            enqueued = s.enqueued.load(Ordering::Relaxed),
            delivered = s.delivered.load(Ordering::Relaxed),
            failures = s.failures.load(Ordering::Relaxed),
            "producer stopped"
        );
        result
    }

    /// Enqueues every record of `batch` (waiting while librdkafka's queue is full) and returns
    /// the future of the batch's delivery.
    async fn enqueue(&self, batch: RawBatch) -> Result<Done, BusError> {
        let RawBatch {
            records,
            checkpoint,
            ack,
        } = batch;
        let mut pending = Vec::with_capacity(records.len());
        for r in &records {
            let key = record_key(r);
            let value = encode_record(r);
            let fut = send(&self.inner, &self.topic, &key, &value).await?;
            self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            pending.push((key, value, fut));
        }
        let producer = self.inner.clone();
        let topic = self.topic.clone();
        let stats = self.stats.clone();
        Ok(Box::pin(async move {
            let res = confirm(&producer, &topic, pending, &stats).await;
            (checkpoint, ack, res)
        }))
    }

    /// Waits up to `timeout` for every enqueued record to be delivered (used at shutdown and
    /// by tests).
    pub fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        self.inner
            .flush(timeout)
            .map_err(|e| BusError::kafka("flush", e))
    }
}

/// Enqueues one record, waiting while the local queue is full.
async fn send(
    p: &FutureProducer<LogContext>,
    topic: &str,
    key: &str,
    value: &[u8],
) -> Result<DeliveryFuture, BusError> {
    loop {
        match p.send_result(FutureRecord::to(topic).key(key).payload(value)) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err((e, _)) => return Err(BusError::kafka("produce", e)),
        }
    }
}

/// Waits for the reports of one batch, re-sending a failed record up to [`DELIVERY_RETRIES`]
/// times.
async fn confirm(
    p: &FutureProducer<LogContext>,
    topic: &str,
    pending: Vec<(String, Vec<u8>, DeliveryFuture)>,
    stats: &ProducerStats,
) -> Result<(), BusError> {
    for (key, value, fut) in pending {
        let mut fut = fut;
        let mut attempt = 0;
        loop {
            let err = match fut.await {
                Ok(Ok(_)) => break,
                Ok(Err((e, _))) => e,
                Err(_) => KafkaError::Canceled,
            };
            stats.failures.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            if attempt > DELIVERY_RETRIES {
                return Err(BusError::kafka("delivery", err));
            }
            tracing::warn!(attempt, "delivery failed, sending again: {err}");
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            fut = send(p, topic, &key, &value).await?;
        }
        stats.delivered.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

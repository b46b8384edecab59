//! The drainer: sends the spool's frames to the topic in write order and gives each frame back
//! to the spool once every record of it is delivered (which moves the spool's cursor).

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::stream::FuturesOrdered;
use futures::{Future, StreamExt};
use loglynx_telemetry::internal_events::RecordsEnqueued;
use loglynx_telemetry::InternalEvent;
use tokio::sync::{watch, Notify};

use super::deliver::{Batch, Kafka, Sent};
use super::{spool_op, ProducerStats};
use crate::kafka::spool::{FrameId, Spool};
use crate::BusError;

type FrameDone = Pin<Box<dyn Future<Output = (FrameId, Result<(), BusError>)> + Send>>;

/// What the drainer works with.
pub(super) struct Drainer {
    pub spool: Arc<Mutex<Spool>>,
    pub producer: Kafka,
    pub topic: Arc<str>,
    pub stats: Arc<ProducerStats>,
    /// Notified when frames are appended.
    pub wake: Arc<Notify>,
    /// Notified after each delivered frame.
    pub progress: Arc<Notify>,
    /// Frames kept in librdkafka at once (the direct path's `max_in_flight`).
    pub max_in_flight: usize,
}

impl Drainer {
    /// Sends the spool's frames in order, `max_in_flight` at a time, and marks each delivered
    /// frame. Once `stop` turns true it reads no more frames and returns when the frames in
    /// flight are confirmed.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), BusError> {
        let max = self.max_in_flight.max(1);
        let mut in_flight: FuturesOrdered<FrameDone> = FuturesOrdered::new();
        let mut exhausted = false;
        let mut stopping = false;
        loop {
            while !stopping && !exhausted && in_flight.len() < max {
                let Some((id, batch)) =
                    spool_op(&self.spool, &self.stats, |s| s.read_next()).await?
                else {
                    exhausted = true;
                    break;
                };
                let mut out = Batch::new();
                for (key, value) in &batch.records {
                    let sent = out
                        .send(&self.producer, &self.topic, key, value, None, &self.stats)
                        .await?;
                    debug_assert!(!matches!(sent, Sent::Full));
                }
                drop(batch);
                RecordsEnqueued { count: out.queued }.emit(&self.stats.enqueued);
                let done = out.seal(
                    self.producer.clone(),
                    self.topic.clone(),
                    self.stats.clone(),
                );
                in_flight.push_back(Box::pin(async move { (id, done.await) }));
            }
            if stopping && in_flight.is_empty() {
                return Ok(());
            }
            tokio::select! {
                Some((id, res)) = in_flight.next() => {
                    res?;
                    spool_op(&self.spool, &self.stats, move |s| s.delivered(id)).await?;
                    self.progress.notify_one();
                }
                _ = self.wake.notified(), if !stopping => exhausted = false,
                _ = stop.changed(), if !stopping => stopping = true,
            }
        }
    }
}

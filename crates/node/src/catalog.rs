//! The catalog of leaves: a compacted topic `<topic>-catalog` (key = worker id) where each
//! worker with a leaf API publishes its address and generations
//! ([`loglynx_search::CatalogRecord`]) every `[search] publish_every`, and a tombstone when it
//! exits cleanly ([`Publisher`]); `loglynx serve` reads it whole and follows it
//! ([`CatalogLeaves`]). A record not refreshed for `[serve] catalog_ttl` by the clock of
//! `serve` (the time it was read, so a worker's clock being off does not matter) is ignored:
//! its worker is gone. A record of another version is skipped with a warning.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_api::GenerationView;
use loglynx_bus::kafka::{ensure_side_topic, SideProducer, TopicReader};
use loglynx_config::{Config, KafkaConfig};
use loglynx_search::{CatalogRecord, Directory, CATALOG_VERSION};

use crate::error::{NodeError, Result};

/// How long a catalog send may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The catalog topic of `topic`.
pub fn catalog_topic(topic: &str) -> String {
    format!("{topic}-catalog")
}

/// A worker's catalog publisher (a thread).
pub(crate) struct Publisher {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Publisher {
    /// Creates the topic unless it exists and publishes `worker`'s record now and every
    /// `[search] publish_every`.
    pub(crate) async fn start(
        cfg: &Config,
        worker: String,
        addr: String,
        store: loglynx_store::Store,
        view: Arc<dyn GenerationView>,
    ) -> Result<Publisher> {
        let topic = catalog_topic(&cfg.kafka.topic);
        ensure_side_topic(&cfg.kafka, &topic, true).await?;
        let producer = SideProducer::new(&cfg.kafka)?;
        let stop = Arc::new(AtomicBool::new(false));
        let every = cfg.search.publish_every;
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("catalog".into())
            .spawn(move || {
                let mut warned = false;
                while !flag.load(Ordering::Relaxed) {
                    let rec = CatalogRecord {
                        version: CATALOG_VERSION,
                        worker: worker.clone(),
                        addr: addr.clone(),
                        updated_ms: loglynx_telemetry::health::now_ms(),
                        generations: view.generations(&store.snapshot()),
                    };
                    match producer.send(&topic, &[(worker.clone(), rec.encode())], SEND_TIMEOUT) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            tracing::warn!("catalog record not published to {topic}: {e}; retrying");
                            warned = true;
                        }
                        Err(_) => {}
                    }
                    let until = Instant::now() + every;
                    while Instant::now() < until && !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                // A clean exit: the tombstone takes this worker out of the catalog at once.
                if let Err(e) = producer.send(&topic, &[(worker.clone(), Vec::new())], SEND_TIMEOUT) {
                    tracing::warn!("catalog tombstone not published: {e}; serve forgets this worker after serve.catalog_ttl");
                }
            })
            .map_err(|source| NodeError::Thread { what: "catalog publisher", source })?;
        Ok(Publisher { stop, thread })
    }

    /// Publishes the tombstone and stops.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// The leaves `serve` learns from the catalog topic (and `[serve] leaves` besides).
pub(crate) struct CatalogLeaves {
    known: Mutex<HashMap<String, (CatalogRecord, Instant)>>,
    ttl: Duration,
    fixed: Option<Arc<loglynx_search::StaticLeaves>>,
    /// Whether the topic has been read to the end it had when `serve` started.
    caught_up: AtomicBool,
}

impl CatalogLeaves {
    /// Follows the catalog of `kafka.topic` on a thread until `stop`.
    pub(crate) fn start(
        kafka: &KafkaConfig,
        ttl: Duration,
        fixed: Option<Arc<loglynx_search::StaticLeaves>>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<Arc<CatalogLeaves>> {
        let me = Arc::new(CatalogLeaves { known: Mutex::new(HashMap::new()), ttl, fixed, caught_up: AtomicBool::new(false) });
        let topic = catalog_topic(&kafka.topic);
        let reader = TopicReader::new(kafka, &topic)?;
        let weak = Arc::downgrade(&me);
        std::thread::Builder::new()
            .name("catalog-reader".into())
            .spawn(move || follow(reader, &topic, weak, stop))
            .map_err(|source| NodeError::Thread { what: "catalog reader", source })?;
        Ok(me)
    }

    /// Waits until the topic has been read to the end it had at the start (so the first
    /// searches see every live worker, not only the ones read so far), at most `max`; false
    /// when it was not (no catalog topic yet: no worker has started).
    pub(crate) async fn wait_caught_up(&self, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        while !self.caught_up.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Takes one record of the topic: a tombstone forgets its worker, a record of another
    /// version is skipped.
    fn take(&self, key: &str, value: &[u8]) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if value.is_empty() {
            known.remove(key);
            return;
        }
        match CatalogRecord::decode(key, value) {
            Ok(rec) => {
                known.insert(key.to_string(), (rec, Instant::now()));
            }
            Err(e) => tracing::warn!("{e}; skipped"),
        }
    }
}

fn follow(mut reader: TopicReader, topic: &str, me: std::sync::Weak<CatalogLeaves>, stop: tokio_util::sync::CancellationToken) {
    let mut warned = false;
    while !stop.is_cancelled() {
        match reader.poll(1000, Duration::from_millis(500)) {
            Ok(records) => {
                warned = false;
                let Some(me) = me.upgrade() else { return };
                for r in records {
                    me.take(&r.key, &r.payload);
                }
                if reader.caught_up() {
                    me.caught_up.store(true, Ordering::Release);
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!("catalog {topic} not read: {e}; retrying");
                    warned = true;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        }
    }
}

impl Directory for CatalogLeaves {
    fn leaves(&self) -> Vec<CatalogRecord> {
        let mut out: Vec<CatalogRecord> = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|(_, seen)| seen.elapsed() < self.ttl)
            .map(|(r, _)| r.clone())
            .collect();
        if let Some(fixed) = &self.fixed {
            for r in fixed.leaves() {
                if !out.iter().any(|o| o.addr == r.addr) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| a.worker.cmp(&b.worker));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_and_go_and_other_versions_are_skipped() {
        let c = CatalogLeaves { known: Mutex::new(HashMap::new()), ttl: Duration::from_secs(60), fixed: None, caught_up: AtomicBool::new(false) };
        let rec = CatalogRecord { version: CATALOG_VERSION, worker: "w1".into(), addr: "a:1".into(), updated_ms: 0, generations: Vec::new() };
        c.take("w1", &rec.encode());
        c.take("w9", br#"{"version": 9, "worker": "w9"}"#);
        assert_eq!(c.leaves(), vec![rec]);
        c.take("w1", b"");
        assert!(c.leaves().is_empty());
        let stale = CatalogLeaves { ttl: Duration::ZERO, ..c };
        stale.take("w1", &CatalogRecord { version: CATALOG_VERSION, worker: "w1".into(), addr: "a:1".into(), updated_ms: 0, generations: Vec::new() }.encode());
        assert!(stale.leaves().is_empty(), "a record older than the ttl is ignored");
    }
}

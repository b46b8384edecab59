//! [`Watermarks`]: the high watermarks of the partitions a worker owns, so that its health
//! report can say how far each shard is behind the topic (`lag = high watermark - committed`).
//!
//! Why a separate plain client polled on its own thread, rather than librdkafka's statistics
//! (`statistics.interval.ms`) of the group consumers:
//! - the group consumers stay untouched: no extra callback on their poll threads (whose
//!   rebalance callbacks already block on shard hand-over), no JSON statistics parsed on the
//!   consume path, no change to their configuration;
//! - the client has no `group.id`: it never joins the group, commits nothing and cannot
//!   trigger a rebalance; a ListOffsets request per owned partition per second is cheap;
//! - a slow or unreachable broker only delays this thread: each fetch has a short timeout and
//!   a value older than [`MAX_AGE`] is reported as unknown (`null`), never as a stale number,
//!   and consuming never waits for it.
//!
//! The reported high watermark is at least the partition's read position (which is below the
//! broker's end by definition): on a real broker this changes nothing; Tansu 0.6 answers a
//! ListOffsets(latest) with the base offset of its last stored batch + 1, short of the end, and
//! this keeps a caught-up partition at lag 0 there.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loglynx_config::KafkaConfig;
use loglynx_telemetry::health::{PartitionHealth, REPORT_EVERY};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;

use super::config::{admin_config, log_error, log_line};
use super::consumer::OwnedPartition;
use crate::BusError;

/// How long one watermark request may take.
const FETCH_TIMEOUT: Duration = Duration::from_millis(1000);
/// A high watermark fetched longer ago than this is unknown.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// librdkafka's logs to `tracing`; a consumer that never joins a group.
struct LagContext;

impl ClientContext for LagContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        log_error(error, reason);
    }
}

impl ConsumerContext for LagContext {}

#[derive(Debug, Clone, Copy)]
struct Marks {
    low: i64,
    high: i64,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Partitions to poll.
    wanted: Vec<i32>,
    /// Last (low, high) watermarks per partition and when they were fetched.
    known: HashMap<i32, Marks>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Polls the high watermarks of chosen partitions of one topic on its own thread.
pub struct Watermarks {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watermarks {
    /// Starts the poller for `cfg.topic` with a client built from [`admin_config`] (brokers
    /// and `kafka.properties`, no group). Fails when the client cannot be created.
    pub fn start(cfg: &KafkaConfig) -> Result<Watermarks, BusError> {
        let client: BaseConsumer<LagContext> = admin_config(cfg)
            .create_with_context(LagContext)
            .map_err(|e| BusError::kafka("watermark client", e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let topic = cfg.topic.clone();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("loglynx-watermarks".into())
            .spawn(move || poll(client, &topic, &s))
            .map_err(BusError::Thread)?;
        Ok(Watermarks {
            shared,
            thread: Some(thread),
        })
    }

    /// Sets the partitions to poll (the ones the worker owns now).
    pub fn watch(&self, partitions: &[i32]) {
        let mut st = self.shared.state();
        if st.wanted != partitions {
            st.wanted = partitions.to_vec();
            st.known.retain(|p, _| partitions.contains(p));
            // Polls a new partition now rather than at the next round.
            self.shared.wake.notify_all();
        }
    }

    /// The (low, high) watermarks of `partition` if fetched within [`MAX_AGE`].
    pub fn marks(&self, partition: i32) -> Option<(i64, i64)> {
        let st = self.shared.state();
        st.known
            .get(&partition)
            .filter(|m| m.at.elapsed() <= MAX_AGE)
            .map(|m| (m.low, m.high))
    }

    /// The health of `owned` partitions: their positions and committed offsets with the
    /// high watermarks known now and the lag.
    pub fn partitions(&self, owned: &[OwnedPartition]) -> Vec<PartitionHealth> {
        owned
            .iter()
            .map(|o| {
                let marks = self.marks(o.partition);
                let high = marks.map(|(_, h)| h.max(o.position));
                PartitionHealth {
                    partition: o.partition,
                    consumer: o.consumer,
                    position: o.position,
                    committed: o.committed,
                    high_watermark: high,
                    lag: lag(high, o.committed, marks.map(|(l, _)| l)),
                    missing: o.missing,
                }
            })
            .collect()
    }
}

impl Drop for Watermarks {
    fn drop(&mut self) {
        self.shared.state().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // At most one FETCH_TIMEOUT.
            let _ = t.join();
        }
    }
}

/// `high - committed` when the high watermark is known, the committed offset of a shard that
/// has none yet being the partition's start (`low`); never negative (the watermark may be
/// older than the committed offset read after it).
pub fn lag(high: Option<i64>, committed: Option<i64>, low: Option<i64>) -> Option<i64> {
    let from = committed.or(low)?;
    Some((high? - from).max(0))
}

fn poll(client: BaseConsumer<LagContext>, topic: &str, shared: &Shared) {
    loop {
        let wanted = {
            let st = shared.state();
            if st.stop {
                return;
            }
            st.wanted.clone()
        };
        for p in wanted {
            match client.fetch_watermarks(topic, p, FETCH_TIMEOUT) {
                Ok((low, high)) => {
                    let mut st = shared.state();
                    if st.stop {
                        return;
                    }
                    if st.wanted.contains(&p) {
                        let at = Instant::now();
                        st.known.insert(p, Marks { low, high, at });
                    }
                }
                Err(e) => tracing::debug!(partition = p, "high watermark unknown: {e}"),
            }
        }
        let st = shared.state();
        if st.stop {
            return;
        }
        let _ = shared.wake.wait_timeout(st, REPORT_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_needs_a_watermark_and_is_never_negative() {
        assert_eq!(lag(Some(12), Some(10), Some(0)), Some(2));
        assert_eq!(lag(Some(12), None, Some(3)), Some(9));
        assert_eq!(lag(Some(12), None, None), None);
        assert_eq!(lag(None, Some(10), Some(0)), None);
        assert_eq!(lag(Some(9), Some(10), Some(0)), Some(0));
    }

    #[test]
    fn an_unreachable_broker_leaves_the_watermarks_unknown_without_blocking() {
        // Nothing listens on port 1: the fetches time out on the poller's thread.
        let cfg = KafkaConfig {
            brokers: "127.0.0.1:1".into(),
            topic: "t".into(),
            ..Default::default()
        };
        let w = Watermarks::start(&cfg).unwrap();
        let started = Instant::now();
        w.watch(&[0, 1]);
        let owned = [OwnedPartition {
            partition: 0,
            consumer: 0,
            position: 7,
            committed: Some(5),
            missing: 3,
        }];
        assert_eq!(
            w.partitions(&owned),
            vec![PartitionHealth {
                partition: 0,
                consumer: 0,
                position: 7,
                committed: Some(5),
                high_watermark: None,
                lag: None,
                missing: 3,
            }]
        );
        // Not blocked on the fetches: a blocking watch/partitions would take a fetch timeout per
        // partition (two here). Bounds a loaded CI machine cannot miss (it missed 200 ms).
        assert!(started.elapsed() < 2 * FETCH_TIMEOUT, "{:?}", started.elapsed());
        drop(w);
        // The drop waits for at most the fetch in flight.
        assert!(started.elapsed() < 10 * FETCH_TIMEOUT, "{:?}", started.elapsed());
    }
}

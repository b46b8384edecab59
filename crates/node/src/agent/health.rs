//! [`AgentHealth`]: the agent's health report, rebuilt from the producer's counters on demand
//! (`/metrics` of its HTTP port) and every [`health::REPORT_EVERY`] (the file `serve` reads).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use loglynx_bus::kafka::ProducerStats;
use loglynx_config::Config;
use loglynx_telemetry::health::{self, HealthReport, ProducerHealth, ProducerState, Role};

/// The agent's report source.
pub(crate) struct AgentHealth {
    /// The fixed part (role, id, host, topic...).
    pub(crate) base: HealthReport,
    pub(crate) stats: Arc<ProducerStats>,
    rate: Mutex<Rate>,
}

/// Delivered records at the last tick, to compute the rate.
struct Rate {
    delivered: u64,
    at: Instant,
    per_sec: f64,
}

impl AgentHealth {
    pub(crate) fn new(cfg: &Config, host: &str, stats: Arc<ProducerStats>) -> Arc<AgentHealth> {
        let pid = std::process::id();
        let now = health::now_ms();
        Arc::new(AgentHealth {
            base: HealthReport {
                role: Role::Agent,
                id: format!("{host}-{pid}"),
                host: host.to_string(),
                pid,
                topic: cfg.kafka.topic.clone(),
                brokers: cfg.kafka.brokers.clone(),
                started_ms: now,
                updated_ms: now,
                producer: None,
                consumer: None,
            },
            stats,
            rate: Mutex::new(Rate {
                delivered: 0,
                at: Instant::now(),
                per_sec: 0.0,
            }),
        })
    }

    /// Recomputes the delivery rate from the records delivered since the last tick.
    pub(crate) fn tick(&self) {
        let delivered = self.stats.delivered.load(Ordering::Relaxed);
        let mut r = self.rate.lock().unwrap_or_else(|e| e.into_inner());
        let secs = r.at.elapsed().as_secs_f64();
        if secs > 0.0 {
            r.per_sec = delivered.saturating_sub(r.delivered) as f64 / secs;
        }
        r.delivered = delivered;
        r.at = Instant::now();
    }

    /// The report as of now (`now_ms`), with the rate of the last tick.
    pub(crate) fn report(&self, now_ms: u64) -> HealthReport {
        let s = &self.stats;
        let enqueued = s.enqueued.load(Ordering::Relaxed);
        let delivered = s.delivered.load(Ordering::Relaxed);
        let spooling = s.spooling.load(Ordering::Relaxed);
        let rate = self.rate.lock().unwrap_or_else(|e| e.into_inner()).per_sec;
        let mut r = self.base.clone();
        r.updated_ms = now_ms;
        r.producer = Some(ProducerHealth {
            enqueued,
            delivered,
            failures: s.failures.load(Ordering::Relaxed),
            truncated: s.truncated.load(Ordering::Relaxed),
            rate,
            in_flight: enqueued.saturating_sub(delivered),
            state: ProducerState::from_spooling(spooling),
            spool_bytes: s.spool_bytes.load(Ordering::Relaxed),
            spool_max_bytes: s.spool_max_bytes.load(Ordering::Relaxed),
            spool_records: s.spool_records.load(Ordering::Relaxed),
            spool_lost_frames: s.spool_lost_frames.load(Ordering::Relaxed),
            spool_lost_bytes: s.spool_lost_bytes.load(Ordering::Relaxed),
        });
        r
    }

    /// A reason to refuse HTTP ingest at once: the disk buffer is full (the brokers are away and
    /// the producer takes nothing more), rather than answering after the ack timeout.
    pub(crate) fn refuse_reason(&self) -> Option<String> {
        let max = self.stats.spool_max_bytes.load(Ordering::Relaxed);
        let used = self.stats.spool_bytes.load(Ordering::Relaxed);
        (max > 0 && used >= max).then(|| {
            format!("the agent's disk buffer is full ({used} of {max} bytes) while the Kafka brokers are unreachable or slow")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_has_counters_in_flight_and_state() {
        let stats = Arc::new(ProducerStats::default());
        let cfg = Config::default();
        let h = AgentHealth::new(&cfg, "box", stats.clone());
        stats.enqueued.store(10, Ordering::Relaxed);
        stats.delivered.store(7, Ordering::Relaxed);
        stats.spooling.store(true, Ordering::Relaxed);
        stats.spool_records.store(3, Ordering::Relaxed);
        h.tick();
        let r = h.report(42);
        assert_eq!(r.role, Role::Agent);
        assert_eq!(r.id, format!("box-{}", std::process::id()));
        assert_eq!(r.updated_ms, 42);
        let p = r.producer.unwrap();
        assert_eq!((p.enqueued, p.delivered, p.in_flight), (10, 7, 3));
        assert_eq!(p.state, "spooling");
        assert_eq!(p.spool_records, 3);
        assert!(p.rate > 0.0);
    }

    #[test]
    fn ingest_is_refused_only_when_the_disk_buffer_is_full() {
        let stats = Arc::new(ProducerStats::default());
        let h = AgentHealth::new(&Config::default(), "box", stats.clone());
        assert_eq!(h.refuse_reason(), None, "no disk buffer");
        stats.spool_max_bytes.store(100, Ordering::Relaxed);
        stats.spool_bytes.store(99, Ordering::Relaxed);
        assert_eq!(h.refuse_reason(), None);
        stats.spool_bytes.store(100, Ordering::Relaxed);
        assert!(h.refuse_reason().unwrap().contains("100 of 100 bytes"));
    }
}

//! The syslog servers' figures on `/metrics` ([`SyslogMetrics`]), read from [`SyslogStats`] at
//! each scrape: the connections only bump atomics.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::SyslogStats;

/// The `loglynx_syslog_*` series of a running [`super::SyslogServer`] (register it in the
/// process's `loglynx_telemetry::Registry`). Listed in docs/METRICS.md.
#[derive(Debug, Clone)]
pub struct SyslogMetrics(pub Arc<SyslogStats>);

impl Collector for SyslogMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut closed = encoder.encode_descriptor(
            "loglynx_syslog_tcp_connections_closed",
            "syslog TCP connections closed by the server, by reason: read_timeout (a message not ended within syslog.read_timeout), idle (no message bytes for syslog.idle_timeout)",
            None,
            MetricType::Counter,
        )?;
        for (reason, v) in [
            ("read_timeout", &self.0.tcp_read_timeouts),
            ("idle", &self.0.tcp_idle_closes),
        ] {
            ConstCounter::new(v.load(Relaxed))
                .encode(closed.encode_family(&[("reason", reason)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_are_rendered_by_reason() {
        let stats = Arc::new(SyslogStats::default());
        stats.tcp_read_timeouts.fetch_add(3, Relaxed);
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(SyslogMetrics(stats)));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(
            text.contains("loglynx_syslog_tcp_connections_closed_total{reason=\"read_timeout\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("loglynx_syslog_tcp_connections_closed_total{reason=\"idle\"} 0"),
            "{text}"
        );
    }
}

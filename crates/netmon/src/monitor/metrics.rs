//! The monitor's figures on `/metrics` ([`MonitorMetrics`]), read from [`MonitorShared`] at
//! each scrape: the counters are plain atomics updated by the monitor's threads, so nothing is
//! added to their path.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::shared::{Mode, MonitorShared};

/// The `loglynx_netmon_*` series of a running monitor (register it in the process's
/// `loglynx_telemetry::Registry`). Listed in docs/METRICS.md.
#[derive(Clone)]
pub struct MonitorMetrics(pub Arc<MonitorShared>);

impl fmt::Debug for MonitorMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorMetrics").finish_non_exhaustive()
    }
}

impl Collector for MonitorMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let m = &self.0;
        let c = &m.counters;
        for (name, help, v) in [
            (
                "loglynx_netmon_transitions",
                "TCP state changes read from the kernel (eBPF mode)",
                c.transitions.load(Relaxed),
            ),
            (
                "loglynx_netmon_connections",
                "finished TCP connections read from the kernel (network.connection events)",
                c.connections.load(Relaxed),
            ),
            (
                "loglynx_netmon_events_sent",
                "events handed to the pipeline (state changes, connections, alerts)",
                c.events_sent.load(Relaxed),
            ),
            (
                "loglynx_netmon_snapshots",
                "sock_diag snapshots taken",
                c.snapshots.load(Relaxed),
            ),
            (
                "loglynx_netmon_snapshot_failures",
                "sock_diag snapshots that failed",
                c.snapshot_errors.load(Relaxed),
            ),
        ] {
            let v = ConstCounter::new(v);
            v.encode(encoder.encode_descriptor(name, help, None, v.metric_type())?)?;
        }
        let mut lost = encoder.encode_descriptor(
            "loglynx_netmon_lost_records",
            "records lost, by reason: kernel (ring buffer full), queue (pipeline queue full), connections_kernel (connection ring buffer full), connection_start_unseen (connection opened before the monitor or its start evicted)",
            None,
            MetricType::Counter,
        )?;
        for (reason, v) in [
            ("kernel", &c.kernel_drops),
            ("queue", &c.queue_drops),
            ("connections_kernel", &c.connection_drops),
            ("connection_start_unseen", &c.connections_unborn),
        ] {
            ConstCounter::new(v.load(Relaxed))
                .encode(lost.encode_family(&[("reason", reason)])?)?;
        }
        let status = m.status();
        let mut modes = encoder.encode_descriptor(
            "loglynx_netmon_mode",
            "1 for the mode the monitor runs in: bpf (every change from eBPF) or sock_diag (periodic snapshots only)",
            None,
            MetricType::Gauge,
        )?;
        for mode in [Mode::Bpf, Mode::SockDiag] {
            ConstGauge::new(u64::from(m.mode == mode))
                .encode(modes.encode_family(&[("mode", mode.name())])?)?;
        }
        let mut sockets = encoder.encode_descriptor(
            "loglynx_netmon_sockets",
            "TCP sockets tracked now, by state",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in m.state_counts() {
            ConstGauge::new(n as u64).encode(sockets.encode_family(&[("state", state.name())])?)?;
        }
        let raised = ConstCounter::new(status.alerts_raised);
        raised.encode(encoder.encode_descriptor(
            "loglynx_netmon_alerts_raised",
            "network alerts raised (CLOSE_WAIT leaks, TIME_WAIT / FIN_WAIT2 storms, failed connections)",
            None,
            raised.metric_type(),
        )?)?;
        let active = ConstGauge::new(status.alerts_active.len() as u64);
        active.encode(encoder.encode_descriptor(
            "loglynx_netmon_alerts_active",
            "network alert groups whose condition holds now",
            None,
            active.metric_type(),
        )?)?;
        if let Some(ms) = status.last_snapshot_ms {
            let took = ConstGauge::new(ms / 1000.0);
            took.encode(encoder.encode_descriptor(
                "loglynx_netmon_snapshot_duration_seconds",
                "how long the last sock_diag snapshot took",
                None,
                took.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

//! `[tcp_states]`: the TCP state monitor (eBPF tracer, sock_diag snapshots, leak detectors).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The TCP state monitor: every TCP state change as an event (`event.dataset: network.tcp`),
/// periodic socket snapshots per state and process, and the socket counts the built-in
/// detection rules alert on (CLOSE_WAIT leaks, TIME_WAIT / FIN_WAIT2 build-ups, failed
/// connection attempts; thresholds below, rules in `crates/detect/rules/network.yml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpStatesConfig {
    /// Run the monitor in `loglynx run` (the flag `--tcp-states` turns it on too).
    #[serde(default)]
    pub enabled: bool,
    /// Follow every state change with eBPF when permitted (root, or CAP_BPF + CAP_PERFMON).
    /// When false or not permitted, the monitor runs on sock_diag snapshots alone and says so
    /// (log line and `mode` in `/api/v1/network/status`); it then sees no individual transitions.
    #[serde(default = "default_true")]
    pub bpf: bool,
    /// How often sockets are listed (sock_diag) and attributed to processes (/proc), and the
    /// CLOSE_WAIT / TIME_WAIT / FIN_WAIT2 counts per process or endpoint sent as
    /// `network.sockets` events when they changed.
    #[serde(default = "default_snapshot_interval", with = "humantime_serde")]
    pub snapshot_interval: Duration,
    /// Kernel ring buffer size in bytes (a power of two, at least 4096).
    #[serde(default = "default_ring_buffer_bytes")]
    pub ring_buffer_bytes: u32,
    /// Also store one event per finished TCP connection (`event.dataset: network.connection`,
    /// like libbpf-tools' tcplife: bytes each way, duration, retransmits, smoothed RTT, owner).
    /// Needs eBPF; a second ring buffer of `ring_buffer_bytes` is allocated for them.
    #[serde(default = "default_true")]
    pub connections: bool,
    /// Keep performance counters in kernel maps (retransmits, resets, live bytes per process,
    /// RTT histograms per process and peer, drops by reason), read every `perf_interval` and
    /// shown at `/api/v1/network/perf`. Needs eBPF with BTF tracepoints; each missing hook is
    /// logged with the view it takes away.
    #[serde(default = "default_true")]
    pub perf: bool,
    /// How often the performance counters are read from the kernel.
    #[serde(default = "default_perf_interval", with = "humantime_serde")]
    pub perf_interval: Duration,
    /// How often what the performance counters gained is stored as events
    /// (`event.dataset: network.perf`: per owner and peer retransmits, segments sent and RTT
    /// percentiles; per owner bytes, resets and drops; drops per reason), so performance over
    /// time can be searched and charted ("0s": never). Needs `perf`.
    #[serde(default = "default_perf_summary_interval", with = "humantime_serde")]
    pub perf_summary_interval: Duration,
    /// Transitions per batch sent into the pipeline.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Only sockets whose local port is one of these (empty: all).
    #[serde(default)]
    pub local_ports: Vec<u16>,
    /// Only sockets whose remote port is one of these (empty: all).
    #[serde(default)]
    pub remote_ports: Vec<u16>,
    /// Only sockets whose local or remote port is one of these (empty: all).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// How often a socket count that did not change is stored again (`network.sockets`
    /// events), so the rules over them see a condition that holds; at least 1s.
    #[serde(default = "default_socket_counts_interval", with = "humantime_serde")]
    pub socket_counts_interval: Duration,
    /// Alert when one process holds at least this many sockets in CLOSE_WAIT (the threshold
    /// of the built-in rule `tcp_close_wait_leak`).
    #[serde(default = "default_close_wait_threshold")]
    pub close_wait_threshold: usize,
    /// Alert too when a process's CLOSE_WAIT count has risen without a dip for this long
    /// (0s: off; rule `tcp_close_wait_leak`).
    #[serde(default = "default_close_wait_growth", with = "humantime_serde")]
    pub close_wait_growth: Duration,
    /// Alert when this many TIME_WAIT sockets share one endpoint (a local listening port, or
    /// else the remote address and port; rule `tcp_time_wait_storm`).
    #[serde(default = "default_time_wait_threshold")]
    pub time_wait_threshold: usize,
    /// Alert when this many FIN_WAIT2 sockets share one process (or endpoint when unowned;
    /// rule `tcp_fin_wait2_storm`).
    #[serde(default = "default_fin_wait2_threshold")]
    pub fin_wait2_threshold: usize,
    /// Alert when this many connection attempts to one destination fail (SYN_SENT -> CLOSE)
    /// within `failed_connect_window`: the threshold of the built-in detection rule
    /// `tcp_connect_failures` (needs eBPF and `[detect] enabled`).
    #[serde(default = "default_failed_connect_threshold")]
    pub failed_connect_threshold: usize,
    /// Alert when one process opens this many connections shorter than a second to one peer
    /// within a minute (the built-in rule `tcp_connection_churn`, over `network.connection`
    /// events: needs eBPF and `connections`).
    ///
    /// Why 300 (5 per second): the side that closes a connection keeps it in TIME_WAIT for
    /// 60 s, and Linux's default local port range (32768-60999, 28,232 ports) then caps new
    /// connections from one address to one peer at about 470 per second before `connect` fails
    /// with EADDRNOTAVAIL. 5 per second is about 1% of that and leaves some 300 sockets in
    /// TIME_WAIT, far below `time_wait_threshold` (5,000, reached at about 83 per second): the
    /// rule (level low) points at a client without connection pooling or keep-alive well
    /// before it turns into a TIME_WAIT storm or port exhaustion, and stays quiet for the
    /// occasional health check or cron job, which open a few connections a minute.
    #[serde(default = "default_churn_threshold")]
    pub churn_threshold: usize,
    /// Alert when a summary interval's mean RTT towards a peer is at least this many times the
    /// baseline of the service (or command) and peer, the median of its past intervals, or its
    /// p99 (from log2 buckets) more than this many times the baseline's p99 (built-in rule `tcp_rtt_regression`, over `network.perf` events: needs
    /// `perf` and `perf_summary_interval`). The new level becomes the baseline once it lasts
    /// about 8 intervals, and the alert resolves. More than 1.
    #[serde(default = "default_rtt_regression_factor")]
    pub rtt_regression_factor: f64,
    /// ... and by at least this much (so that a 50 us loopback RTT going to 120 us is not a
    /// regression worth an alert).
    #[serde(
        default = "default_rtt_regression_min_increase",
        with = "humantime_serde"
    )]
    pub rtt_regression_min_increase: Duration,
    /// Alert when a summary interval's retransmit rate towards a peer (retransmits over the
    /// segments sent, at least 100 of them) is at least this many times the baseline rate of
    /// the service (or command) and peer, the median of its past intervals, at least 0.1%
    /// (built-in rule `tcp_retransmit_rate_high`, over `network.perf` events: needs `perf` and
    /// `perf_summary_interval`). A pair that always had loss is its own baseline; a lasting
    /// change becomes the new baseline after about 8 intervals, and the alert resolves. More
    /// than 1.
    #[serde(default = "default_retransmit_regression_factor")]
    pub retransmit_regression_factor: f64,
    /// ... and higher than the baseline by at least this share of the segments sent (0.01: one
    /// percentage point), so that a clean pair going from 0.0% to 0.1% is no alert. Above 0,
    /// at most 1.
    #[serde(default = "default_retransmit_regression_min_increase")]
    pub retransmit_regression_min_increase: f64,
    /// The window of `failed_connect_threshold`.
    #[serde(default = "default_failed_connect_window", with = "humantime_serde")]
    pub failed_connect_window: Duration,
}

impl Default for TcpStatesConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl TcpStatesConfig {
    /// Checks values serde cannot (`loglynx run` calls it when the monitor is enabled).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.snapshot_interval < Duration::from_millis(100) {
            return bad("tcp_states.snapshot_interval must be at least 100ms".into());
        }
        if self.perf_interval < Duration::from_millis(100) {
            return bad("tcp_states.perf_interval must be at least 100ms".into());
        }
        if !self.perf_summary_interval.is_zero()
            && self.perf_summary_interval < Duration::from_secs(1)
        {
            return bad(
                "tcp_states.perf_summary_interval must be at least 1s (or \"0s\": off)".into(),
            );
        }
        if self.socket_counts_interval < Duration::from_secs(1) {
            return bad("tcp_states.socket_counts_interval must be at least 1s".into());
        }
        let rb = self.ring_buffer_bytes;
        if rb < 4096 || !rb.is_power_of_two() {
            return bad(format!(
                "tcp_states.ring_buffer_bytes {rb}: use a power of two of at least 4096"
            ));
        }
        if self.batch_size == 0 {
            return bad("tcp_states.batch_size must be at least 1".into());
        }
        if self
            .ports
            .iter()
            .chain(&self.local_ports)
            .chain(&self.remote_ports)
            .any(|p| *p == 0)
        {
            return bad("tcp_states port filters: port 0 is not a valid filter".into());
        }
        for (name, v) in [
            ("close_wait_threshold", self.close_wait_threshold),
            ("time_wait_threshold", self.time_wait_threshold),
            ("fin_wait2_threshold", self.fin_wait2_threshold),
            ("failed_connect_threshold", self.failed_connect_threshold),
            ("churn_threshold", self.churn_threshold),
        ] {
            if v == 0 {
                return bad(format!("tcp_states.{name} must be at least 1"));
            }
        }
        if !(self.rtt_regression_factor > 1.0 && self.rtt_regression_factor.is_finite()) {
            return bad(format!(
                "tcp_states.rtt_regression_factor {}: use a number above 1 (2: twice the baseline)",
                self.rtt_regression_factor
            ));
        }
        if !(self.retransmit_regression_factor > 1.0
            && self.retransmit_regression_factor.is_finite())
        {
            return bad(format!(
                "tcp_states.retransmit_regression_factor {}: use a number above 1 (2: twice the baseline rate)",
                self.retransmit_regression_factor
            ));
        }
        let inc = self.retransmit_regression_min_increase;
        if !(inc > 0.0 && inc <= 1.0) {
            return bad(format!(
                "tcp_states.retransmit_regression_min_increase {inc}: use a share of the segments sent above 0, at most 1 (0.01: one percentage point)"
            ));
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}
fn default_snapshot_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_perf_interval() -> Duration {
    Duration::from_secs(2)
}
fn default_perf_summary_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_socket_counts_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_ring_buffer_bytes() -> u32 {
    16 << 20
}
fn default_batch_size() -> usize {
    1000
}
fn default_close_wait_threshold() -> usize {
    50
}
fn default_close_wait_growth() -> Duration {
    Duration::from_secs(300)
}
fn default_time_wait_threshold() -> usize {
    5000
}
fn default_fin_wait2_threshold() -> usize {
    1000
}
fn default_failed_connect_threshold() -> usize {
    20
}
fn default_churn_threshold() -> usize {
    300
}
fn default_rtt_regression_factor() -> f64 {
    2.0
}
fn default_rtt_regression_min_increase() -> Duration {
    Duration::from_millis(1)
}
fn default_retransmit_regression_factor() -> f64 {
    2.0
}
fn default_retransmit_regression_min_increase() -> f64 {
    0.01
}
fn default_failed_connect_window() -> Duration {
    Duration::from_secs(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = TcpStatesConfig::default();
        assert!(!d.enabled && d.bpf);
        assert_eq!(d.snapshot_interval, Duration::from_secs(10));
        assert_eq!(d.close_wait_threshold, 50);
        d.validate().unwrap();
        let c: TcpStatesConfig = toml::from_str(
            "enabled = true\nbpf = false\nsnapshot_interval = \"1s\"\nports = [8080]",
        )
        .unwrap();
        assert!(c.enabled && !c.bpf);
        assert_eq!(c.snapshot_interval, Duration::from_secs(1));
        assert_eq!(c.ports, vec![8080]);
        assert!(toml::from_str::<TcpStatesConfig>("nope = 1").is_err());
        let bad = TcpStatesConfig {
            ring_buffer_bytes: 5000,
            ..d.clone()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("power of two"));
        let bad = TcpStatesConfig {
            close_wait_threshold: 0,
            ..d.clone()
        };
        assert!(bad.validate().is_err());
        assert_eq!(d.rtt_regression_factor, 2.0);
        let bad = TcpStatesConfig {
            rtt_regression_factor: 1.0,
            ..d.clone()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("rtt_regression_factor"));
        assert_eq!(
            (
                d.retransmit_regression_factor,
                d.retransmit_regression_min_increase
            ),
            (2.0, 0.01)
        );
        for (factor, inc, key) in [
            (0.5, 0.01, "retransmit_regression_factor"),
            (f64::NAN, 0.01, "retransmit_regression_factor"),
            (2.0, 0.0, "retransmit_regression_min_increase"),
            (2.0, 1.5, "retransmit_regression_min_increase"),
        ] {
            let bad = TcpStatesConfig {
                retransmit_regression_factor: factor,
                retransmit_regression_min_increase: inc,
                ..d.clone()
            };
            assert!(
                bad.validate().unwrap_err().to_string().contains(key),
                "{factor} {inc}"
            );
        }
    }
}

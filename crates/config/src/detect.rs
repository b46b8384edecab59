//! `[detect]`: Sigma rules, correlation and alerts.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Detection: which rules run and how their matches become alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Run detection in `run` and in the workers.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Load the rule pack built into loglynx (SSH brute force, password spraying, login after
    /// brute force, sudo failures, privileged group changes, logs cleared).
    #[serde(default = "yes")]
    pub builtin: bool,
    /// Sigma rule files and folders (read recursively: `*.yml`, `*.yaml`), besides `--rules`.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Sigma processing pipelines of your own (pySigma / rsigma pipeline YAML files), applied
    /// to every rule with loglynx's built-in one (`crates/detect/pipelines/loglynx.yml`,
    /// priority 10) in `priority` order: `field_name_mapping` items map the field names your
    /// rules use to loglynx's, and `add_condition` items whose id starts with `route_` route a
    /// logsource to the events that carry it (a rule no route matches loads inactive).
    /// Reloaded like the rule files; one that does not parse stops the start (and a reload
    /// keeps the rules running) with the file and the reason.
    #[serde(default)]
    pub pipelines: Vec<PathBuf>,
    /// Rules (id, name or title) that neither tag events nor raise alerts.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Matches of a rule for one group fold into its alert while their event time is within
    /// this of the alert's events; later ones raise a new alert.
    #[serde(default = "default_suppress", with = "humantime_serde")]
    pub suppress: Duration,
    /// An open or acknowledged alert of a rule tagged `loglynx.resolve` (the built-in network
    /// rules: a condition that holds, then clears) is resolved when no match came for this long
    /// in event time (later events were processed): status `resolved`, a history entry and a
    /// notification. `"0s"`: never.
    ///
    /// Why 5 minutes: the conditions that resolve are re-sent while they hold, the socket counts
    /// every `[tcp_states] socket_counts_interval` and the performance summaries every
    /// `perf_summary_interval` (both 60 s by default), so the period must be several of those
    /// intervals, or an alert whose condition still holds resolves between two of its events
    /// and is raised again at the next. 5 minutes tolerates four missed intervals (a lost
    /// snapshot, a slow pipeline). Peers settle near the same point: Prometheus sends a firing
    /// alert valid for 4 x max(evaluation interval, resend delay 1 m), "for two eval or send
    /// failures", and Alertmanager's `resolve_timeout` defaults to 5 m; Elastic's prebuilt
    /// detection rules mostly run every 5 m, so their alerts cannot clear sooner either.
    #[serde(default = "default_resolve_after", with = "humantime_serde")]
    pub resolve_after: Duration,
    /// The fields that group the alerts of single-event rules (correlation rules group by
    /// their own `group-by`).
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// Most groups one correlation rule keeps in memory; beyond it the stalest are evicted and
    /// counted (`GET /api/v1/rules`).
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// Most event ids an alert keeps as evidence (the count goes on beyond it).
    #[serde(default = "default_max_evidence")]
    pub max_evidence: usize,
    /// How often rule files are checked for changes (reloaded without a restart).
    #[serde(default = "default_reload", with = "humantime_serde")]
    pub reload_interval: Duration,
    /// Where new alerts are sent.
    #[serde(default)]
    pub notify: NotifyConfig,
}

/// `[detect.notify]`: notifications of new alerts, from a durable outbox, retried with backoff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A URL each new alert is POSTed to as JSON (`http://` or `https://`); empty: none.
    #[serde(default)]
    pub webhook: String,
    /// A header sent with each webhook, `Name: value` (e.g. an authorization); empty: none.
    /// Kept out of logs. `LOGLYNX_WEBHOOK_HEADER` overrides it.
    #[serde(default)]
    pub webhook_header: String,
    /// A syslog receiver each new alert is forwarded to (RFC 5424): `udp://HOST:PORT` or
    /// `tcp://HOST:PORT`; empty: none.
    #[serde(default)]
    pub syslog: String,
    /// Time allowed for one delivery; a receiver that hangs longer counts as a failure.
    #[serde(default = "default_notify_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for DetectConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl DetectConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_groups == 0 || self.max_evidence == 0 {
            return Err(ConfigError::Invalid(
                "detect.max_groups and detect.max_evidence must be at least 1".into(),
            ));
        }
        let n = &self.notify;
        if !n.webhook.is_empty() && !(n.webhook.starts_with("http://") || n.webhook.starts_with("https://")) {
            return Err(ConfigError::Invalid("detect.notify.webhook must start with http:// or https://".into()));
        }
        if !n.webhook_header.is_empty() && !n.webhook_header.contains(':') {
            return Err(ConfigError::Invalid("detect.notify.webhook_header must look like \"Name: value\"".into()));
        }
        if !n.syslog.is_empty() && !(n.syslog.starts_with("udp://") || n.syslog.starts_with("tcp://")) {
            return Err(ConfigError::Invalid("detect.notify.syslog must look like udp://HOST:PORT or tcp://HOST:PORT".into()));
        }
        if n.timeout.is_zero() {
            return Err(ConfigError::Invalid("detect.notify.timeout must be more than 0s".into()));
        }
        if self.reload_interval < Duration::from_millis(100) {
            return Err(ConfigError::Invalid("detect.reload_interval must be at least 100ms".into()));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}
fn default_resolve_after() -> Duration {
    Duration::from_secs(300)
}
fn default_suppress() -> Duration {
    Duration::from_secs(3600)
}
fn default_group_by() -> Vec<String> {
    vec!["host.name".into()]
}
fn default_max_groups() -> usize {
    100_000
}
fn default_max_evidence() -> usize {
    1_000
}
fn default_reload() -> Duration {
    Duration::from_secs(2)
}

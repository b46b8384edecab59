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
    /// Rules (id, name or title) that neither tag events nor raise alerts.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Matches of a rule for one group fold into its alert while their event time is within
    /// this of the alert's events; later ones raise a new alert.
    #[serde(default = "default_suppress", with = "humantime_serde")]
    pub suppress: Duration,
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
        if self.reload_interval < Duration::from_millis(100) {
            return Err(ConfigError::Invalid("detect.reload_interval must be at least 100ms".into()));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
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

//! `[patterns]`: log pattern mining (every event's `pattern.id`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Pattern mining: the templates behind the lines, mined on the parse threads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternsConfig {
    /// Mine patterns in `run` and in the workers: every event gets `pattern.id`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Least share of a line's words that must match a template for the line to join it
    /// (0.1 to 1.0; higher gives more, narrower templates).
    #[serde(default = "default_similarity")]
    pub similarity: f64,
    /// Most templates kept per service (`service.name`, else `process.name`, else
    /// `event.dataset`); lines past it that fit none are counted as the service's overflow.
    #[serde(default = "default_max_templates")]
    pub max_templates: usize,
    /// Most words of a line looked at (the rest of a longer line is one variable).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// The first line of a never-seen template also becomes an event (`event.dataset:
    /// loglynx.pattern`, `event.action: pattern-new`, with the template, service and level), for
    /// rules. Off by default: the events count as events (a search for `*` finds them).
    #[serde(default)]
    pub signals: bool,
    /// How long (in event time) after a service's first line its new patterns are only learning:
    /// their events say `labels.pattern_warm: false`, and the built-in `new_error_pattern` rule
    /// ignores them.
    #[serde(default = "default_warmup", with = "humantime_serde")]
    pub warmup: Duration,
    /// How often the miner's state is saved after a store commit (`<data_dir>/patterns/`).
    #[serde(default = "default_save_interval", with = "humantime_serde")]
    pub save_interval: Duration,
}

impl Default for PatternsConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl PatternsConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(0.1..=1.0).contains(&self.similarity) {
            return Err(ConfigError::Invalid(format!(
                "patterns.similarity is {}: set a share between 0.1 and 1.0",
                self.similarity
            )));
        }
        if self.max_templates == 0 || self.max_tokens == 0 {
            return Err(ConfigError::Invalid("patterns.max_templates and patterns.max_tokens must be at least 1".into()));
        }
        if self.save_interval.is_zero() {
            return Err(ConfigError::Invalid("patterns.save_interval must be more than 0s".into()));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

fn default_similarity() -> f64 {
    0.5
}

fn default_max_templates() -> usize {
    2000
}

fn default_max_tokens() -> usize {
    80
}

fn default_warmup() -> Duration {
    Duration::from_secs(3600)
}

fn default_save_interval() -> Duration {
    Duration::from_secs(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_settings_are_refused_with_the_key() {
        let c: PatternsConfig = toml::from_str("similarity = 1.5").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("patterns.similarity"));
        let c: PatternsConfig = toml::from_str("max_templates = 0").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<PatternsConfig>("nope = 1").is_err());
        PatternsConfig::default().validate().unwrap();
    }
}

//! `[journald]`: reading the systemd journal (`loglynx run --journald`, `loglynx agent
//! --journald`). The position read up to is kept in the store's checkpoint (per journal
//! sequence id, the entry's sequence number), so a restart goes on after the last stored entry.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::choice;
use crate::{ByteSize, ConfigError, StartAt};

/// The systemd journal as a source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournaldConfig {
    /// Read the journal. Off by default; `--journald` (or `--journald-directory DIR`) turns it
    /// on.
    #[serde(default)]
    pub enabled: bool,
    /// Read the journal files of this directory (e.g. `/var/log/journal/remote`, where
    /// `systemd-journal-remote` writes) instead of this machine's journal (`/var/log/journal`
    /// and `/run/log/journal`, the system's and the users' files, as `journalctl` without
    /// flags reads them when run as root or in the `systemd-journal` group).
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Only the entries of these systemd units (`_SYSTEMD_UNIT`, e.g. `["ssh.service",
    /// "nginx.service"]`). Empty: every entry.
    #[serde(default)]
    pub units: Vec<String>,
    /// Where to begin when the store holds no journal position yet: `beginning` (every entry
    /// the journal still has) or `end` (only entries written from now on).
    #[serde(default = "default_start_at", deserialize_with = "start_at")]
    pub start_at: StartAt,
    /// Most entries sent down the pipeline in one batch.
    #[serde(default = "default_batch_entries")]
    pub batch_entries: usize,
    /// Longest field value kept (`MESSAGE` and the labels); longer values are cut to it and the
    /// event is flagged `truncated` when its message was cut.
    #[serde(default = "default_max_value")]
    pub max_value: ByteSize,
}

impl Default for JournaldConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl JournaldConfig {
    /// Limits that keep the source usable.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_entries == 0 || self.max_value.0 == 0 {
            return Err(ConfigError::Invalid(
                "journald.batch_entries and journald.max_value must be above 0: raise them (defaults 1000 and 64KiB)".into(),
            ));
        }
        if self.units.iter().any(|u| u.is_empty() || u.contains('=')) {
            return Err(ConfigError::Invalid(
                "journald.units: a unit name is empty or holds '=': write names such as \"ssh.service\"".into(),
            ));
        }
        Ok(())
    }
}

fn default_start_at() -> StartAt {
    StartAt::Beginning
}
fn default_batch_entries() -> usize {
    1000
}
fn default_max_value() -> ByteSize {
    ByteSize(64 << 10)
}

fn start_at<'de, D: Deserializer<'de>>(d: D) -> Result<StartAt, D::Error> {
    choice::deserialize("journald.start_at", d)
}

#[cfg(test)]
mod tests {
    use crate::{Config, StartAt};

    #[test]
    fn off_by_default_and_checked() {
        let c = Config::default();
        assert!(!c.journald.enabled);
        assert_eq!(c.journald.start_at, StartAt::Beginning);
        assert_eq!(c.journald.batch_entries, 1000);
        let c: Config = toml::from_str("[journald]\nenabled = true\nunits = [\"\"]\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("journald.units"));
        let e = toml::from_str::<Config>("[journald]\nstart_at = \"middle\"\n").unwrap_err();
        assert!(e.to_string().contains("journald.start_at"), "{e}");
        let e = toml::from_str::<Config>("[journald]\nfollow = true\n").unwrap_err();
        assert!(e.to_string().contains("follow"), "{e}");
    }
}

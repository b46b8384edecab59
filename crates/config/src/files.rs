//! `[files]`: tailing files.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::choice::{self, Choice};
use crate::{ByteSize, ConfigError, LayoutRule, Zone};

/// Tailing files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Glob patterns of files to follow (`/var/log/*.log`, `/srv/app/**/*.log`). New files that
    /// match are picked up while running.
    #[serde(default)]
    pub include: Vec<String>,
    /// Glob patterns of files never to read (rotated archives such as `*.gz`).
    #[serde(default = "default_exclude")]
    pub exclude: Vec<String>,
    /// Read a matched path that resolves through a symlink to a file no include glob matches.
    /// Off: such files are refused with a warning, so a link planted in a log directory cannot
    /// make loglynx read (and show in searches) a file such as `/etc/shadow`.
    #[serde(default)]
    pub follow_symlinks: bool,
    /// How often globs are re-evaluated and files checked for growth, rotation and truncation.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Lines longer than this are cut to this length and flagged `truncated`; the rest of the
    /// line is skipped.
    #[serde(default = "default_max_line")]
    pub max_line: ByteSize,
    /// Where to start in a file seen for the first time with no checkpoint: `beginning` or
    /// `end`. Files created while running are always read from the beginning.
    #[serde(default, deserialize_with = "start_at")]
    pub start_at: StartAt,
    /// Lines per batch sent into the pipeline.
    #[serde(default = "default_batch_lines")]
    pub batch_lines: usize,
    /// Bytes read at the start of a file to tell it apart from another file with the same
    /// device and inode (inode reuse after rotation).
    #[serde(default = "default_fingerprint")]
    pub fingerprint_bytes: usize,
    /// A file that no longer matches or was deleted is closed after this long without growth.
    #[serde(default = "default_close_inactive", with = "humantime_serde")]
    pub close_inactive: Duration,
    /// Multi-line events: `auto` joins continuation lines to the event they belong to (lines
    /// starting with a blank, `at `, `Caused by:`, `... N more`, `Traceback (`, and, after a
    /// line that starts with a timestamp, the lines that do not: a Java or Python stack trace
    /// becomes one event, flagged `multiline`); `off`: one line, one event.
    #[serde(default, deserialize_with = "multiline")]
    pub multiline: Multiline,
    /// Most lines in one multi-line event; the event is cut there (flag `multiline_truncated`)
    /// and the next line starts another event.
    #[serde(default = "default_multiline_max_lines")]
    pub multiline_max_lines: usize,
    /// Most bytes in one multi-line event; cut there like at `multiline_max_lines`.
    #[serde(default = "default_multiline_max_bytes")]
    pub multiline_max_bytes: ByteSize,
    /// A multi-line event is held until the next event starts; after this long without the file
    /// growing, it is emitted as it is.
    #[serde(default = "default_multiline_timeout", with = "humantime_serde")]
    pub multiline_timeout: Duration,
    /// The zone of timestamps that carry none (`2024-01-01 10:00:00`, `Jan  1 10:00:00`) in
    /// files no `[[files.zones]]` entry matches: an IANA name (`Europe/Paris`, with its daylight
    /// saving rules, from the system's tzdb), `UTC`, `local` (this machine's zone) or a fixed
    /// offset (`+02:00`). A timestamp with a zone or offset keeps its own.
    #[serde(default = "Zone::utc")]
    pub timezone: Zone,
    /// Per-file zones: the first entry whose `paths` match a file's path gives the zone of its
    /// timestamps that carry none (`[[files.zones]]`, `paths = ["/var/log/app/*.log"]`,
    /// `timezone = "America/New_York"`). A `loglynx worker` applies its own configuration's
    /// zones to the paths the agents read.
    #[serde(default)]
    pub zones: Vec<ZoneRule>,
    /// Explicit layouts that win over format detection for the files they match (the first
    /// entry whose `paths` match): a `pattern` with named groups, a `timestamp_format`, or both
    /// (`[[files.layouts]]`, see [`LayoutRule`]). Lines that do not fit are detected as usual.
    #[serde(default)]
    pub layouts: Vec<LayoutRule>,
}

/// One `[[files.zones]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRule {
    /// Glob patterns of the files this zone applies to (matched like `files.include`).
    pub paths: Vec<String>,
    /// The zone of their timestamps that carry none (same spellings as `files.timezone`).
    pub timezone: Zone,
}

impl Default for FilesConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

/// `files.start_at`: where to start in a file seen for the first time with no checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Read the whole file.
    #[default]
    Beginning,
    /// Read only what is appended from now on.
    End,
}

impl Choice for StartAt {
    const ALL: &'static [Self] = &[StartAt::Beginning, StartAt::End];
    fn as_str(self) -> &'static str {
        match self {
            StartAt::Beginning => "beginning",
            StartAt::End => "end",
        }
    }
}

fn start_at<'de, D: Deserializer<'de>>(d: D) -> Result<StartAt, D::Error> {
    choice::deserialize("files.start_at", d)
}

/// `files.multiline`: whether continuation lines join the event they belong to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Multiline {
    /// Join continuation lines (stack traces) into one event.
    #[default]
    Auto,
    /// One line, one event.
    Off,
}

impl Choice for Multiline {
    const ALL: &'static [Self] = &[Multiline::Auto, Multiline::Off];
    fn as_str(self) -> &'static str {
        match self {
            Multiline::Auto => "auto",
            Multiline::Off => "off",
        }
    }
}

fn multiline<'de, D: Deserializer<'de>>(d: D) -> Result<Multiline, D::Error> {
    choice::deserialize("files.multiline", d)
}

impl FilesConfig {
    /// Batch and line sizes that make progress, and globs that compile.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.batch_lines == 0 {
            return bad("files.batch_lines must be at least 1");
        }
        if self.max_line.0 < 1024 {
            return bad("files.max_line must be at least 1KiB");
        }
        if self.multiline_max_lines == 0 {
            return bad("files.multiline_max_lines must be at least 1");
        }
        if self.multiline_max_bytes.0 < 1024 {
            return bad("files.multiline_max_bytes must be at least 1KiB");
        }
        for (i, l) in self.layouts.iter().enumerate() {
            l.validate(i)?;
        }
        let zone_globs = self.zones.iter().flat_map(|z| &z.paths);
        let layout_globs = self.layouts.iter().flat_map(|l| &l.paths);
        for g in self.include.iter().chain(&self.exclude).chain(zone_globs).chain(layout_globs) {
            glob::Pattern::new(g).map_err(|source| ConfigError::Glob { pattern: g.clone(), source })?;
        }
        Ok(())
    }
}

fn default_exclude() -> Vec<String> {
    vec!["*.gz".into(), "*.zip".into(), "*.bz2".into(), "*.xz".into()]
}
fn default_poll() -> Duration {
    Duration::from_millis(250)
}
fn default_max_line() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_batch_lines() -> usize {
    2048
}
fn default_fingerprint() -> usize {
    256
}
fn default_close_inactive() -> Duration {
    Duration::from_secs(300)
}
fn default_multiline_max_lines() -> usize {
    500
}
fn default_multiline_max_bytes() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_multiline_timeout() -> Duration {
    Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::tests::spelled_like_serde;
    use crate::Config;

    #[test]
    fn start_at_is_one_of_two_words() {
        spelled_like_serde::<StartAt>();
        let c: Config = toml::from_str("[files]\nstart_at = \"end\"\n").unwrap();
        assert_eq!(c.files.start_at, StartAt::End);
        let e = toml::from_str::<Config>("[files]\nstart_at = \"middle\"\n").unwrap_err().to_string();
        assert!(e.contains("files.start_at = \"middle\": use beginning or end"), "{e}");
    }

    #[test]
    fn multiline_is_auto_or_off() {
        spelled_like_serde::<Multiline>();
        assert_eq!(Config::default().files.multiline, Multiline::Auto);
        let c: Config = toml::from_str("[files]\nmultiline = \"off\"\n").unwrap();
        assert_eq!(c.files.multiline, Multiline::Off);
        let e = toml::from_str::<Config>("[files]\nmultiline = \"on\"\n").unwrap_err().to_string();
        assert!(e.contains("files.multiline = \"on\": use auto or off"), "{e}");
        let c: Config = toml::from_str("[files]\nmultiline_max_lines = 0\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("multiline_max_lines"));
    }

    #[test]
    fn a_bad_glob_is_named() {
        let c: Config = toml::from_str("[files]\ninclude = [\"/var/log/[.log\"]\n").unwrap();
        let e = c.validate().unwrap_err();
        assert!(matches!(e, ConfigError::Glob { .. }), "{e}");
        assert!(e.to_string().contains("/var/log/[.log"), "{e}");
    }

    #[test]
    fn zones_per_glob_and_a_default() {
        let c: Config = toml::from_str(
            "[files]\ntimezone = \"+02:00\"\n[[files.zones]]\npaths = [\"/srv/ny/*.log\"]\ntimezone = \"America/New_York\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.files.timezone.fixed_offset_secs(), Some(7200));
        assert_eq!(c.files.zones[0].timezone.name(), "America/New_York");
        assert_eq!(Config::default().files.timezone.fixed_offset_secs(), Some(0));
        let e = toml::from_str::<Config>("[files]\ntimezone = \"Paris\"\n").unwrap_err().to_string();
        assert!(e.contains("\"Paris\" is unknown"), "{e}");
        let c: Config = toml::from_str("[[files.zones]]\npaths = [\"[\"]\ntimezone = \"UTC\"\n").unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::Glob { .. })));
    }
}

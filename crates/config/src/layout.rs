//! `[[files.layouts]]`: an explicit layout for some files, which wins over format detection;
//! `[[syslog.layouts]]` and `[[http.layouts]]`: the same for the messages of some syslog senders
//! and programs or HTTP streams, with their zone, which win over the structure learned for them.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Zone};

/// The named groups a `pattern` may have, as the ECS fields they fill.
pub const LAYOUT_GROUPS: [&str; 8] =
    ["timestamp", "level", "logger", "thread", "pid", "host", "program", "message"];

/// One `[[files.layouts]]` entry: the lines of the files it matches are read with it first;
/// a line it does not fit goes through format detection as usual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutRule {
    /// Glob patterns of the files this layout applies to (matched like `files.include`).
    pub paths: Vec<String>,
    /// A regular expression (Rust `regex` syntax) with named groups among `timestamp`,
    /// `level`, `logger`, `thread`, `pid`, `host`, `program`, `message` (`log.level`,
    /// `log.logger`, `process.thread.name`, `process.pid`, `host.name`, `process.name`,
    /// `message`; without a `message` group the whole line is the message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The format of the timestamp, strftime-style (`%d.%m.%Y %H:%M:%S%.f`, `%z` for an offset):
    /// of the `timestamp` group, or, without a `pattern`, at the start of the line, the rest of
    /// which is then read like any header (level, thread, logger). Without it the `timestamp`
    /// group is read in any of the formats loglynx knows. A time without an offset is in the
    /// file's zone (`files.timezone`, `[[files.zones]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
}

impl LayoutRule {
    /// A pattern that compiles with known group names, or a timestamp format that chrono reads.
    pub(crate) fn validate(&self, i: usize) -> Result<(), ConfigError> {
        let what = format!("files.layouts[{i}]");
        if self.pattern.is_none() && self.timestamp_format.is_none() {
            return Err(ConfigError::Invalid(format!("{what}: set pattern, timestamp_format or both")));
        }
        check_layout(&what, self.pattern.as_deref(), self.timestamp_format.as_deref())
    }
}

/// One `[[syslog.layouts]]` or `[[http.layouts]]` entry: how the messages of the syslog senders
/// and programs, or of the HTTP streams, it matches are read (the first entry that matches wins;
/// an entry without selectors matches every message of its section). It wins over the structure
/// learned for them (`crate::PipelineConfig::learned_sources`); a message it does not fit is kept
/// as the header left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamLayoutRule {
    /// Globs on the host: for syslog the host the sender names in its header (else its
    /// address), for HTTP the host that received the request (`run`'s or the agent's). Empty:
    /// any host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// `[[syslog.layouts]]` only: globs on the program (RFC 3164 TAG, RFC 5424 APP-NAME).
    /// Empty: any program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<String>,
    /// `[[http.layouts]]` only: globs on the stream: `?stream=NAME` of `POST /api/v1/ingest`,
    /// else a JSON document's `_bulk` index, `event.dataset` or `service.name`. Empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<String>,
    /// The zone of the times without an offset in these messages and their headers (an RFC
    /// 3164 header has none; syslog and HTTP are read in UTC without this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Zone>,
    /// As in `[[files.layouts]]`, read from the message (for a text line over HTTP, the line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// As in `[[files.layouts]]`: of the `timestamp` group, or without a pattern at the start
    /// of the message. A time the layout reads is the event's `@timestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
}

impl StreamLayoutRule {
    /// The rule as a [`LayoutRule`] of its pattern and format, when it has either.
    pub fn layout(&self) -> Option<LayoutRule> {
        (self.pattern.is_some() || self.timestamp_format.is_some()).then(|| LayoutRule {
            paths: Vec::new(),
            pattern: self.pattern.clone(),
            timestamp_format: self.timestamp_format.clone(),
        })
    }

    /// Something to apply, selectors of this section only, globs that compile, a layout that
    /// compiles. `section` is `syslog` or `http`.
    pub(crate) fn validate(&self, section: &str, i: usize) -> Result<(), ConfigError> {
        let what = format!("{section}.layouts[{i}]");
        let bad = |m: &str| Err(ConfigError::Invalid(format!("{what}: {m}")));
        if self.pattern.is_none() && self.timestamp_format.is_none() && self.timezone.is_none() {
            return bad("set pattern, timestamp_format, timezone or several");
        }
        if section == "syslog" && !self.streams.is_empty() {
            return bad("streams are for [[http.layouts]]: a syslog message is chosen by hosts and programs");
        }
        if section == "http" && !self.programs.is_empty() {
            return bad("programs are for [[syslog.layouts]]: an HTTP message is chosen by hosts and streams");
        }
        for g in self.hosts.iter().chain(&self.programs).chain(&self.streams) {
            glob::Pattern::new(g).map_err(|source| ConfigError::Glob { pattern: g.clone(), source })?;
        }
        check_layout(&what, self.pattern.as_deref(), self.timestamp_format.as_deref())
    }
}

/// A pattern that compiles with known group names, a timestamp format that chrono reads.
fn check_layout(what: &str, pattern: Option<&str>, format: Option<&str>) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(format!("{what}: {m}")));
    if let Some(p) = pattern {
        let re = match regex::Regex::new(p) {
            Ok(re) => re,
            Err(e) => return bad(format!("pattern does not compile: {e}")),
        };
        for name in re.capture_names().flatten() {
            if !LAYOUT_GROUPS.contains(&name) {
                return bad(format!("pattern group {name:?} is not one of {}", LAYOUT_GROUPS.join(", ")));
            }
        }
    }
    if let Some(f) = format {
        use chrono::format::{Item, StrftimeItems};
        if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
            return bad(format!("timestamp_format {f:?} is not a strftime format"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Config, ConfigError};

    fn check(entry: &str) -> Result<(), ConfigError> {
        let c: Config = toml::from_str(&format!("[[files.layouts]]\npaths = [\"/a/*.log\"]\n{entry}")).unwrap();
        c.validate()
    }

    #[test]
    fn layouts_are_checked_when_the_file_is_read() {
        check("pattern = '^(?P<timestamp>\\S+) (?P<message>.*)$'\n").unwrap();
        check("timestamp_format = \"%d.%m.%Y %H:%M:%S\"\n").unwrap();
        let e = check("").unwrap_err().to_string();
        assert!(e.contains("files.layouts[0]: set pattern"), "{e}");
        let e = check("pattern = '(?P<when>x'\n").unwrap_err().to_string();
        assert!(e.contains("does not compile"), "{e}");
        let e = check("pattern = '(?P<when>x)'\n").unwrap_err().to_string();
        assert!(e.contains("group \"when\" is not one of timestamp, level"), "{e}");
        let e = check("timestamp_format = \"%Q\"\n").unwrap_err().to_string();
        assert!(e.contains("not a strftime format"), "{e}");
    }

    fn check_stream(section: &str, entry: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(&format!("[[{section}.layouts]]\n{entry}"))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        c.validate().map(|()| c)
    }

    #[test]
    fn syslog_and_http_layouts_are_checked() {
        let c = check_stream("syslog", "programs = [\"billing*\"]\ntimezone = \"Europe/Paris\"\n").unwrap();
        assert_eq!(c.syslog.layouts[0].timezone.as_ref().unwrap().name(), "Europe/Paris");
        assert!(c.syslog.layouts[0].layout().is_none());
        let c = check_stream("http", "streams = [\"pay\"]\ntimestamp_format = \"%d.%m.%Y %H:%M:%S\"\n").unwrap();
        assert_eq!(c.http.layouts[0].layout().unwrap().timestamp_format.as_deref(), Some("%d.%m.%Y %H:%M:%S"));
        let e = check_stream("syslog", "programs = [\"a\"]\n").unwrap_err().to_string();
        assert!(e.contains("syslog.layouts[0]: set pattern, timestamp_format, timezone"), "{e}");
        let e = check_stream("syslog", "streams = [\"a\"]\ntimezone = \"UTC\"\n").unwrap_err().to_string();
        assert!(e.contains("streams are for [[http.layouts]]"), "{e}");
        let e = check_stream("http", "programs = [\"a\"]\ntimezone = \"UTC\"\n").unwrap_err().to_string();
        assert!(e.contains("programs are for [[syslog.layouts]]"), "{e}");
        let e = check_stream("http", "pattern = '(?P<when>x)'\n").unwrap_err().to_string();
        assert!(e.contains("http.layouts[0]: pattern group \"when\""), "{e}");
        let e = check_stream("http", "hosts = [\"[\"]\ntimezone = \"UTC\"\n").unwrap_err().to_string();
        assert!(e.contains('['), "{e}");
        let e = check_stream("syslog", "timezone = \"Mars/Olympus\"\n").unwrap_err().to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }
}

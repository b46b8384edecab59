//! `[[files.layouts]]`: an explicit layout for some files, which wins over format detection.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

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
        let bad = |m: String| Err(ConfigError::Invalid(format!("files.layouts[{i}]: {m}")));
        if self.pattern.is_none() && self.timestamp_format.is_none() {
            return bad("set pattern, timestamp_format or both".into());
        }
        if let Some(p) = &self.pattern {
            let re = match regex::Regex::new(p) {
                Ok(re) => re,
                Err(e) => return bad(format!("pattern does not compile: {e}")),
            };
            for name in re.capture_names().flatten() {
                if !LAYOUT_GROUPS.contains(&name) {
                    return bad(format!(
                        "pattern group {name:?} is not one of {}",
                        LAYOUT_GROUPS.join(", ")
                    ));
                }
            }
        }
        if let Some(f) = &self.timestamp_format {
            use chrono::format::{Item, StrftimeItems};
            if StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                return bad(format!("timestamp_format {f:?} is not a strftime format"));
            }
        }
        Ok(())
    }
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
}

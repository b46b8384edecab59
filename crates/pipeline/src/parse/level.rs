//! Log levels normalised to the lowercase syslog-style names loglynx stores in `log.level`.
//!
//! | stored | read from (any case) |
//! |---|---|
//! | `emerg` | emerg, emergency, panic |
//! | `alert` | alert |
//! | `crit` | crit, critical, fatal |
//! | `error` | error, err, severe, e |
//! | `warn` | warn, warning, w |
//! | `notice` | notice |
//! | `info` | info, informational, information, i |
//! | `debug` | debug, dbg, fine, config, d |
//! | `trace` | trace, finer, finest, verbose, t |

/// Syslog severity codes 0..=7 as stored level names.
pub const SEVERITY_LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
];

/// The normalised name of a level word, `None` when it is not one.
pub fn normalize(word: &str) -> Option<&'static str> {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > 13 {
        return None;
    }
    let mut buf = [0u8; 13];
    for (d, s) in buf.iter_mut().zip(b) {
        *d = s.to_ascii_lowercase();
    }
    Some(match &buf[..b.len()] {
        b"emerg" | b"emergency" | b"panic" => "emerg",
        b"alert" => "alert",
        b"crit" | b"critical" | b"fatal" => "crit",
        b"error" | b"err" | b"severe" | b"e" => "error",
        b"warn" | b"warning" | b"w" => "warn",
        b"notice" => "notice",
        b"info" | b"informational" | b"information" | b"i" => "info",
        b"debug" | b"dbg" | b"fine" | b"config" | b"d" => "debug",
        b"trace" | b"finer" | b"finest" | b"verbose" | b"t" => "trace",
        _ => return None,
    })
}

/// A numeric level: syslog severities 0..=7, or the bunyan/pino scale (10 trace .. 60 fatal).
pub fn from_number(n: i64) -> Option<&'static str> {
    Some(match n {
        0..=7 => SEVERITY_LEVELS[n as usize],
        10 => "trace",
        20 => "debug",
        30 => "info",
        40 => "warn",
        50 => "error",
        60 => "crit",
        _ => return None,
    })
}

/// The level to store for a field value: the normalised name, or for a word loglynx does not
/// know, the word itself lowercased (kept when short and alphanumeric, else dropped).
pub fn from_field(value: &str) -> Option<String> {
    let v = value.trim();
    if let Some(l) = normalize(v) {
        return Some(l.to_string());
    }
    if let Ok(n) = v.parse::<i64>() {
        return from_number(n).map(str::to_string);
    }
    (!v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| v.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_spellings_are_normalised() {
        for (w, want) in [
            ("FATAL", "crit"),
            ("SEVERE", "error"),
            ("WARNING", "warn"),
            ("ERR", "error"),
            ("INFO", "info"),
            ("Notice", "notice"),
            ("emergency", "emerg"),
            ("TRACE", "trace"),
            ("DEBUG", "debug"),
        ] {
            assert_eq!(normalize(w), Some(want), "{w}");
        }
        assert_eq!(normalize("KERNEL"), None);
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn field_values_numbers_and_unknown_words() {
        assert_eq!(from_field("30").as_deref(), Some("info"));
        assert_eq!(from_field("3").as_deref(), Some("error"));
        assert_eq!(from_field("Audit").as_deref(), Some("audit"));
        assert_eq!(from_field("not a level at all"), None);
        assert_eq!(from_field("99"), None);
    }
}

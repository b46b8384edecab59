//! Journal entries -> loglynx records: each entry becomes one JSON object with ECS names
//! (format hint `Json`), read by the pipeline like an NDJSON line, as OTLP records are.
//!
//! | journal field | event |
//! |---|---|
//! | `__REALTIME_TIMESTAMP` (when journald received it) | `@timestamp` |
//! | `MESSAGE` | `message` (cut at `journald.max_value`, flagged `truncated`) |
//! | `PRIORITY` 0-7 | `log.syslog.severity.code` and `log.level` emerg, alert, crit, error, warn, notice, info, debug |
//! | `SYSLOG_FACILITY` | `log.syslog.facility.code` |
//! | `_HOSTNAME` | `host.name` |
//! | `SYSLOG_IDENTIFIER`, else `_COMM` | `process.name` and `service.name` (as syslog lines get them) |
//! | `_PID`, else `SYSLOG_PID` | `process.pid` |
//! | `_SYSTEMD_UNIT` | `systemd.unit` |
//! | `_CMDLINE` | `process.command_line` |
//! | any other field `NAME` / `_NAME` / `__NAME` | label `journald.name` (lower case, leading `_` dropped; the trusted `_NAME` wins over a sender's `NAME`) |
//!
//! `event.dataset` is `journald`. Values that are not UTF-8 are decoded lossily; every value is
//! cut at `journald.max_value` bytes. How many labels an event keeps is the pipeline's cap
//! (`pipeline.max_labels`), as for every source.

use loglynx_core::Timestamp;
use serde_json::{Map, Value};

/// The dataset of journal events (`event.dataset`).
pub const DATASET: &str = "journald";

/// Level words of the syslog severities 0-7 (the same as the syslog parser's).
const LEVELS: [&str; 8] = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"];

/// One mapped entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The JSON object, serialised.
    pub body: Vec<u8>,
    /// The message was cut at the value limit.
    pub truncated: bool,
}

/// Which of two fields for the same target wins: lower is better.
#[derive(Default)]
struct Ranked {
    value: Option<(u8, String)>,
}

impl Ranked {
    fn offer(&mut self, rank: u8, v: String) {
        if self.value.as_ref().map_or(true, |(r, _)| rank < *r) {
            self.value = Some((rank, v));
        }
    }
    fn take(self) -> Option<String> {
        self.value.map(|(_, v)| v)
    }
}

/// Maps the fields of one entry (`NAME`, value) received at `realtime_usec` (µs since the
/// epoch), cutting values at `max_value` bytes.
pub fn map_entry<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    realtime_usec: u64,
    max_value: usize,
) -> Mapped {
    let mut obj = Map::new();
    let mut truncated = false;
    let mut process = Ranked::default();
    let mut pid = Ranked::default();
    // Labels from trusted fields (set by journald, `_NAME`) override the sender's `NAME`.
    let mut trusted_labels: Vec<String> = Vec::new();
    for (name, value) in fields {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let (text, cut) = cut_lossy(value, max_value);
        match name {
            "MESSAGE" => {
                truncated |= cut;
                obj.insert("message".into(), text.into());
            }
            "PRIORITY" => match text.parse::<u8>().ok().filter(|p| *p < 8) {
                Some(p) => {
                    obj.insert("log.syslog.severity.code".into(), p.into());
                    obj.insert("log.level".into(), LEVELS[usize::from(p)].into());
                }
                None => label(&mut obj, &mut trusted_labels, name, text),
            },
            "SYSLOG_FACILITY" => match text.parse::<u8>().ok().filter(|f| *f < 24) {
                Some(f) => {
                    obj.insert("log.syslog.facility.code".into(), f.into());
                }
                None => label(&mut obj, &mut trusted_labels, name, text),
            },
            "_HOSTNAME" => {
                obj.insert("host.name".into(), text.into());
            }
            "SYSLOG_IDENTIFIER" => process.offer(0, text),
            "_COMM" => process.offer(1, text),
            "_PID" => pid.offer(0, text),
            "SYSLOG_PID" => pid.offer(1, text),
            "_SYSTEMD_UNIT" => {
                obj.insert("systemd.unit".into(), text.into());
            }
            "_CMDLINE" => {
                obj.insert("process.command_line".into(), text.into());
            }
            _ => label(&mut obj, &mut trusted_labels, name, text),
        }
    }
    if let Some(p) = process.take() {
        obj.insert("process.name".into(), p.clone().into());
        obj.insert("service.name".into(), p.into());
    }
    if let Some(p) = pid.take() {
        match p.parse::<u32>() {
            Ok(n) => obj.insert("process.pid".into(), n.into()),
            Err(_) => obj.insert("labels.journald.pid".into(), p.into()),
        };
    }
    if let Some(ns) = i64::try_from(realtime_usec).ok().and_then(|us| us.checked_mul(1000)) {
        obj.insert("@timestamp".into(), Timestamp(ns).to_rfc3339().into());
    }
    obj.entry("message").or_insert_with(|| "".into());
    obj.insert("event.dataset".into(), DATASET.into());
    Mapped {
        body: serde_json::to_vec(&Value::Object(obj)).expect("a JSON map of strings and numbers serialises"),
        truncated,
    }
}

/// Label `journald.<name>`: lower case without leading underscores; a trusted field (`_NAME`)
/// replaces a sender's field of the same name, never the other way round.
fn label(obj: &mut Map<String, Value>, trusted: &mut Vec<String>, name: &str, text: String) {
    let bare = name.trim_start_matches('_');
    if bare.is_empty() {
        return;
    }
    let key = format!("labels.journald.{}", bare.to_ascii_lowercase());
    let is_trusted = name.starts_with('_');
    if is_trusted {
        trusted.push(key.clone());
    } else if trusted.contains(&key) {
        return;
    }
    obj.insert(key, text.into());
}

/// `value` as text (lossy), cut at `max` bytes on a character boundary; whether it was cut.
fn cut_lossy(value: &[u8], max: usize) -> (String, bool) {
    if value.len() <= max {
        return (String::from_utf8_lossy(value).into_owned(), false);
    }
    let mut v = &value[..max];
    // A character split at the limit is dropped whole rather than decoded as U+FFFD.
    if let Err(e) = std::str::from_utf8(v) {
        if e.error_len().is_none() {
            v = &v[..e.valid_up_to()];
        }
    }
    (String::from_utf8_lossy(v).into_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(fields: &[(&str, &str)], max: usize) -> (Map<String, Value>, bool) {
        let m = map_entry(
            fields.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())),
            1_764_000_000_123_456,
            max,
        );
        match serde_json::from_slice(&m.body).unwrap() {
            Value::Object(o) => (o, m.truncated),
            _ => unreachable!(),
        }
    }

    #[test]
    fn journal_fields_become_ecs_fields_and_labels() {
        let (o, cut) = obj(
            &[
                ("MESSAGE", "Accepted publickey for alice"),
                ("PRIORITY", "3"),
                ("SYSLOG_FACILITY", "4"),
                ("_HOSTNAME", "web1"),
                ("_COMM", "sshd"),
                ("SYSLOG_IDENTIFIER", "sshd-session"),
                ("_PID", "4242"),
                ("SYSLOG_PID", "1"),
                ("_SYSTEMD_UNIT", "ssh.service"),
                ("_CMDLINE", "sshd: alice [priv]"),
                ("_TRANSPORT", "syslog"),
                ("_BOOT_ID", "0123"),
                ("UID", "forged"),
                ("_UID", "0"),
                ("CODE_FILE", "auth.c"),
            ],
            1 << 10,
        );
        assert!(!cut);
        assert_eq!(o["message"], "Accepted publickey for alice");
        assert_eq!(o["log.level"], "error");
        assert_eq!(o["log.syslog.severity.code"], 3);
        assert_eq!(o["log.syslog.facility.code"], 4);
        assert_eq!(o["host.name"], "web1");
        assert_eq!(o["process.name"], "sshd-session", "SYSLOG_IDENTIFIER wins over _COMM");
        assert_eq!(o["service.name"], "sshd-session");
        assert_eq!(o["process.pid"], 4242, "_PID wins over SYSLOG_PID");
        assert_eq!(o["systemd.unit"], "ssh.service");
        assert_eq!(o["process.command_line"], "sshd: alice [priv]");
        assert_eq!(o["labels.journald.transport"], "syslog");
        assert_eq!(o["labels.journald.boot_id"], "0123");
        assert_eq!(o["labels.journald.uid"], "0", "the trusted _UID wins");
        assert_eq!(o["labels.journald.code_file"], "auth.c");
        assert_eq!(o["event.dataset"], "journald");
        assert_eq!(o["@timestamp"], "2025-11-24T16:00:00.123456Z");
    }

    #[test]
    fn bad_values_are_kept_as_labels_and_long_ones_cut() {
        let long = "é".repeat(40);
        let (o, cut) = obj(
            &[("MESSAGE", &long), ("PRIORITY", "9"), ("_PID", "x1"), ("NOTE", &long)],
            11,
        );
        assert!(cut, "the message was cut");
        assert_eq!(o["message"], "ééééé", "cut on a character boundary");
        assert_eq!(o["labels.journald.note"], "ééééé");
        assert_eq!(o["labels.journald.priority"], "9");
        assert!(o.get("log.level").is_none());
        assert_eq!(o["labels.journald.pid"], "x1");
        let (o, _) = obj(&[("_COMM", "cron")], 100);
        assert_eq!(o["message"], "", "an entry without MESSAGE still has one");
        assert_eq!(o["process.name"], "cron");
    }

    #[test]
    fn binary_values_are_decoded_lossily() {
        let m = map_entry([(&b"MESSAGE"[..], &b"ok \xff\xfe end"[..])], 0, 100);
        let o: Map<String, Value> = serde_json::from_slice(&m.body).unwrap();
        assert_eq!(o["message"], "ok \u{FFFD}\u{FFFD} end");
    }
}

//! The normalised event.
//!
//! Typed fields for what every event may carry, plus free `labels.*`. Serialised (API, Kafka,
//! doc store) as a flat JSON object with the ECS dotted names of [`crate::fields`]; absent
//! fields are omitted.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What the pipeline could not fully handle; stored with the event (`log.flags`), searchable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFlags {
    /// No known format matched: the line is kept whole in `message`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unparsed: bool,
    /// The line was longer than the configured maximum and was cut.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// The bytes were not valid UTF-8 and were decoded lossily.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invalid_utf8: bool,
    /// The format has a timestamp but it could not be read, or it is implausible (before 1970
    /// or more than a day ahead of the ingest time, for generic line headers); `@timestamp` is
    /// the ingest time.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bad_timestamp: bool,
    /// A structured body (JSON) was malformed or not an object; the raw text is in `message`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub malformed: bool,
    /// The event spans several lines (a stack trace joined by the file source, a frame with
    /// newlines). Informative: not counted by [`EventFlags::any`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiline: bool,
    /// A multi-line event that was cut: at `files.multiline_max_lines` / `_max_bytes` (its next
    /// lines are the next event) or one of its lines at `files.max_line`. Comes with `truncated`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiline_truncated: bool,
    /// Parsing or decoding the line panicked (a loglynx bug): the line is kept whole in
    /// `message`, unparsed, and the rest of its batch is parsed as usual.
    #[serde(default, skip_serializing_if = "is_false")]
    pub parse_panic: bool,
    /// The time was read with a day / month order guessed from the source's lines, whose
    /// dates could all be read either way (days and months <= 12). Informative: not counted by
    /// [`EventFlags::any`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub ambiguous_timestamp: bool,
    /// Labels were dropped over `pipeline.max_labels` or `pipeline.max_label_keys`; the raw
    /// line is in `event.original`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub labels_capped: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl EventFlags {
    /// A flag that says something went wrong (all but `multiline`).
    pub fn any(&self) -> bool {
        self.unparsed
            || self.truncated
            || self.invalid_utf8
            || self.bad_timestamp
            || self.malformed
            || self.multiline_truncated
            || self.parse_panic
            || self.labels_capped
    }
    /// The flag names that are set, as stored in `log.flags`.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.unparsed {
            v.push("unparsed");
        }
        if self.truncated {
            v.push("truncated");
        }
        if self.invalid_utf8 {
            v.push("invalid_utf8");
        }
        if self.bad_timestamp {
            v.push("bad_timestamp");
        }
        if self.malformed {
            v.push("malformed");
        }
        if self.multiline {
            v.push("multiline");
        }
        if self.multiline_truncated {
            v.push("multiline_truncated");
        }
        if self.parse_panic {
            v.push("parse_panic");
        }
        if self.ambiguous_timestamp {
            v.push("ambiguous_timestamp");
        }
        if self.labels_capped {
            v.push("labels_capped");
        }
        v
    }
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = EventFlags::default();
        for n in names {
            match n {
                "unparsed" => f.unparsed = true,
                "truncated" => f.truncated = true,
                "invalid_utf8" => f.invalid_utf8 = true,
                "bad_timestamp" => f.bad_timestamp = true,
                "malformed" => f.malformed = true,
                "parse_panic" => f.parse_panic = true,
                "ambiguous_timestamp" => f.ambiguous_timestamp = true,
                "labels_capped" => f.labels_capped = true,
                "multiline" => f.multiline = true,
                "multiline_truncated" => f.multiline_truncated = true,
                _ => {}
            }
        }
        f
    }
}

/// One normalised event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened (from the line), or the ingest time when the line has none.
    #[serde(rename = "@timestamp")]
    pub timestamp: Timestamp,
    /// When loglynx received it.
    #[serde(rename = "event.ingested")]
    pub ingested: Timestamp,
    /// Stable id: derived from the source position where there is one, so a replay yields the
    /// same id.
    #[serde(rename = "event.id")]
    pub id: String,
    /// What kind of log this is: `syslog`, `json`, `logfmt`, `apache.access`, `loghub.hdfs`, ...
    #[serde(rename = "event.dataset", default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The raw line, kept only when configured (`keep_original`).
    #[serde(rename = "event.original", default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(rename = "host.name", default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(rename = "log.file.path", default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// Lowercase level: `emerg`, `alert`, `crit`, `error`, `warn`, `notice`, `info`, `debug`, ...
    #[serde(rename = "log.level", default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(rename = "log.syslog.facility.code", default, skip_serializing_if = "Option::is_none")]
    pub syslog_facility: Option<u8>,
    #[serde(rename = "log.syslog.severity.code", default, skip_serializing_if = "Option::is_none")]
    pub syslog_severity: Option<u8>,
    #[serde(rename = "service.name", default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(rename = "process.name", default, skip_serializing_if = "Option::is_none")]
    pub process_name: Option<String>,
    #[serde(rename = "process.pid", default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(rename = "message", default)]
    pub message: String,
    #[serde(rename = "source.ip", default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(rename = "source.port", default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(rename = "destination.ip", default, skip_serializing_if = "Option::is_none")]
    pub destination_ip: Option<String>,
    #[serde(rename = "destination.port", default, skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    #[serde(rename = "user.name", default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(rename = "pattern.id", default, skip_serializing_if = "Option::is_none")]
    pub pattern_id: Option<String>,
    #[serde(rename = "network.transport", default, skip_serializing_if = "Option::is_none")]
    pub network_transport: Option<String>,
    /// What happened (`ssh_login`, `session_opened`, `user_added`, ...), set by the decoders.
    /// `action`, `outcome` and `category` are `Cow` so the decoders set them without allocating.
    #[serde(rename = "event.action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Cow<'static, str>>,
    /// `success`, `failure` or `unknown`.
    #[serde(rename = "event.outcome", default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Cow<'static, str>>,
    /// ECS category: `authentication`, `session`, `iam`, `process`, `network`, `web`.
    #[serde(rename = "event.category", default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Cow<'static, str>>,
    /// The user a command runs as (sudo `USER=`, the target of su).
    #[serde(rename = "user.effective.name", default, skip_serializing_if = "Option::is_none")]
    pub user_effective_name: Option<String>,
    /// The account an administrative action is about (useradd, passwd, ...).
    #[serde(rename = "user.target.name", default, skip_serializing_if = "Option::is_none")]
    pub user_target_name: Option<String>,
    #[serde(rename = "group.name", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(rename = "process.command_line", default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// The client's host name when the line names it instead of an address.
    #[serde(rename = "source.domain", default, skip_serializing_if = "Option::is_none")]
    pub source_domain: Option<String>,
    #[serde(rename = "systemd.unit", default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    #[serde(rename = "http.request.method", default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(rename = "http.response.status_code", default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(rename = "url.original", default, skip_serializing_if = "Option::is_none")]
    pub url_original: Option<String>,
    #[serde(rename = "user_agent.original", default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(rename = "tcp.old_state", default, skip_serializing_if = "Option::is_none")]
    pub tcp_old_state: Option<String>,
    #[serde(rename = "tcp.new_state", default, skip_serializing_if = "Option::is_none")]
    pub tcp_new_state: Option<String>,
    #[serde(rename = "tcp.state_duration_us", default, skip_serializing_if = "Option::is_none")]
    pub tcp_state_duration_us: Option<u64>,
    // Connection lifetimes (`event.dataset: network.connection`, from the network monitor).
    /// Bytes sent by the source (the side that connected).
    #[serde(rename = "source.bytes", default, skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<u64>,
    /// Bytes sent by the destination (the side that accepted).
    #[serde(rename = "destination.bytes", default, skip_serializing_if = "Option::is_none")]
    pub destination_bytes: Option<u64>,
    /// `source.bytes` + `destination.bytes`.
    #[serde(rename = "network.bytes", default, skip_serializing_if = "Option::is_none")]
    pub network_bytes: Option<u64>,
    /// How long the event lasted, in nanoseconds (ECS `event.duration`).
    #[serde(rename = "event.duration", default, skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    /// Segments the socket retransmitted (the kernel's `total_retrans`).
    #[serde(rename = "tcp.retransmits", default, skip_serializing_if = "Option::is_none")]
    pub tcp_retransmits: Option<u64>,
    /// Smoothed round-trip time, microseconds.
    #[serde(rename = "tcp.srtt_us", default, skip_serializing_if = "Option::is_none")]
    pub tcp_srtt_us: Option<u64>,
    /// Packets the kernel dropped over the event's interval (network monitor summaries).
    #[serde(rename = "network.drops", default, skip_serializing_if = "Option::is_none")]
    pub network_drops: Option<u64>,
    /// The kernel's drop reason of `network_drops` (`NO_SOCKET`, `SOCKET_FILTER`...).
    #[serde(rename = "network.drop.reason", default, skip_serializing_if = "Option::is_none")]
    pub network_drop_reason: Option<String>,
    /// The detection rules this event matched (ids), set by the detection stage.
    #[serde(rename = "rule.id", default, skip_serializing_if = "Vec::is_empty")]
    pub rule_ids: Vec<String>,
    /// The names of the rules of `rule_ids`, in the same order.
    #[serde(rename = "rule.name", default, skip_serializing_if = "Vec::is_empty")]
    pub rule_names: Vec<String>,
    /// On an alert event (`event.dataset: loglynx.alert`): the alert's id.
    #[serde(rename = "alert.id", default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    /// The Kafka partition a worker consumed the event from; `None` outside a Kafka worker
    /// (`run`, events derived by the pipeline such as new-pattern events).
    #[serde(rename = "kafka.partition", default, skip_serializing_if = "Option::is_none")]
    pub kafka_partition: Option<u64>,
    /// The record's offset in [`Event::kafka_partition`].
    #[serde(rename = "kafka.offset", default, skip_serializing_if = "Option::is_none")]
    pub kafka_offset: Option<u64>,
    /// Free-form string labels, serialised as `labels.<key>`.
    #[serde(flatten, with = "labels_serde", default)]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "log.flags", with = "flags_serde", default, skip_serializing_if = "flags_empty")]
    pub flags: EventFlags,
}

fn flags_empty(f: &EventFlags) -> bool {
    *f == EventFlags::default()
}

mod flags_serde {
    use super::EventFlags;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &EventFlags, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(f.names())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EventFlags, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        Ok(EventFlags::from_names(v.iter().map(String::as_str)))
    }
}

mod labels_serde {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::fields::LABELS_PREFIX;

    pub fn serialize<S: Serializer>(m: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (format!("{LABELS_PREFIX}{k}"), v)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
        // `flatten` hands us every key not matched by a named field; keep the `labels.*` ones.
        let all: BTreeMap<String, serde_json::Value> = BTreeMap::deserialize(d)?;
        Ok(all
            .into_iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(LABELS_PREFIX)?.to_string();
                let val = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                Some((key, val))
            })
            .collect())
    }
}

impl Event {
    /// An event with only the message and times set; the parser fills in the rest.
    pub fn new(message: impl Into<String>, timestamp: Timestamp, ingested: Timestamp, id: String) -> Self {
        Event { timestamp, ingested, id, message: message.into(), ..Default::default() }
    }

    /// The value of a keyword-like field by its ECS name, as text (labels included).
    pub fn get(&self, field: &str) -> Option<String> {
        use crate::fields::*;
        Some(match field {
            TIMESTAMP => self.timestamp.to_rfc3339(),
            EVENT_INGESTED => self.ingested.to_rfc3339(),
            EVENT_ID => self.id.clone(),
            EVENT_DATASET => self.dataset.clone()?,
            HOST_NAME => self.host.clone()?,
            LOG_FILE_PATH => self.file_path.clone()?,
            LOG_LEVEL => self.level.clone()?,
            SERVICE_NAME => self.service.clone()?,
            PROCESS_NAME => self.process_name.clone()?,
            PROCESS_PID => self.pid?.to_string(),
            MESSAGE => self.message.clone(),
            SOURCE_IP => self.source_ip.clone()?,
            SOURCE_PORT => self.source_port?.to_string(),
            DESTINATION_IP => self.destination_ip.clone()?,
            DESTINATION_PORT => self.destination_port?.to_string(),
            USER_NAME => self.user_name.clone()?,
            PATTERN_ID => self.pattern_id.clone()?,
            NETWORK_TRANSPORT => self.network_transport.clone()?,
            EVENT_ACTION => self.action.as_deref()?.to_string(),
            EVENT_OUTCOME => self.outcome.as_deref()?.to_string(),
            EVENT_CATEGORY => self.category.as_deref()?.to_string(),
            USER_EFFECTIVE_NAME => self.user_effective_name.clone()?,
            USER_TARGET_NAME => self.user_target_name.clone()?,
            GROUP_NAME => self.group_name.clone()?,
            PROCESS_COMMAND_LINE => self.command_line.clone()?,
            SOURCE_DOMAIN => self.source_domain.clone()?,
            SYSTEMD_UNIT => self.systemd_unit.clone()?,
            HTTP_REQUEST_METHOD => self.http_method.clone()?,
            HTTP_RESPONSE_STATUS_CODE => self.http_status?.to_string(),
            URL_ORIGINAL => self.url_original.clone()?,
            USER_AGENT_ORIGINAL => self.user_agent.clone()?,
            TCP_OLD_STATE => self.tcp_old_state.clone()?,
            TCP_NEW_STATE => self.tcp_new_state.clone()?,
            NETWORK_DROP_REASON => self.network_drop_reason.clone()?,
            NETWORK_DROPS => self.network_drops?.to_string(),
            RULE_ID => self.rule_ids.first()?.clone(),
            RULE_NAME => self.rule_names.first()?.clone(),
            ALERT_ID => self.alert_id.clone()?,
            KAFKA_PARTITION => self.kafka_partition?.to_string(),
            KAFKA_OFFSET => self.kafka_offset?.to_string(),
            other => self.labels.get(other.strip_prefix(LABELS_PREFIX)?)?.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_ecs_names_and_round_trips() {
        let mut e = Event::new("hello", Timestamp::from_secs(1_700_000_000), Timestamp::from_secs(1_700_000_001), "id1".into());
        e.host = Some("web1".into());
        e.pid = Some(42);
        e.labels.insert("env".into(), "prod".into());
        e.flags.unparsed = true;
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["host.name"], "web1");
        assert_eq!(v["process.pid"], 42);
        assert_eq!(v["labels.env"], "prod");
        assert_eq!(v["log.flags"], serde_json::json!(["unparsed"]));
        assert_eq!(v["@timestamp"], "2023-11-14T22:13:20Z");
        assert!(v.get("service.name").is_none());
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn the_multiline_flag_alone_is_stored_but_is_no_problem() {
        let mut e = Event::new("a\n  b", Timestamp(0), Timestamp(0), "id".into());
        e.flags.multiline = true;
        assert!(!e.flags.any());
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["log.flags"], serde_json::json!(["multiline"]));
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back.flags, e.flags);
        e.flags = EventFlags::default();
        assert!(serde_json::to_value(&e).unwrap().get("log.flags").is_none());
    }
}

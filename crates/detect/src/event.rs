//! loglynx events as Sigma events: rsigma's [`rsigma_eval::Event`] trait over a borrowed
//! [`loglynx_core::Event`], so matching reads the typed fields in place (no JSON per event, no
//! allocation for text fields).

use std::borrow::Cow;

use loglynx_core::{fields, Event};
use rsigma_eval::EventValue;

/// A borrowed [`Event`] seen by the Sigma engine: field names are loglynx's ECS names (the
/// rules' names are mapped to them when the rule is compiled, see [`crate::pipeline`]); free
/// labels are found under their key, with or without the `labels.` prefix.
#[derive(Debug, Clone, Copy)]
pub struct SigmaEvent<'a>(pub &'a Event);

fn text(s: &str) -> EventValue<'_> {
    EventValue::Str(Cow::Borrowed(s))
}

impl<'a> SigmaEvent<'a> {
    pub(crate) fn field(&self, path: &str) -> Option<EventValue<'a>> {
        let e = self.0;
        // A typed field that is empty may still be a label of that name (a JSON or logfmt line
        // with `url.original=...` keeps it in labels).
        self.typed(path).or_else(|| {
            let key = path.strip_prefix(fields::LABELS_PREFIX).unwrap_or(path);
            e.labels.get(key).map(|v| text(v))
        })
    }

    fn typed(&self, path: &str) -> Option<EventValue<'a>> {
        let e = self.0;
        let opt = |v: &'a Option<String>| v.as_deref().map(text);
        let int = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok()).map(EventValue::Int);
        match path {
            fields::MESSAGE => Some(text(&e.message)),
            fields::EVENT_ID => Some(text(&e.id)),
            fields::EVENT_DATASET => opt(&e.dataset),
            fields::EVENT_ORIGINAL => opt(&e.original),
            fields::HOST_NAME => opt(&e.host),
            fields::LOG_FILE_PATH => opt(&e.file_path),
            fields::LOG_LEVEL => opt(&e.level),
            fields::LOG_SYSLOG_FACILITY => e.syslog_facility.map(|v| EventValue::Int(i64::from(v))),
            fields::LOG_SYSLOG_SEVERITY => e.syslog_severity.map(|v| EventValue::Int(i64::from(v))),
            fields::SERVICE_NAME => opt(&e.service),
            fields::PROCESS_NAME => opt(&e.process_name),
            fields::PROCESS_PID => e.pid.map(|v| EventValue::Int(i64::from(v))),
            fields::SOURCE_IP => opt(&e.source_ip),
            fields::SOURCE_PORT => e.source_port.map(|v| EventValue::Int(i64::from(v))),
            fields::DESTINATION_IP => opt(&e.destination_ip),
            fields::DESTINATION_PORT => e.destination_port.map(|v| EventValue::Int(i64::from(v))),
            fields::USER_NAME => opt(&e.user_name),
            fields::PATTERN_ID => opt(&e.pattern_id),
            fields::NETWORK_TRANSPORT => opt(&e.network_transport),
            fields::TCP_OLD_STATE => opt(&e.tcp_old_state),
            fields::TCP_NEW_STATE => opt(&e.tcp_new_state),
            fields::EVENT_ACTION => e.action.as_deref().map(text),
            fields::EVENT_OUTCOME => e.outcome.as_deref().map(text),
            fields::EVENT_CATEGORY => e.category.as_deref().map(text),
            fields::USER_EFFECTIVE_NAME => opt(&e.user_effective_name),
            fields::USER_TARGET_NAME => opt(&e.user_target_name),
            fields::GROUP_NAME => opt(&e.group_name),
            fields::PROCESS_COMMAND_LINE => opt(&e.command_line),
            fields::SOURCE_DOMAIN => opt(&e.source_domain),
            fields::SYSTEMD_UNIT => opt(&e.systemd_unit),
            fields::HTTP_REQUEST_METHOD => opt(&e.http_method),
            fields::HTTP_RESPONSE_STATUS_CODE => {
                e.http_status.map(|v| EventValue::Int(i64::from(v)))
            }
            fields::URL_ORIGINAL => opt(&e.url_original),
            fields::USER_AGENT_ORIGINAL => opt(&e.user_agent),
            fields::NETWORK_DROP_REASON => opt(&e.network_drop_reason),
            fields::NETWORK_DROPS => int(e.network_drops),
            fields::SOURCE_BYTES => int(e.source_bytes),
            fields::DESTINATION_BYTES => int(e.destination_bytes),
            fields::NETWORK_BYTES => int(e.network_bytes),
            fields::TCP_RETRANSMITS => int(e.tcp_retransmits),
            fields::TCP_SRTT_US => int(e.tcp_srtt_us),
            fields::EVENT_DURATION => e
                .duration_ns
                .and_then(|v| i64::try_from(v).ok())
                .map(EventValue::Int),
            fields::TCP_STATE_DURATION_US => e
                .tcp_state_duration_us
                .and_then(|v| i64::try_from(v).ok())
                .map(EventValue::Int),
            _ => None,
        }
    }

    /// The text values a search for substrings must scan to find every one that occurs in
    /// [`SigmaEvent::texts`], apart from [`SigmaEvent::source_texts`]: the message is left out
    /// when the original line begins or ends with it (a syslog line ends with its message),
    /// since the original holds it then.
    pub(crate) fn own_texts_to_scan(&self) -> impl Iterator<Item = &'a str> {
        let e = self.0;
        let m = e.message.as_str();
        let covered = e
            .original
            .as_deref()
            .is_some_and(|o| o.ends_with(m) || o.starts_with(m));
        self.own_texts().skip(usize::from(covered))
    }

    /// The text values that name where the event comes from (host, service, program, file):
    /// the same from one event of a source to the next.
    pub(crate) fn source_texts(&self) -> impl Iterator<Item = &'a str> {
        let e = self.0;
        [
            e.host.as_deref(),
            e.service.as_deref(),
            e.process_name.as_deref(),
            e.file_path.as_deref(),
        ]
        .into_iter()
        .flatten()
    }

    /// The text values other than [`SigmaEvent::source_texts`], the message first.
    fn own_texts(&self) -> impl Iterator<Item = &'a str> {
        let e = self.0;
        [
            Some(e.message.as_str()),
            e.original.as_deref(),
            e.source_ip.as_deref(),
            e.destination_ip.as_deref(),
            e.user_name.as_deref(),
            e.command_line.as_deref(),
            e.url_original.as_deref(),
            e.user_agent.as_deref(),
            e.user_target_name.as_deref(),
            e.group_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .chain(e.labels.values().map(String::as_str))
    }

    /// Every text value of the event (what keyword rules search).
    pub(crate) fn texts(&self) -> impl Iterator<Item = &'a str> {
        self.own_texts().chain(self.source_texts())
    }
}

impl rsigma_eval::Event for SigmaEvent<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        self.field(path)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.texts().any(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.texts().map(Cow::Borrowed).collect()
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.texts().for_each(visit);
    }

    /// Only for correlation storage and explanations, never on the matching path.
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.0).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;
    use rsigma_eval::Event as _;

    #[test]
    fn reads_typed_fields_and_labels_without_copying() {
        let mut e = Event::new(
            "Failed password for root",
            Timestamp::from_secs(1),
            Timestamp::from_secs(2),
            "id".into(),
        );
        e.process_name = Some("sshd".into());
        e.source_port = Some(22);
        e.labels.insert("url.original".into(), "/a".into());
        let s = SigmaEvent(&e);
        assert_eq!(s.get_field("process.name"), Some(text("sshd")));
        assert_eq!(s.get_field("source.port"), Some(EventValue::Int(22)));
        assert_eq!(s.get_field("url.original"), Some(text("/a")));
        assert_eq!(s.get_field("labels.url.original"), Some(text("/a")));
        assert_eq!(s.get_field("user.name"), None);
        assert!(s.any_string_value(&|v| v.contains("Failed password")));
        assert!(matches!(
            s.get_field("message"),
            Some(EventValue::Str(Cow::Borrowed(_)))
        ));
    }
}

//! OpenTelemetry log records -> loglynx records: each `LogRecord` becomes one JSON object with
//! ECS names (format hint `Json`), which the pipeline's JSON reader turns into an event like any
//! NDJSON line. So the event model needs nothing new and every ECS name the JSON reader knows
//! is filled the same way whatever the transport.
//!
//! | OpenTelemetry | event |
//! |---|---|
//! | `time_unix_nano`, else `observed_time_unix_nano` | `@timestamp` (neither: the ingest time) |
//! | `severity_number` 1-4 / 5-8 / 9-12 / 13-16 / 17-20 / 21-24 | `log.level` trace / debug / info / warn / error / crit |
//! | `severity_text` (when the number is 0) | `log.level` (normalised like any level word) |
//! | `severity_number`, `severity_text` | labels `otel.severity_number`, `otel.severity_text` |
//! | `body` (string; other kinds as JSON text) | `message` |
//! | `trace_id`, `span_id` (hex) | labels `trace.id`, `span.id` (the ECS names) |
//! | `event_name` | label `event.name` |
//! | scope name and version | labels `otel.scope.name`, `otel.scope.version` |
//! | resource and record attributes with an ECS twin (see [`ecs_name`]) | that ECS field |
//! | any other attribute `k` | label `k` (arrays and maps as JSON text) |
//!
//! Record attributes override resource attributes of the same name. Limits (per record): at
//! most [`OtlpLimits::max_attributes`] attributes in all, the record's first, then the
//! resource's (the rest are dropped and counted in the label `otel.dropped_attributes_count` together with the
//! sender's own `dropped_attributes_count`), values cut at [`OtlpLimits::max_value`] bytes, the
//! message at [`OtlpLimits::max_message`] bytes (flagged `truncated`).
//!
//! A record whose `trace_id` is not 16 bytes or whose `span_id` is not 8 bytes (empty is
//! fine) is rejected and counted in the partial success; an unknown `severity_number` keeps the
//! record without `log.level` and says so in the partial success's message.

use std::fmt::Write as _;
use std::sync::Arc;

use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::{Map, Value};

use crate::http::new_event_id;

/// The dataset of OTLP events (`event.dataset`).
pub const DATASET: &str = "otel";
/// Most attributes kept per record by default.
pub const DEFAULT_MAX_ATTRIBUTES: usize = 128;
/// Longest attribute value kept by default (bytes).
pub const DEFAULT_MAX_VALUE: usize = 8 << 10;
/// How many problems the partial success's message names (the counts are always complete).
const MAX_NOTES: usize = 5;

/// The per-record limits of the OTLP mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtlpLimits {
    /// Attributes kept per record (resource, scope and record together).
    pub max_attributes: usize,
    /// Longest attribute value kept (bytes of its text); longer ones are cut.
    pub max_value: usize,
    /// Longest message kept (bytes); a longer body is cut and the event flagged `truncated`.
    pub max_message: usize,
}

impl Default for OtlpLimits {
    fn default() -> Self {
        OtlpLimits {
            max_attributes: DEFAULT_MAX_ATTRIBUTES,
            max_value: DEFAULT_MAX_VALUE,
            max_message: crate::http::DEFAULT_MAX_LINE,
        }
    }
}

/// What an export request became.
#[derive(Debug, Default)]
pub struct Mapped {
    /// One record per accepted log record, in request order.
    pub records: Vec<RawRecord>,
    /// Log records rejected (not stored).
    pub rejected: u64,
    /// What the sender should know (rejections and what was changed), for the partial
    /// success's `error_message`; empty when everything was taken as sent.
    pub message: String,
}

/// Counts problems and keeps the first few descriptions.
#[derive(Default)]
struct Notes {
    rejected: Vec<String>,
    rejected_count: u64,
    unknown_severity: u64,
    dropped_attributes: u64,
    cut: u64,
}

impl Notes {
    fn reject(&mut self, why: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_NOTES {
            self.rejected.push(why);
        }
    }

    fn message(&self) -> String {
        let mut m = String::new();
        if self.rejected_count > 0 {
            let _ = write!(
                m,
                "{} log record(s) rejected: {}",
                self.rejected_count,
                self.rejected.join("; ")
            );
            if self.rejected_count > self.rejected.len() as u64 {
                m.push_str("; ...");
            }
        }
        let mut warn = |text: String| {
            if !m.is_empty() {
                m.push_str("; ");
            }
            m.push_str(&text);
        };
        if self.unknown_severity > 0 {
            warn(format!(
                "{} log record(s) with an unknown severity_number (valid: 0-24) stored without log.level",
                self.unknown_severity
            ));
        }
        if self.dropped_attributes > 0 {
            warn(format!(
                "{} attribute(s) dropped over the limit of attributes per record (label otel.dropped_attributes_count)",
                self.dropped_attributes
            ));
        }
        if self.cut > 0 {
            warn(format!(
                "{} value(s) cut at the length limit",
                self.cut
            ));
        }
        m
    }
}

/// Maps an export request into records of source `http` endpoint `endpoint` (`otlp_http`,
/// `otlp_grpc`), given `host` as the receiving host.
pub fn map_request(
    req: ExportLogsServiceRequest,
    host: &str,
    limits: &OtlpLimits,
    endpoint: &str,
) -> Mapped {
    let source = Arc::new(SourceKind::Http {
        endpoint: endpoint.to_string(),
    });
    let received = Timestamp::now();
    let mut notes = Notes::default();
    let mut records = Vec::new();
    let mut index = 0usize;
    for rl in req.resource_logs {
        let resource = rl.resource.map(|r| r.attributes).unwrap_or_default();
        for sl in rl.scope_logs {
            let scope = sl.scope.unwrap_or_default();
            for rec in sl.log_records {
                index += 1;
                let mut m = Mapper {
                    obj: Map::new(),
                    limits,
                    notes: &mut notes,
                    kept: 0,
                    dropped: u64::from(rec.dropped_attributes_count),
                };
                let mapped = m.record(index, &resource, &scope.name, &scope.version, rec);
                let Some(truncated) = mapped else { continue };
                let body = serde_json::to_vec(&Value::Object(m.obj))
                    .expect("a JSON map of strings and numbers serialises");
                records.push(RawRecord {
                    body,
                    truncated,
                    hint: FormatHint::Json,
                    source: source.clone(),
                    host: Some(host.to_string()),
                    received,
                    id: new_event_id(),
                });
            }
        }
    }
    Mapped {
        records,
        rejected: notes.rejected_count,
        message: notes.message(),
    }
}

/// The object of one record being built.
struct Mapper<'a> {
    obj: Map<String, Value>,
    limits: &'a OtlpLimits,
    notes: &'a mut Notes,
    /// Attributes kept so far.
    kept: usize,
    /// Attributes dropped (the sender's count plus ours).
    dropped: u64,
}

impl Mapper<'_> {
    /// Fills the object; `None` when the record is rejected, else whether the message was cut.
    fn record(
        &mut self,
        index: usize,
        resource: &[KeyValue],
        scope_name: &str,
        scope_version: &str,
        rec: LogRecord,
    ) -> Option<bool> {
        let trace = hex_id(&rec.trace_id, 16);
        let span = hex_id(&rec.span_id, 8);
        let (trace, span) = match (trace, span) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(n), _) => {
                self.notes.reject(format!(
                    "record {index}: trace_id must be 16 bytes (or empty), got {n}"
                ));
                return None;
            }
            (_, Err(n)) => {
                self.notes.reject(format!(
                    "record {index}: span_id must be 8 bytes (or empty), got {n}"
                ));
                return None;
            }
        };
        self.obj.insert("event.dataset".into(), DATASET.into());
        // The record's own attributes first: they are the most specific, so they win over the
        // resource's of the same name and are the last to be dropped over the limit.
        for kv in &rec.attributes {
            self.attribute(kv, true);
        }
        for kv in resource {
            self.attribute(kv, false);
        }
        self.label("otel.scope.name", scope_name);
        self.label("otel.scope.version", scope_version);
        if self.dropped > 0 {
            self.obj.insert(
                "labels.otel.dropped_attributes_count".into(),
                self.dropped.into(),
            );
        }
        if let Some(t) = trace {
            self.obj.insert("labels.trace.id".into(), t.into());
        }
        if let Some(s) = span {
            self.obj.insert("labels.span.id".into(), s.into());
        }
        self.label("event.name", &rec.event_name);

        let nanos = [rec.time_unix_nano, rec.observed_time_unix_nano]
            .into_iter()
            .find(|n| *n != 0)
            .and_then(|n| i64::try_from(n).ok());
        if let Some(n) = nanos {
            self.obj
                .insert("@timestamp".into(), Timestamp(n).to_rfc3339().into());
        }

        self.severity(rec.severity_number, &rec.severity_text);

        let (message, cut) = match rec.body.and_then(|b| b.value) {
            None => (String::new(), false),
            Some(Any::StringValue(s)) => cut_owned(s, self.limits.max_message),
            Some(other) => cut_owned(render(&other, 0), self.limits.max_message),
        };
        self.obj.insert("message".into(), message.into());
        Some(cut)
    }

    /// `log.level` from the number (else the text), and both kept as labels.
    fn severity(&mut self, number: i32, text: &str) {
        let level = match number {
            0 => None,
            1..=4 => Some("trace"),
            5..=8 => Some("debug"),
            9..=12 => Some("info"),
            13..=16 => Some("warn"),
            17..=20 => Some("error"),
            21..=24 => Some("crit"),
            _ => {
                self.notes.unknown_severity += 1;
                None
            }
        };
        if number != 0 {
            self.obj
                .insert("labels.otel.severity_number".into(), number.into());
        }
        self.label("otel.severity_text", text);
        match level {
            Some(l) => {
                self.obj.insert("log.level".into(), l.into());
            }
            None if number == 0 && !text.is_empty() => {
                let t = self.cut(text);
                self.obj.insert("log.level".into(), t.into());
            }
            None => {}
        }
    }

    /// A label from a string, when not empty.
    fn label(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            let v = self.cut(value);
            self.obj.insert(format!("labels.{key}"), v.into());
        }
    }

    /// One attribute, within the per-record limit; `replace`: over a field already set.
    fn attribute(&mut self, kv: &KeyValue, replace: bool) {
        let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            return;
        };
        if kv.key.is_empty() {
            return;
        }
        if self.kept >= self.limits.max_attributes {
            self.dropped += 1;
            self.notes.dropped_attributes += 1;
            return;
        }
        self.kept += 1;
        let key = match ecs_name(&kv.key, value) {
            Some(k) => k.to_string(),
            None => format!("labels.{}", self.cut(&kv.key)),
        };
        if !replace && self.obj.contains_key(&key) {
            return;
        }
        let v = match value {
            Any::StringValue(s) => Value::String(self.cut(s)),
            Any::BoolValue(b) => Value::String(b.to_string()),
            Any::IntValue(i) => Value::from(*i),
            Any::DoubleValue(d) => serde_json::Number::from_f64(*d)
                .map_or_else(|| Value::String(d.to_string()), Value::Number),
            other => Value::String(self.cut(&render(other, 0))),
        };
        self.obj.insert(key, v);
    }

    /// `s` cut at the value limit (on a character boundary), counted when cut.
    fn cut(&mut self, s: &str) -> String {
        if s.len() <= self.limits.max_value {
            return s.to_string();
        }
        self.notes.cut += 1;
        s[..floor_char_boundary(s, self.limits.max_value)].to_string()
    }
}

/// The ECS field an OpenTelemetry attribute fills (semantic conventions -> ECS where they
/// name the same thing), `None` for a label. Addresses go to `*.ip` only when they are IPs.
pub fn ecs_name(key: &str, value: &Any) -> Option<&'static str> {
    let is_ip = || matches!(value, Any::StringValue(s) if s.parse::<std::net::IpAddr>().is_ok());
    Some(match key {
        "service.name" => "service.name",
        "host.name" => "host.name",
        "process.pid" => "process.pid",
        "process.executable.name" => "process.name",
        "process.command_line" => "process.command_line",
        "http.request.method" => "http.request.method",
        "http.response.status_code" => "http.response.status_code",
        "url.full" | "url.original" => "url.original",
        "user_agent.original" => "user_agent.original",
        "network.transport" => "network.transport",
        "user.name" | "enduser.id" => "user.name",
        "log.file.path" => "log.file.path",
        "client.address" | "source.address" if is_ip() => "source.ip",
        "client.address" | "source.address" => "source.domain",
        "client.port" | "source.port" => "source.port",
        "server.address" | "destination.address" if is_ip() => "destination.ip",
        "server.port" | "destination.port" => "destination.port",
        _ => return None,
    })
}

/// `Ok(None)` for an empty id, `Ok(Some(hex))` for one of `len` bytes, else `Err(actual len)`.
fn hex_id(id: &[u8], len: usize) -> Result<Option<String>, usize> {
    match id.len() {
        0 => Ok(None),
        n if n == len => Ok(Some(id.iter().fold(String::with_capacity(len * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        }))),
        n => Err(n),
    }
}

/// Deepest nesting rendered; deeper values become `"..."` (the protobuf decoder already
/// refuses messages nested over 100 levels).
const MAX_DEPTH: usize = 16;

/// An `AnyValue` as JSON text (arrays, maps, bytes as hex).
fn render(v: &Any, depth: usize) -> String {
    serde_json::to_string(&to_json(v, depth)).unwrap_or_default()
}

fn to_json(v: &Any, depth: usize) -> Value {
    if depth >= MAX_DEPTH {
        return Value::String("...".into());
    }
    let inner = |a: &AnyValue| a.value.as_ref().map_or(Value::Null, |x| to_json(x, depth + 1));
    match v {
        Any::StringValue(s) => Value::String(s.clone()),
        Any::BoolValue(b) => Value::Bool(*b),
        Any::IntValue(i) => Value::from(*i),
        Any::DoubleValue(d) => {
            serde_json::Number::from_f64(*d).map_or_else(|| Value::String(d.to_string()), Value::Number)
        }
        Any::BytesValue(b) => Value::String(b.iter().fold(String::new(), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })),
        Any::ArrayValue(a) => Value::Array(a.values.iter().map(inner).collect()),
        Any::KvlistValue(kv) => Value::Object(
            kv.values
                .iter()
                .map(|p| (p.key.clone(), p.value.as_ref().map_or(Value::Null, inner)))
                .collect(),
        ),
    }
}

/// `s` cut to at most `max` bytes on a character boundary, and whether it was cut.
fn cut_owned(mut s: String, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s, false);
    }
    s.truncate(floor_char_boundary(&s, max));
    (s, true)
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    (0..=max.min(s.len()))
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    use super::*;

    fn s(v: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Any::StringValue(v.into())),
        })
    }
    fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v,
        }
    }
    fn request(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "billing".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    log_records: records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
    fn objects(m: &Mapped) -> Vec<Map<String, Value>> {
        m.records
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    #[test]
    fn a_record_maps_to_ecs_names_and_labels() {
        let rec = LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: s("payment failed"),
            attributes: vec![
                kv("http.response.status_code", Some(AnyValue { value: Some(Any::IntValue(502)) })),
                kv("client.address", s("10.0.0.7")),
                kv("order.id", Some(AnyValue { value: Some(Any::IntValue(42)) })),
                kv(
                    "items",
                    Some(AnyValue {
                        value: Some(Any::ArrayValue(ArrayValue { values: vec![s("a").unwrap()] })),
                    }),
                ),
            ],
            trace_id: (1..=16).collect(),
            span_id: (1..=8).collect(),
            ..Default::default()
        };
        let m = map_request(
            request(vec![kv("service.name", s("checkout")), kv("deployment.environment", s("prod"))], vec![rec]),
            "here",
            &OtlpLimits::default(),
            "otlp_http",
        );
        assert_eq!((m.rejected, m.message.as_str()), (0, ""));
        let o = &objects(&m)[0];
        assert_eq!(o["@timestamp"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(o["log.level"], "error");
        assert_eq!(o["labels.otel.severity_text"], "ERROR");
        assert_eq!(o["labels.otel.severity_number"], 17);
        assert_eq!(o["message"], "payment failed");
        assert_eq!(o["service.name"], "checkout");
        assert_eq!(o["labels.deployment.environment"], "prod");
        assert_eq!(o["http.response.status_code"], 502);
        assert_eq!(o["source.ip"], "10.0.0.7");
        assert_eq!(o["labels.order.id"], 42);
        assert_eq!(o["labels.items"], "[\"a\"]");
        assert_eq!(o["labels.trace.id"], "0102030405060708090a0b0c0d0e0f10");
        assert_eq!(o["labels.span.id"], "0102030405060708");
        assert_eq!(o["labels.otel.scope.name"], "billing");
        assert_eq!(o["event.dataset"], "otel");
        assert_eq!(m.records[0].hint, FormatHint::Json);
    }

    #[test]
    fn bad_ids_reject_the_record_and_unknown_severities_are_kept() {
        let good = LogRecord { body: s("ok"), ..Default::default() };
        let bad_trace = LogRecord { trace_id: vec![1, 2, 3], ..Default::default() };
        let bad_span = LogRecord { span_id: vec![1; 9], ..Default::default() };
        let odd = LogRecord { severity_number: 99, severity_text: "LOUD".into(), ..Default::default() };
        let m = map_request(request(vec![], vec![good, bad_trace, bad_span, odd]), "h", &OtlpLimits::default(), "otlp_http");
        assert_eq!(m.records.len(), 2);
        assert_eq!(m.rejected, 2);
        assert!(m.message.contains("record 2: trace_id must be 16 bytes (or empty), got 3"), "{}", m.message);
        assert!(m.message.contains("record 3: span_id must be 8 bytes (or empty), got 9"), "{}", m.message);
        assert!(m.message.contains("1 log record(s) with an unknown severity_number"), "{}", m.message);
        let o = &objects(&m)[1];
        assert!(o.get("log.level").is_none());
        assert_eq!(o["labels.otel.severity_number"], 99);
    }

    #[test]
    fn huge_attribute_maps_and_values_are_capped() {
        let limits = OtlpLimits { max_attributes: 10, max_value: 16, max_message: 8 };
        let attrs = (0..10_000).map(|i| kv(&format!("k{i}"), s("v"))).collect();
        let deep = (0..200).fold(s("leaf").unwrap(), |v, _| AnyValue {
            value: Some(Any::KvlistValue(KeyValueList { values: vec![kv("x", Some(v))] })),
        });
        let rec = LogRecord {
            body: s("ééééééééé"),
            attributes: vec![kv("deep", Some(deep))],
            dropped_attributes_count: 3,
            ..Default::default()
        };
        let m = map_request(request(attrs, vec![rec]), "h", &limits, "otlp_http");
        let o = &objects(&m)[0];
        // The record's attribute first, then 9 of the resource's (k0..k8), plus the sender's 3.
        assert_eq!(o["labels.otel.dropped_attributes_count"], 10_000 - 9 + 3);
        assert!(o.get("labels.deep").is_some());
        assert!(o.get("labels.k8").is_some() && o.get("labels.k9").is_none());
        assert_eq!(o["message"], "éééé");
        assert!(m.records[0].truncated);
        assert!(m.message.contains("9991 attribute(s) dropped"), "{}", m.message);
        assert!(m.message.contains("1 value(s) cut"), "{}", m.message);
        assert!(m.records[0].body.len() < 2_000);
    }

    #[test]
    fn a_structured_body_is_json_text_and_deep_nesting_is_bounded() {
        let deep = (0..200).fold(s("leaf").unwrap(), |v, _| AnyValue {
            value: Some(Any::ArrayValue(ArrayValue { values: vec![v] })),
        });
        let rec = LogRecord { body: Some(deep), observed_time_unix_nano: 1_000_000_000, ..Default::default() };
        let m = map_request(request(vec![], vec![rec]), "h", &OtlpLimits::default(), "otlp_grpc");
        let o = &objects(&m)[0];
        assert_eq!(o["@timestamp"], "1970-01-01T00:00:01Z");
        let msg = o["message"].as_str().unwrap();
        assert!(msg.starts_with("[[[[") && msg.contains("\"...\""), "{msg}");
    }
}

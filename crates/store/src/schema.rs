//! The tantivy schema: which ECS field is indexed how, and Event <-> document.
//!
//! - `message`: full text (default tokenizer: split on non-alphanumerics, lowercase), with
//!   positions for phrase queries. The default search field.
//! - keyword fields (`host.name`, `log.level`, ...): indexed whole (raw tokenizer, exact match,
//!   case-sensitive like Elasticsearch's `keyword`), and fast (columnar) for filters and top-N
//!   terms aggregations.
//! - numeric fields (`process.pid`, ports, ...): u64, fast only (columnar: exact values,
//!   ranges and stats are answered from the column; no term dictionary of pids and ports).
//!   `kafka.partition` and `kafka.offset` (set by a Kafka worker) are among them: the search
//!   root filters leaves by offset ranges (`kafka.offset:[100 TO 199]`).
//! - `@timestamp`, `event.ingested`: dates at microsecond precision, fast only (every time
//!   filter is a range, which tantivy answers from the column; an inverted index of nearly one
//!   term per event was a tenth of the store and never read).
//! - `labels`: a JSON object field, keyword-tokenized and fast, queried as `labels.<key>:value`.
//! - `_event`: the whole event in the compact binary form of `doc.rs` (values the message
//!   contains are stored as references into it), stored only (zstd doc store); hits are
//!   rebuilt from it. Earlier versions stored `_source` JSON instead: their windows have
//!   another schema and are refused when opened, with what to do.
//! - `event.id`: stored in `_event` only, not indexed: ids are unique, so indexing them would
//!   add one term per event to the dictionary (a fifth of the index) for a lookup nobody does
//!   in log search.
//!
//! No field records fieldnorms: results are ordered by time, never by relevance score, and
//! fieldnorms cost one byte per event per text field.
//!
//! tantivy field names are the ECS names themselves, so `host.name:web1` works in the query
//! parser as written.

use std::collections::BTreeMap;

use loglynx_core::{fields as f, Event};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, NumericOptions,
    OwnedValue, Schema, TextFieldIndexing, TextOptions, Value, STORED,
};
use tantivy::{DateTime, DocAddress, Searcher, TantivyDocument};

/// Name of the stored field that holds the event (see `doc.rs`).
pub const EVENT: &str = "_event";
/// Name of the JSON field holding `labels.*`.
pub const LABELS: &str = "labels";

/// Keyword fields: exact-match, fast.
pub const KEYWORD_FIELDS: &[&str] = &[
    f::EVENT_DATASET,
    f::HOST_NAME,
    f::LOG_FILE_PATH,
    f::LOG_LEVEL,
    f::LOG_FLAGS,
    f::SERVICE_NAME,
    f::PROCESS_NAME,
    f::SOURCE_IP,
    f::DESTINATION_IP,
    f::USER_NAME,
    f::PATTERN_ID,
    f::NETWORK_TRANSPORT,
    f::TCP_OLD_STATE,
    f::TCP_NEW_STATE,
    f::EVENT_ACTION,
    f::EVENT_OUTCOME,
    f::EVENT_CATEGORY,
    f::USER_EFFECTIVE_NAME,
    f::USER_TARGET_NAME,
    f::GROUP_NAME,
    f::PROCESS_COMMAND_LINE,
    f::SOURCE_DOMAIN,
    f::SYSTEMD_UNIT,
    f::HTTP_REQUEST_METHOD,
    f::URL_ORIGINAL,
    f::USER_AGENT_ORIGINAL,
    f::RULE_ID,
    f::RULE_NAME,
    f::ALERT_ID,
];

/// Unsigned numeric fields: fast (columnar) only.
pub const NUMERIC_FIELDS: &[&str] = &[
    f::PROCESS_PID,
    f::SOURCE_PORT,
    f::DESTINATION_PORT,
    f::TCP_STATE_DURATION_US,
    f::SOURCE_BYTES,
    f::DESTINATION_BYTES,
    f::NETWORK_BYTES,
    f::EVENT_DURATION,
    f::TCP_RETRANSMITS,
    f::TCP_SRTT_US,
    f::LOG_SYSLOG_SEVERITY,
    f::LOG_SYSLOG_FACILITY,
    f::HTTP_RESPONSE_STATUS_CODE,
    f::KAFKA_PARTITION,
    f::KAFKA_OFFSET,
];

/// Date fields: fast (columnar) only.
pub const DATE_FIELDS: &[&str] = &[f::TIMESTAMP, f::EVENT_INGESTED];

/// The schema and its field handles.
#[derive(Clone, Debug)]
pub struct StoreSchema {
    pub schema: Schema,
    pub timestamp: Field,
    pub ingested: Field,
    pub id: Field,
    pub message: Field,
    pub labels: Field,
    pub event: Field,
    keywords: BTreeMap<&'static str, Field>,
    numerics: BTreeMap<&'static str, Field>,
}

/// What kind of field an ECS name is in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Keyword,
    Numeric,
    Date,
    Labels,
}

impl StoreSchema {
    pub fn new() -> StoreSchema {
        let mut b = Schema::builder();
        let date = DateOptions::default()
            .set_fast()
            .set_precision(DateTimePrecision::Microseconds);
        let timestamp = b.add_date_field(f::TIMESTAMP, date.clone());
        let ingested = b.add_date_field(f::EVENT_INGESTED, date);
        let id = b.add_text_field(f::EVENT_ID, TextOptions::default());
        let message = b.add_text_field(
            f::MESSAGE,
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        );
        let keyword = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast(Some("raw"));
        let keywords = KEYWORD_FIELDS
            .iter()
            .map(|n| (*n, b.add_text_field(n, keyword.clone())))
            .collect();
        let numeric = NumericOptions::default().set_fast();
        let numerics = NUMERIC_FIELDS
            .iter()
            .map(|n| (*n, b.add_u64_field(n, numeric.clone())))
            .collect();
        let labels = b.add_json_field(
            LABELS,
            JsonObjectOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer("raw")
                        .set_fieldnorms(false)
                        .set_index_option(IndexRecordOption::Basic),
                )
                .set_fast(Some("raw")),
        );
        let event = b.add_bytes_field(EVENT, STORED);
        StoreSchema {
            schema: b.build(),
            timestamp,
            ingested,
            id,
            message,
            labels,
            event,
            keywords,
            numerics,
        }
    }

    /// The kind of an ECS field name (`labels.x` is [`FieldKind::Labels`]), or None if unknown.
    pub fn kind(&self, name: &str) -> Option<FieldKind> {
        if name == f::MESSAGE {
            Some(FieldKind::Text)
        } else if DATE_FIELDS.contains(&name) {
            Some(FieldKind::Date)
        } else if self.keywords.contains_key(name) {
            Some(FieldKind::Keyword)
        } else if self.numerics.contains_key(name) {
            Some(FieldKind::Numeric)
        } else if name.starts_with(f::LABELS_PREFIX) {
            Some(FieldKind::Labels)
        } else {
            None
        }
    }

    /// Field names a user can filter and aggregate on (for the field sidebar and errors).
    pub fn field_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = vec![f::TIMESTAMP, f::EVENT_INGESTED, f::MESSAGE];
        v.extend(KEYWORD_FIELDS);
        v.extend(NUMERIC_FIELDS);
        v
    }

    /// Builds the tantivy document for an event.
    pub fn to_document(&self, e: &Event) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_date(
            self.timestamp,
            DateTime::from_timestamp_nanos(e.timestamp.as_nanos()),
        );
        d.add_date(
            self.ingested,
            DateTime::from_timestamp_nanos(e.ingested.as_nanos()),
        );
        d.add_text(self.id, &e.id);
        d.add_text(self.message, &e.message);
        let kw = |d: &mut TantivyDocument, name: &str, v: Option<&str>| {
            if let Some(v) = v {
                d.add_text(self.keywords[name], v);
            }
        };
        kw(&mut d, f::EVENT_DATASET, e.dataset.as_deref());
        kw(&mut d, f::HOST_NAME, e.host.as_deref());
        kw(&mut d, f::LOG_FILE_PATH, e.file_path.as_deref());
        kw(&mut d, f::LOG_LEVEL, e.level.as_deref());
        kw(&mut d, f::SERVICE_NAME, e.service.as_deref());
        kw(&mut d, f::PROCESS_NAME, e.process_name.as_deref());
        kw(&mut d, f::SOURCE_IP, e.source_ip.as_deref());
        kw(&mut d, f::DESTINATION_IP, e.destination_ip.as_deref());
        kw(&mut d, f::USER_NAME, e.user_name.as_deref());
        kw(&mut d, f::PATTERN_ID, e.pattern_id.as_deref());
        kw(&mut d, f::NETWORK_TRANSPORT, e.network_transport.as_deref());
        kw(&mut d, f::TCP_OLD_STATE, e.tcp_old_state.as_deref());
        kw(&mut d, f::TCP_NEW_STATE, e.tcp_new_state.as_deref());
        kw(&mut d, f::EVENT_ACTION, e.action.as_deref());
        kw(&mut d, f::EVENT_OUTCOME, e.outcome.as_deref());
        kw(&mut d, f::EVENT_CATEGORY, e.category.as_deref());
        kw(&mut d, f::USER_EFFECTIVE_NAME, e.user_effective_name.as_deref());
        kw(&mut d, f::USER_TARGET_NAME, e.user_target_name.as_deref());
        kw(&mut d, f::GROUP_NAME, e.group_name.as_deref());
        kw(&mut d, f::PROCESS_COMMAND_LINE, e.command_line.as_deref());
        kw(&mut d, f::SOURCE_DOMAIN, e.source_domain.as_deref());
        kw(&mut d, f::SYSTEMD_UNIT, e.systemd_unit.as_deref());
        kw(&mut d, f::HTTP_REQUEST_METHOD, e.http_method.as_deref());
        kw(&mut d, f::URL_ORIGINAL, e.url_original.as_deref());
        kw(&mut d, f::USER_AGENT_ORIGINAL, e.user_agent.as_deref());
        kw(&mut d, f::ALERT_ID, e.alert_id.as_deref());
        for id in &e.rule_ids {
            d.add_text(self.keywords[f::RULE_ID], id);
        }
        for name in &e.rule_names {
            d.add_text(self.keywords[f::RULE_NAME], name);
        }
        for flag in e.flags.names() {
            d.add_text(self.keywords[f::LOG_FLAGS], flag);
        }
        let num = |d: &mut TantivyDocument, name: &str, v: Option<u64>| {
            if let Some(v) = v {
                d.add_u64(self.numerics[name], v);
            }
        };
        num(&mut d, f::PROCESS_PID, e.pid.map(u64::from));
        num(&mut d, f::SOURCE_PORT, e.source_port.map(u64::from));
        num(
            &mut d,
            f::DESTINATION_PORT,
            e.destination_port.map(u64::from),
        );
        num(&mut d, f::TCP_STATE_DURATION_US, e.tcp_state_duration_us);
        num(&mut d, f::SOURCE_BYTES, e.source_bytes);
        num(&mut d, f::DESTINATION_BYTES, e.destination_bytes);
        num(&mut d, f::NETWORK_BYTES, e.network_bytes);
        num(&mut d, f::EVENT_DURATION, e.duration_ns);
        num(&mut d, f::TCP_RETRANSMITS, e.tcp_retransmits);
        num(&mut d, f::TCP_SRTT_US, e.tcp_srtt_us);
        num(
            &mut d,
            f::LOG_SYSLOG_SEVERITY,
            e.syslog_severity.map(u64::from),
        );
        num(
            &mut d,
            f::LOG_SYSLOG_FACILITY,
            e.syslog_facility.map(u64::from),
        );
        num(
            &mut d,
            f::HTTP_RESPONSE_STATUS_CODE,
            e.http_status.map(u64::from),
        );
        num(&mut d, f::KAFKA_PARTITION, e.kafka_partition);
        num(&mut d, f::KAFKA_OFFSET, e.kafka_offset);
        if !e.labels.is_empty() {
            let obj = e
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), OwnedValue::Str(v.clone())))
                .collect();
            d.add_object(self.labels, obj);
        }
        let mut stored = Vec::with_capacity(64 + e.message.len());
        crate::doc::encode(e, &mut stored);
        d.add_bytes(self.event, &stored);
        d
    }

    /// Rebuilds the event from a stored document (its `_event`) and its `@timestamp` and
    /// `event.ingested` column values in nanoseconds (the record keeps only the nanoseconds
    /// below the microsecond: see `doc.rs`). [`StoreSchema::event_at`] reads both.
    pub fn from_document(&self, d: &TantivyDocument, times: (i64, i64)) -> Option<Event> {
        crate::doc::decode(d.get_first(self.event)?.as_bytes()?, times)
    }

    /// The event at `addr`: its stored record and its time columns. `Ok(None)` when the record
    /// is unreadable (damaged, or of an unknown format).
    pub fn event_at(&self, searcher: &Searcher, addr: DocAddress) -> tantivy::Result<Option<Event>> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let fast = searcher.segment_reader(addr.segment_ord).fast_fields();
        let time = |name: &str| -> tantivy::Result<i64> {
            let column = fast.date(name)?;
            Ok(column
                .first(addr.doc_id)
                .map_or(0, DateTime::into_timestamp_nanos))
        };
        let times = (time(f::TIMESTAMP)?, time(f::EVENT_INGESTED)?);
        Ok(self.from_document(&doc, times))
    }

    /// The tantivy field of a keyword or numeric ECS name.
    pub fn field(&self, name: &str) -> Option<Field> {
        match name {
            f::TIMESTAMP => Some(self.timestamp),
            f::EVENT_INGESTED => Some(self.ingested),
            f::EVENT_ID => Some(self.id),
            f::MESSAGE => Some(self.message),
            _ => self
                .keywords
                .get(name)
                .or_else(|| self.numerics.get(name))
                .copied(),
        }
    }
}

impl Default for StoreSchema {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::Timestamp;

    use super::*;

    #[test]
    fn document_round_trips_through_source() {
        let s = StoreSchema::new();
        let mut e = Event::new(
            "disk full",
            Timestamp::from_secs(1_700_000_000),
            Timestamp::from_secs(1_700_000_005),
            "id-1".into(),
        );
        e.host = Some("web1".into());
        e.pid = Some(7);
        e.labels.insert("env".into(), "prod".into());
        e.flags.truncated = true;
        let d = s.to_document(&e);
        let times = (e.timestamp.0, e.ingested.0);
        assert_eq!(s.from_document(&d, times), Some(e));
        assert_eq!(s.kind("host.name"), Some(FieldKind::Keyword));
        assert_eq!(s.kind("process.pid"), Some(FieldKind::Numeric));
        assert_eq!(s.kind("labels.env"), Some(FieldKind::Labels));
        assert_eq!(s.kind("nope"), None);
    }
}

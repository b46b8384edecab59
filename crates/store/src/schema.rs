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
//!
//! Fields are only ever added: a window written before a field existed gets it appended to its
//! schema when the store opens (`upgrade.rs`, [`StoreSchema::upgraded_from`]). A new field goes
//! at the end of [`KEYWORD_FIELDS`] or [`NUMERIC_FIELDS`] and into [`StoreSchema::to_document`];
//! nothing else is needed for old windows to stay readable.
//! - `event.id`: stored in `_event` only, not indexed: ids are unique, so indexing them would
//!   add one term per event to the dictionary (a fifth of the index) for a lookup nobody does
//!   in log search.
//!
//! No field records fieldnorms: results are ordered by time, never by relevance score, and
//! fieldnorms cost one byte per event per text field.
//!
//! tantivy field names are the ECS names themselves, so `host.name:web1` works in the query
//! parser as written.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use loglynx_core::{fields as f, Event};
use lru::LruCache;
use tantivy::columnar::{Column, StrColumn};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, FieldEntry, IndexRecordOption, JsonObjectOptions, NumericOptions,
    OwnedValue, Schema, TextFieldIndexing, TextOptions, Value, STORED,
};
use tantivy::index::SegmentId;
use tantivy::{DateTime, DocAddress, DocId, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument};

use crate::doc::{self, KEYWORD_COLUMNS};

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
    // Added after the first layout (appended to older windows when the store opens).
    f::NETWORK_DROP_REASON,
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
    // Added after the first layout.
    f::NETWORK_DROPS,
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
    /// The fields [`StoreSchema::to_document`] fills, resolved once, instead of looking ~45
    /// names up per event in the maps above (string compares on the writer thread).
    slots: Slots,
    /// Bit `i` set when this schema has a column for the `i`th of [`doc::KEYWORD_COLUMNS`]:
    /// the record leaves those values to the columns.
    keyword_columns: u8,
}

type KeywordOf = fn(&Event) -> Option<&str>;
type NumberOf = fn(&Event) -> Option<u64>;

/// The single-valued keyword fields of an event, by ECS name.
const KEYWORD_VALUES: &[(&str, KeywordOf)] = &[
    (f::EVENT_DATASET, |e| e.dataset.as_deref()),
    (f::HOST_NAME, |e| e.host.as_deref()),
    (f::LOG_FILE_PATH, |e| e.file_path.as_deref()),
    (f::LOG_LEVEL, |e| e.level.as_deref()),
    (f::SERVICE_NAME, |e| e.service.as_deref()),
    (f::PROCESS_NAME, |e| e.process_name.as_deref()),
    (f::SOURCE_IP, |e| e.source_ip.as_deref()),
    (f::DESTINATION_IP, |e| e.destination_ip.as_deref()),
    (f::USER_NAME, |e| e.user_name.as_deref()),
    (f::PATTERN_ID, |e| e.pattern_id.as_deref()),
    (f::NETWORK_TRANSPORT, |e| e.network_transport.as_deref()),
    (f::TCP_OLD_STATE, |e| e.tcp_old_state.as_deref()),
    (f::TCP_NEW_STATE, |e| e.tcp_new_state.as_deref()),
    (f::EVENT_ACTION, |e| e.action.as_deref()),
    (f::EVENT_OUTCOME, |e| e.outcome.as_deref()),
    (f::EVENT_CATEGORY, |e| e.category.as_deref()),
    (f::USER_EFFECTIVE_NAME, |e| e.user_effective_name.as_deref()),
    (f::USER_TARGET_NAME, |e| e.user_target_name.as_deref()),
    (f::GROUP_NAME, |e| e.group_name.as_deref()),
    (f::PROCESS_COMMAND_LINE, |e| e.command_line.as_deref()),
    (f::SOURCE_DOMAIN, |e| e.source_domain.as_deref()),
    (f::SYSTEMD_UNIT, |e| e.systemd_unit.as_deref()),
    (f::HTTP_REQUEST_METHOD, |e| e.http_method.as_deref()),
    (f::URL_ORIGINAL, |e| e.url_original.as_deref()),
    (f::USER_AGENT_ORIGINAL, |e| e.user_agent.as_deref()),
    (f::ALERT_ID, |e| e.alert_id.as_deref()),
    (f::NETWORK_DROP_REASON, |e| e.network_drop_reason.as_deref()),
];

/// The numeric fields of an event, by ECS name.
const NUMBER_VALUES: &[(&str, NumberOf)] = &[
    (f::PROCESS_PID, |e| e.pid.map(u64::from)),
    (f::SOURCE_PORT, |e| e.source_port.map(u64::from)),
    (f::DESTINATION_PORT, |e| e.destination_port.map(u64::from)),
    (f::TCP_STATE_DURATION_US, |e| e.tcp_state_duration_us),
    (f::SOURCE_BYTES, |e| e.source_bytes),
    (f::DESTINATION_BYTES, |e| e.destination_bytes),
    (f::NETWORK_BYTES, |e| e.network_bytes),
    (f::EVENT_DURATION, |e| e.duration_ns),
    (f::TCP_RETRANSMITS, |e| e.tcp_retransmits),
    (f::TCP_SRTT_US, |e| e.tcp_srtt_us),
    (f::LOG_SYSLOG_SEVERITY, |e| e.syslog_severity.map(u64::from)),
    (f::LOG_SYSLOG_FACILITY, |e| e.syslog_facility.map(u64::from)),
    (f::HTTP_RESPONSE_STATUS_CODE, |e| e.http_status.map(u64::from)),
    (f::KAFKA_PARTITION, |e| e.kafka_partition),
    (f::KAFKA_OFFSET, |e| e.kafka_offset),
    (f::NETWORK_DROPS, |e| e.network_drops),
];

/// Field handles of a schema, in the order [`StoreSchema::to_document`] adds values.
#[derive(Clone, Debug)]
struct Slots {
    keywords: Vec<(Field, KeywordOf)>,
    numerics: Vec<(Field, NumberOf)>,
    rule_id: Option<Field>,
    rule_name: Option<Field>,
    flags: Option<Field>,
}

impl Slots {
    fn of(keywords: &BTreeMap<&'static str, Field>, numerics: &BTreeMap<&'static str, Field>) -> Slots {
        Slots {
            keywords: KEYWORD_VALUES
                .iter()
                .filter_map(|(name, get)| Some((*keywords.get(name)?, *get)))
                .collect(),
            numerics: NUMBER_VALUES
                .iter()
                .filter_map(|(name, get)| Some((*numerics.get(name)?, *get)))
                .collect(),
            rule_id: keywords.get(f::RULE_ID).copied(),
            rule_name: keywords.get(f::RULE_NAME).copied(),
            flags: keywords.get(f::LOG_FLAGS).copied(),
        }
    }
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
    /// This version's schema, fields in their canonical order (a new store's layout).
    pub fn new() -> StoreSchema {
        StoreSchema::assemble(definitions())
    }

    /// The schema of a store of this version (`self`) whose windows were written with `on_disk`
    /// (by this or an earlier version): its fields keep their positions, which are tantivy's field ids in the
    /// segments, and this version's fields it lacks are appended after them. Old segments
    /// have no postings or column for an appended field, so it matches nothing there.
    ///
    /// Fails, saying which field, when `on_disk` has a field this version does not define
    /// (removed) or defines with another type or other options.
    pub(crate) fn upgraded_from(&self, on_disk: &Schema) -> Result<StoreSchema, String> {
        if *on_disk == self.schema {
            return Ok(self.clone());
        }
        let defs: Vec<FieldEntry> = self.schema.fields().map(|(_, e)| e.clone()).collect();
        let mut order = Vec::with_capacity(defs.len());
        for (_, entry) in on_disk.fields() {
            let Some(def) = defs.iter().find(|d| d.name() == entry.name()) else {
                return Err(format!(
                    "it has the field `{}`, which this version does not store (written by a newer version, or the field was removed)",
                    entry.name()
                ));
            };
            if def != entry {
                return Err(format!(
                    "its field `{}` is stored as {}, and this version stores it as {}",
                    entry.name(),
                    describe(entry),
                    describe(def)
                ));
            }
            order.push(def.clone());
        }
        order.extend(
            defs.into_iter()
                .filter(|d| on_disk.get_field(d.name()).is_err()),
        );
        Ok(StoreSchema::assemble(order))
    }

    /// Builds the schema from field entries in layout order, and the handles by name.
    fn assemble(entries: Vec<FieldEntry>) -> StoreSchema {
        let mut b = Schema::builder();
        for e in entries {
            b.add_field(e);
        }
        let schema = b.build();
        let keywords = named(&schema, KEYWORD_FIELDS);
        let numerics = named(&schema, NUMERIC_FIELDS);
        let slots = Slots::of(&keywords, &numerics);
        let keyword_columns = KEYWORD_COLUMNS
            .iter()
            .enumerate()
            .filter(|(_, name)| keywords.contains_key(*name))
            .fold(0u8, |m, (i, _)| m | (1 << i));
        let get = |name: &str| {
            schema
                .get_field(name)
                .expect("every defined field is in the schema")
        };
        StoreSchema {
            timestamp: get(f::TIMESTAMP),
            ingested: get(f::EVENT_INGESTED),
            id: get(f::EVENT_ID),
            message: get(f::MESSAGE),
            labels: get(LABELS),
            event: get(EVENT),
            keywords,
            numerics,
            slots,
            keyword_columns,
            schema,
        }
    }

    /// This version's schema without the fields `names`: what a version before they existed
    /// wrote. For tests of upgrades ([`crate::Store::open_as`]); not for production use.
    #[doc(hidden)]
    pub fn without_fields(names: &[&str]) -> StoreSchema {
        StoreSchema::assemble(
            definitions()
                .into_iter()
                .filter(|e| !names.contains(&e.name()))
                .collect(),
        )
    }

    /// Names of the fields that `self` has and `other` lacks, in layout order.
    pub(crate) fn added_to(&self, other: &Schema) -> Vec<String> {
        self.schema
            .fields()
            .filter(|(_, e)| other.get_field(e.name()).is_err())
            .map(|(_, e)| e.name().to_string())
            .collect()
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
        for (field, get) in &self.slots.keywords {
            if let Some(v) = get(e) {
                d.add_text(*field, v);
            }
        }
        if let Some(field) = self.slots.rule_id {
            for id in &e.rule_ids {
                d.add_text(field, id);
            }
        }
        if let Some(field) = self.slots.rule_name {
            for name in &e.rule_names {
                d.add_text(field, name);
            }
        }
        if let Some(field) = self.slots.flags {
            for flag in e.flags.names() {
                d.add_text(field, flag);
            }
        }
        for (field, get) in &self.slots.numerics {
            if let Some(v) = get(e) {
                d.add_u64(*field, v);
            }
        }
        if !e.labels.is_empty() {
            let obj = e
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), OwnedValue::Str(v.clone())))
                .collect();
            d.add_object(self.labels, obj);
        }
        let mut stored = Vec::with_capacity(64 + e.message.len());
        doc::encode(e, self.keyword_columns, &mut stored);
        d.add_bytes(self.event, &stored);
        d
    }

    /// Rebuilds the event from a stored document (its `_event`) and what the index's columns
    /// hold of it: the `@timestamp` and `event.ingested` values (the record keeps only the
    /// nanoseconds below the microsecond) and the keyword values the record leaves out (see
    /// `doc.rs`). [`RecordColumns`] reads them from a segment.
    pub fn from_document(&self, d: &TantivyDocument, columns: &dyn doc::Columns) -> Option<Event> {
        doc::decode(d.get_first(self.event)?.as_bytes()?, columns)
    }

    /// The event at `addr`: its stored record and its columns. `Ok(None)` when the record is
    /// unreadable (damaged, or of an unknown format). Opens the segment's columns for this one
    /// event: to read many, use an [`EventReader`].
    pub fn event_at(&self, searcher: &Searcher, addr: DocAddress) -> tantivy::Result<Option<Event>> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let columns = RecordColumns::open(searcher.segment_reader(addr.segment_ord))?;
        let event = self.from_document(&doc, &columns.at(addr.doc_id));
        Ok(event)
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

/// The columns of one segment that complete its stored records: the two times, and the keyword
/// columns of [`KEYWORD_COLUMNS`] with their values decoded when a record first needs them.
pub struct RecordColumns {
    timestamp: Column<DateTime>,
    ingested: Column<DateTime>,
    segment: SegmentId,
    /// The keyword columns this segment has, opened with the times: a column that cannot be
    /// read fails the read, as an unreadable time column does.
    keywords: [Option<StrColumn>; KEYWORD_COLUMNS.len()],
    /// Each column's values in dictionary order, when it has few (see [`DECODE_WHOLE_MAX`]).
    decoded: [OnceCell<Option<Arc<Vec<String>>>>; KEYWORD_COLUMNS.len()],
}

/// Dictionaries up to this many values are decoded whole on first use: these are the fields
/// every line of a source repeats, with few distinct values. Looking one value up in a column's
/// dictionary decodes its block each time (about 6 µs: 0.6 ms for a page of 20 events with
/// five such fields, more than the rest of the page's reading); a larger dictionary is read
/// that way.
const DECODE_WHOLE_MAX: usize = 4096;

/// Dictionaries decoded lately, by segment and field (a segment never changes, and its id is
/// unique), so the next search over the newest segments finds them decoded. Only the values
/// are kept, not the column: a column holds its segment's files open, which would keep the
/// disk space of segments merged away or windows deleted by retention. At most 16 MiB of
/// values (counted with their `String`s), the least recently used dropped first.
static DECODED: LazyLock<Mutex<Recent<Vec<String>>>> = LazyLock::new(|| Mutex::new(Recent::new(16 << 20, 1024)));

/// A small cache by (segment, field index), bounded by the bytes its entries hold and by
/// their number, least recently used out first.
struct Recent<T> {
    /// (segment, field index) -> (bytes, value)
    entries: LruCache<(SegmentId, usize), (usize, Arc<T>)>,
    /// Bytes held, over all entries.
    bytes: usize,
    max_bytes: usize,
}

impl<T> Recent<T> {
    fn new(max_bytes: usize, max_entries: usize) -> Recent<T> {
        let max_entries = NonZeroUsize::new(max_entries).unwrap_or(NonZeroUsize::MIN);
        Recent { entries: LruCache::new(max_entries), bytes: 0, max_bytes }
    }

    fn get(&mut self, segment: SegmentId, i: usize) -> Option<Arc<T>> {
        self.entries.get(&(segment, i)).map(|(_, v)| v.clone())
    }

    /// Keeps `v`, which holds `bytes`, dropping the least recently used entries until the
    /// bounds hold (an entry larger than the whole bound is not kept).
    fn put(&mut self, segment: SegmentId, i: usize, bytes: usize, v: Arc<T>) {
        if bytes > self.max_bytes || self.entries.contains(&(segment, i)) {
            return;
        }
        while self.bytes + bytes > self.max_bytes {
            let Some((_, (gone, _))) = self.entries.pop_lru() else {
                break;
            };
            self.bytes -= gone;
        }
        // At the entry bound, pushing drops the least recently used entry and returns it.
        if let Some((_, (gone, _))) = self.entries.push((segment, i), (bytes, v)) {
            self.bytes -= gone;
        }
        self.bytes += bytes;
    }
}

/// The values of `column` in dictionary order, when it has at most [`DECODE_WHOLE_MAX`].
fn decode_whole(column: &StrColumn) -> Option<Vec<String>> {
    let dict = column.dictionary();
    if dict.num_terms() > DECODE_WHOLE_MAX {
        return None;
    }
    let mut all = Vec::with_capacity(dict.num_terms());
    let mut terms = dict.stream().ok()?;
    while terms.advance() {
        all.push(String::from_utf8(terms.key().to_vec()).ok()?);
    }
    Some(all)
}

impl RecordColumns {
    pub fn open(reader: &SegmentReader) -> tantivy::Result<RecordColumns> {
        let fast = reader.fast_fields();
        let mut keywords: [Option<StrColumn>; KEYWORD_COLUMNS.len()] = Default::default();
        for (slot, name) in keywords.iter_mut().zip(KEYWORD_COLUMNS) {
            *slot = fast.str(name)?;
        }
        Ok(RecordColumns {
            timestamp: fast.date(f::TIMESTAMP)?,
            ingested: fast.date(f::EVENT_INGESTED)?,
            segment: reader.segment_id(),
            keywords,
            decoded: Default::default(),
        })
    }

    /// What the columns hold of document `doc`.
    pub fn at(&self, doc: DocId) -> impl doc::Columns + '_ {
        ColumnsAt { columns: self, doc }
    }

    fn decoded(&self, i: usize, column: &StrColumn) -> Option<Arc<Vec<String>>> {
        if let Some(v) = DECODED.lock().unwrap_or_else(|p| p.into_inner()).get(self.segment, i) {
            return Some(v);
        }
        // Decoded outside the lock (another search may decode the same one meanwhile: both are
        // right, the first is kept).
        let values = Arc::new(decode_whole(column)?);
        let bytes = values.iter().map(|v| v.len() + std::mem::size_of::<String>()).sum();
        DECODED.lock().unwrap_or_else(|p| p.into_inner()).put(self.segment, i, bytes, values.clone());
        Some(values)
    }

    fn keyword(&self, i: usize, doc: DocId) -> Option<String> {
        let column = self.keywords.get(i)?.as_ref()?;
        let ord = column.term_ords(doc).next()?;
        if let Some(values) = self.decoded[i].get_or_init(|| self.decoded(i, column)) {
            return values.get(usize::try_from(ord).ok()?).cloned();
        }
        let mut v = String::new();
        column.ord_to_str(ord, &mut v).ok()?.then_some(v)
    }
}

struct ColumnsAt<'a> {
    columns: &'a RecordColumns,
    doc: DocId,
}

impl doc::Columns for ColumnsAt<'_> {
    fn times(&self) -> (i64, i64) {
        let time =
            |c: &Column<DateTime>| c.first(self.doc).map_or(0, DateTime::into_timestamp_nanos);
        (time(&self.columns.timestamp), time(&self.columns.ingested))
    }

    fn keyword(&self, i: usize) -> Option<String> {
        self.columns.keyword(i, self.doc)
    }
}

/// Reads many events of a few windows' segments, opening each segment's columns once.
/// A window is named by the caller's index of it (searchers are not comparable).
pub struct EventReader<'a> {
    schema: &'a StoreSchema,
    open: Vec<((usize, SegmentOrdinal), RecordColumns)>,
}

impl<'a> EventReader<'a> {
    pub fn new(schema: &'a StoreSchema) -> EventReader<'a> {
        EventReader {
            schema,
            open: Vec::new(),
        }
    }

    /// The event at `addr` of window `window` (whose searcher is `searcher`); `Ok(None)` when
    /// its record is unreadable.
    pub fn read(
        &mut self,
        window: usize,
        searcher: &Searcher,
        addr: DocAddress,
    ) -> tantivy::Result<Option<Event>> {
        let key = (window, addr.segment_ord);
        let at = match self.open.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.open.push((
                    key,
                    RecordColumns::open(searcher.segment_reader(addr.segment_ord))?,
                ));
                self.open.len() - 1
            }
        };
        let doc: TantivyDocument = searcher.doc(addr)?;
        Ok(self
            .schema
            .from_document(&doc, &self.open[at].1.at(addr.doc_id)))
    }
}

/// Keyword and numeric fields of the first layout; fields added later come after `_event`.
const FIRST_KEYWORDS: usize = 29;
const FIRST_NUMERICS: usize = 15;

/// This version's field entries in canonical order: the first layout (dates, id, message,
/// keywords, numerics, labels, `_event`), then the keyword and numeric fields added since, in
/// list order. New fields go at the end of their list, so a new store lays its fields out as an
/// upgraded one does (see [`StoreSchema::upgraded_from`]).
fn definitions() -> Vec<FieldEntry> {
    let date = DateOptions::default()
        .set_fast()
        .set_precision(DateTimePrecision::Microseconds);
    let keyword = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_fast(Some("raw"));
    let numeric = NumericOptions::default().set_fast();
    let kw = |n: &&str| FieldEntry::new_text(n.to_string(), keyword.clone());
    let num = |n: &&str| FieldEntry::new_u64(n.to_string(), numeric.clone());
    let (kw_first, kw_added) = KEYWORD_FIELDS.split_at(FIRST_KEYWORDS.min(KEYWORD_FIELDS.len()));
    let (num_first, num_added) = NUMERIC_FIELDS.split_at(FIRST_NUMERICS.min(NUMERIC_FIELDS.len()));
    let mut v = vec![
        FieldEntry::new_date(f::TIMESTAMP.into(), date.clone()),
        FieldEntry::new_date(f::EVENT_INGESTED.into(), date),
        FieldEntry::new_text(f::EVENT_ID.into(), TextOptions::default()),
        FieldEntry::new_text(
            f::MESSAGE.into(),
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        ),
    ];
    v.extend(kw_first.iter().map(kw));
    v.extend(num_first.iter().map(num));
    v.push(FieldEntry::new_json(
        LABELS.into(),
        JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast(Some("raw")),
    ));
    v.push(FieldEntry::new_bytes(EVENT.into(), STORED.into()));
    v.extend(kw_added.iter().map(kw));
    v.extend(num_added.iter().map(num));
    v
}

/// The handles of the fields of `names` that `schema` has.
fn named(schema: &Schema, names: &[&'static str]) -> BTreeMap<&'static str, Field> {
    names
        .iter()
        .filter_map(|n| Some((*n, schema.get_field(n).ok()?)))
        .collect()
}

/// A field's type and indexing, for errors.
fn describe(e: &FieldEntry) -> String {
    let t = e.field_type();
    let mut s = format!("{:?}", t.value_type()).to_lowercase();
    if let Some(o) = t.get_index_record_option() {
        s.push_str(&format!(", indexed ({o:?})"));
    }
    if e.is_fast() {
        s.push_str(", fast");
    }
    if e.is_stored() {
        s.push_str(", stored");
    }
    s
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

    /// A field added to the schema but not to the value tables would be indexed for no event.
    #[test]
    fn every_keyword_and_numeric_field_is_filled_from_the_event() {
        let slots = StoreSchema::new().slots;
        let multi = [f::RULE_ID, f::RULE_NAME, f::LOG_FLAGS];
        for name in KEYWORD_FIELDS {
            let single = KEYWORD_VALUES.iter().filter(|(n, _)| n == name).count();
            assert_eq!(single + usize::from(multi.contains(name)), 1, "{name}");
        }
        for name in NUMERIC_FIELDS {
            assert_eq!(NUMBER_VALUES.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
        }
        assert_eq!(slots.keywords.len() + 3, KEYWORD_FIELDS.len());
        assert_eq!(slots.numerics.len(), NUMERIC_FIELDS.len());
        assert!(slots.rule_id.is_some() && slots.rule_name.is_some() && slots.flags.is_some());
    }

    #[test]
    fn decoded_values_keep_the_recently_used_within_their_bounds() {
        let (a, b, c) = (SegmentId::generate_random(), SegmentId::generate_random(), SegmentId::generate_random());
        let mut cache: Recent<&str> = Recent::new(100, 3);
        cache.put(a, 0, 40, Arc::new("a0"));
        cache.put(b, 0, 40, Arc::new("b0"));
        assert_eq!(cache.get(a, 0).as_deref(), Some(&"a0"));
        assert_eq!(cache.get(a, 1), None);
        // 40 + 40 + 40 > 100: the least recently used (b0, as a0 was just read) goes.
        cache.put(c, 0, 40, Arc::new("c0"));
        assert_eq!(cache.get(b, 0), None);
        assert_eq!((cache.bytes, cache.entries.len()), (80, 2));
        // The entry bound: a fourth column of no values drops the oldest.
        cache.put(c, 1, 0, Arc::new("c1"));
        cache.put(c, 2, 0, Arc::new("c2"));
        assert_eq!(cache.entries.len(), 3);
        assert_eq!(cache.get(a, 0), None);
        assert_eq!(cache.bytes, 40);
        // A column above the whole bound is not kept, and nothing is dropped for it.
        cache.put(b, 1, 101, Arc::new("big"));
        assert_eq!((cache.get(b, 1), cache.entries.len()), (None, 3));
        // The same column again keeps the first.
        cache.put(c, 0, 40, Arc::new("other"));
        assert_eq!(cache.get(c, 0).as_deref(), Some(&"c0"));
    }

    /// The column values of a document as the index would read them: its own keyword values.
    struct FromDocument<'a>(&'a StoreSchema, &'a TantivyDocument, (i64, i64));

    impl doc::Columns for FromDocument<'_> {
        fn times(&self) -> (i64, i64) {
            self.2
        }
        fn keyword(&self, i: usize) -> Option<String> {
            let field = self.0.field(KEYWORD_COLUMNS[i])?;
            Some(self.1.get_first(field)?.as_str()?.to_string())
        }
    }

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
        assert_eq!(
            s.from_document(&d, &FromDocument(&s, &d, times)),
            Some(e.clone())
        );
        // The host is left to its column: the times alone do not make the event.
        assert_eq!(s.from_document(&d, &times), None);
        e.host = None;
        assert_eq!(s.from_document(&s.to_document(&e), &times), Some(e));
        assert_eq!(s.kind("host.name"), Some(FieldKind::Keyword));
        assert_eq!(s.kind("process.pid"), Some(FieldKind::Numeric));
        assert_eq!(s.kind("labels.env"), Some(FieldKind::Labels));
        assert_eq!(s.kind("nope"), None);
    }

    #[test]
    fn an_earlier_schema_is_upgraded_by_appending_what_it_lacks() {
        let now = StoreSchema::new();
        assert_eq!(now.upgraded_from(&now.schema).unwrap().schema, now.schema);

        let old = StoreSchema::without_fields(&[f::URL_ORIGINAL]);
        assert_eq!(old.field(f::URL_ORIGINAL), None);
        let up = now.upgraded_from(&old.schema).unwrap();
        assert_eq!(up.added_to(&old.schema), vec![f::URL_ORIGINAL.to_string()]);
        // The old fields keep their ids; the new one comes last.
        for (field, entry) in old.schema.fields() {
            assert_eq!(up.schema.get_field_entry(field), entry);
        }
        assert_eq!(
            up.field(f::URL_ORIGINAL).unwrap().field_id() as usize,
            old.schema.num_fields()
        );
        assert_eq!(up.schema.num_fields(), now.schema.num_fields());
        // An event is indexed the same way in either layout, the new field included.
        let mut e = Event::new("GET /x", Timestamp::from_secs(1), Timestamp::from_secs(2), "i".into());
        e.url_original = Some("/x".into());
        let d = up.to_document(&e);
        assert_eq!(
            d.get_first(up.field(f::URL_ORIGINAL).unwrap()).and_then(|v| v.as_str()),
            Some("/x")
        );
        assert_eq!(
            up.from_document(&d, &(e.timestamp.0, e.ingested.0)),
            Some(e)
        );
    }

    #[test]
    fn a_changed_or_unknown_field_is_refused_by_name() {
        let now = StoreSchema::new();
        let mut b = Schema::builder();
        for (_, entry) in now.schema.fields() {
            if entry.name() == f::URL_ORIGINAL {
                b.add_u64_field(f::URL_ORIGINAL, NumericOptions::default().set_fast());
            } else {
                b.add_field(entry.clone());
            }
        }
        let e = now.upgraded_from(&b.build()).unwrap_err();
        assert!(e.contains("`url.original` is stored as u64") && e.contains("as str"), "{e}");

        let mut b = Schema::builder();
        for (_, entry) in now.schema.fields() {
            b.add_field(entry.clone());
        }
        b.add_text_field("legacy.field", STORED);
        let e = now.upgraded_from(&b.build()).unwrap_err();
        assert!(e.contains("`legacy.field`") && e.contains("newer version"), "{e}");
    }
}

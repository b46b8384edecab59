//! The stored form of an event: a compact binary record in the `_event` stored field.
//!
//! Replaces the `_source` JSON of earlier versions. What it saves, per event: the field names
//! (a JSON object repeats ~25 key bytes per field), the decimal and hex text of numbers,
//! timestamps and positioned ids, and above all every field whose value the message already
//! contains (`source.ip`, `user.name`, `url.original`, ... are cut out of the message by the
//! parsers): such a value is stored as an offset and a length into the message, so the text
//! is stored once. zstd compresses what is left (host names, file paths) across the events of
//! a block.
//!
//! Layout (integers are LEB128 varints, signed ones zigzag-encoded):
//!
//! ```text
//! FORMAT (1 byte)
//! in columns (1 byte): which of KEYWORD_COLUMNS the index's columns hold for this record
//! @timestamp, event.ingested: each the nanoseconds below the microsecond (signed)
//! event.id: 0, string | 1, xxh3 hash (8 bytes LE), position   (a positioned id)
//! event.original: 0 | 1, string
//! message: string (a reference into event.original when that is there)
//! then (tag, value) pairs until the end: see the TAG_ constants
//! ```
//!
//! The two times are columns of the index at microsecond precision (`schema.rs`); the record
//! keeps only what the column drops, so reading an event takes the column values too
//! ([`decode`]'s `times`). Storing the whole nanosecond times (format 1) cost 17 bytes of
//! varints per event, most of them incompressible (the ingest clock's low digits); format 1
//! records are still read.
//!
//! The same goes for the keyword fields of [`KEYWORD_COLUMNS`] (dataset, host, file path,
//! service, pattern id): the same few values on every event, which the index keeps anyway as
//! dictionary-encoded columns. A record of format 3 says in one byte which of them the columns
//! hold for it, and leaves those out: 12.6% of a sealed window's doc store and 8.4% of a
//! written window's bytes at a million syslog lines (BENCHMARKS.md, "Keyword values read from
//! their columns"). Records of format 2 carry them inline and are still read.
//!
//! A string is `len << 1` then its bytes, or `(offset << 1) | 1` then `len`: bytes
//! `offset..offset + len` of the base text (the message; for the message, the original line).
//! Decoding checks every length, offset and UTF-8 boundary: a damaged record decodes to
//! `None`, never to a panic or a wrong event.

use std::borrow::Cow;

use loglynx_core::{Event, EventFlags, Timestamp};

/// Version of the layout, first byte of every record.
const FORMAT: u8 = 3;
/// The layout before keyword values moved to the columns: times as now, every value inline.
const FORMAT_INLINE_KEYWORDS: u8 = 2;
/// The layout before the times moved to the columns: whole nanosecond times in the record.
const FORMAT_WHOLE_TIMES: u8 = 1;

// Tags of the optional fields. Numbers are stable: records on disk use them.
const TAG_DATASET: u8 = 1;
const TAG_HOST: u8 = 2;
const TAG_FILE_PATH: u8 = 3;
const TAG_LEVEL: u8 = 4;
const TAG_SERVICE: u8 = 5;
const TAG_PROCESS_NAME: u8 = 6;
const TAG_SOURCE_IP: u8 = 7;
const TAG_DESTINATION_IP: u8 = 8;
const TAG_USER_NAME: u8 = 9;
const TAG_PATTERN_ID: u8 = 10;
const TAG_NETWORK_TRANSPORT: u8 = 11;
const TAG_ACTION: u8 = 12;
const TAG_OUTCOME: u8 = 13;
const TAG_CATEGORY: u8 = 14;
const TAG_USER_EFFECTIVE_NAME: u8 = 15;
const TAG_USER_TARGET_NAME: u8 = 16;
const TAG_GROUP_NAME: u8 = 17;
const TAG_COMMAND_LINE: u8 = 18;
const TAG_SOURCE_DOMAIN: u8 = 19;
const TAG_SYSTEMD_UNIT: u8 = 20;
const TAG_HTTP_METHOD: u8 = 21;
const TAG_URL_ORIGINAL: u8 = 22;
const TAG_USER_AGENT: u8 = 23;
const TAG_TCP_OLD_STATE: u8 = 24;
const TAG_TCP_NEW_STATE: u8 = 25;
const TAG_ALERT_ID: u8 = 26;
const TAG_NETWORK_DROP_REASON: u8 = 27;
const TAG_SYSLOG_FACILITY: u8 = 40;
const TAG_SYSLOG_SEVERITY: u8 = 41;
const TAG_PID: u8 = 42;
const TAG_SOURCE_PORT: u8 = 43;
const TAG_DESTINATION_PORT: u8 = 44;
const TAG_HTTP_STATUS: u8 = 45;
const TAG_TCP_STATE_DURATION_US: u8 = 46;
const TAG_SOURCE_BYTES: u8 = 47;
const TAG_DESTINATION_BYTES: u8 = 48;
const TAG_NETWORK_BYTES: u8 = 49;
const TAG_DURATION_NS: u8 = 50;
const TAG_TCP_RETRANSMITS: u8 = 51;
const TAG_TCP_SRTT_US: u8 = 52;
const TAG_KAFKA_PARTITION: u8 = 53;
const TAG_KAFKA_OFFSET: u8 = 54;
const TAG_NETWORK_DROPS: u8 = 55;
const TAG_RULE_ID: u8 = 60;
const TAG_RULE_NAME: u8 = 61;
const TAG_LABEL: u8 = 62;
const TAG_FLAGS: u8 = 63;

/// The keyword fields a record may leave to the index's columns, in bit order of the record's
/// "in columns" byte. Stable: records on disk use these bits.
pub const KEYWORD_COLUMNS: [&str; 5] = [
    loglynx_core::fields::EVENT_DATASET,
    loglynx_core::fields::HOST_NAME,
    loglynx_core::fields::LOG_FILE_PATH,
    loglynx_core::fields::SERVICE_NAME,
    loglynx_core::fields::PATTERN_ID,
];
/// The tags of [`KEYWORD_COLUMNS`], same order.
const KEYWORD_COLUMN_TAGS: [u8; 5] = [
    TAG_DATASET,
    TAG_HOST,
    TAG_FILE_PATH,
    TAG_SERVICE,
    TAG_PATTERN_ID,
];
/// Longer values stay in the record: a column is for the short values that repeat.
const COLUMN_VALUE_MAX: usize = 4096;

/// What the index's columns hold of an event: what a record leaves out.
pub trait Columns {
    /// `@timestamp` and `event.ingested` in nanoseconds (whole microseconds).
    fn times(&self) -> (i64, i64);
    /// The value of the `i`th field of [`KEYWORD_COLUMNS`], if the column has one.
    fn keyword(&self, i: usize) -> Option<String>;
}

/// Times alone: for records that keep every keyword inline (and for tests).
impl Columns for (i64, i64) {
    fn times(&self) -> (i64, i64) {
        *self
    }
    fn keyword(&self, _: usize) -> Option<String> {
        None
    }
}

/// The flags in bit order (bit 0 first).
fn flag_bits(f: &EventFlags) -> u64 {
    [
        f.unparsed,
        f.truncated,
        f.invalid_utf8,
        f.bad_timestamp,
        f.malformed,
        f.multiline,
        f.multiline_truncated,
        f.parse_panic,
        f.ambiguous_timestamp,
        f.labels_capped,
    ]
    .iter()
    .enumerate()
    .fold(0, |acc, (i, on)| acc | (u64::from(*on) << i))
}

fn flags_from_bits(b: u64) -> EventFlags {
    let on = |i: u32| b & (1 << i) != 0;
    EventFlags {
        unparsed: on(0),
        truncated: on(1),
        invalid_utf8: on(2),
        bad_timestamp: on(3),
        malformed: on(4),
        multiline: on(5),
        multiline_truncated: on(6),
        parse_panic: on(7),
        ambiguous_timestamp: on(8),
        labels_capped: on(9),
    }
}

/// Encodes `e` into `out` (cleared first). `columns` has bit `i` set when the index keeps the
/// `i`th field of [`KEYWORD_COLUMNS`] as a column of the same document: such a value is left
/// out of the record (empty and very long values stay in it).
pub fn encode(e: &Event, columns: u8, out: &mut Vec<u8>) {
    // Destructured without `..`: a field added to `Event` must get a tag here (the compiler
    // says so), or it would be lost on the way through the store.
    let Event {
        timestamp,
        ingested,
        id,
        dataset,
        original,
        host,
        file_path,
        level,
        syslog_facility,
        syslog_severity,
        service,
        process_name,
        pid,
        message,
        source_ip,
        source_port,
        destination_ip,
        destination_port,
        user_name,
        pattern_id,
        network_transport,
        action,
        outcome,
        category,
        user_effective_name,
        user_target_name,
        group_name,
        command_line,
        source_domain,
        systemd_unit,
        http_method,
        http_status,
        url_original,
        user_agent,
        tcp_old_state,
        tcp_new_state,
        tcp_state_duration_us,
        source_bytes,
        destination_bytes,
        network_bytes,
        duration_ns,
        tcp_retransmits,
        tcp_srtt_us,
        network_drops,
        network_drop_reason,
        kafka_partition,
        kafka_offset,
        rule_ids,
        rule_names,
        alert_id,
        labels,
        flags,
    } = e;
    // A value the columns hold is not written again.
    let mut in_columns = 0u8;
    let mut inline = [None; KEYWORD_COLUMNS.len()];
    for (i, v) in [dataset, host, file_path, service, pattern_id].into_iter().enumerate() {
        let v = v.as_deref();
        let fits = v.is_some_and(|v| !v.is_empty() && v.len() <= COLUMN_VALUE_MAX);
        if fits && columns & (1 << i) != 0 {
            in_columns |= 1 << i;
        } else {
            inline[i] = v;
        }
    }
    let [dataset, host, file_path, service, pattern_id] = inline;
    out.clear();
    out.push(FORMAT);
    out.push(in_columns);
    put_i64(out, below_micros(timestamp.0));
    put_i64(out, below_micros(ingested.0));
    match parse_positioned(id) {
        Some((hash, position)) => {
            out.push(1);
            out.extend_from_slice(&hash.to_le_bytes());
            put_u64(out, position);
        }
        None => {
            out.push(0);
            put_str(out, id, "");
        }
    }
    match original {
        Some(o) => {
            out.push(1);
            put_str(out, o, "");
        }
        None => out.push(0),
    }
    put_str(out, message, original.as_deref().unwrap_or(""));

    let base = message.as_str();
    let mut s = |tag: u8, v: Option<&str>| {
        if let Some(v) = v {
            out.push(tag);
            put_str(out, v, base);
        }
    };
    s(TAG_DATASET, dataset);
    s(TAG_HOST, host);
    s(TAG_FILE_PATH, file_path);
    s(TAG_LEVEL, level.as_deref());
    s(TAG_SERVICE, service);
    s(TAG_PROCESS_NAME, process_name.as_deref());
    s(TAG_SOURCE_IP, source_ip.as_deref());
    s(TAG_DESTINATION_IP, destination_ip.as_deref());
    s(TAG_USER_NAME, user_name.as_deref());
    s(TAG_PATTERN_ID, pattern_id);
    s(TAG_NETWORK_TRANSPORT, network_transport.as_deref());
    s(TAG_ACTION, action.as_deref());
    s(TAG_OUTCOME, outcome.as_deref());
    s(TAG_CATEGORY, category.as_deref());
    s(TAG_USER_EFFECTIVE_NAME, user_effective_name.as_deref());
    s(TAG_USER_TARGET_NAME, user_target_name.as_deref());
    s(TAG_GROUP_NAME, group_name.as_deref());
    s(TAG_COMMAND_LINE, command_line.as_deref());
    s(TAG_SOURCE_DOMAIN, source_domain.as_deref());
    s(TAG_SYSTEMD_UNIT, systemd_unit.as_deref());
    s(TAG_HTTP_METHOD, http_method.as_deref());
    s(TAG_URL_ORIGINAL, url_original.as_deref());
    s(TAG_USER_AGENT, user_agent.as_deref());
    s(TAG_TCP_OLD_STATE, tcp_old_state.as_deref());
    s(TAG_TCP_NEW_STATE, tcp_new_state.as_deref());
    s(TAG_ALERT_ID, alert_id.as_deref());
    s(TAG_NETWORK_DROP_REASON, network_drop_reason.as_deref());
    for r in rule_ids {
        s(TAG_RULE_ID, Some(r));
    }
    for r in rule_names {
        s(TAG_RULE_NAME, Some(r));
    }
    for (k, v) in labels {
        out.push(TAG_LABEL);
        put_str(out, k, base);
        put_str(out, v, base);
    }
    let mut n = |tag: u8, v: Option<u64>| {
        if let Some(v) = v {
            out.push(tag);
            put_u64(out, v);
        }
    };
    n(TAG_SYSLOG_FACILITY, syslog_facility.map(u64::from));
    n(TAG_SYSLOG_SEVERITY, syslog_severity.map(u64::from));
    n(TAG_PID, pid.map(u64::from));
    n(TAG_SOURCE_PORT, source_port.map(u64::from));
    n(TAG_DESTINATION_PORT, destination_port.map(u64::from));
    n(TAG_HTTP_STATUS, http_status.map(u64::from));
    n(TAG_TCP_STATE_DURATION_US, *tcp_state_duration_us);
    n(TAG_SOURCE_BYTES, *source_bytes);
    n(TAG_DESTINATION_BYTES, *destination_bytes);
    n(TAG_NETWORK_BYTES, *network_bytes);
    n(TAG_DURATION_NS, *duration_ns);
    n(TAG_TCP_RETRANSMITS, *tcp_retransmits);
    n(TAG_TCP_SRTT_US, *tcp_srtt_us);
    n(TAG_KAFKA_PARTITION, *kafka_partition);
    n(TAG_KAFKA_OFFSET, *kafka_offset);
    n(TAG_NETWORK_DROPS, *network_drops);
    let bits = flag_bits(flags);
    n(TAG_FLAGS, (bits != 0).then_some(bits));
}

/// The nanoseconds of `ns` that a microsecond column drops (tantivy truncates toward zero).
fn below_micros(ns: i64) -> i64 {
    ns % 1_000
}

/// Decodes a record written by [`encode`]; `None` when it is damaged or of an unknown format.
/// `columns` gives the event's `@timestamp` and `event.ingested` column values, which the
/// record completes, and the keyword values the record says the columns hold (a record that
/// counts on a value its column lacks is damaged, not an event without it).
pub fn decode(b: &[u8], columns: &dyn Columns) -> Option<Event> {
    let mut r = Reader { b, at: 0 };
    let format = r.byte()?;
    let in_columns = match format {
        FORMAT => r.byte().filter(|m| m >> KEYWORD_COLUMNS.len() == 0)?,
        _ => 0,
    };
    let (timestamp, ingested) = match format {
        FORMAT | FORMAT_INLINE_KEYWORDS => {
            let times = columns.times();
            let below = |r: &mut Reader<'_>| r.i64().filter(|v| v.abs() < 1_000);
            let t = times.0.checked_add(below(&mut r)?)?;
            (t, times.1.checked_add(below(&mut r)?)?)
        }
        FORMAT_WHOLE_TIMES => {
            let t = r.i64()?;
            (t, t.wrapping_add(r.i64()?))
        }
        _ => return None,
    };
    let id = match r.byte()? {
        0 => r.str("")?.to_owned(),
        1 => {
            let hash = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            positioned_id_of(hash, r.u64()?)
        }
        _ => return None,
    };
    let original = match r.byte()? {
        0 => None,
        1 => Some(r.str("")?.to_owned()),
        _ => return None,
    };
    let message = r.str(original.as_deref().unwrap_or(""))?.to_owned();
    let mut e = Event::new(String::new(), Timestamp(timestamp), Timestamp(ingested), id);
    e.original = original;
    while !r.done() {
        let tag = r.byte()?;
        let base = message.as_str();
        match tag {
            TAG_LABEL => {
                let k = r.str(base)?.to_owned();
                let v = r.str(base)?.to_owned();
                e.labels.insert(k, v);
            }
            TAG_DATASET..=TAG_NETWORK_DROP_REASON | TAG_RULE_ID | TAG_RULE_NAME => {
                let v = r.str(base)?.to_owned();
                set_str(&mut e, tag, v)?;
            }
            _ => {
                let v = r.u64()?;
                set_num(&mut e, tag, v)?;
            }
        }
    }
    e.message = message;
    for (i, tag) in KEYWORD_COLUMN_TAGS.into_iter().enumerate() {
        if in_columns & (1 << i) != 0 {
            let v = columns.keyword(i).filter(|v| !v.is_empty())?;
            set_str(&mut e, tag, v)?;
        }
    }
    Some(e)
}

fn set_str(e: &mut Event, tag: u8, v: String) -> Option<()> {
    let slot = match tag {
        TAG_RULE_ID => {
            e.rule_ids.push(v);
            return Some(());
        }
        TAG_RULE_NAME => {
            e.rule_names.push(v);
            return Some(());
        }
        TAG_ACTION => {
            e.action = Some(Cow::Owned(v));
            return Some(());
        }
        TAG_OUTCOME => {
            e.outcome = Some(Cow::Owned(v));
            return Some(());
        }
        TAG_CATEGORY => {
            e.category = Some(Cow::Owned(v));
            return Some(());
        }
        TAG_DATASET => &mut e.dataset,
        TAG_HOST => &mut e.host,
        TAG_FILE_PATH => &mut e.file_path,
        TAG_LEVEL => &mut e.level,
        TAG_SERVICE => &mut e.service,
        TAG_PROCESS_NAME => &mut e.process_name,
        TAG_SOURCE_IP => &mut e.source_ip,
        TAG_DESTINATION_IP => &mut e.destination_ip,
        TAG_USER_NAME => &mut e.user_name,
        TAG_PATTERN_ID => &mut e.pattern_id,
        TAG_NETWORK_TRANSPORT => &mut e.network_transport,
        TAG_USER_EFFECTIVE_NAME => &mut e.user_effective_name,
        TAG_USER_TARGET_NAME => &mut e.user_target_name,
        TAG_GROUP_NAME => &mut e.group_name,
        TAG_COMMAND_LINE => &mut e.command_line,
        TAG_SOURCE_DOMAIN => &mut e.source_domain,
        TAG_SYSTEMD_UNIT => &mut e.systemd_unit,
        TAG_HTTP_METHOD => &mut e.http_method,
        TAG_URL_ORIGINAL => &mut e.url_original,
        TAG_USER_AGENT => &mut e.user_agent,
        TAG_TCP_OLD_STATE => &mut e.tcp_old_state,
        TAG_TCP_NEW_STATE => &mut e.tcp_new_state,
        TAG_ALERT_ID => &mut e.alert_id,
        TAG_NETWORK_DROP_REASON => &mut e.network_drop_reason,
        _ => return None,
    };
    *slot = Some(v);
    Some(())
}

fn set_num(e: &mut Event, tag: u8, v: u64) -> Option<()> {
    match tag {
        TAG_SYSLOG_FACILITY => e.syslog_facility = Some(u8::try_from(v).ok()?),
        TAG_SYSLOG_SEVERITY => e.syslog_severity = Some(u8::try_from(v).ok()?),
        TAG_PID => e.pid = Some(u32::try_from(v).ok()?),
        TAG_SOURCE_PORT => e.source_port = Some(u16::try_from(v).ok()?),
        TAG_DESTINATION_PORT => e.destination_port = Some(u16::try_from(v).ok()?),
        TAG_HTTP_STATUS => e.http_status = Some(u16::try_from(v).ok()?),
        TAG_TCP_STATE_DURATION_US => e.tcp_state_duration_us = Some(v),
        TAG_SOURCE_BYTES => e.source_bytes = Some(v),
        TAG_DESTINATION_BYTES => e.destination_bytes = Some(v),
        TAG_NETWORK_BYTES => e.network_bytes = Some(v),
        TAG_DURATION_NS => e.duration_ns = Some(v),
        TAG_TCP_RETRANSMITS => e.tcp_retransmits = Some(v),
        TAG_TCP_SRTT_US => e.tcp_srtt_us = Some(v),
        TAG_KAFKA_PARTITION => e.kafka_partition = Some(v),
        TAG_KAFKA_OFFSET => e.kafka_offset = Some(v),
        TAG_NETWORK_DROPS => e.network_drops = Some(v),
        TAG_FLAGS => e.flags = flags_from_bits(v),
        _ => return None,
    }
    Some(())
}

/// The hash and position of an id that [`positioned_id`] writes back byte for byte.
fn parse_positioned(id: &str) -> Option<(u64, u64)> {
    let (h, p) = loglynx_core::record::parse_positioned_id(id)?;
    (positioned_id_of(h, p) == id).then_some((h, p))
}

/// The text [`loglynx_core::positioned_id`] makes of a hash and a position.
fn positioned_id_of(hash: u64, position: u64) -> String {
    format!("{hash:016x}-{position:012x}")
}

fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Writes `s` as a reference into `base` when `base` contains it, else as its bytes.
///
/// The search is `memchr::memmem` (SIMD prefilter, no per-call table): `str::find` built a
/// two-way searcher per value (2% of an ingest's CPU in a profile, plus its compares). This
/// and the field handles of `to_document` together saved ~3% of the CPU per event.
fn put_str(out: &mut Vec<u8>, s: &str, base: &str) {
    if s.len() >= 2 && base.len() >= s.len() {
        if let Some(at) = memchr::memmem::find(base.as_bytes(), s.as_bytes()) {
            put_u64(out, ((at as u64) << 1) | 1);
            put_u64(out, s.len() as u64);
            return;
        }
    }
    put_u64(out, (s.len() as u64) << 1);
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.b.len()
    }

    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let v = self.b.get(self.at..end)?;
        self.at = end;
        Some(v)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn i64(&mut self) -> Option<i64> {
        let z = self.u64()?;
        Some(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn str<'b>(&mut self, base: &'b str) -> Option<&'b str>
    where
        'a: 'b,
    {
        let head = self.u64()?;
        let n = usize::try_from(if head & 1 == 1 { self.u64()? } else { head >> 1 }).ok()?;
        if head & 1 == 1 {
            let at = usize::try_from(head >> 1).ok()?;
            base.get(at..at.checked_add(n)?)
        } else {
            std::str::from_utf8(self.take(n)?).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::positioned_id;

    use super::*;

    /// The column values of `e`'s times (tantivy truncates to whole microseconds).
    fn cols(e: &Event) -> (i64, i64) {
        (e.timestamp.0 / 1_000 * 1_000, e.ingested.0 / 1_000 * 1_000)
    }

    fn sample() -> Event {
        let mut e = Event::new(
            "Failed password for invalid user jenkins from 15.38.236.37 port 9746 ssh2",
            Timestamp(1_700_000_000_123_456_789),
            Timestamp(1_700_000_005_000_000_001),
            positioned_id("file:1:2:ab", 4096),
        );
        e.host = Some("web-15".into());
        e.process_name = Some("sshd".into());
        e.pid = Some(1_104_025);
        e.user_name = Some("jenkins".into());
        e.source_ip = Some("15.38.236.37".into());
        e.source_port = Some(9746);
        e.action = Some(Cow::Borrowed("ssh_login"));
        e.rule_ids = vec!["r1".into(), "r2".into()];
        e.rule_names = vec!["one".into(), "two".into()];
        e.labels.insert("env".into(), "prod".into());
        e.flags.truncated = true;
        e.flags.multiline = true;
        e
    }

    #[test]
    fn round_trips_and_references_the_message() {
        let e = sample();
        let mut b = Vec::new();
        encode(&e, 0, &mut b);
        assert_eq!(decode(&b, &cols(&e)), Some(e.clone()));
        // The ip and user are stored as references: the record is smaller than the message
        // plus those values.
        let json = serde_json::to_vec(&e).unwrap();
        assert!(b.len() * 2 < json.len(), "{} vs {}", b.len(), json.len());
        // The positioned id is stored as its hash and position, and comes back as the same text.
        assert!(!b.windows(e.id.len()).any(|w| w == e.id.as_bytes()));
        assert_eq!(parse_positioned(&e.id).map(|(h, p)| positioned_id_of(h, p)), Some(e.id));
    }

    #[test]
    fn times_are_the_columns_plus_the_nanoseconds_below_them() {
        for (ts, ing) in [(0, 0), (-1_500, 999), (-1_700_000_000_123_456_789, i64::MAX), (i64::MIN, 1)] {
            let mut e = sample();
            e.timestamp = Timestamp(ts);
            e.ingested = Timestamp(ing);
            let mut b = Vec::new();
            encode(&e, 0, &mut b);
            assert_eq!(decode(&b, &cols(&e)), Some(e.clone()), "{ts} {ing}");
        }
        // Only the sub-microsecond part is in the record: other column values give other times.
        let e = sample();
        let mut b = Vec::new();
        encode(&e, 0, &mut b);
        let got = decode(&b, &(cols(&e).0 + 5_000, cols(&e).1)).unwrap();
        assert_eq!(got.timestamp.0, e.timestamp.0 + 5_000);
        // A remainder out of range is damage, not a time.
        let mut r = Reader { b: &b, at: 2 };
        r.i64().unwrap();
        let mut bad = vec![FORMAT, 0];
        put_i64(&mut bad, 5_000);
        bad.extend_from_slice(&b[r.at..]);
        assert_eq!(decode(&bad, &cols(&e)), None);
    }

    #[test]
    fn records_of_format_1_with_whole_times_are_still_read() {
        let e = sample();
        let mut b = Vec::new();
        encode(&e, 0, &mut b);
        // Format 1: the whole @timestamp, then event.ingested - @timestamp.
        let mut old = vec![FORMAT_WHOLE_TIMES];
        put_i64(&mut old, e.timestamp.0);
        put_i64(&mut old, e.ingested.0 - e.timestamp.0);
        let mut r = Reader { b: &b, at: 2 };
        r.i64().unwrap();
        r.i64().unwrap();
        old.extend_from_slice(&b[r.at..]);
        assert_eq!(decode(&old, &(0, 0)), Some(e));
    }

    /// Columns holding the keyword values of `e`, as the index does.
    struct Held<'a>(&'a Event);

    impl Columns for Held<'_> {
        fn times(&self) -> (i64, i64) {
            cols(self.0)
        }
        fn keyword(&self, i: usize) -> Option<String> {
            let e = self.0;
            [&e.dataset, &e.host, &e.file_path, &e.service, &e.pattern_id][i].clone()
        }
    }

    fn with_keywords() -> Event {
        let mut e = sample();
        e.dataset = Some("system.syslog".into());
        e.file_path = Some("/var/log/auth.log".into());
        e.service = Some("ssh".into());
        e.pattern_id = Some("p-5f3a9c".into());
        e
    }

    #[test]
    fn keyword_values_the_columns_hold_are_left_out_and_read_back_from_them() {
        let e = with_keywords();
        let (mut inline, mut held) = (Vec::new(), Vec::new());
        encode(&e, 0, &mut inline);
        encode(&e, 0b11111, &mut held);
        assert_eq!(decode(&inline, &Held(&e)), Some(e.clone()));
        assert_eq!(decode(&held, &Held(&e)), Some(e.clone()));
        for v in ["system.syslog", "web-15", "/var/log/auth.log", "p-5f3a9c"] {
            let has = |b: &[u8]| b.windows(v.len()).any(|w| w == v.as_bytes());
            assert!(has(&inline) && !has(&held), "{v}");
        }
        assert!(
            held.len() + 40 < inline.len(),
            "{} vs {}",
            held.len(),
            inline.len()
        );
        // Only the fields whose column the schema has are left out.
        let mut some = Vec::new();
        encode(&e, 0b00010, &mut some);
        assert!(
            some.windows(6).any(|w| w == b"system") && !some.windows(6).any(|w| w == b"web-15")
        );
        assert_eq!(decode(&some, &Held(&e)), Some(e.clone()));
        // Values longer than a column is for stay in the record.
        let mut long = e.clone();
        long.file_path = Some("/x".repeat(COLUMN_VALUE_MAX / 2 + 1));
        encode(&long, 0b11111, &mut held);
        assert_eq!(held[1] & 0b100, 0);
        assert_eq!(decode(&held, &cols(&long)).map(|d| d.file_path), None, "the others are in columns");
        assert_eq!(decode(&held, &Held(&long)), Some(long));
        // Empty values stay in the record (a column may not keep an empty string).
        let mut empty = e.clone();
        empty.host = Some(String::new());
        encode(&empty, 0b11111, &mut held);
        assert_eq!(held[1] & 0b10, 0);
        assert_eq!(decode(&held, &Held(&empty)), Some(empty));
    }

    #[test]
    fn a_record_counting_on_a_value_its_column_lacks_is_unreadable() {
        let e = with_keywords();
        let mut b = Vec::new();
        encode(&e, 0b11111, &mut b);
        // Times alone: no keyword values.
        assert_eq!(decode(&b, &cols(&e)), None);
        // A byte claiming fields past the five is damage too.
        let mut bad = b.clone();
        bad[1] |= 0b100000;
        assert_eq!(decode(&bad, &Held(&e)), None);
    }

    #[test]
    fn records_of_format_2_with_every_value_inline_are_still_read() {
        let e = with_keywords();
        let mut b = Vec::new();
        encode(&e, 0, &mut b);
        // Format 2: no "in columns" byte, the rest as now.
        let mut old = vec![FORMAT_INLINE_KEYWORDS];
        old.extend_from_slice(&b[2..]);
        assert_eq!(decode(&old, &Held(&e)), Some(e.clone()));
        assert_eq!(decode(&old, &cols(&e)), Some(e));
    }

    #[test]
    fn ids_of_other_shapes_are_kept_as_text() {
        for id in ["", "uuid-1", "0000000000000abc-00000000000A", "0000000000000abc-0000000000001"] {
            let mut e = sample();
            e.id = id.into();
            let mut b = Vec::new();
            encode(&e, 0, &mut b);
            assert_eq!(decode(&b, &cols(&e)).map(|d| d.id), Some(id.to_string()));
        }
    }

    #[test]
    fn damaged_records_decode_to_none_without_panicking() {
        let mut b = Vec::new();
        encode(&sample(), 0, &mut b);
        assert_eq!(decode(&[], &(0, 0)), None);
        assert_eq!(decode(&[9], &(0, 0)), None);
        for cut in 1..b.len() {
            // Any prefix either fails or decodes (a cut between two fields); never panics.
            let _ = decode(&b[..cut], &(0, 0));
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0xff;
            let _ = decode(&d, &(0, 0));
        }
    }
}

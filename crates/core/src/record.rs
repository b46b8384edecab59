//! What sources produce and what travels through the pipeline.
//!
//! ```text
//! source --RawBatch--> transport (channel or Kafka) --RawBatch--> parse --EventBatch--> store
//! ```
//!
//! A batch carries the source positions it advances to and, when a client waits for
//! durability (HTTP ingest), an [`Ack`] that the store fires once the batch is committed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::event::Event;
use crate::time::Timestamp;

/// How the body of a record should be parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatHint {
    /// Detect the format from the line (syslog, JSON, logfmt, access logs, Loghub headers...).
    #[default]
    Auto,
    /// A JSON object whose keys are ECS names (flat dotted or nested) or common aliases.
    Json,
    /// A syslog message (RFC 3164 or RFC 5424), as received by the syslog servers.
    Syslog,
    /// Already a serialised [`Event`] (used by internal sources such as the TCP state monitor).
    Event,
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceKind {
    File { path: String },
    Syslog { transport: String, peer: String },
    Http { endpoint: String },
    TcpStates,
    Other { name: String },
}

impl SourceKind {
    /// Short name used as `labels.source` / metrics label.
    pub fn name(&self) -> &str {
        match self {
            SourceKind::File { .. } => "file",
            SourceKind::Syslog { .. } => "syslog",
            SourceKind::Http { .. } => "http",
            SourceKind::TcpStates => "tcp_states",
            SourceKind::Other { name } => name,
        }
    }
}

/// One unparsed record (a line, a syslog frame, a JSON document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRecord {
    /// The bytes as received, without the line terminator. May be invalid UTF-8.
    #[serde(with = "bytes_as_string")]
    pub body: Vec<u8>,
    /// The source cut the body at the configured maximum line length.
    #[serde(default)]
    pub truncated: bool,
    pub hint: FormatHint,
    /// Shared by all records of a batch from the same source.
    pub source: Arc<SourceKind>,
    /// The receiving host (this machine's name for file and HTTP sources).
    pub host: Option<String>,
    pub received: Timestamp,
    /// The event id to give the parsed event: stable for positioned sources (file key + offset),
    /// so replays yield the same id.
    pub id: String,
}

mod bytes_as_string {
    //! Bodies are usually text; keep them readable in JSON, lossless for bytes via an array
    //! fallback.
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(b) {
            Ok(t) => s.serialize_str(t),
            Err(_) => s.collect_seq(b.iter()),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Bytes(Vec<u8>),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Text(t) => t.into_bytes(),
            Repr::Bytes(b) => b,
        })
    }
}

/// Why a batch was not made durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AckError(pub String);

/// Fired by the store once the batch is committed (Ok) or failed (Err).
pub type Ack = oneshot::Sender<Result<(), AckError>>;
pub type AckReceiver = oneshot::Receiver<Result<(), AckError>>;

/// Makes an ack pair: give the sender to the batch, await the receiver.
pub fn ack_channel() -> (Ack, AckReceiver) {
    oneshot::channel()
}

/// Records from one source with the positions they advance to.
#[derive(Debug, Default)]
pub struct RawBatch {
    pub records: Vec<RawRecord>,
    /// Source key -> next position after this batch (see [`crate::Checkpoint`]).
    pub checkpoint: Vec<(String, u64)>,
    /// Fired when the batch is durable in the store.
    pub ack: Option<Ack>,
    /// Where the records were read from when a Kafka worker consumed them (their events get
    /// `kafka.partition` and `kafka.offset`); `None` for every other source.
    pub kafka: Option<KafkaOrigin>,
}

/// The Kafka partition and the offset of each record of a [`RawBatch`] (same order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaOrigin {
    pub partition: u64,
    /// One offset per record: ascending, with holes where records were skipped (sent twice).
    pub offsets: Vec<u64>,
}

impl KafkaOrigin {
    /// Sets `kafka.partition` and `kafka.offset` on the events parsed from the batch's records
    /// (the first `offsets.len()` events, one per record; events the pipeline appends after
    /// them, such as new-pattern events, come from no record and get none).
    pub fn stamp(&self, events: &mut [Event]) {
        for (e, o) in events.iter_mut().zip(&self.offsets) {
            e.kafka_partition = Some(self.partition);
            e.kafka_offset = Some(*o);
        }
    }
}

/// Parsed events with the positions they advance to.
#[derive(Debug, Default)]
pub struct EventBatch {
    pub events: Vec<Event>,
    pub checkpoint: Vec<(String, u64)>,
    pub ack: Option<Ack>,
}

/// A stable event id from a source key and a position: 16 hex digits of xxh3-64... plus the
/// position, so ids from one source sort by position.
pub fn positioned_id(source_key: &str, position: u64) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(source_key.as_bytes());
    format!("{h:016x}-{position:012x}")
}

/// What a [`positioned_id`] was made from: the xxh3-64 hash of the source key and the position.
/// `None` for ids of other shapes (uuids of syslog and HTTP records...).
pub fn parse_positioned_id(id: &str) -> Option<(u64, u64)> {
    let (hash, position) = id.split_once('-')?;
    if hash.len() != 16 || position.len() < 12 {
        return None;
    }
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(hash) || !hex(position) {
        return None;
    }
    Some((
        u64::from_str_radix(hash, 16).ok()?,
        u64::from_str_radix(position, 16).ok()?,
    ))
}

impl RawRecord {
    /// For a record of a positioned source (file tail): its stream (a hash of the host and of
    /// the source key, which changes with the file and its generation) and the position it
    /// starts at, read from its id. Records of one stream are produced in position order; one
    /// seen again is a re-sent copy (the Kafka worker skips those, see loglynx_bus). The host
    /// is part of the stream: two machines can hold files with the same device, inode and
    /// first line (cloned images).
    pub fn stream_position(&self) -> Option<(u64, u64)> {
        match self.source.as_ref() {
            SourceKind::File { .. } => {
                let (key_hash, position) = parse_positioned_id(&self.id)?;
                let host = self.host.as_deref().unwrap_or_default();
                let stream = xxhash_rust::xxh3::xxh3_64_with_seed(host.as_bytes(), key_hash);
                Some((stream, position))
            }
            _ => None,
        }
    }

    /// The span a re-sent copy of this record is recognised by: its stream, start and end
    /// (exclusive) in the stream's position space, for the sources whose records carry a
    /// position in their id. A file line spans its bytes (start + body length). A journal entry
    /// (source [`JOURNALD_SOURCE`], id = journal key + sequence number, see loglynx_collect)
    /// spans `[2 * seqnum, 2 * seqnum + 1)`: one unit, with one unit of room after it as a
    /// line has its newline, so one skipped entry leaves a gap the replay detection
    /// remembers as a hole (a late first copy of it is then taken, not dropped).
    pub fn stream_span(&self) -> Option<(u64, u64, u64)> {
        match self.source.as_ref() {
            SourceKind::File { .. } => {
                let (stream, start) = self.stream_position()?;
                Some((stream, start, start.saturating_add(self.body.len() as u64)))
            }
            SourceKind::Other { name } if name == JOURNALD_SOURCE => {
                let (key_hash, seqnum) = parse_positioned_id(&self.id)?;
                let host = self.host.as_deref().unwrap_or_default();
                let stream = xxhash_rust::xxh3::xxh3_64_with_seed(host.as_bytes(), key_hash);
                let start = seqnum.checked_mul(2)?;
                Some((stream, start, start + 1))
            }
            _ => None,
        }
    }
}

/// `SourceKind::Other` name of the systemd journal source; its record ids are positioned
/// (journal key + sequence number), see [`RawRecord::stream_span`].
pub const JOURNALD_SOURCE: &str = "journald";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positioned_ids_parse_back() {
        let h = xxhash_rust::xxh3::xxh3_64(b"file:1:2:ab");
        assert_eq!(parse_positioned_id(&positioned_id("file:1:2:ab", 0)), Some((h, 0)));
        let big = 1u64 << 50;
        assert_eq!(parse_positioned_id(&positioned_id("file:1:2:ab", big)), Some((h, big)));
        for other in ["", "x", "0190c1a2-7b3e-7c4d-9e8f-0a1b2c3d4e5f", "zzzzzzzzzzzzzzzz-000000000001"] {
            assert_eq!(parse_positioned_id(other), None, "{other}");
        }
    }

    #[test]
    fn only_file_records_have_a_stream_position() {
        let mut r = RawRecord {
            body: b"x".to_vec(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::File { path: "/a.log".into() }),
            host: None,
            received: Timestamp(5),
            id: positioned_id("file:1:2:ab", 7),
        };
        assert_eq!(r.stream_position().map(|p| p.1), Some(7));
        // Same file key on another host: another stream.
        let mut other = r.clone();
        other.host = Some("web2".into());
        assert_ne!(r.stream_position(), other.stream_position());
        r.source = Arc::new(SourceKind::Http { endpoint: "ingest".into() });
        assert_eq!(r.stream_position(), None);
    }

    #[test]
    fn positioned_ids_are_stable_and_distinct() {
        assert_eq!(positioned_id("file:1:2:ab", 10), positioned_id("file:1:2:ab", 10));
        assert_ne!(positioned_id("file:1:2:ab", 10), positioned_id("file:1:2:ab", 11));
        assert_ne!(positioned_id("file:1:2:ab", 10), positioned_id("file:1:3:ab", 10));
    }

    #[test]
    fn raw_record_json_keeps_invalid_utf8() {
        let r = RawRecord {
            body: vec![0x66, 0xff, 0x00],
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::Http { endpoint: "ingest".into() }),
            host: None,
            received: Timestamp(5),
            id: "x".into(),
        };
        let j = serde_json::to_string(&r).unwrap();
        let back: RawRecord = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
    }
}

//! Records on the wire: the message value is the [`RawRecord`] as JSON (readable with any
//! Kafka tool; lz4/zstd compression on the batch removes most of the size overhead), the key is
//! host + stream so every stream stays in order on one partition.

use std::sync::Arc;

use loglynx_core::{positioned_id, FormatHint, RawRecord, SourceKind, Timestamp};

/// The message value of a record.
pub fn encode_record(r: &RawRecord) -> Vec<u8> {
    serde_json::to_vec(r).unwrap_or_else(|_| r.body.clone())
}

/// The message key: `<host>|<stream>`. For a file the stream is the file itself (device,
/// inode, first line and generation, hashed: [`RawRecord::stream_position`]), not its path,
/// so a file renamed by rotation keeps its partition and its lines stay in order (the workers'
/// replay detection relies on that); otherwise `syslog`, `http`, ...
pub fn record_key(r: &RawRecord) -> String {
    let host = r.host.as_deref().unwrap_or("-");
    match (r.source.as_ref(), r.stream_position()) {
        (SourceKind::File { .. }, Some((stream, _))) => format!("{host}|file:{stream:016x}"),
        (SourceKind::File { path }, None) => format!("{host}|file:{path}"),
        (other, _) => format!("{host}|{}", other.name()),
    }
}

/// The checkpoint key of a partition in a shard store: `kafka:<topic>:<partition>`.
pub fn source_key(topic: &str, partition: i32) -> String {
    format!("kafka:{topic}:{partition}")
}

/// A consumed message back into a record. A value that is not a record (garbage, another
/// producer) is kept whole as the body of a record from source `kafka-undecodable`, which the
/// parser stores raw and flagged; its id is derived from the partition and offset, so a
/// replay gives the same id. Never fails.
pub fn decode_record(value: Option<&[u8]>, topic: &str, partition: i32, offset: i64) -> RawRecord {
    let bytes = value.unwrap_or_default();
    match serde_json::from_slice::<RawRecord>(bytes) {
        Ok(r) => r,
        Err(_) => RawRecord {
            body: bytes.to_vec(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::Other {
                name: "kafka-undecodable".into(),
            }),
            host: None,
            received: Timestamp::now(),
            id: positioned_id(&source_key(topic, partition), offset.max(0) as u64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(body: &[u8]) -> RawRecord {
        RawRecord {
            body: body.to_vec(),
            truncated: true,
            hint: FormatHint::Syslog,
            source: Arc::new(SourceKind::File {
                path: "/var/log/a.log".into(),
            }),
            host: Some("web1".into()),
            received: Timestamp(42),
            id: "abc".into(),
        }
    }

    #[test]
    fn records_round_trip_including_invalid_utf8() {
        for body in [&b"hello world"[..], &[0x66, 0xff, 0x00][..]] {
            let r = rec(body);
            assert_eq!(decode_record(Some(&encode_record(&r)), "t", 0, 5), r);
        }
    }

    #[test]
    fn keys_are_host_and_stream() {
        assert_eq!(record_key(&rec(b"x")), "web1|file:/var/log/a.log");
        // A file record with its position: keyed by the file, not the path, so a rename by
        // rotation keeps the partition.
        let mut a = rec(b"x");
        a.id = loglynx_core::positioned_id("file:1:2:ab", 10);
        let mut renamed = a.clone();
        renamed.source = Arc::new(SourceKind::File {
            path: "/var/log/a.log.1".into(),
        });
        renamed.id = loglynx_core::positioned_id("file:1:2:ab", 99);
        assert_eq!(record_key(&a), record_key(&renamed));
        assert!(record_key(&a).starts_with("web1|file:"));
        let mut other_file = a.clone();
        other_file.id = loglynx_core::positioned_id("file:1:3:ab", 10);
        assert_ne!(record_key(&a), record_key(&other_file));
        let mut r = rec(b"x");
        r.source = Arc::new(SourceKind::Http {
            endpoint: "ingest".into(),
        });
        r.host = None;
        assert_eq!(record_key(&r), "-|http");
        assert_eq!(source_key("logs", 3), "kafka:logs:3");
    }

    #[test]
    fn garbage_becomes_a_raw_record_with_a_stable_id() {
        let a = decode_record(Some(&[0xff, b'{', 0x00]), "t", 1, 9);
        assert_eq!(a.body, vec![0xff, b'{', 0x00]);
        assert_eq!(a.source.name(), "kafka-undecodable");
        assert_eq!(a.id, decode_record(Some(b"zz"), "t", 1, 9).id);
        assert_ne!(a.id, decode_record(Some(b"zz"), "t", 1, 10).id);
        assert!(decode_record(None, "t", 1, 11).body.is_empty());
    }
}

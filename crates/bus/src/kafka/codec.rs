//! Records on the wire: the message value is the [`RawRecord`] as JSON (readable with any
//! Kafka tool; lz4/zstd compression on the batch removes most of the size overhead), the key is
//! host + stream so every stream stays in order on one partition.

use std::sync::Arc;

use loglynx_core::record::parse_positioned_id;
use loglynx_core::{positioned_id, FormatHint, RawRecord, SourceKind, Timestamp};

/// The message value of a record.
pub fn encode_record(r: &RawRecord) -> Vec<u8> {
    let mut v = Vec::new();
    ValueEncoder::default().encode_into(r, &mut v);
    v
}

/// Encodes message values ([`encode_record`]) into a caller's buffer, writing the JSON of the
/// source and host once for consecutive records that share them (a batch's records do) and
/// copying strings that need no escaping as they are. The bytes are those of `serde_json`.
#[derive(Debug, Default)]
pub struct ValueEncoder {
    last: Option<(Arc<SourceKind>, Option<String>)>,
    /// `,"source":..,"host":..` of `last`.
    shared: Vec<u8>,
}

impl ValueEncoder {
    /// Appends the message value of `r` to `out`.
    pub fn encode_into(&mut self, r: &RawRecord, out: &mut Vec<u8>) {
        let start = out.len();
        if self.write(r, out).is_err() {
            self.last = None;
            out.truncate(start);
            if serde_json::to_writer(&mut *out, r).is_err() {
                out.truncate(start);
                out.extend_from_slice(&r.body);
            }
        }
    }

    fn write(&mut self, r: &RawRecord, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"body\":");
        match std::str::from_utf8(&r.body) {
            Ok(t) => write_str(out, t)?,
            // As `RawRecord`'s serializer does: an array of the bytes.
            Err(_) => serde_json::to_writer(&mut *out, &r.body)?,
        }
        out.extend_from_slice(if r.truncated {
            b",\"truncated\":true,\"hint\":"
        } else {
            b",\"truncated\":false,\"hint\":"
        });
        serde_json::to_writer(&mut *out, &r.hint)?;
        let same = self.last.as_ref().is_some_and(|(src, host)| {
            (Arc::ptr_eq(src, &r.source) || **src == *r.source) && *host == r.host
        });
        if !same {
            self.last = None;
            self.shared.clear();
            self.shared.extend_from_slice(b",\"source\":");
            serde_json::to_writer(&mut self.shared, r.source.as_ref())?;
            self.shared.extend_from_slice(b",\"host\":");
            serde_json::to_writer(&mut self.shared, &r.host)?;
            self.last = Some((r.source.clone(), r.host.clone()));
        }
        out.extend_from_slice(&self.shared);
        out.extend_from_slice(b",\"received\":");
        serde_json::to_writer(&mut *out, &r.received)?;
        out.extend_from_slice(b",\"id\":");
        write_str(out, &r.id)?;
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string: copied when nothing in it needs escaping, else through `serde_json`.
fn write_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    // Branch-free per chunk, so the check vectorises.
    let plain = s.as_bytes().chunks(32).all(|c| {
        c.iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
    });
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

/// [`record_key`] for consecutive records, built again only when the source, the host or the
/// file stream changes (the records of a batch share them).
#[derive(Debug, Default)]
pub struct KeyCache {
    last: Option<(Arc<SourceKind>, Option<String>, Option<u64>)>,
    key: String,
}

impl KeyCache {
    /// The key of `r`; true as second value when it differs from the previous record's.
    pub fn key(&mut self, r: &RawRecord) -> (&str, bool) {
        let stream = match r.source.as_ref() {
            // The stream is a hash of the host and of this (the file's key).
            SourceKind::File { .. } => parse_positioned_id(&r.id).map(|(h, _)| h),
            _ => None,
        };
        let same = self.last.as_ref().is_some_and(|(src, host, st)| {
            (Arc::ptr_eq(src, &r.source) || **src == *r.source) && *host == r.host && *st == stream
        });
        if !same {
            self.key = record_key(r);
            self.last = Some((r.source.clone(), r.host.clone(), stream));
        }
        (&self.key, !same)
    }
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
    fn the_key_cache_builds_a_key_per_stream() {
        let mut c = KeyCache::default();
        let mut a = rec(b"x");
        a.id = loglynx_core::positioned_id("file:1:2:ab", 10);
        let mut b = a.clone();
        b.id = loglynx_core::positioned_id("file:1:2:ab", 20);
        let mut other = a.clone();
        other.id = loglynx_core::positioned_id("file:1:3:ab", 30);
        let mut http = rec(b"x");
        http.source = Arc::new(SourceKind::Http {
            endpoint: "ingest".into(),
        });
        let mut got = Vec::new();
        for r in [&a, &b, &other, &other, &http, &a] {
            let (k, new) = c.key(r);
            assert_eq!(k, record_key(r));
            got.push(new);
        }
        assert_eq!(got, [true, false, true, false, true, true]);
    }

    #[test]
    fn values_are_the_bytes_of_serde_json() {
        let mut enc = ValueEncoder::default();
        let mut out = b"prefix".to_vec();
        let mut want = b"prefix".to_vec();
        let bodies: [&[u8]; 6] = [
            b"plain line",
            b"quote \" and \\ backslash",
            b"tab\there\nnewline \x01 \x7f",
            "unicode \u{e9}\u{2028} \u{1f600}".as_bytes(),
            &[0x66, 0xff, 0x00],
            b"",
        ];
        let sources = [
            Arc::new(SourceKind::File {
                path: "/var/log/\"odd\".log".into(),
            }),
            Arc::new(SourceKind::Syslog {
                transport: "udp".into(),
                peer: "10.0.0.1:514".into(),
            }),
        ];
        for (i, body) in bodies.iter().enumerate() {
            for src in &sources {
                for host in [Some("web1".to_string()), None] {
                    let mut r = rec(body);
                    r.source = src.clone();
                    r.host = host;
                    r.truncated = i % 2 == 0;
                    r.id = format!("id-{i}\t");
                    enc.encode_into(&r, &mut out);
                    want.extend_from_slice(&serde_json::to_vec(&r).unwrap());
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(&want)
                    );
                    let v = encode_record(&r);
                    assert_eq!(decode_record(Some(&v), "t", 0, 1), r);
                }
            }
        }
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

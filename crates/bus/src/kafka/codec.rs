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

/// The message value `value` (of [`encode_record`]) cut to at most `limit` bytes: the body
/// shortened (at a character boundary when it is text) and the record flagged `truncated`, so
/// it is stored, cut, in its place rather than lost. `None` when `value` is not a record or its
/// other fields alone exceed `limit`.
pub(crate) fn shrink_value(value: &[u8], limit: usize) -> Option<Vec<u8>> {
    let mut r: RawRecord = serde_json::from_slice(value).ok()?;
    r.truncated = true;
    let body = std::mem::take(&mut r.body);
    if encode_record(&r).len() > limit {
        return None;
    }
    // Escaping makes the encoded body longer than its bytes: the longest cut that fits, by
    // bisection (an encoded body is never shorter than its bytes, so at most `limit` of them).
    let text = std::str::from_utf8(&body).is_ok();
    let cut = |mut end: usize| {
        while text && end > 0 && !is_char_start(&body, end) {
            end -= 1;
        }
        end
    };
    let (mut lo, mut hi) = (0, cut(body.len().min(limit)));
    let mut best = encode_record(&r);
    while lo < hi {
        let mid = cut(lo + (hi - lo).div_ceil(2));
        if mid <= lo {
            // No character boundary between lo and hi other than lo.
            break;
        }
        r.body = body[..mid].to_vec();
        let v = encode_record(&r);
        if v.len() <= limit {
            lo = mid;
            best = v;
        } else {
            hi = mid - 1;
        }
    }
    Some(best)
}

/// True when `i` is the end of `b` or the first byte of a UTF-8 character of it.
fn is_char_start(b: &[u8], i: usize) -> bool {
    b.get(i).is_none_or(|&c| (c as i8) >= -0x40)
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
    ValueDecoder::default().decode(value, topic, partition, offset)
}

/// Decodes message values ([`decode_record`]) of consecutive messages, sharing one
/// `Arc<SourceKind>` among consecutive records of the same source (a batch's records are) and
/// borrowing the strings of the value instead of buffering them: the same records as
/// `serde_json::from_slice::<RawRecord>`, with one allocation per body, host and id.
#[derive(Debug, Default)]
pub struct ValueDecoder {
    last: Option<Arc<SourceKind>>,
}

impl ValueDecoder {
    /// The record of a message value ([`decode_record`]). Never fails.
    pub fn decode(
        &mut self,
        value: Option<&[u8]>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> RawRecord {
        let bytes = value.unwrap_or_default();
        match serde_json::from_slice::<wire::Record<'_>>(bytes) {
            Ok(w) if w.source.valid() => {
                let source = match &self.last {
                    Some(last) if w.source.is(last) => last.clone(),
                    _ => {
                        let s = Arc::new(w.source.into_kind());
                        self.last = Some(s.clone());
                        s
                    }
                };
                RawRecord {
                    body: w.body.0.into_owned(),
                    truncated: w.truncated,
                    hint: w.hint,
                    source,
                    host: w.host.map(|h| h.0.into_owned()),
                    received: w.received.0,
                    id: w.id.into_owned(),
                }
            }
            _ => RawRecord {
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
}

/// The JSON of a [`RawRecord`] as `serde_json` writes and reads it (the same fields, defaults
/// and accepted shapes), with borrowed strings.
mod wire {
    use std::borrow::Cow;
    use std::fmt;

    use loglynx_core::{FormatHint, SourceKind, Timestamp};
    use serde::de::{self, Deserializer, SeqAccess, Visitor};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) struct Record<'a> {
        #[serde(borrow)]
        pub body: Body<'a>,
        #[serde(default)]
        pub truncated: bool,
        pub hint: FormatHint,
        #[serde(borrow)]
        pub source: Source<'a>,
        #[serde(borrow)]
        pub host: Option<Text<'a>>,
        pub received: Received,
        #[serde(borrow)]
        pub id: Cow<'a, str>,
    }

    /// A body: a string (borrowed unless it has escapes) or an array of bytes.
    pub(super) struct Body<'a>(pub Cow<'a, [u8]>);

    impl<'de: 'a, 'a> Deserialize<'de> for Body<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Body<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string or an array of bytes")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Body(Cow::Borrowed(v.as_bytes())))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Body(Cow::Owned(v.as_bytes().to_vec())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Body(Cow::Owned(v.into_bytes())))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut b = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                    while let Some(x) = seq.next_element::<u8>()? {
                        b.push(x);
                    }
                    Ok(Body(Cow::Owned(b)))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `received`: nanoseconds or RFC 3339 text, as [`Timestamp`]'s own deserializer.
    pub(super) struct Received(pub Timestamp);

    impl<'de> Deserialize<'de> for Received {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Received;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("nanoseconds or an RFC 3339 timestamp")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(Received(Timestamp(v)))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    i64::try_from(v)
                        .map(|n| Received(Timestamp(n)))
                        .map_err(|_| E::custom("timestamp out of range"))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Timestamp::parse_rfc3339(v)
                        .map(Received)
                        .ok_or_else(|| E::custom(format!("invalid RFC 3339 timestamp: {v}")))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A string, borrowed unless it has escapes (`Option<Cow<str>>` would always copy).
    pub(super) struct Text<'a>(pub Cow<'a, str>);

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Borrowed(v)))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Text(Cow::Owned(v)))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// A [`SourceKind`] (`{"kind": "file", "path": ..}`...) with borrowed strings.
    #[derive(Deserialize)]
    pub(super) struct Source<'a> {
        #[serde(borrow)]
        kind: Cow<'a, str>,
        #[serde(borrow, default)]
        path: Option<Text<'a>>,
        #[serde(borrow, default)]
        transport: Option<Text<'a>>,
        #[serde(borrow, default)]
        peer: Option<Text<'a>>,
        #[serde(borrow, default)]
        endpoint: Option<Text<'a>>,
        #[serde(borrow, default)]
        name: Option<Text<'a>>,
    }

    impl Source<'_> {
        /// Whether this is `k` (then no new `SourceKind` is needed).
        pub(super) fn is(&self, k: &SourceKind) -> bool {
            let eq = |a: &Option<Text<'_>>, b: &str| a.as_ref().is_some_and(|a| a.0 == b);
            match k {
                SourceKind::File { path } => self.kind == "file" && eq(&self.path, path),
                SourceKind::Syslog { transport, peer } => {
                    self.kind == "syslog" && eq(&self.transport, transport) && eq(&self.peer, peer)
                }
                SourceKind::Http { endpoint } => {
                    self.kind == "http" && eq(&self.endpoint, endpoint)
                }
                SourceKind::TcpStates => self.kind == "tcp_states",
                SourceKind::Other { name } => self.kind == "other" && eq(&self.name, name),
            }
        }

        /// Whether it has its variant's fields (else `serde_json` would not read it as a
        /// [`SourceKind`]).
        pub(super) fn valid(&self) -> bool {
            match &*self.kind {
                "file" => self.path.is_some(),
                "syslog" => self.transport.is_some() && self.peer.is_some(),
                "http" => self.endpoint.is_some(),
                "tcp_states" => true,
                "other" => self.name.is_some(),
                _ => false,
            }
        }

        /// The source (a [`Source::valid`] one).
        pub(super) fn into_kind(self) -> SourceKind {
            let s = |v: Option<Text<'_>>| v.map(|t| t.0.into_owned()).unwrap_or_default();
            match &*self.kind {
                "file" => SourceKind::File { path: s(self.path) },
                "syslog" => SourceKind::Syslog {
                    transport: s(self.transport),
                    peer: s(self.peer),
                },
                "http" => SourceKind::Http {
                    endpoint: s(self.endpoint),
                },
                "tcp_states" => SourceKind::TcpStates,
                _ => SourceKind::Other { name: s(self.name) },
            }
        }
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
    fn the_decoder_reads_what_serde_json_reads_and_shares_sources() {
        let mut dec = ValueDecoder::default();
        let a = rec(b"first \"quoted\" line");
        let mut b = rec(&[0x66, 0xff, 0x00]);
        b.id = "esc\\aped\u{e9}".into();
        b.host = None;
        let (va, vb) = (encode_record(&a), encode_record(&b));
        let (da, db) = (
            dec.decode(Some(&va), "t", 0, 1),
            dec.decode(Some(&vb), "t", 0, 2),
        );
        assert_eq!((&da, &db), (&a, &b));
        assert!(
            Arc::ptr_eq(&da.source, &db.source),
            "one source for a run of records"
        );
        let mut c = rec(b"x");
        c.source = Arc::new(SourceKind::Syslog {
            transport: "udp".into(),
            peer: "10.0.0.1:514".into(),
        });
        let dc = dec.decode(Some(&encode_record(&c)), "t", 0, 3);
        assert_eq!(dc, c);
        assert!(!Arc::ptr_eq(&da.source, &dc.source));

        // Other shapes: each decodes as serde_json decodes it, or is undecodable when it fails.
        let values: [&str; 10] = [
            r#"{"id":"i","received":5,"host":"h","source":{"path":"/p","kind":"file"},"hint":"json","body":[104,105]}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"tcp_states"},"host":null,"received":"2024-05-01T12:00:00+02:00","id":"i","extra":[1,{"x":2}]}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"other","name":"n"},"host":"h","received":"2024-05-01T10:00:00.5Z","id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"http","endpoint":"e"},"host":"h","received":1,"id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"file"},"host":"h","received":1,"id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"syslog","peer":"p"},"host":"h","received":1,"id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"nope"},"host":"h","received":1,"id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"file","path":"/p"},"host":"h","received":"yesterday","id":"i"}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"file","path":"/p"},"host":"h","received":1}"#,
            r#"{"body":"b","hint":"auto","source":{"kind":"file","path":"/p"},"host":"h","received":1,"id":"i"} x"#,
        ];
        for v in values {
            let got = dec.decode(Some(v.as_bytes()), "t", 1, 9);
            match serde_json::from_str::<RawRecord>(v) {
                Ok(want) => assert_eq!(got, want, "{v}"),
                Err(_) => {
                    assert_eq!(got.source.name(), "kafka-undecodable", "{v}");
                    assert_eq!(got.body, v.as_bytes());
                }
            }
        }
        assert_eq!(
            dec.decode(Some(values[0].as_bytes()), "t", 1, 9).body,
            b"hi"
        );
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

    #[test]
    fn a_value_is_shrunk_to_the_limit_with_its_body_cut_and_flagged() {
        let mut r = rec("é\"x".repeat(2000).as_bytes());
        r.truncated = false;
        let v = encode_record(&r);
        for limit in [v.len() - 1, 3000, 1000, 400] {
            let s = shrink_value(&v, limit).unwrap();
            assert!(s.len() <= limit, "{} > {limit}", s.len());
            assert!(s.len() + 8 > limit, "cut no more than needed: {} for {limit}", s.len());
            let back = decode_record(Some(&s), "t", 0, 0);
            assert!(back.truncated);
            assert!(r.body.starts_with(&back.body) && !back.body.is_empty());
            assert!(std::str::from_utf8(&back.body).is_ok(), "cut at a character boundary");
            assert_eq!((back.id, back.host, back.source), (r.id.clone(), r.host.clone(), r.source.clone()));
        }
        // Bytes that are not text are cut anywhere.
        r.body = vec![0xff; 3000];
        let s = shrink_value(&encode_record(&r), 2000).unwrap();
        assert!(s.len() <= 2000);
        assert!(decode_record(Some(&s), "t", 0, 0).truncated);
        // Not a record, or no room for its fields.
        assert_eq!(shrink_value(b"garbage", 100), None);
        assert_eq!(shrink_value(&v, 20), None);
    }
}

//! Line bodies (`POST /api/v1/ingest`): NDJSON or plain log lines, one record per non-empty line.
//!
//! - [`LineFormat::Ndjson`]: every non-empty line must be a JSON object; the others are rejected
//!   by line number, the good ones kept (format hint `Json`).
//! - [`LineFormat::Text`]: every non-empty line is a raw log line, parsed later like a file line
//!   (format detection); invalid UTF-8 is kept as it is (the parser decodes it lossily and flags
//!   it); lines over `max_line` are cut and flagged `truncated`.

use std::sync::Arc;

use loglynx_core::{FormatHint, RawRecord, SourceKind, Timestamp};

use crate::error::CollectError;
use crate::http::json::{validate_json_line, JsonLineError};

/// At most this many rejected lines are listed ([`Lines::rejected_count`] has the total).
pub const MAX_REPORTED: usize = 10_000;

/// How a body's lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON object per line.
    Ndjson,
    /// Raw log lines.
    Text,
}

impl LineFormat {
    /// The format a `Content-Type` asks for (parameters such as `charset` are ignored; no
    /// content type means text).
    pub fn from_content_type(content_type: Option<&str>) -> Result<LineFormat, CollectError> {
        let Some(ct) = content_type else {
            return Ok(LineFormat::Text);
        };
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/x-ndjson"
            | "application/ndjson"
            | "application/json"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Ok(LineFormat::Ndjson),
            "text/plain" | "application/octet-stream" | "" => Ok(LineFormat::Text),
            _ => Err(CollectError::UnsupportedContentType(ct.to_string())),
        }
    }
}

/// One rejected line.
#[derive(Debug)]
pub struct RejectedLine {
    /// 1-based line number in the body.
    pub line: usize,
    /// Why it was rejected.
    pub error: JsonLineError,
}

/// What a line body became.
#[derive(Debug)]
pub struct Lines {
    /// The records to store, in body order.
    pub records: Vec<RawRecord>,
    /// Rejected lines in order, the first [`MAX_REPORTED`].
    pub rejected: Vec<RejectedLine>,
    /// How many lines were rejected in total.
    pub rejected_count: usize,
}

/// A stream name `?stream=` takes: 1 to 64 ASCII letters, digits, `.`, `_`, `-`.
pub fn valid_stream(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Frames `body` into records of source `http` endpoint `ingest` (`ingest/STREAM` for a named
/// stream), received now by `host`.
pub(crate) fn frame_lines(body: &[u8], format: LineFormat, host: &str, max_line: usize, stream: Option<&str>) -> Lines {
    let received = Timestamp::now();
    let source = Arc::new(SourceKind::Http {
        endpoint: match stream {
            Some(s) => format!("ingest/{s}"),
            None => "ingest".into(),
        },
    });
    let mut out = Lines {
        records: Vec::new(),
        rejected: Vec::new(),
        rejected_count: 0,
    };
    for (number, line) in lines(body) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (body, truncated, hint) = match format {
            LineFormat::Ndjson => match validate_json_line(line) {
                Ok(()) => (line.to_vec(), false, FormatHint::Json),
                Err(error) => {
                    out.rejected_count += 1;
                    if out.rejected.len() < MAX_REPORTED {
                        out.rejected.push(RejectedLine {
                            line: number,
                            error,
                        });
                    }
                    continue;
                }
            },
            LineFormat::Text => {
                let cut = line.len() > max_line;
                (
                    line[..line.len().min(max_line)].to_vec(),
                    cut,
                    FormatHint::Auto,
                )
            }
        };
        out.records.push(RawRecord {
            body,
            truncated,
            hint,
            source: source.clone(),
            host: Some(host.to_string()),
            received,
            id: new_event_id(),
        });
    }
    out
}

/// A new unique event id (UUID v7: time-ordered).
pub(crate) fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The lines of a body with their 1-based numbers, without `\n` / `\r\n` terminators.
pub(crate) fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body_without_last_newline = body.strip_suffix(b"\n").unwrap_or(body);
    let n = if body.is_empty() { 0 } else { usize::MAX };
    body_without_last_newline
        .split(|&b| b == b'\n')
        .take(n)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_from_one_without_terminators() {
        let v: Vec<_> = lines(b"a\r\n\nb\nc").collect();
        assert_eq!(
            v,
            vec![
                (1, &b"a"[..]),
                (2, &b""[..]),
                (3, &b"b"[..]),
                (4, &b"c"[..])
            ]
        );
        let v: Vec<_> = lines(b"a\n").collect();
        assert_eq!(v, vec![(1, &b"a"[..])]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n\n").count(), 2);
    }

    #[test]
    fn content_type_selects_the_format() {
        let f = LineFormat::from_content_type;
        assert_eq!(f(None).unwrap(), LineFormat::Text);
        assert_eq!(
            f(Some("application/x-ndjson; charset=utf-8")).unwrap(),
            LineFormat::Ndjson
        );
        assert_eq!(f(Some("Text/Plain")).unwrap(), LineFormat::Text);
        assert_eq!(f(Some("")).unwrap(), LineFormat::Text);
        let e = f(Some("application/x-www-form-urlencoded")).unwrap_err();
        assert!(matches!(e, CollectError::UnsupportedContentType(_)));
        assert!(e.to_string().starts_with(
            "unsupported Content-Type \"application/x-www-form-urlencoded\": send application/x-ndjson"
        ));
    }

    #[test]
    fn ndjson_keeps_objects_and_numbers_the_rejected() {
        let body = b"{\"a\":1}\n\n  \n[1]\r\n{bad\n{\"b\":2}\r\n";
        let l = frame_lines(body, LineFormat::Ndjson, "h", 100, None);
        assert_eq!(l.records.len(), 2);
        assert_eq!(l.records[1].body, b"{\"b\":2}".to_vec());
        assert!(l.records.iter().all(|r| r.hint == FormatHint::Json));
        assert_eq!(l.records[0].host.as_deref(), Some("h"));
        assert_eq!(l.rejected_count, 2);
        let numbers: Vec<usize> = l.rejected.iter().map(|r| r.line).collect();
        assert_eq!(numbers, vec![4, 5]);
        assert!(matches!(l.rejected[0].error, JsonLineError::NotAnObject(_)));
    }

    #[test]
    fn text_lines_over_the_limit_are_cut_and_flagged() {
        let l = frame_lines(b"abcdef\nabc\n\xff\xfe", LineFormat::Text, "h", 3, None);
        let bodies: Vec<&[u8]> = l.records.iter().map(|r| &r.body[..]).collect();
        assert_eq!(bodies, vec![&b"abc"[..], b"abc", b"\xff\xfe"]);
        let cut: Vec<bool> = l.records.iter().map(|r| r.truncated).collect();
        assert_eq!(cut, vec![true, false, false]);
        assert!(l.records.iter().all(|r| r.hint == FormatHint::Auto));
        assert_eq!(l.rejected_count, 0);
    }

    #[test]
    fn only_the_first_rejections_are_listed() {
        let body = "x\n".repeat(MAX_REPORTED + 5);
        let l = frame_lines(body.as_bytes(), LineFormat::Ndjson, "h", 100, None);
        assert_eq!(l.rejected.len(), MAX_REPORTED);
        assert_eq!(l.rejected_count, MAX_REPORTED + 5);
    }

    #[test]
    fn event_ids_are_unique() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_event_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}

//! `POST /api/v1/ingest`: NDJSON or plain log lines, answered once durable.
//!
//! - `application/x-ndjson` (also `application/json`, `application/jsonl`): every non-empty
//!   line must be a JSON object; others are rejected by line number, the good ones stored.
//! - `text/plain` (also `application/octet-stream` or no Content-Type): every non-empty line is
//!   a raw log line, parsed like a file line (format detection); invalid UTF-8 is stored lossily
//!   and flagged by the parser; lines over `max_line` are cut and flagged `truncated`.
//!
//! The accepted records go to the ingest queue in a few batches, each carrying an ack; the reply
//! waits for every ack (the store's commit under `run`, the Kafka delivery or the agent's disk
//! buffer under `agent`). If an ack fails or does not come within `ack_timeout` the answer is
//! 503 ("retry"): batches acknowledged before the failure are stored, so a retry may store them
//! again (at-least-once for HTTP).
//!
//! A full queue is answered quickly: the request waits at most `queue_wait` (5 s) for room for
//! all of its batches at once, then gets 503 with `Retry-After` and error type `queue_full`.
//! Room is taken for the whole request before any batch is sent, so a 503 `queue_full` means
//! nothing of the request was accepted: resend it whole.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_core::{ack_channel, FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use loglynx_pipeline::parse::validate_json_line;
use loglynx_telemetry::internal_events::{
    IngestEndpoint, IngestEventsAccepted, IngestLinesRejected, IngestQueueFull,
    IngestRequestReceived,
};
use loglynx_telemetry::InternalEvent;
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::read_body;
use crate::state::IngestState;

/// Records per batch sent into the pipeline.
pub(crate) const BATCH_RECORDS: usize = 16_384;
/// At most this many rejected lines are listed in a reply (`rejected_count` has the total).
pub(crate) const MAX_REPORTED: usize = 10_000;

/// How the body's lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Ndjson,
    Text,
}

/// One rejected line.
#[derive(Debug, Serialize)]
struct RejectedLine {
    /// 1-based line number in the request body.
    line: usize,
    error: String,
}

/// The reply of `POST /api/v1/ingest`.
#[derive(Debug, Serialize)]
struct IngestReply {
    /// Events stored (durable).
    accepted: usize,
    /// Rejected lines, in order (the first [`MAX_REPORTED`]).
    rejected: Vec<RejectedLine>,
    /// How many lines were rejected in total.
    rejected_count: usize,
}

/// Handler of `POST /api/v1/ingest`.
pub(crate) async fn ingest(
    State(st): State<IngestState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let endpoint = IngestEndpoint::Ingest;
    IngestRequestReceived { endpoint }.emit(&st.metrics);
    let format = body_format(&headers)?;
    let body = read_body(st.max_body, &headers, body)?;

    let received = Timestamp::now();
    let source = Arc::new(SourceKind::Http {
        endpoint: "ingest".into(),
    });
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    let mut rejected_count = 0usize;
    for (number, line) in lines(&body) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (body, truncated, hint) = match format {
            BodyFormat::Ndjson => match validate_json_line(line) {
                Ok(()) => (line.to_vec(), false, FormatHint::Json),
                Err(error) => {
                    rejected_count += 1;
                    if rejected.len() < MAX_REPORTED {
                        rejected.push(RejectedLine {
                            line: number,
                            error,
                        });
                    }
                    continue;
                }
            },
            BodyFormat::Text => {
                let cut = line.len() > st.max_line;
                (
                    line[..line.len().min(st.max_line)].to_vec(),
                    cut,
                    FormatHint::Auto,
                )
            }
        };
        records.push(RawRecord {
            body,
            truncated,
            hint,
            source: source.clone(),
            host: Some(st.host.clone()),
            received,
            id: new_event_id(),
        });
    }

    let accepted = records.len();
    IngestLinesRejected {
        endpoint,
        count: rejected_count as u64,
    }
    .emit(&st.metrics);
    deliver(&st, records, endpoint).await?;
    IngestEventsAccepted {
        endpoint,
        count: accepted as u64,
    }
    .emit(&st.metrics);
    let status = if accepted == 0 && rejected_count > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(IngestReply {
            accepted,
            rejected,
            rejected_count,
        }),
    )
        .into_response())
}

/// A new unique event id (UUID v7: time-ordered).
pub(crate) fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyFormat::Text);
    };
    let ct = ct.to_str().unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/json" | "application/jsonl"
        | "application/x-jsonlines" | "application/jsonlines" => Ok(BodyFormat::Ndjson),
        "text/plain" | "application/octet-stream" | "" => Ok(BodyFormat::Text),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {ct:?}: send application/x-ndjson (one JSON object per line) or text/plain (raw log lines)"
        ))),
    }
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

/// Sends records into the ingest queue and waits until they are durable (stored by `run`,
/// delivered to Kafka or buffered on disk by `agent`).
///
/// Room for every batch of the request is reserved first, waiting at most `queue_wait`: when
/// the queue stays full the answer is [`ApiError::QueueFull`] and nothing was sent.
pub(crate) async fn deliver(
    st: &IngestState,
    records: Vec<RawRecord>,
    endpoint: IngestEndpoint,
) -> Result<(), ApiError> {
    if records.is_empty() {
        return Ok(());
    }
    if let Some(reason) = st.refuse.as_ref().and_then(|f| f()) {
        IngestQueueFull { endpoint }.emit(&st.metrics);
        let retry_after = st.queue_wait.as_secs().max(1);
        return Err(ApiError::QueueFull {
            reason: format!("{reason}: nothing of this request was accepted, send it again in {retry_after}s"),
            retry_after,
        });
    }
    let batches = split(records, st.ingest.max_capacity());
    let closed = || {
        ApiError::Unavailable(
            "the ingest pipeline is closed (server shutting down): retry the request against a running server".into(),
        )
    };
    let permits = match tokio::time::timeout(st.queue_wait, st.ingest.reserve_many(batches.len()))
        .await
    {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(closed()),
        Err(_) => {
            IngestQueueFull { endpoint }.emit(&st.metrics);
            let retry_after = st.queue_wait.as_secs().max(1);
            return Err(ApiError::QueueFull {
                reason: format!(
                    "the ingest queue is full (the pipeline is behind): nothing of this request was accepted, send it again in {retry_after}s"
                ),
                retry_after,
            });
        }
    };
    let mut acks = Vec::with_capacity(batches.len());
    for (permit, chunk) in permits.zip(batches) {
        let (ack, done) = ack_channel();
        permit.send(RawBatch {
            records: chunk,
            checkpoint: Vec::new(),
            ack: Some(ack),
        });
        acks.push(done);
    }
    let wait = async {
        for done in acks {
            match done.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(ApiError::Unavailable(format!(
                        "the events could not be made durable ({e}): retry the request"
                    )))
                }
                Err(_) => {
                    return Err(ApiError::Unavailable(
                        "the pipeline dropped the batch before it was durable (shutting down?): retry the request".into(),
                    ))
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(st.ack_timeout, wait).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::Unavailable(format!(
            "the events were not confirmed durable within {}s (overloaded?): retry the request later",
            st.ack_timeout.as_secs()
        ))),
    }
}

/// Cuts records into batches of [`BATCH_RECORDS`], or bigger ones when that would make more
/// batches than the queue holds (a request must fit in the queue at once).
fn split(records: Vec<RawRecord>, queue_capacity: usize) -> Vec<Vec<RawRecord>> {
    let n = records
        .len()
        .div_ceil(BATCH_RECORDS)
        .clamp(1, queue_capacity.max(1));
    let per = records.len().div_ceil(n).max(1);
    let mut out = Vec::with_capacity(n);
    let mut iter = records.into_iter().peekable();
    while iter.peek().is_some() {
        out.push(iter.by_ref().take(per).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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
        let mut h = HeaderMap::new();
        assert_eq!(body_format(&h).unwrap(), BodyFormat::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
        );
        assert_eq!(body_format(&h).unwrap(), BodyFormat::Ndjson);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("Text/Plain"));
        assert_eq!(body_format(&h).unwrap(), BodyFormat::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(matches!(
            body_format(&h),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    fn record(i: usize) -> RawRecord {
        RawRecord {
            body: i.to_string().into_bytes(),
            truncated: false,
            hint: FormatHint::Auto,
            source: Arc::new(SourceKind::Http {
                endpoint: "ingest".into(),
            }),
            host: None,
            received: Timestamp::now(),
            id: new_event_id(),
        }
    }

    #[test]
    fn split_never_makes_more_batches_than_the_queue_holds() {
        let sizes = |n: usize, cap: usize| -> Vec<usize> {
            split((0..n).map(record).collect(), cap)
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(3, 16), vec![3]);
        // Three even batches, none over BATCH_RECORDS.
        assert_eq!(
            sizes(BATCH_RECORDS * 2 + 1, 16),
            vec![(BATCH_RECORDS * 2 + 1) / 3; 3]
        );
        assert_eq!(sizes(BATCH_RECORDS * 2 + 1, 1), vec![BATCH_RECORDS * 2 + 1]);
        assert_eq!(
            sizes(BATCH_RECORDS * 3, 2),
            vec![BATCH_RECORDS * 3 / 2, BATCH_RECORDS * 3 / 2]
        );
    }

    #[test]
    fn event_ids_are_unique() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_event_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}

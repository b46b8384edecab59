//! `POST /api/v1/ingest`: NDJSON or plain log lines, answered once durable.
//!
//! - `application/x-ndjson` (also `application/json`, `application/jsonl`): every non-empty
//!   line must be a JSON object; others are rejected by line number, the good ones stored.
//! - `text/plain` (also `application/octet-stream` or no Content-Type): every non-empty line is
//!   a raw log line, parsed like a file line (format detection); invalid UTF-8 is stored lossily
//!   and flagged by the parser; lines over `max_line` are cut and flagged `truncated`.
//!
//! The framing, batching, queue reservation and waiting for acks are the HTTP source's
//! (`loglynx_collect::http`); this module reads the request, counts, and shapes the reply.
//! The reply waits for every ack (the store's commit under `run`, the Kafka delivery or the
//! agent's disk buffer under `agent`). If an ack fails or does not come within `ack_timeout` the
//! answer is 503 ("retry"): batches acknowledged before the failure are stored, so a retry may
//! store them again (at-least-once for HTTP).
//!
//! A full queue is answered quickly: the request waits at most `queue_wait` (5 s) for room for
//! all of its batches at once, then gets 503 with `Retry-After` and error type `queue_full`.
//! Room is taken for the whole request before any batch is sent, so a 503 `queue_full` means
//! nothing of the request was accepted: resend it whole.

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_collect::http::{valid_stream, HttpSource, LineFormat, RejectedLine};
use loglynx_collect::CollectError;
use loglynx_core::RawRecord;
use loglynx_telemetry::internal_events::{
    IngestEndpoint, IngestEventsAccepted, IngestLinesRejected, IngestQueueFull,
    IngestRequestReceived,
};
use loglynx_telemetry::InternalEvent;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::{read_body, ApiQuery};
use crate::state::IngestState;

/// One rejected line, as the reply lists it.
#[derive(Debug, Serialize)]
struct RejectedReply {
    /// 1-based line number in the request body.
    line: usize,
    error: String,
}

impl From<RejectedLine> for RejectedReply {
    fn from(r: RejectedLine) -> Self {
        RejectedReply {
            line: r.line,
            error: r.error.to_string(),
        }
    }
}

/// The reply of `POST /api/v1/ingest`.
#[derive(Debug, Serialize)]
struct IngestReply {
    /// Events stored (durable).
    accepted: usize,
    /// Rejected lines, in order (the first `loglynx_collect::http::MAX_REPORTED`).
    rejected: Vec<RejectedReply>,
    /// How many lines were rejected in total.
    rejected_count: usize,
}

/// Query parameters of `POST /api/v1/ingest`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct IngestParams {
    /// The stream the lines belong to (one application's lines): learned apart from other
    /// streams, and named by `[[http.layouts]]` `streams`.
    stream: Option<String>,
}

/// Handler of `POST /api/v1/ingest`.
pub(crate) async fn ingest(
    State(st): State<IngestState>,
    who: Principal,
    ApiQuery(params): ApiQuery<IngestParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let endpoint = IngestEndpoint::Ingest;
    IngestRequestReceived { endpoint }.emit(&st.metrics);
    if let Some(s) = params.stream.as_deref().filter(|s| !valid_stream(s)) {
        return Err(ApiError::BadRequest(format!(
            "stream {:?} is not a stream name: use 1 to 64 ASCII letters, digits, '.', '_' or '-' (e.g. ?stream=billing-api)",
            s.chars().take(80).collect::<String>()
        )));
    }
    let format = body_format(&headers)?;
    let body = read_body(st.max_body, &headers, body)?;

    let source = st.source();
    let lines = source.lines(&body, format, params.stream.as_deref());
    let accepted = lines.records.len();
    let rejected_count = lines.rejected_count;
    st.ingest_limits.admit(&who, accepted + rejected_count)?;
    IngestLinesRejected { endpoint, count: rejected_count as u64 }.emit(&st.metrics);
    submit(&st, &source, lines.records, endpoint).await?;
    IngestEventsAccepted { endpoint, count: accepted as u64 }.emit(&st.metrics);
    let status = if accepted == 0 && rejected_count > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(IngestReply {
            accepted,
            rejected: lines
                .rejected
                .into_iter()
                .map(RejectedReply::from)
                .collect(),
            rejected_count,
        }),
    )
        .into_response())
}

/// The line format the request's `Content-Type` asks for (415 when it is none of them).
fn body_format(headers: &HeaderMap) -> Result<LineFormat, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""));
    Ok(LineFormat::from_content_type(ct)?)
}

/// Submits records through the HTTP source and waits until they are durable; a request turned
/// away with nothing taken (queue full, or refused by the agent) is counted as `queue_full`.
pub(crate) async fn submit(
    st: &IngestState,
    source: &HttpSource,
    records: Vec<RawRecord>,
    endpoint: IngestEndpoint,
) -> Result<(), ApiError> {
    source.submit(records).await.map_err(|e| {
        if matches!(
            e,
            CollectError::QueueFull { .. } | CollectError::Refused { .. }
        ) {
            IngestQueueFull { endpoint }.emit(&st.metrics);
        }
        ApiError::from(e)
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn content_type_selects_the_format() {
        let mut h = HeaderMap::new();
        assert_eq!(body_format(&h).unwrap(), LineFormat::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
        );
        assert_eq!(body_format(&h).unwrap(), LineFormat::Ndjson);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("Text/Plain"));
        assert_eq!(body_format(&h).unwrap(), LineFormat::Text);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(matches!(
            body_format(&h),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}

//! `POST /v1/logs`: OpenTelemetry logs over OTLP/HTTP, so OpenTelemetry SDKs and the
//! OpenTelemetry Collector export here without a collector in between.
//!
//! The body is an `ExportLogsServiceRequest` in protobuf (`application/x-protobuf`) or JSON
//! (`application/json`), optionally gzip-compressed (`Content-Encoding: gzip`); the reply is an
//! `ExportLogsServiceResponse` in the same encoding, sent once every accepted record is durable
//! (like `/api/v1/ingest`). Records the mapping rejects (bad trace or span id) and what it
//! changed (unknown severities, attributes over the limit) are reported as a partial success.
//! A body that does not decode is 400 naming the decoder's complaint, another content type 415,
//! a full queue 503 with `Retry-After` (the exporters retry 503 and 429).
//!
//! The mapping to ECS names is `loglynx_collect::otlp` (`map.rs`).

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use loglynx_collect::otlp::{
    decode_request, encode_response, map_request, response, OtlpEncoding, HTTP_ENDPOINT,
};
use loglynx_telemetry::internal_events::{
    IngestEndpoint, IngestEventsAccepted, IngestLinesRejected, IngestRequestReceived,
};
use loglynx_telemetry::InternalEvent;

use crate::error::ApiError;
use crate::routes::ingest::submit;
use crate::routes::read_body;
use crate::auth::Principal;
use crate::state::IngestState;

/// Handler of `POST /v1/logs`.
pub(crate) async fn logs(
    State(st): State<IngestState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let endpoint = IngestEndpoint::Otlp;
    IngestRequestReceived { endpoint }.emit(&st.metrics);
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""));
    let encoding = OtlpEncoding::from_content_type(ct)?;
    let body = read_body(st.max_body, &headers, body)?;

    let source = st.source();
    let (host, limits) = (source.host().to_string(), st.otlp);
    // Decoding and mapping a large export is CPU work: off the async threads.
    let mapped = tokio::task::spawn_blocking(move || {
        decode_request(&body, encoding).map(|req| map_request(req, &host, &limits, HTTP_ENDPOINT))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("otlp decoding task failed: {e}")))??;

    let accepted = mapped.records.len();
    st.ingest_limits.admit(&who, accepted + mapped.rejected as usize)?;
    IngestLinesRejected { endpoint, count: mapped.rejected }.emit(&st.metrics);
    submit(&st, &source, mapped.records, endpoint).await?;
    IngestEventsAccepted { endpoint, count: accepted as u64 }.emit(&st.metrics);
    let reply = encode_response(&response(mapped.rejected, mapped.message), encoding);
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()))],
        reply,
    )
        .into_response())
}

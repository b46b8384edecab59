//! `POST /_bulk` and `POST /{index}/_bulk`: the Elasticsearch bulk API, so Filebeat, Vector,
//! Fluent Bit, Logstash and `curl` scripts written for Elasticsearch can ship logs here.
//!
//! What is taken and what each item's outcome is (index/create stored, delete/update refused,
//! resynchronisation after a malformed action line) is the HTTP source's
//! (`loglynx_collect::http`, `bulk.rs`); this module reads the request, counts, and shapes the
//! reply like Elasticsearch's (`took`, `errors`, `items` in request order, status 201 per
//! created document, 400 with the item's error type and reason otherwise).
//!
//! The reply is sent once every accepted document is durable. A full ingest queue gets 503
//! `queue_full` with `Retry-After` and nothing of the request is taken (see `ingest.rs`);
//! Elasticsearch clients retry a 503 whole.

use std::time::Instant;

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_telemetry::internal_events::{
    IngestEndpoint, IngestEventsAccepted, IngestLinesRejected, IngestRequestReceived,
};
use loglynx_telemetry::InternalEvent;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::ingest::submit;
use crate::routes::read_body;
use crate::state::IngestState;

/// Header Elasticsearch clients (7.14+) check to accept a server.
pub(crate) fn elastic_product_header() -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static("x-elastic-product"),
        HeaderValue::from_static("Elasticsearch"),
    )
}

/// Handler of `POST /_bulk`.
pub(crate) async fn bulk(
    State(st): State<IngestState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    handle(st, who, None, headers, body).await
}

/// Handler of `POST /{index}/_bulk`.
pub(crate) async fn bulk_index(
    State(st): State<IngestState>,
    who: Principal,
    index: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(index) = index
        .map_err(|e| ApiError::BadRequest(format!("invalid index in path: {}", e.body_text())))?;
    handle(st, who, Some(index), headers, body).await
}

async fn handle(
    st: IngestState,
    who: Principal,
    path_index: Option<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let began = Instant::now();
    let endpoint = IngestEndpoint::Bulk;
    IngestRequestReceived { endpoint }.emit(&st.metrics);
    let body = read_body(st.max_body, &headers, body)?;
    let source = st.source();
    let bulk = source.bulk(&body, path_index.as_deref())?;
    st.ingest_limits.admit(&who, bulk.items.len())?;
    let accepted = bulk.records.len() as u64;
    let rejected = bulk.items.len() as u64 - accepted;
    IngestLinesRejected { endpoint, count: rejected }.emit(&st.metrics);
    submit(&st, &source, bulk.records, endpoint).await?;
    IngestEventsAccepted { endpoint, count: accepted }.emit(&st.metrics);

    let mut seq = st.next_seq_nos(accepted);
    let errors = rejected > 0;
    let max_errors = st.ingest_limits.max_bulk_errors;
    let mut reported = 0usize;
    let items: Vec<Value> = bulk
        .items
        .into_iter()
        .map(|it| {
            let detail = match it.outcome {
                Ok(()) => {
                    let d = json!({
                        "_index": it.index,
                        "_id": it.id,
                        "_version": 1,
                        "result": "created",
                        "_shards": {"total": 1, "successful": 1, "failed": 0},
                        "_seq_no": seq,
                        "_primary_term": 1,
                        "status": 201,
                    });
                    seq += 1;
                    d
                }
                Err(e) => {
                    // Past http.max_bulk_errors the item keeps its place, status and type,
                    // with a short reason (the reply stays proportional to the request).
                    let reason = if reported < max_errors {
                        reported += 1;
                        e.to_string()
                    } else {
                        format!("not reported: more than http.max_bulk_errors ({max_errors}) failed items in this request; fix the first ones and resend")
                    };
                    json!({
                        "_index": it.index,
                        "_id": it.id,
                        "status": 400,
                        "error": {"type": e.kind(), "reason": reason},
                    })
                }
            };
            let mut m = Map::new();
            m.insert(it.op.name().to_string(), detail);
            Value::Object(m)
        })
        .collect();
    let took = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
    let reply = json!({"took": took, "errors": errors, "items": items});
    Ok(([elastic_product_header()], Json(reply)).into_response())
}

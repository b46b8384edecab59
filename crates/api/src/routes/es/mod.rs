//! Elasticsearch-compatible search, for the tools that speak it (Grafana's Elasticsearch data
//! source, the `elasticsearch` clients, Kibana-style scripts): `_search` and `_msearch` (any
//! index name in the path: loglynx has one), `_mapping` and `_field_caps`. `GET /` and the
//! ingest side are `compat.rs` and `bulk.rs`.
//!
//! - `dsl.rs`: the query DSL subset -> a loglynx query string;
//! - `aggs.rs`: aggregations and their sub-aggregations;
//! - `search.rs`: the rest of the body (size, from, sort, track_total_hits, pit, search_after,
//!   aggregations) and the reply;
//! - this file: the handlers and the Elasticsearch-shaped errors (a 400 naming the part that is
//!   not supported, never a silently different answer).

pub(crate) mod aggs;
mod dsl;
mod search;

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_store::FieldKind;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::pit::Pinned;
use crate::routes::bulk::elastic_product_header;
use crate::routes::read_body;
use crate::state::AppState;

/// An Elasticsearch-shaped reply (with the product header its clients check).
pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    (status, [elastic_product_header()], Json(body)).into_response()
}

/// An Elasticsearch-shaped error.
fn es_error(status: StatusCode, kind: &str, reason: &str) -> Value {
    json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status.as_u16(),
    })
}

/// An [`ApiError`] as an Elasticsearch-shaped error reply with its status (404 for an unknown
/// point in time is Elasticsearch's `search_context_missing_exception`).
pub(crate) fn api_error(e: ApiError) -> Response {
    let status = e.status();
    let kind = match &e {
        ApiError::NotFound(_) => "search_context_missing_exception",
        ApiError::BadRequest(_) | ApiError::InvalidQuery(_) => "illegal_argument_exception",
        ApiError::Throttled { .. } => "es_rejected_execution_exception",
        _ => "exception",
    };
    let mut resp = reply(status, es_error(status, kind, &e.to_string()));
    if let ApiError::Throttled { retry_after, .. } = e {
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after));
    }
    resp
}

/// The body as JSON (`null` when empty); any content type (the clients send
/// `application/vnd.elasticsearch+json`).
fn json_body(st: &AppState, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, Response> {
    let body = read_body(st.max_body, headers, body).map_err(IntoResponse::into_response)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| {
        reply(
            StatusCode::BAD_REQUEST,
            es_error(StatusCode::BAD_REQUEST, "parse_exception", &format!("the body is not JSON: {e}")),
        )
    })
}

/// One search: the reply and its status.
async fn one_search(st: &AppState, who: &Principal, body: Value) -> (StatusCode, Value) {
    let plan = match search::plan(&body) {
        Ok(p) => p,
        Err(u) => {
            return (
                StatusCode::BAD_REQUEST,
                es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", &u.0),
            )
        }
    };
    let pinned = match plan.pit() {
        None => None,
        Some((id, keep_alive)) => match crate::routes::pit::pinned(st, who, id, keep_alive) {
            Ok(p) => Some(p),
            Err(e) => {
                let status = e.status();
                let kind = if status == StatusCode::NOT_FOUND { "search_context_missing_exception" } else { "illegal_argument_exception" };
                return (status, es_error(status, kind, &e.to_string()));
            }
        },
    };
    let answer = match (st.root.clone(), pinned) {
        (Some(root), Some(Pinned::Root(pit))) => search::run_root_pit(&root, &pit, &plan).await,
        (Some(root), None) => search::run_root(&root, &plan).await,
        (None, Some(Pinned::Root(_))) | (Some(_), Some(Pinned::Local(_))) => {
            Err(ApiError::Internal("a point in time of another kind of server: open a new one".into()))
        }
        (None, pinned) => {
            let windows = pinned.and_then(|p| match p {
                Pinned::Local(w) => Some(w),
                Pinned::Root(_) => None,
            });
            crate::routes::run_query_on(st, windows, move |engine, windows| search::run(engine, windows, &plan)).await
        }
    };
    match answer {
        Ok(v) => (StatusCode::OK, v),
        Err(ApiError::InvalidQuery(reason) | ApiError::BadRequest(reason)) => (
            StatusCode::BAD_REQUEST,
            es_error(StatusCode::BAD_REQUEST, "query_shard_exception", &reason),
        ),
        Err(e) => (e.status(), es_error(e.status(), "exception", &e.to_string())),
    }
}

/// Handler of `GET|POST /_search` and `/{index}/_search`.
pub(crate) async fn search(
    State(st): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&st, &headers, body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (status, v) = one_search(&st, &who, body).await;
    reply(status, v)
}

/// Handler of `GET|POST /_msearch` and `/{index}/_msearch`: header / body line pairs; each
/// search answers on its own (an unsupported one does not fail the others).
pub(crate) async fn msearch(
    State(st): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(st.max_body, &headers, body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.len() % 2 != 0 {
        return reply(
            StatusCode::BAD_REQUEST,
            es_error(StatusCode::BAD_REQUEST, "illegal_argument_exception", "_msearch needs a header line and a body line per search"),
        );
    }
    let mut responses = Vec::new();
    for pair in lines.chunks(2) {
        let (status, mut v) = match serde_json::from_slice::<Value>(pair[1]) {
            Ok(b) => one_search(&st, &who, b).await,
            Err(e) => (
                StatusCode::BAD_REQUEST,
                es_error(StatusCode::BAD_REQUEST, "parse_exception", &format!("a search body is not JSON: {e}")),
            ),
        };
        v["status"] = json!(status.as_u16());
        responses.push(v);
    }
    reply(StatusCode::OK, json!({ "took": 0, "responses": responses }))
}

/// The Elasticsearch type of each field.
fn field_types(st: &AppState) -> Vec<(&'static str, &'static str)> {
    st.schema
        .field_names()
        .into_iter()
        .filter_map(|name| {
            let t = match st.schema.kind(name)? {
                FieldKind::Text => "text",
                FieldKind::Keyword => "keyword",
                FieldKind::Numeric => "long",
                FieldKind::Date => "date",
                FieldKind::Labels => "object",
            };
            Some((name, t))
        })
        .collect()
}

/// Handler of `GET /_mapping` and `/{index}/_mapping`: one index with every field, dotted
/// names as Elasticsearch's flat `properties` (`labels` is an object of keywords).
pub(crate) async fn mapping(State(st): State<AppState>) -> Response {
    let props: Map<String, Value> = field_types(&st)
        .into_iter()
        .map(|(n, t)| (n.to_string(), json!({ "type": t })))
        .collect();
    reply(StatusCode::OK, json!({ search::INDEX: { "mappings": { "properties": props } } }))
}

/// Handler of `GET|POST /_field_caps` and `/{index}/_field_caps`.
pub(crate) async fn field_caps(State(st): State<AppState>) -> Response {
    let fields: Map<String, Value> = field_types(&st)
        .into_iter()
        .map(|(n, t)| {
            let aggregatable = t != "text" && t != "object";
            (n.to_string(), json!({ t: {"type": t, "searchable": true, "aggregatable": aggregatable} }))
        })
        .collect();
    reply(StatusCode::OK, json!({ "indices": [search::INDEX], "fields": fields }))
}

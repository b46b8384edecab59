//! Opening and closing points in time (the table is `crate::pit`): Elasticsearch's
//! `POST /_pit?keep_alive=1m` (any index in the path) and `DELETE /_pit`, and loglynx's
//! `POST /api/v1/pit?keep_alive=1m` and `DELETE /api/v1/pit/{id}`. Searches use them through
//! `pit` in an Elasticsearch body or `pit=` on `/api/v1/search`. Through a search root (serve
//! with leaves) the root opens one on each leaf ([`loglynx_search::Root::open_pit`]) and keeps
//! them under one id.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use loglynx_store::WindowSnapshot;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::pit::Pinned;
use crate::routes::{read_body, ApiQuery};
use crate::state::AppState;

/// `keep_alive` of the open calls.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenParams {
    keep_alive: Option<String>,
}

/// Opens a point in time over a fresh store snapshot (through a root: one on each leaf) for
/// `who`'s key; its id and keep-alive.
async fn open(st: &AppState, who: &Principal, keep_alive: Option<&str>) -> Result<(String, std::time::Duration), ApiError> {
    let keep_alive = st.query_limits.pits.keep_alive(keep_alive.ok_or_else(|| {
        ApiError::BadRequest("missing parameter keep_alive: how long the point in time lives between searches, e.g. keep_alive=1m".into())
    })?)?;
    // Refused before the leaves are asked when the table is full.
    if st.query_limits.pits.len() >= st.query_limits.pits.max_open() {
        return Err(st.query_limits.pits.full());
    }
    let pinned = match &st.root {
        Some(root) => Pinned::Root(Arc::new(root.open_pit(keep_alive).await?)),
        None => {
            let store = st.store.clone();
            let windows: Vec<WindowSnapshot> = tokio::task::spawn_blocking(move || store.snapshot())
                .await
                .map_err(|e| ApiError::Internal(format!("snapshot task failed: {e}")))?;
            Pinned::local(windows)
        }
    };
    match st.query_limits.pits.open(pinned.clone(), &who.name, keep_alive) {
        Ok(id) => Ok((id, keep_alive)),
        Err(e) => {
            release(st, pinned);
            Err(e)
        }
    }
}

/// Closes the leaves' points in time of a closed root one, in the background.
fn release(st: &AppState, pinned: Pinned) {
    if let (Pinned::Root(pit), Some(root)) = (pinned, st.root.clone()) {
        tokio::spawn(async move { root.close_pit(&pit).await });
    }
}

/// What point in time `id` holds, its keep-alive renewed (`keep_alive` when given); 404 when
/// it is unknown, expired or another key's.
pub(crate) fn pinned(st: &AppState, who: &Principal, id: &str, keep_alive: Option<&str>) -> Result<Pinned, ApiError> {
    let renew = keep_alive.map(|k| st.query_limits.pits.keep_alive(k)).transpose()?;
    st.query_limits.pits.get(id, &who.name, renew)
}

/// Closes `id` (and, through a root, the leaves' points in time); whether it was open.
fn close(st: &AppState, who: &Principal, id: &str) -> bool {
    match st.query_limits.pits.close(id, &who.name) {
        Some(p) => {
            release(st, p);
            true
        }
        None => false,
    }
}

/// Handler of `POST /api/v1/pit`.
pub(crate) async fn open_native(
    State(st): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<OpenParams>,
) -> Result<Json<Value>, ApiError> {
    let (id, keep_alive) = open(&st, &who, p.keep_alive.as_deref()).await?;
    Ok(Json(json!({ "pit_id": id, "keep_alive_ms": keep_alive.as_millis() as u64 })))
}

/// Handler of `DELETE /api/v1/pit/{id}`.
pub(crate) async fn close_native(
    State(st): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if close(&st, &who, &id) {
        Ok(Json(json!({ "closed": true })))
    } else {
        Err(ApiError::NotFound(format!("no point in time {id:?}: it expired or was closed already")))
    }
}

/// Handler of `POST /_pit` and `/{index}/_pit`: Elasticsearch's reply, `{"id": ...}`.
pub(crate) async fn open_es(State(st): State<AppState>, who: Principal, ApiQuery(p): ApiQuery<OpenParams>) -> Response {
    match open(&st, &who, p.keep_alive.as_deref()).await {
        Ok((id, _)) => super::es::reply(
            StatusCode::OK,
            json!({ "id": id, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0} }),
        ),
        Err(e) => super::es::api_error(e),
    }
}

/// Handler of `DELETE /_pit` (body `{"id": ...}`): `num_freed` 1, or 404 with 0 when the id is
/// unknown or expired.
pub(crate) async fn close_es(
    State(st): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(st.max_body, &headers, body) {
        Ok(b) => b,
        Err(e) => return super::es::api_error(e),
    };
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
    let Some(id) = id else {
        return super::es::api_error(ApiError::BadRequest(
            "DELETE /_pit needs a body {\"id\": \"<the point in time's id>\"}".into(),
        ));
    };
    let freed = close(&st, &who, &id);
    let status = if freed { StatusCode::OK } else { StatusCode::NOT_FOUND };
    super::es::reply(status, json!({ "succeeded": true, "num_freed": u8::from(freed) })).into_response()
}

//! Opening and closing points in time (the table is `crate::pit`): Elasticsearch's
//! `POST /_pit?keep_alive=1m` (any index in the path) and `DELETE /_pit`, and loglynx's
//! `POST /api/v1/pit?keep_alive=1m` and `DELETE /api/v1/pit/{id}`. Searches use them through
//! `pit` in an Elasticsearch body or `pit=` on `/api/v1/search`.

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

use crate::error::ApiError;
use crate::routes::{read_body, ApiQuery};
use crate::state::AppState;

/// `keep_alive` of the open calls.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenParams {
    keep_alive: Option<String>,
}

/// Opens a point in time over a fresh store snapshot; its id and keep-alive.
async fn open(st: &AppState, keep_alive: Option<&str>) -> Result<(String, std::time::Duration), ApiError> {
    if st.root.is_some() {
        return Err(ApiError::BadRequest(
            "points in time are not available through a search root (serve with leaves) yet: page with offset, or take every match with GET /api/v1/export (it works through the root)".into(),
        ));
    }
    let keep_alive = st.query_limits.pits.keep_alive(keep_alive.ok_or_else(|| {
        ApiError::BadRequest("missing parameter keep_alive: how long the point in time lives between searches, e.g. keep_alive=1m".into())
    })?)?;
    let store = st.store.clone();
    let windows: Vec<WindowSnapshot> = tokio::task::spawn_blocking(move || store.snapshot())
        .await
        .map_err(|e| ApiError::Internal(format!("snapshot task failed: {e}")))?;
    let id = st.query_limits.pits.open(windows, keep_alive)?;
    Ok((id, keep_alive))
}

/// The snapshot of point in time `id`, its keep-alive renewed (`keep_alive` when given).
pub(crate) fn pinned(st: &AppState, id: &str, keep_alive: Option<&str>) -> Result<Arc<Vec<WindowSnapshot>>, ApiError> {
    let renew = keep_alive.map(|k| st.query_limits.pits.keep_alive(k)).transpose()?;
    st.query_limits.pits.get(id, renew)
}

/// Handler of `POST /api/v1/pit`.
pub(crate) async fn open_native(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<OpenParams>,
) -> Result<Json<Value>, ApiError> {
    let (id, keep_alive) = open(&st, p.keep_alive.as_deref()).await?;
    Ok(Json(json!({ "pit_id": id, "keep_alive_ms": keep_alive.as_millis() as u64 })))
}

/// Handler of `DELETE /api/v1/pit/{id}`.
pub(crate) async fn close_native(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    if st.query_limits.pits.close(&id) {
        Ok(Json(json!({ "closed": true })))
    } else {
        Err(ApiError::NotFound(format!("no point in time {id:?}: it expired or was closed already")))
    }
}

/// Handler of `POST /_pit` and `/{index}/_pit`: Elasticsearch's reply, `{"id": ...}`.
pub(crate) async fn open_es(State(st): State<AppState>, ApiQuery(p): ApiQuery<OpenParams>) -> Response {
    match open(&st, p.keep_alive.as_deref()).await {
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
    let freed = st.query_limits.pits.close(&id);
    let status = if freed { StatusCode::OK } else { StatusCode::NOT_FOUND };
    super::es::reply(status, json!({ "succeeded": true, "num_freed": u8::from(freed) })).into_response()
}

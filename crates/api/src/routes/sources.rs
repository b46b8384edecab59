//! `GET /api/v1/sources/learned`: the header structures the parse stage learned per source
//! (files, syslog senders' programs, HTTP streams), read from the state file it keeps
//! (`<data_dir>/parse/learned.json`, rewritten whenever what was learned changes), the most
//! recently used first.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// Handler of `GET /api/v1/sources/learned`.
pub(crate) async fn learned(State(st): State<AppState>) -> Response {
    let Some(path) = st.learned_state.clone() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": "no parse stage behind this server keeps learned structures: ask `loglynx run`, or `loglynx serve` over the workers' data directory"
            })),
        )
            .into_response();
    };
    match tokio::task::spawn_blocking(move || loglynx_pipeline::learned_sources(&path)).await {
        Ok(list) => Json(json!({ "sources": list })).into_response(),
        Err(e) => crate::ApiError::Internal(format!("reading the learned structures failed: {e}")).into_response(),
    }
}

//! `GET /api/v1/sources/learned`: the header structures the parse stage learned per source
//! (files, syslog senders' programs, HTTP streams), read from the state file it keeps
//! (`<data_dir>/parse/learned.json`, rewritten whenever what was learned changes), the most
//! recently used first, with what the configuration sets instead (`files.timezone`,
//! `[[files.zones]]`, `[[files.layouts]]`, `[[syslog.layouts]]`, `[[http.layouts]]`).

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
    let cfg = st.learned_config.clone().unwrap_or_default();
    let listed = tokio::task::spawn_blocking(move || {
        let list = loglynx_pipeline::learned_sources_with(&path, &cfg.files);
        (list, overrides(&cfg))
    });
    match listed.await {
        Ok((list, overrides)) => Json(json!({ "sources": list, "overrides": overrides })).into_response(),
        Err(e) => crate::ApiError::Internal(format!("reading the learned structures failed: {e}")).into_response(),
    }
}

/// What the configuration sets instead of inference: `files.timezone`, the `[[files.zones]]`,
/// `[[files.layouts]]`, `[[syslog.layouts]]` and `[[http.layouts]]` entries (first match wins),
/// as the config file spells them.
fn overrides(cfg: &loglynx_config::Config) -> serde_json::Value {
    let files = &cfg.files;
    json!({
        "timezone": files.timezone.name(),
        "zones": files.zones.iter().map(|z| json!({ "paths": z.paths, "timezone": z.timezone.name() })).collect::<Vec<_>>(),
        "layouts": files.layouts,
        "syslog_layouts": cfg.syslog.layouts,
        "http_layouts": cfg.http.layouts,
    })
}

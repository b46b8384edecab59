//! What the server says about itself: fields, stats, Prometheus metrics (rendered by
//! `loglynx_telemetry`), the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use loglynx_store::FieldKind;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::{AppState, IngestState, DEFAULT_MAX_STREAMS};

/// The OpenAPI 3.1 description of every endpoint (`docs/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../../../../docs/openapi.yaml");

/// One entry of `GET /api/v1/fields`.
#[derive(Debug, Serialize)]
pub(crate) struct FieldInfo {
    name: &'static str,
    /// `keyword`, `numeric`, `date` or `text`.
    kind: &'static str,
}

/// Handler of `GET /api/v1/fields`.
pub(crate) async fn fields(State(st): State<AppState>) -> Json<Vec<FieldInfo>> {
    let list = st
        .schema
        .field_names()
        .into_iter()
        .map(|name| {
            let kind = match st.schema.kind(name) {
                Some(FieldKind::Text) => "text",
                Some(FieldKind::Numeric) => "numeric",
                Some(FieldKind::Date) => "date",
                Some(FieldKind::Keyword) | Some(FieldKind::Labels) | None => "keyword",
            };
            FieldInfo { name, kind }
        })
        .collect();
    Json(list)
}

/// Handler of `GET /api/v1/stats`.
pub(crate) async fn stats(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = st.store.clone();
    let (stats, windows) = tokio::task::spawn_blocking(move || (store.stats(), store.windows()))
    .await
    .map_err(|e| ApiError::Internal(format!("stats task failed: {e}")))?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": st.started.elapsed().as_secs(),
        "checkpoint": stats.checkpoint,
        "store": stats,
        "windows": windows,
        "ingest": st.metrics.ingest_json(),
        "pipeline": {
            "batches": st.pipeline.snapshot().0,
            "events": st.pipeline.snapshot().1,
            "flagged": st.pipeline.snapshot().2,
        },
        "tail_streams": DEFAULT_MAX_STREAMS.saturating_sub(st.streams.available_permits()),
    })))
}

/// Handler of `GET /metrics`: the process's registry (request and ingest counters, store,
/// parse stage, uptime, build info and, under `loglynx serve`, the `loglynx_kafka_*` series of
/// the health reports), rendered off the async threads (the store's figures and the report
/// files are read then).
pub(crate) async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let telemetry = st.telemetry.clone();
    let out = tokio::task::spawn_blocking(move || telemetry.render())
        .await
        .map_err(|e| ApiError::Internal(format!("metrics task failed: {e}")))?;
    Ok(prometheus_text(out))
}

/// Handler of `GET /metrics` of the [`crate::ingest_router`]: the state's registry, then what
/// `extra` appends.
pub(crate) async fn ingest_metrics(
    State(st): State<IngestState>,
    extra: Option<crate::ExtraMetrics>,
) -> Result<impl IntoResponse, ApiError> {
    let telemetry = st.telemetry.clone();
    let mut out = tokio::task::spawn_blocking(move || telemetry.render())
        .await
        .map_err(|e| ApiError::Internal(format!("metrics task failed: {e}")))?;
    if let Some(f) = extra {
        f(&mut out);
    }
    Ok(prometheus_text(out))
}

fn prometheus_text(out: String) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, loglynx_telemetry::CONTENT_TYPE)],
        out,
    )
}

/// Handler of `GET /api/v1/openapi.yaml`.
pub(crate) async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI_YAML,
    )
}

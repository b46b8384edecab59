//! What the server says about itself: fields, stats, Prometheus metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use loglynx_store::FieldKind;
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::metrics::{header as metric_header, single};
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
    let (stats, windows) = tokio::task::spawn_blocking(move || {
        let windows: Vec<Value> = store
            .snapshot()
            .iter()
            .map(|w| {
                json!({
                    "id": w.id,
                    "min_timestamp": w.min_timestamp,
                    "max_timestamp": w.max_timestamp,
                    "docs": w.searcher.num_docs(),
                })
            })
            .collect();
        (store.stats(), windows)
    })
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

/// Handler of `GET /metrics` (Prometheus text format 0.0.4).
pub(crate) async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let store = st.store.clone();
    let s = tokio::task::spawn_blocking(move || store.stats())
        .await
        .map_err(|e| ApiError::Internal(format!("stats task failed: {e}")))?;
    let mut out = String::new();
    st.metrics.render(&mut out);
    let counters = [
        (
            "loglynx_store_docs_indexed_total",
            "events committed by this process",
            s.docs_indexed,
        ),
        (
            "loglynx_store_commits_total",
            "successful store commits",
            s.commits,
        ),
        (
            "loglynx_store_commit_failures_total",
            "failed store commits",
            s.commit_failures,
        ),
        (
            "loglynx_store_windows_deleted_total",
            "windows deleted by retention",
            s.windows_deleted,
        ),
    ];
    let (batches, events, flagged) = st.pipeline.snapshot();
    let counters = counters.into_iter().chain([
        ("loglynx_pipeline_batches_total", "batches parsed by the pipeline", batches),
        ("loglynx_pipeline_events_total", "events parsed by the pipeline", events),
        (
            "loglynx_pipeline_events_flagged_total",
            "parsed events with a flag (unparsed, truncated, invalid_utf8, bad_timestamp, malformed)",
            flagged,
        ),
    ]);
    for (name, help, v) in counters {
        single(&mut out, name, help, "counter", v as f64);
    }
    let gauges = [
        (
            "loglynx_store_docs",
            "events searchable now",
            s.docs_stored as f64,
        ),
        (
            "loglynx_store_docs_pending",
            "events waiting for the next commit",
            s.docs_pending as f64,
        ),
        (
            "loglynx_store_windows",
            "time windows in the store",
            s.windows as f64,
        ),
        (
            "loglynx_store_bytes",
            "bytes on disk over all windows",
            s.bytes as f64,
        ),
        (
            "loglynx_tail_streams",
            "live tail streams open",
            (DEFAULT_MAX_STREAMS.saturating_sub(st.streams.available_permits())) as f64,
        ),
        (
            "loglynx_uptime_seconds",
            "seconds since the server started",
            st.started.elapsed().as_secs_f64(),
        ),
    ];
    for (name, help, v) in gauges {
        single(&mut out, name, help, "gauge", v);
    }
    if let Some(v) = st.pipeline_view.clone() {
        let text = tokio::task::spawn_blocking(move || {
            let mut s = String::new();
            v.prometheus(&mut s);
            s
        })
        .await
        .map_err(|e| ApiError::Internal(format!("pipeline view failed: {e}")))?;
        out.push_str(&text);
    }
    build_info(&mut out);
    Ok(prometheus_text(out))
}

/// Handler of `GET /metrics` of the [`crate::ingest_router`]: request and ingest counters,
/// uptime, then the process's own series.
pub(crate) async fn ingest_metrics(
    State(st): State<IngestState>,
    extra: Option<crate::ExtraMetrics>,
) -> impl IntoResponse {
    let mut out = String::new();
    st.metrics.render(&mut out);
    single(
        &mut out,
        "loglynx_uptime_seconds",
        "seconds since the server started",
        "gauge",
        st.started.elapsed().as_secs_f64(),
    );
    if let Some(f) = extra {
        f(&mut out);
    }
    build_info(&mut out);
    prometheus_text(out)
}

fn build_info(out: &mut String) {
    metric_header(out, "loglynx_build_info", "the running version", "gauge");
    out.push_str(&format!(
        "loglynx_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    ));
}

fn prometheus_text(out: String) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
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

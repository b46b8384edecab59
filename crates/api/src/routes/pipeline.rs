//! `GET /api/v1/pipeline`: the health of the pipeline behind this server.
//!
//! For `loglynx serve` that is the Kafka pipeline (agents, workers, partitions, lag,
//! rebalances) read from the processes' health reports; the API sees it through
//! [`PipelineView`], so this crate does not depend on the Kafka client. `loglynx run` has no
//! view: the route answers 404 with `{"enabled": false}` and the embedded pipeline's counters
//! are on `/metrics` and `/api/v1/stats`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// What the scale-out pipeline shows the API (implemented by the binary).
pub trait PipelineView: Send + Sync + 'static {
    /// The pipeline's status as JSON (see `docs/openapi.yaml`, `PipelineStatus`). Its
    /// metrics are a collector the binary registers in [`AppState::telemetry`]
    /// (`loglynx_telemetry::health::ReportsCollector`).
    fn status(&self) -> Value;
}

/// Handler of `GET /api/v1/pipeline`.
pub(crate) async fn status(State(st): State<AppState>) -> Response {
    match &st.pipeline_view {
        Some(v) => {
            let v = v.clone();
            match tokio::task::spawn_blocking(move || v.status()).await {
                Ok(s) => Json(s).into_response(),
                Err(e) => crate::ApiError::Internal(format!("pipeline view failed: {e}"))
                    .into_response(),
            }
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({
                "enabled": false,
                "error": "no Kafka pipeline behind this server: `loglynx run` is all-in-one (see /metrics); start `loglynx serve` over the workers' data directory"
            })),
        )
            .into_response(),
    }
}

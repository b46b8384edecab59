//! `GET /api/v1/health`: liveness and readiness (the server only listens once the store is open).

use axum::Json;
use serde_json::{json, Value};

/// Handler of `GET /api/v1/health`.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

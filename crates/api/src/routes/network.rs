//! `GET /api/v1/network/status`, `GET /api/v1/network/sockets` and `GET /api/v1/network/perf`:
//! the TCP state monitor.
//!
//! The monitor lives in another crate; the API sees it through [`NetworkView`], so this crate
//! does not depend on the eBPF loader. When the monitor is off both routes answer 404 with
//! `{"enabled": false, ...}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// What the TCP state monitor shows the API (implemented by the binary over netmon's state).
pub trait NetworkView: Send + Sync + 'static {
    /// The monitor's status: `mode` (`bpf` or `sock_diag`), `reason`, drops, last snapshot.
    fn status(&self) -> Value;
    /// Sockets now: per state, per process, CLOSE_WAIT leaders, TIME_WAIT per endpoint.
    fn sockets(&self) -> Value;
    /// Performance counters: per process bytes, retransmits, resets; RTT histograms per
    /// process and peer; drops and resets by reason (`{}` when the monitor keeps none).
    fn perf(&self) -> Value {
        json!({})
    }
}

fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "enabled": false,
            "error": "the TCP state monitor is off: start loglynx run with --tcp-states or set [tcp_states] enabled = true"
        })),
    )
        .into_response()
}

/// Handler of `GET /api/v1/network/status`.
pub(crate) async fn status(State(st): State<AppState>) -> Response {
    match &st.network {
        Some(n) => Json(n.status()).into_response(),
        None => off(),
    }
}

/// Handler of `GET /api/v1/network/perf`.
pub(crate) async fn perf(State(st): State<AppState>) -> Response {
    match &st.network {
        Some(n) => Json(n.perf()).into_response(),
        None => off(),
    }
}

/// Handler of `GET /api/v1/network/sockets`.
pub(crate) async fn sockets(State(st): State<AppState>) -> Response {
    match &st.network {
        Some(n) => {
            let n = n.clone();
            match tokio::task::spawn_blocking(move || n.sockets()).await {
                Ok(v) => Json(v).into_response(),
                Err(e) => {
                    crate::ApiError::Internal(format!("network view failed: {e}")).into_response()
                }
            }
        }
        None => off(),
    }
}

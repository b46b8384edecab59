//! `GET /api/v1/network/status`, `GET /api/v1/network/sockets`, `GET /api/v1/network/netstat`
//! and `GET /api/v1/network/perf`: the TCP state monitor.
//!
//! The monitor lives in another crate; the API sees it through [`NetworkView`], so this crate
//! does not depend on the eBPF loader. When the monitor is off every route answers 404 with
//! `{"enabled": false, ...}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::routes::{bounded, ApiQuery};
use crate::state::AppState;

/// TCP state names `GET /api/v1/network/netstat?state=` takes (the kernel's, as `ss` and
/// tcpstates print them).
pub const TCP_STATE_NAMES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];
const NETSTAT_DEFAULT: usize = 50;
const NETSTAT_MAX: usize = 1_000;

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
    /// A sock_diag snapshot taken now, like `loglynx netstat --json`: `{"as_of", "total",
    /// "sockets"}`, `total` the sockets in `state` (one of [`TCP_STATE_NAMES`]; all when
    /// `None`), `sockets` at most `size` of them with their queues, `tcp_info` (RTT,
    /// retransmits, bytes), owner and service, the most bytes (sent + received) first.
    /// `Err` when the sockets cannot be listed.
    fn netstat(&self, state: Option<&str>, size: usize) -> Result<Value, String> {
        let _ = (state, size);
        Ok(json!({"total": 0, "sockets": []}))
    }
}

/// Parameters of `GET /api/v1/network/netstat`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetstatParams {
    state: Option<String>,
    size: Option<usize>,
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

/// Handler of `GET /api/v1/network/netstat`.
pub(crate) async fn netstat(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<NetstatParams>,
) -> Response {
    let Some(n) = st.network.clone() else {
        return off();
    };
    let size = match bounded("size", p.size, NETSTAT_DEFAULT, NETSTAT_MAX) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let state = match p.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let want = s.to_ascii_uppercase().replace('-', "_");
            match TCP_STATE_NAMES.iter().find(|n| **n == want) {
                Some(n) => Some(*n),
                None => {
                    return ApiError::BadRequest(format!(
                        "unknown TCP state {s:?}: use one of {}",
                        TCP_STATE_NAMES.join(", ")
                    ))
                    .into_response()
                }
            }
        }
    };
    match tokio::task::spawn_blocking(move || n.netstat(state, size)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => ApiError::Internal(format!("listing sockets: {e}")).into_response(),
        Err(e) => ApiError::Internal(format!("network view failed: {e}")).into_response(),
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

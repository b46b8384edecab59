//! loglynx HTTP API: ingest (NDJSON, plain lines, Elasticsearch `_bulk`), search,
//! aggregations, live tail, stats and metrics, and the embedded dashboard.
//!
//! - [`router`] builds the axum [`Router`] over an [`AppState`]; [`serve`] runs it until a
//!   shutdown signal.
//! - [`ingest_router`] builds the ingest endpoints alone over an [`IngestState`] (no store:
//!   `loglynx agent` in front of its Kafka producer); [`serve_router`] runs any router.
//! - serve.rs: the accept loop (plain or TLS) within [`ServeLimits`]: header-read and request
//!   timeouts, caps on connections and on requests in progress.
//! - `routes/`: one module per concern (`ingest`, `bulk`, `search`, `tail`, `meta`, `compat`
//!   for the Elasticsearch start-up probes, `health`). The ingest routes read the request and
//!   shape the reply; the HTTP source behind them (framing, batching, queue reservation, acks)
//!   is `loglynx_collect::http`.
//! - [`leaf_router`]: a worker's internal search API (`routes/leaf.rs`), which `loglynx serve`
//!   as root (`AppState::root`) sends its queries to.
//! - limits.rs: [`IngestLimits`] (records per request, `_bulk` error reports, ingest rate per
//!   key) and [`QueryLimits`] (queries at once, each query's timeout and terms cap, the open
//!   points in time: [`Pits`], pit.rs).
//! - [`ApiError`] (error.rs): every failure's status and JSON body, in one place.
//! - auth/: API keys and their scopes, the `http.auth_token`, the limit on failed attempts; metrics.rs: request counting and the figures `/metrics`
//!   reads at each scrape (the registry is `loglynx_telemetry`'s); ui.rs: `/ui/`.
//!
//! Every endpoint is described in `docs/openapi.yaml`, served at `/api/v1/openapi.yaml`.

mod auth;
mod error;
mod limits;
mod metrics;
mod pit;
mod routes;
mod serve;
mod state;
mod tls;
mod ui;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Router};

pub use auth::{required_scope, Auth, KeyEntry, KeyError, KeyFile, Principal, Scope, KEYS_FILE};
pub use error::ApiError;
pub use limits::{IngestLimits, QueryLimits};
pub use pit::{Pinned, Pits};
pub use loglynx_telemetry::internal_events::{HttpMetrics, IngestEndpoint};
pub use loglynx_collect::otlp::OtlpLimits;
pub use loglynx_collect::http::{
    Refuse, DEFAULT_ACK_TIMEOUT, DEFAULT_MAX_LINE, DEFAULT_QUEUE_WAIT,
};
pub use routes::meta::OPENAPI_YAML;
pub use routes::leaf::{leaf_router, GenerationView, LeafState};
pub use routes::network::NetworkView;
pub use routes::patterns::PatternView;
pub use routes::pipeline::PipelineView;
pub use serve::ServeLimits;
pub use tls::{TlsConfig, TlsError, TlsListener};
pub use state::{AppState, IngestState, DEFAULT_MAX_STREAMS};

/// Builds the router: every endpoint, the token check, request counting and the body limit.
pub fn router(state: AppState) -> Router {
    use routes::*;
    let creds = state.auth.clone();
    state.figures.call_once(|| {
        state.telemetry.register_collector(metrics::ServerFigures {
            store: state.store.clone(),
            pipeline: state.pipeline.clone(),
            streams: state.streams.clone(),
            started: state.started,
        });
        if let Some(d) = &state.detection {
            state.telemetry.register_collector(metrics::DetectionFigures(d.clone()));
        }
        state.auth.register_metrics(&state.telemetry);
    });
    Router::new()
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/histogram", get(search::histogram))
        .route("/api/v1/terms", get(search::terms))
        .route("/api/v1/aggs", post(aggs::aggs))
        .route("/api/v1/fields", get(meta::fields))
        .route("/api/v1/tail", get(tail::tail))
        .route("/api/v1/export", get(export::export))
        .route("/api/v1/pit", post(pit::open_native))
        .route("/api/v1/pit/{id}", axum::routing::delete(pit::close_native))
        .route("/api/v1/tail/stream", get(tail::tail_stream))
        .route("/api/v1/stats", get(meta::stats))
        .route("/api/v1/network/status", get(network::status))
        .route("/api/v1/network/sockets", get(network::sockets))
        .route("/api/v1/network/netstat", get(network::netstat))
        .route("/api/v1/network/perf", get(network::perf))
        .route("/api/v1/network/perf/history", get(perf_history::history))
        .route("/api/v1/network/talkers", get(talkers::talkers))
        .route("/api/v1/network/map", get(netmap::map))
        .route("/api/v1/pipeline", get(pipeline::status))
        .route("/api/v1/leaves", get(leaf::leaves))
        .route("/api/v1/leaves/{id}", axum::routing::delete(leaf::forget))
        .route("/api/v1/sources/learned", get(sources::learned))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::get_one))
        .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
        .route("/api/v1/alerts/{id}/close", post(alerts::close))
        .route("/api/v1/alerts/{id}/reopen", post(alerts::reopen))
        .route("/api/v1/rules", get(alerts::rules))
        .route("/api/v1/patterns", get(patterns::list))
        .route("/api/v1/notifications", get(alerts::notifications))
        .route("/api/v1/rules/backtest", post(alerts::backtest))
        .route("/api/v1/rules/{key}/enable", post(alerts::enable))
        .route("/api/v1/rules/{key}/disable", post(alerts::disable))
        .route("/api/v1/openapi.yaml", get(meta::openapi))
        .route("/metrics", get(meta::metrics))
        .merge(auth::session_routes())
        .route("/ui", get(ui::redirect))
        .route("/ui/", get(ui::index))
        .route("/ui/{*path}", get(ui::asset))
        // Elasticsearch compatibility (`get` answers HEAD too); a browser on `/` goes to /ui/.
        .route("/", get(compat::root))
        .route("/_search", get(es::search).post(es::search))
        .route("/{index}/_search", get(es::search).post(es::search))
        .route("/_pit", post(pit::open_es).delete(pit::close_es))
        .route("/{index}/_pit", post(pit::open_es))
        .route("/_msearch", get(es::msearch).post(es::msearch))
        .route("/{index}/_msearch", get(es::msearch).post(es::msearch))
        .route("/_mapping", get(es::mapping))
        .route("/{index}/_mapping", get(es::mapping))
        .route("/_field_caps", get(es::field_caps).post(es::field_caps))
        .route("/{index}/_field_caps", get(es::field_caps).post(es::field_caps))
        .merge(ingest_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(creds, auth::require_auth))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(state.max_body))
        .with_state(state)
}

/// Builds the router of the ingest endpoints alone, for a process without a store
/// (`loglynx agent`): `POST /api/v1/ingest`, `/_bulk`, `/{index}/_bulk`, the Elasticsearch
/// start-up probes, `GET /api/v1/health`, `GET /api/v1/openapi.yaml` and `GET /metrics` (the
/// state's registry: request and ingest counters, uptime and whatever the process registered
/// in `state.telemetry`, then what `extra_metrics` appends). Same token check, request
/// counting and body limit as [`router`].
pub fn ingest_router(state: IngestState, extra_metrics: Option<ExtraMetrics>) -> Router {
    use routes::*;
    let creds = state.auth.clone();
    state.figures.call_once(|| {
        state.telemetry.register_collector(metrics::Uptime(state.started));
        state.auth.register_metrics(&state.telemetry);
    });
    Router::new()
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/openapi.yaml", get(meta::openapi))
        .route(
            "/metrics",
            get(move |st: State<IngestState>| meta::ingest_metrics(st, extra_metrics.clone())),
        )
        .route("/", get(compat::root_no_ui))
        .merge(ingest_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(creds, auth::require_auth))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(state.max_body))
        .with_state(state)
}

/// Appends text to the ingest router's `/metrics` after the registry's (Prometheus text
/// format, with `# HELP` and `# TYPE` lines). Prefer registering metrics or a collector in
/// [`IngestState::telemetry`].
pub type ExtraMetrics = Arc<dyn Fn(&mut String) + Send + Sync>;

/// The routes that take data in, and the Elasticsearch probes shippers call before `_bulk`;
/// shared by [`router`] and [`ingest_router`].
fn ingest_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    IngestState: FromRef<S>,
{
    use routes::*;
    Router::new()
        .route("/api/v1/ingest", post(ingest::ingest))
        .route("/v1/logs", post(otlp::logs))
        .route("/_bulk", post(bulk::bulk).put(bulk::bulk))
        .route(
            "/{index}/_bulk",
            post(bulk::bulk_index).put(bulk::bulk_index),
        )
        .route("/_license", get(compat::license))
        .route("/_xpack", get(compat::xpack))
        .route("/_cluster/health", get(compat::cluster_health))
        .route(
            "/_index_template/{name}",
            get(compat::setup_exists).put(compat::setup_put),
        )
        .route(
            "/_ilm/policy/{name}",
            get(compat::setup_exists).put(compat::setup_put),
        )
        .route(
            "/_ingest/pipeline/{name}",
            get(compat::setup_exists).put(compat::setup_put),
        )
}

async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::NotFound(format!(
        "no endpoint at {}: see /api/v1/openapi.yaml for the endpoints",
        uri.path()
    ))
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::MethodNotAllowed
}

/// Serves the API on `listener` until `shutdown` completes, then stops accepting, ends the
/// live tail streams and waits for in-flight requests (ingest replies wait for their acks, so
/// keep the pipeline running until this returns). Default [`ServeLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, state, None, ServeLimits::default(), shutdown).await
}

/// [`serve`], over TLS when `tls` is given, within `limits`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<TlsConfig>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let closing = state.shutdown.clone();
    let app = router(state);
    serve_router_with(listener, app, tls, limits, async move {
        shutdown.await;
        closing.send_replace(true);
    })
    .await
}

/// Serves `app` (e.g. an [`ingest_router`]) on `listener` until `shutdown` completes, then
/// stops accepting and waits for in-flight requests (ingest replies wait for their acks, so
/// keep the producer or pipeline running until this returns). Default [`ServeLimits`].
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_router_with(listener, app, None, ServeLimits::default(), shutdown).await
}

/// [`serve_router`], over TLS when `tls` is given, within `limits` (serve.rs).
pub async fn serve_router_with(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<TlsConfig>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => serve::serve_limited(listener, app, limits, shutdown).await,
        Some(tls) => {
            let listener = TlsListener::new(listener, &tls)?;
            serve::serve_limited(listener, app, limits, shutdown).await
        }
    }
}

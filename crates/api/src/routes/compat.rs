//! The few Elasticsearch endpoints log shippers call at start-up, answered just enough for them
//! to go on to `_bulk`:
//!
//! - `GET /` (and `HEAD /`): version check (Filebeat, Vector, Fluent Bit, the official
//!   clients, which also check the `X-Elastic-Product` header). A browser (Accept: text/html)
//!   is redirected to the dashboard instead.
//! - `GET /_license`, `GET /_xpack`: Filebeat's ILM and license probes.
//! - `GET /_cluster/health`: Vector's health check.
//! - `GET|HEAD|PUT /_index_template/{name}`, `/_ilm/policy/{name}`, `/_ingest/pipeline/{id}`:
//!   Filebeat's template and policy set-up; they exist (200) and writes are acknowledged and
//!   ignored (loglynx has one fixed schema).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::routes::bulk::elastic_product_header;
use crate::state::IngestState;

/// The Elasticsearch version loglynx presents itself as.
pub(crate) const ES_VERSION: &str = "8.11.0";

/// Handler of `GET /` and `HEAD /` where the dashboard is served (`run`, `serve`).
pub(crate) async fn root(State(st): State<IngestState>, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
    if wants_html {
        return (StatusCode::FOUND, [(header::LOCATION, "/ui/")]).into_response();
    }
    version(&st.host)
}

/// Handler of `GET /` and `HEAD /` without a dashboard (`agent`): the version check only.
pub(crate) async fn root_no_ui(State(st): State<IngestState>) -> Response {
    version(&st.host)
}

fn version(host: &str) -> Response {
    es_json(json!({
        "name": host,
        "cluster_name": "loglynx",
        "cluster_uuid": "loglynx",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "loglynx",
            "build_hash": env!("CARGO_PKG_VERSION"),
            "build_date": "2023-11-04T10:04:57.184859352Z",
            "build_snapshot": false,
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "loglynx answers the Elasticsearch bulk API for log shippers",
        "loglynx_version": env!("CARGO_PKG_VERSION"),
    }))
}

fn es_json(v: serde_json::Value) -> Response {
    ([elastic_product_header()], Json(v)).into_response()
}

/// Handler of `GET /_license`.
pub(crate) async fn license() -> Response {
    es_json(json!({"license": license_body()}))
}

fn license_body() -> serde_json::Value {
    json!({
        "status": "active",
        "uid": "loglynx",
        "type": "basic",
        "issue_date_in_millis": 0,
        "max_nodes": 1000,
        "issued_to": "loglynx",
        "issuer": "loglynx",
        "start_date_in_millis": -1,
    })
}

/// Handler of `GET /_xpack`.
pub(crate) async fn xpack() -> Response {
    es_json(json!({
        "build": {"hash": env!("CARGO_PKG_VERSION"), "date": ""},
        "license": {"uid": "loglynx", "type": "basic", "mode": "basic", "status": "active"},
        "features": {"ilm": {"available": true, "enabled": true}},
    }))
}

/// Handler of `GET /_cluster/health`.
pub(crate) async fn cluster_health() -> Response {
    es_json(json!({
        "cluster_name": "loglynx",
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
    }))
}

/// `GET`/`HEAD` of a template, policy or pipeline: it exists.
pub(crate) async fn setup_exists() -> Response {
    es_json(json!({}))
}

/// `PUT` of a template, policy or pipeline: acknowledged, ignored.
pub(crate) async fn setup_put() -> Response {
    es_json(json!({"acknowledged": true}))
}

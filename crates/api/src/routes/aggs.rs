//! `POST /api/v1/aggs`: nested aggregations in loglynx's own API, over `q`, `start` and `end`
//! as `/api/v1/search` reads them. The `aggs` object is the aggregation language of `_search`
//! (`terms`, `date_histogram`, `min`, `max`, `avg`, `sum`, `value_count`, `cardinality`, each
//! bucket aggregation with its own `aggs`), read and run by the same code
//! (`es::aggs`), so both APIs give the same numbers for the same request and share its
//! limits: at most `MAX_NESTED_BUCKETS` buckets opened for sub-aggregations and
//! `MAX_EMITTED_BUCKETS` buckets returned, a 400 past either.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::routes::es::aggs;
use crate::routes::{filter, run_query};
use crate::state::AppState;

/// The body of `POST /api/v1/aggs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AggsBody {
    /// The query (loglynx's language); everything when absent.
    q: Option<String>,
    /// Inclusive lower bound on `@timestamp` (`now-1h`, RFC 3339, epoch ms).
    start: Option<String>,
    /// Exclusive upper bound on `@timestamp`.
    end: Option<String>,
    /// The aggregations, by name.
    aggs: Value,
}

/// The answer: the events matched and each aggregation's result, by name.
#[derive(Debug, Serialize)]
pub(crate) struct AggsReply {
    total: u64,
    aggregations: Map<String, Value>,
    took_ms: u64,
}

/// Handler of `POST /api/v1/aggs`.
pub(crate) async fn aggs(State(st): State<AppState>, body: Bytes) -> Result<Json<AggsReply>, ApiError> {
    let b: AggsBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be JSON with \"aggs\" (aggregations by name, as in _search) and optional \"q\", \"start\", \"end\": {e}"
        ))
    })?;
    let plan = aggs::parse(&b.aggs).map_err(|u| ApiError::BadRequest(u.0))?;
    if plan.is_empty() {
        return Err(ApiError::BadRequest("\"aggs\" is empty: name at least one aggregation, e.g. {\"hosts\": {\"terms\": {\"field\": \"host.name\"}}}".into()));
    }
    if st.root.is_some() {
        return Err(ApiError::BadRequest(
            "POST /api/v1/aggs is not supported through a search root (serve --leaves/--catalog): use /api/v1/histogram and /api/v1/terms, or a worker's own serve".into(),
        ));
    }
    let f = filter(b.q, b.start.as_deref(), b.end.as_deref())?;
    st.engine.validate(&f.query)?;
    let started = std::time::Instant::now();
    let (total, aggregations) = run_query(&st, move |engine, windows| {
        let total = engine.count(windows, &f)?;
        let out = aggs::run(engine, windows, &f, &plan, &mut aggs::Buckets::default())?;
        Ok((total, out))
    })
    .await?;
    Ok(Json(AggsReply { total, aggregations, took_ms: started.elapsed().as_millis() as u64 }))
}

//! The endpoints, one module per concern, and the helpers they share (query-string extraction,
//! request bodies, time ranges, running a query off the async threads).

pub(crate) mod aggs;
pub(crate) mod alerts;
pub(crate) mod bulk;
pub(crate) mod compat;
pub(crate) mod es;
pub(crate) mod export;
pub(crate) mod health;
pub(crate) mod ingest;
pub(crate) mod leaf;
pub(crate) mod meta;
pub(crate) mod netmap;
pub(crate) mod network;
pub(crate) mod network_range;
pub(crate) mod perf_history;
pub(crate) mod otlp;
pub(crate) mod patterns;
pub(crate) mod pit;
pub(crate) mod pipeline;
pub(crate) mod scan;
pub(crate) mod search;
pub(crate) mod sources;
pub(crate) mod tail;
pub(crate) mod talkers;

use std::io::Read as _;

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use loglynx_core::Timestamp;
use loglynx_query::{
    parse_time, Filter, HistogramRequest, HistogramResponse, QueryEngine, QueryError, SearchRequest,
    SearchResponse, TermsRequest, TermsResponse,
};
use loglynx_store::WindowSnapshot;
use serde::de::DeserializeOwned;

use crate::error::{body_rejection, ApiError};
use crate::state::AppState;

/// `Query<T>` whose rejection is an [`ApiError`] (a JSON 400).
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}

/// The request body, gunzipped when `Content-Encoding: gzip` (Filebeat compresses by default),
/// at most `max_body` bytes after decompression.
pub(crate) fn read_body(
    max_body: usize,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(|r| body_rejection(r, max_body))?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(body),
        "gzip" | "x-gzip" => inflate(flate2::read::MultiGzDecoder::new(&body[..]), max_body),
        "deflate" => inflate(flate2::read::ZlibDecoder::new(&body[..]), max_body),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {other:?}: send the body uncompressed or gzip-compressed"
        ))),
    }
}

fn inflate(decoder: impl std::io::Read, limit: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("cannot decompress the request body: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

/// Builds a [`Filter`] from the `q`, `start` and `end` parameters (RFC 3339 or `now-1h`).
pub(crate) fn filter(
    q: Option<String>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<Filter, ApiError> {
    let now = Timestamp::now();
    let time = |name: &str, v: Option<&str>| -> Result<Option<Timestamp>, ApiError> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_time(s, now)
                .map(Some)
                .map_err(|e| ApiError::BadRequest(format!("{name}: {e}"))),
        }
    };
    Ok(Filter {
        query: q.unwrap_or_default(),
        start: time("start", start)?,
        end: time("end", end)?,
    })
}

/// Parses an optional count parameter with a default and a maximum.
pub(crate) fn bounded(
    name: &str,
    v: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(n) if n > max => Err(ApiError::BadRequest(format!(
            "{name} must be at most {max}, got {n}"
        ))),
        Some(n) => Ok(n),
    }
}

/// Runs `f` over a fresh store snapshot on the blocking pool (searches read index files),
/// within the query limits: 429 when `query.max_concurrent` queries are running, stopped at
/// `query.timeout` (503), and stopped when the client goes away (the request's future is
/// dropped, which drops the cancel guard); the permit is held until the query has stopped.
pub(crate) async fn run_query<T, F>(st: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&QueryEngine, &[WindowSnapshot]) -> Result<T, QueryError> + Send + 'static,
{
    run_query_on(st, None, f).await
}

/// [`run_query`] over `pinned` (a point in time's snapshot) when given, else a fresh one.
pub(crate) async fn run_query_on<T, F>(
    st: &AppState,
    pinned: Option<std::sync::Arc<Vec<WindowSnapshot>>>,
    f: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&QueryEngine, &[WindowSnapshot]) -> Result<T, QueryError> + Send + 'static,
{
    let ticket = st.query_limits.start()?;
    let cancel = ticket.budget.cancel_on_drop();
    let engine = st.engine.clone();
    let store = st.store.clone();
    let out = tokio::task::spawn_blocking(move || {
        let _permit = ticket._permit;
        ticket.budget.run(|| match pinned {
            Some(windows) => f(&engine, &windows),
            None => f(&engine, &store.snapshot()),
        })
    })
    .await;
    cancel.disarm();
    out.map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
        .map_err(ApiError::from)
}

/// A search, histogram or terms answer: over this process's store, or merged from the leaves
/// when `st.root` is set (then it may name what is `missing`).
pub(crate) type Answer<T> = loglynx_search::Answer<T>;

fn local<T>(body: T) -> Answer<T> {
    Answer { body, missing: Vec::new(), approximate: false }
}

/// `search` over the store or through the root.
pub(crate) async fn exec_search(st: &AppState, req: SearchRequest) -> Result<Answer<SearchResponse>, ApiError> {
    match &st.root {
        Some(root) => Ok(root.search(req).await?),
        None => run_query(st, move |engine, windows| engine.search(windows, &req)).await.map(local),
    }
}

/// `histogram` over the store or through the root.
pub(crate) async fn exec_histogram(st: &AppState, req: HistogramRequest) -> Result<Answer<HistogramResponse>, ApiError> {
    match &st.root {
        Some(root) => Ok(root.histogram(req).await?),
        None => run_query(st, move |engine, windows| engine.histogram(windows, &req)).await.map(local),
    }
}

/// `terms` over the store or through the root.
pub(crate) async fn exec_terms(st: &AppState, req: TermsRequest) -> Result<Answer<TermsResponse>, ApiError> {
    match &st.root {
        Some(root) => Ok(root.terms(req).await?),
        None => run_query(st, move |engine, windows| engine.terms(windows, &req)).await.map(local),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn inflate_enforces_the_limit_after_decompression() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        let ok = inflate(flate2::read::MultiGzDecoder::new(&gz[..]), 1000).unwrap();
        assert_eq!(ok.len(), 1000);
        let e = inflate(flate2::read::MultiGzDecoder::new(&gz[..]), 999).unwrap_err();
        assert!(matches!(e, ApiError::PayloadTooLarge { limit: 999 }));
        let e = inflate(flate2::read::MultiGzDecoder::new(&b"not gzip"[..]), 999).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn bounded_applies_default_and_max() {
        assert_eq!(bounded("limit", None, 100, 10_000).unwrap(), 100);
        assert_eq!(bounded("limit", Some(7), 100, 10_000).unwrap(), 7);
        assert!(bounded("limit", Some(10_001), 100, 10_000).is_err());
    }
}

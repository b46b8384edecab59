//! The leaf API of a worker (`loglynx worker --search-listen ADDR`): the query engine over the
//! shards on the worker's disk, for `loglynx serve` acting as root (`loglynx_search::Root`).
//!
//! `POST /internal/v1/{search,count,histogram,terms,tail}` take a
//! [`LeafRequest`] (the engine's request and the offsets this leaf answers for: a filter on
//! `kafka.partition` / `kafka.offset`); `POST /internal/v1/pit/{open,page,close}` keep points in
//! time for a root's (`loglynx_search::Root::open_pit`), bounded like the public ones;
//! `POST /internal/v1/network/{talkers,map,perf_history}` answer a fold's partial state over the
//! offsets (`routes/scan.rs`) and `POST /internal/v1/events` the oldest matching events (a root's
//! rule backtest); `GET /internal/v1/generations` lists the shard
//! generations on the disk; `GET /internal/v1/health` the worker's health reports; `GET /internal/v1/patterns` its
//! miner's template dictionary. Every route wants `Authorization: Bearer <[search] key>` when a
//! key is set (docs/SECURITY.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use loglynx_core::{Event, Timestamp};
use loglynx_query::{
    Filter, HistogramRequest, PageRequest, HistogramResponse, QueryEngine, QueryError, SearchRequest,
    SearchResponse, SortOrder, TailRequest, TermsRequest, TermsResponse,
};
use loglynx_search::{
    Generation, LeafAfter, LeafPage, LeafPageResponse, LeafPitClose, LeafPitOpen, LeafPitOpened,
    LeafRequest, LeafStatus, LeafTail, LeafTailResponse, OffsetFilter, TailPart, LEAF_PREFIX,
};
use loglynx_store::{Store, WindowSnapshot};

use crate::error::ApiError;
use crate::routes::scan::leaf_scan;

/// The generations on a leaf's disk, read from a snapshot of its shards.
pub trait GenerationView: Send + Sync + 'static {
    /// The generations the windows of `windows` make up.
    fn generations(&self, windows: &[WindowSnapshot]) -> Vec<Generation>;
}

/// What the leaf routes share.
#[derive(Clone)]
pub struct LeafState {
    /// A read-only view of the worker's shards (`Store::open_read_only`), refreshed by the
    /// worker.
    pub store: Store,
    /// The query engine.
    pub engine: Arc<QueryEngine>,
    /// The shared key (`[search] key`); `None`: no check (loopback only, see the worker).
    pub key: Option<String>,
    /// The worker's id.
    pub worker: String,
    /// The generations of a snapshot.
    pub generations: Arc<dyn GenerationView>,
    /// The worker's health report folder (`<data_dir>/health`): `GET /internal/v1/health`
    /// answers its reports, for the root's pipeline page and `/metrics`.
    pub health_dir: std::path::PathBuf,
    /// The points in time roots opened here (`query.max_open_pits`, `query.max_pit_keep_alive`
    /// of the worker's config).
    pub pits: crate::Pits,
    /// The worker's pattern miner: `GET /internal/v1/patterns` answers its dictionary (the
    /// template texts of `/api/v1/patterns` through a root); `None` when mining is off.
    pub patterns: Option<Arc<dyn crate::PatternView>>,
}

/// The owner of the leaf's points in time: the roots (the leaf API has one shared key).
const ROOT_OWNER: &str = "root";

/// The leaf API's router.
pub fn leaf_router(state: LeafState) -> Router {
    let p = |op: &str| format!("{LEAF_PREFIX}/{op}");
    Router::new()
        .route(&p("search"), post(search))
        .route(&p("count"), post(count))
        .route(&p("histogram"), post(histogram))
        .route(&p("terms"), post(terms))
        .route(&p("tail"), post(tail))
        .route(&p("pit/open"), post(pit_open))
        .route(&p("pit/page"), post(pit_page))
        .route(&p("pit/close"), post(pit_close))
        .route(&p("generations"), get(generations))
        .route(&p("health"), get(health))
        .route(&p("patterns"), get(patterns))
        .route(&p("network/talkers"), post(leaf_scan::<crate::routes::talkers::Groups>))
        .route(&p("network/map"), post(leaf_scan::<crate::routes::netmap::Fold>))
        .route(&p("network/perf_history"), post(leaf_scan::<crate::routes::perf_history::Fold>))
        .route(&p("events"), post(events))
        .fallback(|| async { ApiError::NotFound("no such leaf endpoint: this is a worker's internal search API".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), check_key))
        .with_state(state)
}

/// Handler of `GET /api/v1/leaves` (the public API of `serve` as root): the leaves, the cover
/// of the offsets, its gaps and the orphan generations; 404 when serve reads a data directory.
pub(crate) async fn leaves(State(st): State<crate::state::AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match &st.root {
        Some(root) => Ok(Json(root.status())),
        None => Err(ApiError::NotFound(
            "this serve reads the shards of its data directory, not leaves: start it with --leaves or --catalog".into(),
        )),
    }
}

/// Handler of `DELETE /api/v1/leaves/{id}` (admin): accepts that what only the gone worker
/// `id` (worker id or leaf address) held is lost ([`loglynx_search::Root::forget`]); answers
/// the record kept in the catalog topic.
pub(crate) async fn forget(
    State(st): State<crate::state::AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<loglynx_search::LostRecord>, ApiError> {
    match &st.root {
        Some(root) => Ok(Json(root.forget(&id).await?)),
        None => Err(ApiError::NotFound(
            "this serve reads the shards of its data directory, not leaves: there is no gone worker to forget".into(),
        )),
    }
}

async fn check_key(State(st): State<LeafState>, req: Request, next: Next) -> Response {
    if let Some(key) = &st.key {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !sent.is_some_and(|s| crate::auth::constant_time_eq(s.as_bytes(), key.as_bytes())) {
            return ApiError::Unauthorized { basic: false }.into_response();
        }
    }
    next.run(req).await
}

/// Runs `f` on the blocking pool over one snapshot of the leaf's shards.
pub(crate) async fn run<T, F>(st: &LeafState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&LeafState, &[WindowSnapshot]) -> Result<T, QueryError> + Send + 'static,
{
    let st = st.clone();
    tokio::task::spawn_blocking(move || {
        let windows = st.store.snapshot();
        f(&st, &windows)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
    .map_err(ApiError::from)
}

/// The filter narrowed to the request's offsets; `None` when they select nothing.
pub(crate) fn narrowed(filter: &Filter, offsets: &Option<OffsetFilter>) -> Option<Filter> {
    match offsets {
        None => Some(filter.clone()),
        Some(o) => o.restrict(filter),
    }
}

async fn search(State(st): State<LeafState>, Json(r): Json<LeafRequest<SearchRequest>>) -> Result<Json<SearchResponse>, ApiError> {
    let Some(filter) = narrowed(&r.request.filter, &r.offsets) else {
        return Ok(Json(SearchResponse { total: 0, hits: Vec::new(), took_ms: 0 }));
    };
    let req = SearchRequest { filter, ..r.request };
    Ok(Json(run(&st, move |st, w| st.engine.search(w, &req)).await?))
}

async fn count(State(st): State<LeafState>, Json(r): Json<LeafRequest<Filter>>) -> Result<Json<u64>, ApiError> {
    let Some(filter) = narrowed(&r.request, &r.offsets) else {
        return Ok(Json(0));
    };
    Ok(Json(run(&st, move |st, w| st.engine.count(w, &filter)).await?))
}

async fn histogram(
    State(st): State<LeafState>,
    Json(r): Json<LeafRequest<HistogramRequest>>,
) -> Result<Json<HistogramResponse>, ApiError> {
    let Some(filter) = narrowed(&r.request.filter, &r.offsets) else {
        return Ok(Json(HistogramResponse { interval_ms: r.request.interval_ms.unwrap_or(60_000), buckets: Vec::new(), total: 0, took_ms: 0 }));
    };
    let req = HistogramRequest { filter, ..r.request };
    Ok(Json(run(&st, move |st, w| st.engine.histogram(w, &req)).await?))
}

async fn terms(State(st): State<LeafState>, Json(r): Json<LeafRequest<TermsRequest>>) -> Result<Json<TermsResponse>, ApiError> {
    let Some(filter) = narrowed(&r.request.filter, &r.offsets) else {
        return Ok(Json(TermsResponse { field: r.request.field, buckets: Vec::new(), other: 0, approximate: false, error_upper_bound: 0, took_ms: 0 }));
    };
    let req = TermsRequest { filter, ..r.request };
    Ok(Json(run(&st, move |st, w| st.engine.terms(w, &req)).await?))
}

async fn pit_open(State(st): State<LeafState>, Json(r): Json<LeafRequest<LeafPitOpen>>) -> Result<Json<LeafPitOpened>, ApiError> {
    let keep_alive = st.pits.check_keep_alive(std::time::Duration::from_millis(r.request.keep_alive_ms))?;
    let windows = run(&st, |_, w| Ok(w.to_vec())).await?;
    let pit_id = st.pits.open(crate::Pinned::local(windows), ROOT_OWNER, keep_alive)?;
    Ok(Json(LeafPitOpened { pit_id }))
}

async fn pit_close(State(st): State<LeafState>, Json(r): Json<LeafRequest<LeafPitClose>>) -> Json<bool> {
    Json(st.pits.close(&r.request.pit_id, ROOT_OWNER).is_some())
}

/// A page of a point in time (see [`LeafAfter`]): the total over the whole point in time, and
/// the hits after the cursor.
async fn pit_page(State(st): State<LeafState>, Json(r): Json<LeafRequest<LeafPage>>) -> Result<Json<LeafPageResponse>, ApiError> {
    let req = r.request;
    let renew = req.keep_alive_ms.map(|ms| st.pits.check_keep_alive(std::time::Duration::from_millis(ms))).transpose()?;
    let crate::Pinned::Local(windows) = st.pits.get(&req.pit_id, ROOT_OWNER, renew)? else {
        return Err(ApiError::Internal("a leaf's point in time holds a snapshot".into()));
    };
    let Some(filter) = narrowed(&req.filter, &r.offsets) else {
        return Ok(Json(LeafPageResponse { total: 0, hits: Vec::new(), cursor: None }));
    };
    let engine = st.engine.clone();
    tokio::task::spawn_blocking(move || -> Result<LeafPageResponse, QueryError> {
        let page = |filter: Filter, after: Option<u64>, count_total: bool| {
            engine.search_after(&windows, &PageRequest { filter, limit: req.limit, sort: req.sort, after, count_total })
        };
        match req.after {
            LeafAfter::Start | LeafAfter::Position(_) => {
                let after = match req.after {
                    LeafAfter::Position(p) => Some(p),
                    _ => None,
                };
                let p = page(filter, after, true)?;
                Ok(LeafPageResponse { total: p.total.unwrap_or(0), hits: p.hits, cursor: p.cursor })
            }
            LeafAfter::Time { at, inclusive } => {
                let total = engine.count(&windows, &filter)?;
                let micros = at.as_micros();
                let mut beyond = filter.clone();
                match req.sort {
                    SortOrder::Asc => {
                        let from = Timestamp::from_micros(if inclusive { micros } else { micros.saturating_add(1) });
                        beyond.start = Some(beyond.start.map_or(from, |s| s.max(from)));
                    }
                    SortOrder::Desc => {
                        let to = Timestamp::from_micros(if inclusive { micros.saturating_add(1) } else { micros });
                        beyond.end = Some(beyond.end.map_or(to, |e| e.min(to)));
                    }
                }
                if matches!((beyond.start, beyond.end), (Some(s), Some(e)) if s >= e) {
                    return Ok(LeafPageResponse { total, hits: Vec::new(), cursor: None });
                }
                let p = page(beyond, None, false)?;
                Ok(LeafPageResponse { total, hits: p.hits, cursor: None })
            }
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?
    .map(Json)
    .map_err(ApiError::from)
}

async fn generations(State(st): State<LeafState>) -> Result<Json<LeafStatus>, ApiError> {
    let worker = st.worker.clone();
    let generations = run(&st, |st, w| Ok(st.generations.generations(w))).await?;
    Ok(Json(LeafStatus { worker, generations }))
}

async fn health(State(st): State<LeafState>) -> Result<Json<Vec<loglynx_telemetry::health::HealthReport>>, ApiError> {
    let dir = st.health_dir.clone();
    tokio::task::spawn_blocking(move || loglynx_telemetry::health::read_reports(&dir))
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(format!("health task failed: {e}")))
}

/// The miner's dictionary (`loglynx_patterns::Dictionary` as JSON); 404 when mining is off.
async fn patterns(State(st): State<LeafState>) -> Result<Json<loglynx_patterns::Dictionary>, ApiError> {
    let Some(p) = st.patterns.clone() else {
        return Err(ApiError::NotFound("pattern mining is off on this worker: set [patterns] enabled = true and restart it".into()));
    };
    tokio::task::spawn_blocking(move || p.dictionary())
        .await
        .map(Json)
        .map_err(|e| ApiError::Internal(format!("patterns task failed: {e}")))
}

/// A read of the oldest events matching (`POST /internal/v1/events`): a root's rule backtest.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct EventsRequest {
    pub(crate) filter: Filter,
    /// Most events answered (at most [`crate::routes::alerts::BACKTEST_MAX_EVENTS`]).
    pub(crate) limit: usize,
}

/// The answer: how many match, and the oldest `limit` of them, oldest first.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct EventsResponse {
    pub(crate) total: u64,
    pub(crate) events: Vec<Event>,
}

async fn events(State(st): State<LeafState>, Json(r): Json<LeafRequest<EventsRequest>>) -> Result<Json<EventsResponse>, ApiError> {
    let limit = r.request.limit.min(crate::routes::alerts::BACKTEST_MAX_EVENTS);
    let Some(filter) = narrowed(&r.request.filter, &r.offsets) else {
        return Ok(Json(EventsResponse { total: 0, events: Vec::new() }));
    };
    let (total, events) = run(&st, move |st, w| st.engine.search_all(w, &filter, SortOrder::Asc, limit)).await?;
    Ok(Json(EventsResponse { total, events }))
}

async fn tail(State(st): State<LeafState>, Json(r): Json<LeafRequest<LeafTail>>) -> Result<Json<LeafTailResponse>, ApiError> {
    let offsets = r.offsets.ok_or_else(|| ApiError::BadRequest("a leaf tail needs offsets".into()))?;
    let req = r.request;
    Ok(Json(run(&st, move |st, w| tail_ranges(st, w, &req, &offsets)).await?))
}

/// Each range's tail (see [`LeafTail`]). An open range ends, in this snapshot, at the end of
/// the partition's newest generation.
fn tail_ranges(st: &LeafState, w: &[WindowSnapshot], req: &LeafTail, offsets: &OffsetFilter) -> Result<LeafTailResponse, QueryError> {
    let gens = st.generations.generations(w);
    let mut remaining = req.limit;
    let mut parts = Vec::new();
    for (partition, r) in offsets.ranges() {
        let end = match r.to {
            u64::MAX => gens.iter().filter(|g| g.partition == partition).map(|g| g.to).max().unwrap_or(0).max(r.from),
            to => to,
        };
        let only = |from: u64, to: u64| {
            let mut o = OffsetFilter::default();
            o.add(partition, from, to);
            o.restrict(&req.filter)
        };
        let mut part = TailPart { partition, from: r.from, next: end, events: Vec::new() };
        if !req.follow {
            if let Some(filter) = only(r.from, r.to) {
                part.events = st.engine.tail(w, &TailRequest { filter, cursor: None, limit: req.limit })?.events;
            }
            parts.push(part);
            continue;
        }
        let count = |to: u64| -> Result<u64, QueryError> {
            match only(r.from, to) {
                Some(f) => st.engine.count(w, &f),
                None => Ok(0),
            }
        };
        let mut upto = end;
        if count(end)? > remaining as u64 {
            // The largest end whose matches fit (one event per offset: it moves forward
            // unless nothing fits at all).
            let (mut lo, mut hi) = (r.from, end);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if count(mid)? <= remaining as u64 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            upto = lo;
        }
        if let Some(filter) = only(r.from, upto) {
            let events: Vec<Event> = st.engine.search_all(w, &filter, SortOrder::Asc, remaining)?.1;
            remaining -= events.len().min(remaining);
            part.events = events;
        }
        part.next = upto;
        parts.push(part);
    }
    Ok(LeafTailResponse { parts })
}

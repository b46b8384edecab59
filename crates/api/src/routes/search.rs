//! `GET /api/v1/search`, `/api/v1/histogram`, `/api/v1/terms`: URL parameters -> engine
//! requests -> the engine's JSON responses (through the leaves when `serve` is a root: then
//! with `missing` when a leaf did not answer, and `approximate` on terms). A search with
//! `pit=` pages a point in time with `search_after` instead (`crate::pit`).

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use loglynx_query::{
    HistogramRequest, HistogramResponse, SearchRequest, SortOrder, TermsRequest,
    TermsResponse, MAX_BUCKETS, MAX_LIMIT, MAX_TERMS,
};

use crate::routes::{exec_histogram, exec_search, exec_terms, Answer};
use axum::response::{IntoResponse, Response};
use loglynx_query::PageRequest;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::{bounded, filter, run_query_on, ApiQuery};
use crate::state::AppState;

/// Hits returned when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// Parameters of `GET /api/v1/search`.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    sort: Option<String>,
    /// A point in time (`POST /api/v1/pit`) to search instead of the live store.
    pit: Option<String>,
    /// With `pit`: the `search_after` of the previous page (the position of its last hit).
    search_after: Option<String>,
    /// With `pit`: its new keep-alive (`1m`); unchanged when absent.
    keep_alive: Option<String>,
}

/// A page of a point-in-time walk: the hits after the cursor and the cursor of the next page.
#[derive(Debug, Serialize)]
pub(crate) struct PitPage {
    /// Exact number of matches in the point in time (the same on every page).
    total: u64,
    hits: Vec<loglynx_core::Event>,
    took_ms: u64,
    pit_id: String,
    /// Pass back as `search_after` for the next page; `null` when this page is empty (the
    /// walk is over).
    search_after: Option<String>,
    /// Through a search root: offsets no leaf answered for when the point in time was opened
    /// (absent when it is complete).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing: Vec<loglynx_search::Missing>,
}

/// Handler of `GET /api/v1/search`.
pub(crate) async fn search(
    State(st): State<AppState>,
    who: crate::auth::Principal,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    let sort = match p.sort.as_deref().map(str::trim) {
        None | Some("") | Some("desc") => SortOrder::Desc,
        Some("asc") => SortOrder::Asc,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort must be asc or desc, got {other:?}"
            )))
        }
    };
    let req = SearchRequest {
        filter: filter(p.q, p.start.as_deref(), p.end.as_deref())?,
        limit: bounded("limit", p.limit, DEFAULT_LIMIT, MAX_LIMIT)?,
        offset: p.offset.unwrap_or(0),
        sort,
    };
    let Some(pit_id) = p.pit.filter(|s| !s.trim().is_empty()) else {
        if p.search_after.is_some() {
            return Err(ApiError::BadRequest(
                "search_after needs pit: open a point in time with POST /api/v1/pit?keep_alive=1m and pass pit=<pit_id> with every page".into(),
            ));
        }
        return Ok(Json(exec_search(&st, req).await?).into_response());
    };
    if req.offset > 0 {
        return Err(ApiError::BadRequest("offset with pit: page with search_after instead".into()));
    }
    let after = match p.search_after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            ApiError::BadRequest(format!("search_after {s:?} is not a cursor: pass back the search_after of the previous page"))
        })?),
    };
    let pinned = crate::routes::pit::pinned(&st, &who, &pit_id, p.keep_alive.as_deref())?;
    let started = std::time::Instant::now();
    let (total, hits, missing) = match (pinned, &st.root) {
        (crate::pit::Pinned::Root(pit), Some(root)) => {
            let keep_alive = p.keep_alive.as_deref().map(|k| st.query_limits.pits.keep_alive(k)).transpose()?;
            let page = root.pit_page(&pit, &req.filter, req.limit, sort, after, keep_alive).await?;
            (page.total, page.hits, page.missing)
        }
        (crate::pit::Pinned::Local(windows), None) => {
            let page_req = PageRequest { filter: req.filter, limit: req.limit, sort, after, count_total: true };
            let page = run_query_on(&st, Some(windows), move |engine, windows| engine.search_after(windows, &page_req)).await?;
            (page.total.unwrap_or(0), page.hits, Vec::new())
        }
        _ => return Err(ApiError::Internal("a point in time of another kind of server: open a new one".into())),
    };
    let search_after = hits.last().map(|(_, pos)| pos.to_string());
    Ok(Json(PitPage {
        total,
        hits: hits.into_iter().map(|(e, _)| e).collect(),
        took_ms: started.elapsed().as_millis() as u64,
        pit_id,
        search_after,
        missing,
    })
    .into_response())
}

/// Parameters of `GET /api/v1/histogram`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistogramParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    interval: Option<String>,
    buckets: Option<usize>,
    /// The time zone buckets are cut in: an IANA name (`Europe/Berlin`), `UTC` or an offset
    /// (`+05:30`); UTC when absent.
    tz: Option<String>,
}

/// Handler of `GET /api/v1/histogram`.
pub(crate) async fn histogram(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<HistogramParams>,
) -> Result<Json<Answer<HistogramResponse>>, ApiError> {
    let interval_ms = match p
        .interval
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(parse_interval_ms(s)?),
    };
    if p.buckets == Some(0) {
        return Err(ApiError::BadRequest("buckets must be at least 1".into()));
    }
    let time_zone = time_zone(p.tz.as_deref(), st.root.is_some())?;
    let req = HistogramRequest {
        filter: filter(p.q, p.start.as_deref(), p.end.as_deref())?,
        interval_ms,
        target_buckets: Some(bounded("buckets", p.buckets, 60, MAX_BUCKETS)?),
        time_zone,
    };
    Ok(Json(exec_histogram(&st, req).await?))
}

/// Reads `tz=`: an IANA name, `UTC` or an offset; `None` for UTC. Through a search root
/// (`through_root`) only a fixed offset: the root pads the leaves' buckets at one width.
fn time_zone(tz: Option<&str>, through_root: bool) -> Result<Option<String>, ApiError> {
    let Some(tz) = tz.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let zone = loglynx_config::Zone::parse(tz).map_err(|e| ApiError::BadRequest(format!("tz: {e}")))?;
    match zone.fixed_offset_secs() {
        Some(0) => Ok(None),
        None if through_root => Err(ApiError::BadRequest(format!(
            "tz={tz}: a zone with daylight saving time is not supported through a search root (serve --leaves/--catalog); give a fixed offset such as +01:00, or ask a worker's own serve"
        ))),
        _ => Ok(Some(tz.to_string())),
    }
}

/// Reads an interval: milliseconds (`60000`) or a duration (`1m`, `1h`, `500ms`).
fn parse_interval_ms(s: &str) -> Result<u64, ApiError> {
    let ms = match s.parse::<u64>() {
        Ok(ms) => ms,
        Err(_) => humantime::parse_duration(s)
            .map(|d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "invalid interval {s:?} ({e}): give milliseconds (60000) or a duration (30s, 1m, 1h)"
                ))
            })?,
    };
    if ms == 0 {
        return Err(ApiError::BadRequest(format!(
            "interval {s:?} is zero: give at least 1ms"
        )));
    }
    Ok(ms)
}

/// Parameters of `GET /api/v1/terms`.
#[derive(Debug, Deserialize)]
pub(crate) struct TermsParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    field: Option<String>,
    size: Option<usize>,
}

/// Handler of `GET /api/v1/terms`.
pub(crate) async fn terms(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<TermsParams>,
) -> Result<Json<Answer<TermsResponse>>, ApiError> {
    let Some(field) = p.field.filter(|f| !f.trim().is_empty()) else {
        return Err(ApiError::BadRequest(
            "missing parameter field: name a keyword or numeric field, e.g. field=host.name (see /api/v1/fields)".into(),
        ));
    };
    let req = TermsRequest {
        filter: filter(p.q, p.start.as_deref(), p.end.as_deref())?,
        field: field.trim().to_string(),
        size: Some(bounded("size", p.size, 10, MAX_TERMS)?),
    };
    Ok(Json(exec_terms(&st, req).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_ms_or_durations() {
        assert_eq!(parse_interval_ms("60000").unwrap(), 60_000);
        assert_eq!(parse_interval_ms("1m").unwrap(), 60_000);
        assert_eq!(parse_interval_ms("1h").unwrap(), 3_600_000);
        assert_eq!(parse_interval_ms("250ms").unwrap(), 250);
        assert!(parse_interval_ms("0").is_err());
        assert!(parse_interval_ms("soon").is_err());
    }

    #[test]
    fn time_zones_are_checked_and_dst_refused_through_a_root() {
        assert_eq!(time_zone(None, false).unwrap(), None);
        assert_eq!(time_zone(Some("UTC"), true).unwrap(), None);
        assert_eq!(time_zone(Some("Europe/Berlin"), false).unwrap().as_deref(), Some("Europe/Berlin"));
        assert_eq!(time_zone(Some("+05:30"), true).unwrap().as_deref(), Some("+05:30"));
        let e = time_zone(Some("Europe/Berlin"), true).unwrap_err().to_string();
        assert!(e.contains("through a search root"), "{e}");
        let e = time_zone(Some("Mars/Olympus"), false).unwrap_err().to_string();
        assert!(e.contains("unknown") && e.contains("Europe/Paris"), "{e}");
    }
}

//! `GET /api/v1/patterns`: the kinds of line behind the events matching a query, most frequent
//! first. Counts are exact: a terms aggregation on `pattern.id` over the index (former ids of a
//! refined template counted with it); the template text, service and example come from the
//! miner's dictionary. `compare=previous` adds each pattern's count in the range of the same
//! length just before, and marks it `new`, `gone`, `changed` (more than [`CHANGE_FACTOR`] times
//! up or down) or `same`. 404 when pattern mining is off.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use loglynx_core::Timestamp;
use loglynx_patterns::{format_id, parse_id, template_id, Dictionary, Patterns, OVERFLOW_TEMPLATE};
use loglynx_query::{Filter, HistogramRequest, TermsRequest, MAX_TERMS};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::{bounded, exec_histogram, exec_terms, filter, ApiQuery};
use crate::state::AppState;

/// Patterns returned when `limit` is not given.
pub const DEFAULT_PATTERNS: usize = 50;
/// Most patterns one request returns.
pub const MAX_PATTERNS: usize = 1000;
/// The range when `start` is not given: this long before `end`.
pub const DEFAULT_RANGE_MS: i64 = 24 * 3600 * 1000;
/// Buckets of each pattern's `series`.
pub const SERIES_BUCKETS: usize = 24;
/// A pattern whose count moved by more than this factor from the previous range is `changed`.
pub const CHANGE_FACTOR: f64 = 2.0;

#[derive(Debug, Deserialize)]
pub(crate) struct PatternParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
    compare: Option<String>,
}

/// One pattern of the answer.
#[derive(Debug, Serialize)]
pub(crate) struct PatternRow {
    id: String,
    template: String,
    service: Option<String>,
    count: u64,
    /// Share of the matching events.
    share: f64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    example: Option<String>,
    /// Counts over the range in `interval_ms` buckets.
    series: Vec<u64>,
    /// Former ids of the template (events stored before it was refined carry them).
    former: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'static str>,
}

/// Where the template dictionary comes from: the miner of this process, the saved states of
/// the workers' miners (`loglynx serve`), or the leaves' miners (`serve` as a search root).
pub trait PatternView: Send + Sync {
    /// Every template known now, by current and former id. Called on the blocking pool (a
    /// root's view asks its leaves and blocks on their answers).
    fn dictionary(&self) -> Dictionary;
}

impl PatternView for Patterns {
    fn dictionary(&self) -> Dictionary {
        Patterns::dictionary(self)
    }
}

fn patterns_on(st: &AppState) -> Result<Arc<dyn PatternView>, Response> {
    st.patterns.clone().ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "enabled": false,
                "error": "pattern mining is off: set [patterns] enabled = true (the default) and restart"
            })),
        )
            .into_response()
    })
}

/// The current id an indexed id stands for, and the ids to query for it.
fn canonical(dict: &Dictionary, id: &str) -> String {
    match parse_id(id).and_then(|i| dict.get(i)) {
        Some(t) => t.id.clone(),
        None => id.to_string(),
    }
}

/// Counts per current id over `filter`: every indexed id (up to [`MAX_TERMS`]) folded into the
/// template it became.
async fn counts(
    st: &AppState,
    dict: &Dictionary,
    f: Filter,
    missing: &mut Vec<loglynx_search::Missing>,
) -> Result<(HashMap<String, u64>, u64), ApiError> {
    let req = TermsRequest { filter: f, field: loglynx_core::fields::PATTERN_ID.into(), size: Some(MAX_TERMS) };
    let answer = exec_terms(st, req).await?;
    merge_missing(missing, answer.missing);
    let resp = answer.body;
    let mut out: HashMap<String, u64> = HashMap::new();
    let mut total = resp.other;
    for b in resp.buckets {
        total += b.count;
        *out.entry(canonical(dict, &b.value)).or_default() += b.count;
    }
    Ok((out, total))
}

/// Adds what a query through the leaves lacked (each piece once).
fn merge_missing(all: &mut Vec<loglynx_search::Missing>, more: Vec<loglynx_search::Missing>) {
    for m in more {
        if !all.contains(&m) {
            all.push(m);
        }
    }
}

fn and_ids(q: &str, ids: &[String]) -> String {
    let ids = ids.iter().map(|i| format!("pattern.id:{i}")).collect::<Vec<_>>().join(" OR ");
    let q = q.trim();
    if q.is_empty() || q == "*" {
        format!("({ids})")
    } else {
        format!("({q}) AND ({ids})")
    }
}

/// Handler of `GET /api/v1/patterns`.
pub(crate) async fn list(State(st): State<AppState>, ApiQuery(p): ApiQuery<PatternParams>) -> Response {
    let patterns = match patterns_on(&st) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match answer(&st, patterns, p).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn answer(st: &AppState, patterns: Arc<dyn PatternView>, p: PatternParams) -> Result<serde_json::Value, ApiError> {
    let compare = match p.compare.as_deref().map(str::trim) {
        None | Some("") => false,
        Some("previous") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!("compare must be previous, got {other:?}")));
        }
    };
    let limit = bounded("limit", p.limit, DEFAULT_PATTERNS, MAX_PATTERNS)?;
    let mut f = filter(p.q, p.start.as_deref(), p.end.as_deref())?;
    let end = f.end.unwrap_or_else(Timestamp::now);
    let start = f.start.unwrap_or_else(|| Timestamp::from_millis(end.as_millis() - DEFAULT_RANGE_MS));
    if start.as_millis() >= end.as_millis() {
        return Err(ApiError::BadRequest("start must be before end".into()));
    }
    (f.start, f.end) = (Some(start), Some(end));
    let dict = {
        let p = patterns.clone();
        tokio::task::spawn_blocking(move || p.dictionary())
            .await
            .map_err(|e| ApiError::Internal(format!("patterns task failed: {e}")))?
    };
    let mut missing = Vec::new();
    let (now, total) = counts(st, &dict, f.clone(), &mut missing).await?;
    let len = end.as_millis() - start.as_millis();
    let previous = if compare {
        let prev = Filter {
            query: f.query.clone(),
            start: Some(Timestamp::from_millis(start.as_millis() - len)),
            end: Some(start),
        };
        Some(counts(st, &dict, prev, &mut missing).await?.0)
    } else {
        None
    };
    let mut ids: Vec<(&String, u64)> = now.iter().map(|(k, v)| (k, *v)).collect();
    if let Some(prev) = &previous {
        // gone: counted before, not now
        ids.extend(prev.keys().filter(|k| !now.contains_key(*k)).map(|k| (k, 0)));
    }
    ids.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ids.truncate(limit);
    let interval_ms = (len as u64).div_ceil(SERIES_BUCKETS as u64).max(1);
    let overflow_id = format_id(template_id(OVERFLOW_TEMPLATE));
    let mut rows = Vec::with_capacity(ids.len());
    for (id, count) in ids {
        let info = parse_id(id).and_then(|i| dict.get(i));
        let mut query_ids = vec![id.clone()];
        if let Some(t) = info {
            query_ids.extend(t.former.iter().cloned());
        }
        let req = HistogramRequest {
            filter: Filter { query: and_ids(&f.query, &query_ids), start: f.start, end: f.end },
            interval_ms: Some(interval_ms),
            target_buckets: None,
            time_zone: None,
        };
        let series = exec_histogram(st, req).await?;
        merge_missing(&mut missing, series.missing);
        let series = series.body;
        let prev = previous.as_ref().map(|p| p.get(id).copied().unwrap_or(0));
        let change = prev.map(|pc| match (pc, count) {
            (0, _) => "new",
            (_, 0) => "gone",
            (pc, c) if c as f64 > pc as f64 * CHANGE_FACTOR || (c as f64) * CHANGE_FACTOR < pc as f64 => "changed",
            _ => "same",
        });
        let ms = |v: i64| Timestamp::from_millis(v).to_rfc3339();
        rows.push(PatternRow {
            id: id.clone(),
            template: match info {
                Some(t) => t.template.clone(),
                None if *id == overflow_id => OVERFLOW_TEMPLATE.to_string(),
                None => String::new(),
            },
            service: info.map(|t| t.service.clone()),
            count,
            share: if total == 0 { 0.0 } else { count as f64 / total as f64 },
            first_seen: info.map(|t| ms(t.first_seen)),
            last_seen: info.map(|t| ms(t.last_seen)),
            example: info.map(|t| t.example.clone()),
            series: series.buckets.iter().map(|b| b.count).collect(),
            former: info.map(|t| t.former.clone()).unwrap_or_default(),
            previous_count: prev,
            change,
        });
    }
    let overflow: Vec<_> = dict.overflow().iter().map(|(s, n)| json!({"service": s, "lines": n})).collect();
    let mut out = json!({
        "patterns": rows,
        "total": total,
        "start": start.to_rfc3339(),
        "end": end.to_rfc3339(),
        "interval_ms": interval_ms,
        "templates": dict.templates().len(),
        "overflow": overflow,
    });
    if !missing.is_empty() {
        out["missing"] = json!(missing);
    }
    Ok(out)
}

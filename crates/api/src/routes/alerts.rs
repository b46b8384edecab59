//! Alerts and rules: `GET /api/v1/alerts`, `GET /api/v1/alerts/{id}`,
//! `POST /api/v1/alerts/{id}/ack|close|reopen`, `GET /api/v1/rules`.
//!
//! 404 with `{"enabled": false, ...}` when detection is off (`[detect] enabled = false`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use loglynx_detect::{AlertFilter, AlertStatus, Detection};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::error::ApiError;
use crate::routes::{bounded, filter};
use crate::state::AppState;

/// Most alerts one `GET /api/v1/alerts` returns.
pub const MAX_ALERTS: usize = 100_000;

fn detection(st: &AppState) -> Result<Arc<Detection>, Response> {
    st.detection.clone().ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "enabled": false,
                "error": "detection is off: set [detect] enabled = true (the default) and restart"
            })),
        )
            .into_response()
    })
}

fn internal(e: impl std::fmt::Display) -> Response {
    ApiError::Internal(e.to_string()).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    status: Option<String>,
    rule: Option<String>,
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
}

/// Handler of `GET /api/v1/alerts`.
pub(crate) async fn list(State(st): State<AppState>, Query(p): Query<ListParams>) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let status = match p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match AlertStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                return ApiError::BadRequest(format!(
                    "status {s:?}: expected open, acknowledged, closed or resolved"
                ))
                .into_response()
            }
        },
    };
    let range = match filter(None, p.start.as_deref(), p.end.as_deref()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let limit = match bounded("limit", p.limit, 100, MAX_ALERTS) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let f = AlertFilter {
        status,
        rule: p.rule.filter(|r| !r.is_empty()),
        q: p.q.filter(|q| !q.trim().is_empty()),
        start: range.start,
        end: range.end,
        limit,
    };
    match tokio::task::spawn_blocking(move || det.alerts().list(&f)).await {
        Ok(Ok((total, alerts))) => Json(json!({ "total": total, "alerts": alerts })).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Handler of `GET /api/v1/alerts/{id}`.
pub(crate) async fn get_one(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    match tokio::task::spawn_blocking(move || det.alerts().get(&id).map(|a| (id, a))).await {
        Ok(Ok((_, Some(a)))) => Json(a).into_response(),
        Ok(Ok((id, None))) => ApiError::NotFound(format!("no alert {id:?}: list them with GET /api/v1/alerts")).into_response(),
        // serve of the scale-out shape: kept here, not yet in Kafka; the same request again
        // publishes it.
        Ok(Err(e @ loglynx_detect::DetectError::Publish { .. })) => ApiError::Unavailable(e.to_string()).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Body of the status changes (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeBody {
    /// Who does it (default: `api`).
    by: Option<String>,
    comment: Option<String>,
}

async fn change(st: AppState, id: String, status: AlertStatus, body: Bytes) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    // No body, `null` or `{}`: defaults.
    let body: ChangeBody = match serde_json::from_slice::<Option<ChangeBody>>(&body) {
        _ if body.iter().all(u8::is_ascii_whitespace) => ChangeBody::default(),
        Ok(b) => b.unwrap_or_default(),
        Err(e) => {
            return ApiError::BadRequest(format!(
                "the body must be JSON like {{\"by\": \"alice\", \"comment\": \"...\"}} (both optional): {e}"
            ))
            .into_response()
        }
    };
    let by = body.by.filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "api".into());
    if by.len() > 200 || body.comment.as_ref().is_some_and(|c| c.len() > 10_000) {
        return ApiError::BadRequest("by is at most 200 bytes and comment at most 10000".into()).into_response();
    }
    let comment = body.comment.filter(|c| !c.trim().is_empty());
    match tokio::task::spawn_blocking(move || det.set_status(&id, status, &by, comment).map(|a| (id, a))).await {
        Ok(Ok((_, Some(a)))) => Json(a).into_response(),
        Ok(Ok((id, None))) => ApiError::NotFound(format!("no alert {id:?}: list them with GET /api/v1/alerts")).into_response(),
        // serve of the scale-out shape: kept here, not yet in Kafka; the same request again
        // publishes it.
        Ok(Err(e @ loglynx_detect::DetectError::Publish { .. })) => ApiError::Unavailable(e.to_string()).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Handler of `POST /api/v1/alerts/{id}/ack`.
pub(crate) async fn ack(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    change(st, id, AlertStatus::Acknowledged, body).await
}

/// Handler of `POST /api/v1/alerts/{id}/close`.
pub(crate) async fn close(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    change(st, id, AlertStatus::Closed, body).await
}

/// Handler of `POST /api/v1/alerts/{id}/reopen`.
pub(crate) async fn reopen(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    change(st, id, AlertStatus::Open, body).await
}

/// Handler of `GET /api/v1/rules`: the rules loaded (detection and correlation, with hits and
/// enabled state), the rules that compiled but target logs loglynx does not collect, the
/// refused ones with file, line and reason, and the built-in rules a rule file replaces.
pub(crate) async fn rules(State(st): State<AppState>) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let d = det.detector();
    let stats = det.stats().lock().unwrap_or_else(|p| p.into_inner());
    let rule = |r: &loglynx_detect::RuleInfo, kind: &str| -> Value {
        let mut v = json!({
            "key": r.key(),
            "id": r.id,
            "name": r.name,
            "title": r.title,
            "level": r.level,
            "author": r.author,
            "file": r.file.display().to_string(),
            "logsource": r.logsource,
            "kind": kind,
            "enabled": d.is_enabled(r),
            "hits": stats.hits.get(r.key()).copied().unwrap_or(0),
        });
        if let Some((groups, evicted)) = stats.groups.get(r.key()) {
            v["groups"] = json!(groups);
            v["groups_evicted"] = json!(evicted);
        }
        v
    };
    let set = d.rules();
    let mut loaded: Vec<Value> = set.active().iter().map(|r| rule(r, "detection")).collect();
    loaded.extend(set.correlations().map(|r| rule(r, "correlation")));
    let inactive: Vec<Value> = set.inactive().iter().map(|r| rule(r, "inactive")).collect();
    Json(json!({
        "loaded": set.loaded(),
        "rules": loaded,
        "inactive": inactive,
        "rejected": set.rejected(),
        "replaced": set.replaced(),
        "reloads": det.reloads(),
        "alerts_raised": stats.alerts_raised,
    }))
    .into_response()
}

/// Handler of `POST /api/v1/rules/{key}/enable`.
pub(crate) async fn enable(State(st): State<AppState>, Path(key): Path<String>, body: Bytes) -> Response {
    set_enabled(st, key, true, body).await
}

/// Handler of `POST /api/v1/rules/{key}/disable`.
pub(crate) async fn disable(State(st): State<AppState>, Path(key): Path<String>, body: Bytes) -> Response {
    set_enabled(st, key, false, body).await
}

/// Body of the rule state changes (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleChangeBody {
    /// Who does it (default: `api`).
    by: Option<String>,
}

async fn set_enabled(st: AppState, key: String, on: bool, body: Bytes) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let body: RuleChangeBody = match serde_json::from_slice::<Option<RuleChangeBody>>(&body) {
        _ if body.iter().all(u8::is_ascii_whitespace) => RuleChangeBody::default(),
        Ok(b) => b.unwrap_or_default(),
        Err(e) => {
            return ApiError::BadRequest(format!("the body must be JSON like {{\"by\": \"alice\"}} (optional): {e}")).into_response()
        }
    };
    let by = body.by.filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "api".into());
    if by.len() > 200 {
        return ApiError::BadRequest("by is at most 200 bytes".into()).into_response();
    }
    let d2 = det.clone();
    match tokio::task::spawn_blocking(move || d2.set_enabled(&key, on, &by).map(|k| (key, k))).await {
        Ok(Ok((_, Some(k)))) => {
            let d = det.detector();
            let r = d.rules().find(&k);
            Json(json!({
                "key": k,
                "title": r.map(|r| r.title.clone()),
                "name": r.and_then(|r| r.name.clone()),
                "enabled": r.map(|r| d.is_enabled(r)).unwrap_or(on),
            }))
            .into_response()
        }
        Ok(Ok((key, None))) => ApiError::NotFound(format!("no loaded rule {key:?}: GET /api/v1/rules lists them")).into_response(),
        // serve of the scale-out shape: changed here, not yet in Kafka; the same request
        // again publishes it.
        Ok(Err(e @ loglynx_detect::DetectError::PublishRule { .. })) => ApiError::Unavailable(e.to_string()).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Most stored events a backtest reads.
pub const BACKTEST_MAX_EVENTS: usize = loglynx_query::MAX_RESULT_WINDOW;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BacktestBody {
    /// A loaded rule (key, id, name or title).
    rule: Option<String>,
    /// Sigma YAML.
    yaml: Option<String>,
    start: Option<String>,
    end: Option<String>,
    /// A query narrowing the events read (default: all).
    q: Option<String>,
}

/// Handler of `POST /api/v1/rules/backtest`: runs a rule over stored events of a time range and
/// returns the alerts it would have raised, storing nothing.
pub(crate) async fn backtest(State(st): State<AppState>, body: Bytes) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let b: BacktestBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return ApiError::BadRequest(format!(
                "the body must be JSON with \"rule\" (a loaded rule) or \"yaml\" (Sigma YAML), and optional \"start\", \"end\", \"q\": {e}"
            ))
            .into_response()
        }
    };
    let rule = match (b.rule.filter(|r| !r.trim().is_empty()), b.yaml.filter(|y| !y.trim().is_empty())) {
        (Some(r), None) => loglynx_detect::BacktestRule::Loaded(r),
        (None, Some(y)) => loglynx_detect::BacktestRule::Yaml(y),
        _ => return ApiError::BadRequest("give exactly one of \"rule\" and \"yaml\"".into()).into_response(),
    };
    let f = match filter(b.q, b.start.as_deref(), b.end.as_deref()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = st.engine.validate(&f.query) {
        return ApiError::from(e).into_response();
    }
    let started = std::time::Instant::now();
    let (total, events, missing) = match stored_events(&st, f).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let run = tokio::task::spawn_blocking(move || {
        let mut events = events;
        // alerts are not evidence of anything
        events.retain(|e| e.alert_id.is_none());
        let truncated = total as usize > BACKTEST_MAX_EVENTS;
        det.backtest(&rule, events).map(|r| (r, truncated)).map_err(|e| match e {
            loglynx_detect::BacktestError::Detect(d) => format!("internal: {d}"),
            other => other.to_string(),
        })
    })
    .await;
    match run {
        Ok(Ok((r, truncated))) => {
            let mut body = json!({
                "events_scanned": r.events_scanned,
                "matched": r.matched,
                "alerts": r.alerts,
                "truncated": truncated,
                "took_ms": started.elapsed().as_millis() as u64,
            });
            // Through a root: the offsets no leaf answered (absent when complete).
            if !missing.is_empty() {
                body["missing"] = json!(missing);
            }
            Json(body).into_response()
        }
        Ok(Err(e)) if e.starts_with("internal: ") => internal(e),
        Ok(Err(e)) if e.starts_with("no loaded rule") => ApiError::NotFound(e).into_response(),
        Ok(Err(e)) => ApiError::BadRequest(e).into_response(),
        Err(e) => internal(e),
    }
}

/// How many events match `f`, the oldest [`BACKTEST_MAX_EVENTS`] of them (oldest first), and
/// what is missing: from the store, or through the root (each leaf sends its oldest, the root
/// keeps the oldest of all, ties by event id: the events one store over all of them would give).
async fn stored_events(
    st: &AppState,
    f: loglynx_query::Filter,
) -> Result<(u64, Vec<loglynx_core::Event>, Vec<loglynx_search::Missing>), ApiError> {
    match &st.root {
        None => {
            let (engine, store) = (st.engine.clone(), st.store.clone());
            let (total, events) = tokio::task::spawn_blocking(move || {
                engine.search_all(&store.snapshot(), &f, loglynx_query::SortOrder::Asc, BACKTEST_MAX_EVENTS)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))??;
            Ok((total, events, Vec::new()))
        }
        Some(root) => {
            let req = crate::routes::leaf::EventsRequest { filter: f, limit: BACKTEST_MAX_EVENTS };
            let a = root.gather::<_, crate::routes::leaf::EventsResponse>("events", &req).await?;
            let total = a.body.iter().map(|p| p.total).sum();
            let parts = a.body.into_iter().map(|p| p.events).collect();
            let events = loglynx_search::merge_hits(parts, loglynx_query::SortOrder::Asc, 0, BACKTEST_MAX_EVENTS);
            Ok((total, events, a.missing))
        }
    }
}

/// Handler of `GET /api/v1/notifications`: the channels configured, deliveries and failed
/// attempts since start, and the notifications still pending with their last error.
pub(crate) async fn notifications(State(st): State<AppState>) -> Response {
    let det = match detection(&st) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let d2 = det.clone();
    match tokio::task::spawn_blocking(move || loglynx_detect::notify::Notifier::pending(d2.alerts())).await {
        Ok(Ok(pending)) => {
            use std::sync::atomic::Ordering::Relaxed;
            let s = det.notify_stats();
            let pending: Vec<Value> = pending
                .into_iter()
                .map(|(_, p)| {
                    json!({
                        "channel": p.channel,
                        "kind": p.kind,
                        "alert": p.alert.id,
                        "rule": p.alert.rule.name,
                        "attempts": p.attempts,
                        "next_at": p.next_at,
                        "last_error": p.last_error,
                    })
                })
                .collect();
            Json(json!({
                "channels": det.notify_channels(),
                "delivered": s.delivered.load(Relaxed),
                "failed_attempts": s.failed_attempts.load(Relaxed),
                "pending": pending,
            }))
            .into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

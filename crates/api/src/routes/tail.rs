//! Live tail: `GET /api/v1/tail` (polling with an opaque cursor) and `GET /api/v1/tail/stream`
//! (Server-Sent Events).
//!
//! The cursor is the engine's [`TailCursor`] (`event.ingested` + `event.id` of the last event
//! seen) encoded as `<ingested ns>_<hex of the id>`: clients pass it back unchanged. The
//! stream polls the engine every [`POLL_INTERVAL`] on the server side, sends each new event as
//! one `data:` line of JSON with the event's cursor as SSE `id` (so a reconnecting EventSource
//! resumes where it stopped via `Last-Event-ID`), and ends when the client goes away or the
//! server shuts down. At most [`crate::state::DEFAULT_MAX_STREAMS`] streams run at once and
//! each holds at most one poll's worth of events ([`STREAM_POLL_LIMIT`]).
//!
//! Through the leaves (`serve` as root) the cursor is per Kafka partition instead
//! (`k<partition>:<next offset>_...`, [`OffsetCursor`]): exact whatever the clocks, and a
//! partition whose leaf does not answer waits at its offset (named in `missing`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use loglynx_core::{Event, Timestamp};
use loglynx_query::{Filter, TailCursor, TailRequest, MAX_LIMIT};
use loglynx_search::OffsetCursor;
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::routes::{bounded, filter, run_query, ApiQuery};
use crate::state::AppState;

/// How often a stream asks the engine for new events.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Most events fetched by one server-side poll of a stream.
pub(crate) const STREAM_POLL_LIMIT: usize = 1_000;
/// Events returned when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;

/// Parameters of both tail endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct TailParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// The reply of `GET /api/v1/tail`.
#[derive(Debug, Serialize)]
pub(crate) struct TailReply {
    /// Oldest first.
    events: Vec<Event>,
    /// Pass back as `cursor` to get what comes next; null until there is a first event.
    cursor: Option<String>,
    /// Through the leaves: offsets no leaf answered for (absent when complete).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missing: Vec<loglynx_search::Missing>,
}

/// Reads a cursor of the root's tail (absent or empty: start at the newest).
fn optional_offset_cursor(s: Option<&str>) -> Result<Option<OffsetCursor>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => OffsetCursor::decode(s).map(Some).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid cursor {s:?}: pass back the cursor of a previous tail reply unchanged, or omit it to start at the newest events"
            ))
        }),
    }
}

/// Encodes a cursor for clients.
pub(crate) fn encode_cursor(c: &TailCursor) -> String {
    let mut s = format!("{}_", c.ingested.as_nanos());
    for b in c.id.as_bytes() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decodes a cursor made by [`encode_cursor`].
pub(crate) fn decode_cursor(s: &str) -> Result<TailCursor, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "invalid cursor {s:?}: pass back the cursor of a previous tail reply unchanged, or omit it to start at the newest events"
        ))
    };
    let (ns, hex) = s.trim().split_once('_').ok_or_else(bad)?;
    let ns: i64 = ns.parse().map_err(|_| bad())?;
    // An ingest time, never before 1970: a negative one is made up (and i64::MIN overflows
    // the index's time arithmetic).
    if ns < 0 {
        return Err(bad());
    }
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let id = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok(TailCursor {
        ingested: Timestamp(ns),
        id,
    })
}

fn optional_cursor(s: Option<&str>) -> Result<Option<TailCursor>, ApiError> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(decode_cursor)
        .transpose()
}

/// Handler of `GET /api/v1/tail`.
pub(crate) async fn tail(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<TailParams>,
) -> Result<Json<TailReply>, ApiError> {
    if let Some(root) = &st.root {
        let cursor = optional_offset_cursor(p.cursor.as_deref())?;
        let f = filter(p.q, p.start.as_deref(), p.end.as_deref())?;
        let limit = bounded("limit", p.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
        let a = root.tail(f, cursor, limit).await?;
        let (events, next) = a.body;
        return Ok(Json(TailReply { events, cursor: Some(next.encode()), missing: a.missing }));
    }
    let cursor = optional_cursor(p.cursor.as_deref())?;
    let req = TailRequest {
        filter: filter(p.q, p.start.as_deref(), p.end.as_deref())?,
        cursor: cursor.clone(),
        limit: bounded("limit", p.limit, DEFAULT_LIMIT, MAX_LIMIT)?,
    };
    let resp = run_query(&st, move |engine, windows| engine.tail(windows, &req)).await?;
    let cursor = resp.cursor.or(cursor).map(|c| encode_cursor(&c));
    Ok(Json(TailReply {
        events: resp.events,
        cursor,
        missing: Vec::new(),
    }))
}

/// State of one SSE stream.
struct Follow {
    st: AppState,
    filter: Filter,
    cursor: Option<TailCursor>,
    /// Through the leaves: the per-partition cursor.
    offsets: Option<OffsetCursor>,
    pending: VecDeque<Event>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    done: bool,
    /// Released when the stream is dropped (client gone).
    _permit: OwnedSemaphorePermit,
}

/// Handler of `GET /api/v1/tail/stream`.
pub(crate) async fn tail_stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<TailParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let permit = st.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Unavailable(
            "too many live tail streams are open: close one, or poll GET /api/v1/tail instead"
                .into(),
        )
    })?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let filter = filter(p.q, p.start.as_deref(), p.end.as_deref())?;
    if let Some(root) = st.root.clone() {
        let cursor = optional_offset_cursor(last_event_id.or(p.cursor.as_deref()))?;
        let limit = bounded("limit", p.limit, DEFAULT_LIMIT, STREAM_POLL_LIMIT)?;
        let first = root.tail(filter.clone(), cursor, limit).await?;
        let (events, next) = first.body;
        let follow = Follow {
            shutdown: st.shutdown.subscribe(),
            st,
            filter,
            cursor: None,
            offsets: Some(next),
            pending: events.into(),
            done: false,
            _permit: permit,
        };
        return Ok(Sse::new(follow_stream(follow)).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))));
    }
    let cursor = optional_cursor(last_event_id.or(p.cursor.as_deref()))?;
    // The first poll runs before the reply so a bad query is a 400, not a broken stream.
    let req = TailRequest {
        filter: filter.clone(),
        cursor: cursor.clone(),
        limit: bounded("limit", p.limit, DEFAULT_LIMIT, STREAM_POLL_LIMIT)?,
    };
    let first = run_query(&st, move |engine, windows| engine.tail(windows, &req)).await?;
    let follow = Follow {
        shutdown: st.shutdown.subscribe(),
        st,
        filter,
        cursor: first.cursor.or(cursor),
        offsets: None,
        pending: first.events.into(),
        done: false,
        _permit: permit,
    };
    Ok(Sse::new(follow_stream(follow)).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}

/// The events of a stream as they come: each event once, then a poll every [`POLL_INTERVAL`].
fn follow_stream(follow: Follow) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures::stream::unfold(follow, |mut f| async move {
        loop {
            if f.done {
                return None;
            }
            if let Some(ev) = f.pending.pop_front() {
                let sse = match &f.offsets {
                    // Through the leaves the id is the cursor after the whole poll's events.
                    Some(c) => event_data(&ev).id(c.encode()),
                    None => event_message(&ev),
                };
                return Some((Ok(sse), f));
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = f.shutdown.wait_for(|closing| *closing) => return None,
            }
            if let (Some(root), Some(c)) = (f.st.root.clone(), f.offsets.clone()) {
                match root.tail(f.filter.clone(), Some(c), STREAM_POLL_LIMIT).await {
                    Ok(a) => {
                        let (events, next) = a.body;
                        f.offsets = Some(next);
                        f.pending.extend(events);
                    }
                    Err(e) => {
                        f.done = true;
                        let msg = SseEvent::default().event("error").data(ApiError::from(e).body().to_string());
                        return Some((Ok(msg), f));
                    }
                }
                continue;
            }
            let req = TailRequest {
                filter: f.filter.clone(),
                cursor: f.cursor.clone(),
                limit: STREAM_POLL_LIMIT,
            };
            match run_query(&f.st, move |engine, windows| engine.tail(windows, &req)).await {
                Ok(resp) => {
                    if resp.cursor.is_some() {
                        f.cursor = resp.cursor;
                    }
                    f.pending.extend(resp.events);
                }
                Err(e) => {
                    f.done = true;
                    let msg = SseEvent::default()
                        .event("error")
                        .data(e.body().to_string());
                    return Some((Ok(msg), f));
                }
            }
        }
    })
}

/// One event as an SSE message: JSON data, its cursor as id.
fn event_message(ev: &Event) -> SseEvent {
    let id = encode_cursor(&TailCursor {
        ingested: ev.ingested,
        id: ev.id.clone(),
    });
    event_data(ev).id(id)
}

/// One event as an SSE message's JSON data.
fn event_data(ev: &Event) -> SseEvent {
    let data = serde_json::to_string(ev).unwrap_or_else(|_| "{}".into());
    SseEvent::default().data(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = TailCursor {
            ingested: Timestamp(1_700_000_000_123_456_789),
            id: "a_b:é\n".into(),
        };
        let s = encode_cursor(&c);
        assert!(
            s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{s}"
        );
        assert_eq!(decode_cursor(&s).unwrap(), c);
        assert!(decode_cursor("").is_err());
        assert!(decode_cursor("-9223372036854775808_").is_err());
        assert!(decode_cursor("-1_41").is_err());
        assert!(decode_cursor("12").is_err());
        assert!(decode_cursor("x_00").is_err());
        assert!(decode_cursor("12_0").is_err());
        assert!(decode_cursor("12_zz").is_err());
        assert!(decode_cursor("12_ff").is_err());
        assert!(decode_cursor("12_é").is_err());
    }
}

//! `GET /api/v1/export`: every event matching a query and time range as NDJSON, streamed,
//! whatever the count (search pages stop at the 100,000-hit result window).
//!
//! The events are read on the blocking pool from one store snapshot taken when the request
//! arrives, in pages of [`PAGE`] with the tail cursor (`event.ingested`, `event.id`), so each
//! event comes once, in ingest order, and memory stays at one page plus the channel's few
//! chunks whatever the size of the export. The exact number of matching events is sent first in
//! the `X-Total-Count` header (`loglynx export` shows progress with it). A client that goes away
//! stops the reading. A failure after the first bytes ends the body early: a client detects it
//! by counting fewer lines than `X-Total-Count`.
//!
//! Through the leaves (`serve` as root) the count comes from the root, which must have every
//! leaf's answer (an export is complete or refused: 503 naming what is missing), and the pages
//! come from the root's tail by per-partition offset cursors from offset 0 (so each event once,
//! in partition-offset order per page).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use loglynx_core::Timestamp;
use loglynx_query::{Filter, TailCursor, TailRequest};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::routes::{filter, ApiQuery};
use crate::state::AppState;

/// Events read per page.
const PAGE: usize = 5_000;

/// Parameters of `GET /api/v1/export`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportParams {
    q: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// Handler of `GET /api/v1/export`.
pub(crate) async fn export(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let filter = filter(p.q, p.start.as_deref(), p.end.as_deref())?;
    if let Some(root) = st.root.clone() {
        return through_root(root, filter).await;
    }
    let (engine, store) = (st.engine.clone(), st.store.clone());
    let windows = tokio::task::spawn_blocking(move || store.snapshot())
        .await
        .map_err(|e| ApiError::Internal(format!("export task failed: {e}")))?;
    let (total, windows) = {
        let (engine, f) = (engine.clone(), filter.clone());
        tokio::task::spawn_blocking(move || engine.count(&windows, &f).map(|n| (n, windows)))
            .await
            .map_err(|e| ApiError::Internal(format!("export task failed: {e}")))??
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || stream(&engine, &windows, filter, tx));
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
            (HeaderName::from_static("x-total-count"), HeaderValue::from(total)),
        ],
        body,
    )
        .into_response())
}

/// The export of `serve` as root: the exact count from every leaf, then pages of the root's
/// tail from offset 0 of every partition.
async fn through_root(root: std::sync::Arc<loglynx_search::Root>, filter: Filter) -> Result<Response, ApiError> {
    let count = root.count(filter.clone()).await?;
    if !count.missing.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "export needs every leaf and {}; retry when the leaves are back (GET /api/v1/leaves)",
            describe_missing(&count.missing)
        )));
    }
    let total = count.body;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut cursor = loglynx_search::OffsetCursor::default();
        loop {
            let page = match root.tail(filter.clone(), Some(cursor.clone()), PAGE).await {
                Ok(p) if p.missing.is_empty() => p,
                Ok(p) => {
                    let why = describe_missing(&p.missing);
                    tracing::warn!("export stopped: {why}");
                    let _ = tx.send(Err(std::io::Error::other(why))).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!("export stopped: {e}");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let (events, next) = page.body;
            if events.is_empty() {
                return;
            }
            let mut chunk = Vec::with_capacity(events.len() * 256);
            for e in &events {
                if serde_json::to_writer(&mut chunk, e).is_ok() {
                    chunk.push(b'\n');
                }
            }
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return; // the client went away
            }
            if next == cursor {
                return;
            }
            cursor = next;
        }
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
            (HeaderName::from_static("x-total-count"), HeaderValue::from(total)),
        ],
        body,
    )
        .into_response())
}

/// `partition 3 offsets 0..120 (leaf 10.0.0.2:7000: unreachable), ...` (the first few).
fn describe_missing(missing: &[loglynx_search::Missing]) -> String {
    let mut parts: Vec<String> = missing
        .iter()
        .take(4)
        .map(|m| {
            let to = m.to.map(|t| t.to_string()).unwrap_or_default();
            format!("partition {} offsets {}..{to} ({}: {})", m.partition, m.from, if m.leaf.is_empty() { "no leaf" } else { m.leaf.as_str() }, m.reason)
        })
        .collect();
    if missing.len() > 4 {
        parts.push(format!("{} more", missing.len() - 4));
    }
    format!("these are missing: {}", parts.join(", "))
}

/// Pages through the snapshot with the tail cursor, sending each page as NDJSON.
fn stream(
    engine: &loglynx_query::QueryEngine,
    windows: &[loglynx_store::WindowSnapshot],
    filter: Filter,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    // Before every event: ingest time 0 (the epoch; loglynx stamps events with the current
    // time, and tantivy's dates cannot go below i64::MIN / 1000 ns) and an empty id.
    let mut cursor = TailCursor { ingested: Timestamp(0), id: String::new() };
    loop {
        let req = TailRequest { filter: filter.clone(), cursor: Some(cursor.clone()), limit: PAGE };
        let page = match engine.tail(windows, &req) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("export stopped: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        if page.events.is_empty() {
            return;
        }
        let mut chunk = Vec::with_capacity(page.events.len() * 256);
        for e in &page.events {
            if serde_json::to_writer(&mut chunk, e).is_ok() {
                chunk.push(b'\n');
            }
        }
        if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
            return; // the client went away
        }
        match page.cursor {
            Some(c) if c != cursor => cursor = c,
            _ => return,
        }
    }
}

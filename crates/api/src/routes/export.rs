//! `GET /api/v1/export`: every event matching a query and time range as NDJSON, streamed,
//! whatever the count (search pages stop at the 100,000-hit result window).
//!
//! The events are read on the blocking pool from one store snapshot taken when the request
//! arrives, in one pass in the order the store holds them (time window by window; inside one,
//! segment by segment), so each event comes once, the cost is linear in the number exported
//! and memory stays at one chunk plus the channel's few, whatever the size of the export. (It
//! used to page with the tail cursor, and every page scanned everything after its cursor: 15 M
//! events took hours.) The exact number of matching events is sent first in the
//! `X-Total-Count` header (`loglynx export` shows progress with it). A client that goes away
//! stops the reading. The body ends cleanly only after the last event: a failure, a panic or
//! the server shutting down breaks the transfer instead, so a cut export can't pass for a
//! whole one (and a client can also count lines against `X-Total-Count`).
//!
//! Through the leaves (`serve` as root) the count comes from the root, which must have every
//! leaf's answer (an export is complete or refused: 503 naming what is missing), and the pages
//! come from the root's tail by per-partition offset cursors from offset 0 (so each event once,
//! in partition-offset order per page).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use loglynx_query::Filter;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::routes::{filter, ApiQuery};
use crate::state::AppState;

/// Events read per page of the root's tail.
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
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let done = Arc::new(AtomicBool::new(false));
    let (shutdown, rt, finished) = (st.shutdown.subscribe(), tokio::runtime::Handle::current(), done.clone());
    tokio::task::spawn_blocking(move || {
        if stream(&engine, &windows, filter, &tx, shutdown, rt) {
            finished.store(true, Ordering::Release);
        }
    });
    // The body ends cleanly only after the last event; any other end (an error, a shutdown, a
    // panic) breaks the transfer, so a client can't mistake a cut export for a whole one.
    let body = Body::from_stream(futures::stream::unfold(Some(rx), move |rx| {
        let done = done.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(chunk) => Some((Ok(chunk), Some(rx))),
                None if done.load(Ordering::Acquire) => None,
                None => Some((Err(std::io::Error::other("the export stopped before its end")), None)),
            }
        }
    }));
    Ok(ndjson(total, body))
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
    Ok(ndjson(total, body))
}

/// The export's answer: NDJSON with the number of lines to expect in `X-Total-Count`.
fn ndjson(total: u64, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
            (HeaderName::from_static("x-total-count"), HeaderValue::from(total)),
        ],
        body,
    )
        .into_response()
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

/// Bytes of NDJSON sent per chunk of the body.
const CHUNK: usize = 256 * 1024;

/// Scans the snapshot once ([`loglynx_query::QueryEngine::scan`]), sending the events as NDJSON
/// in chunks of about [`CHUNK`] bytes. True when every event was sent; false when the client
/// went away, the server began shutting down or the scan failed (logged).
fn stream(
    engine: &loglynx_query::QueryEngine,
    windows: &[loglynx_store::WindowSnapshot],
    filter: Filter,
    tx: &mpsc::Sender<Bytes>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    rt: tokio::runtime::Handle,
) -> bool {
    let mut chunk = Vec::with_capacity(CHUNK + 4096);
    let mut stopped = None;
    // Also asked between segments and every few matches: a scan whose matches are rare must
    // see a shutdown or a client gone too.
    let (closing, client) = (shutdown.clone(), tx.clone());
    let stop = move || *closing.borrow() || client.is_closed();
    let scanned = engine.scan(windows, &filter, &stop, |e| {
        if serde_json::to_writer(&mut chunk, &e).is_ok() {
            chunk.push(b'\n');
        }
        if chunk.len() < CHUNK {
            return ControlFlow::Continue(());
        }
        let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK + 4096));
        match deliver(&rt, tx, &mut shutdown, Bytes::from(full)) {
            Ok(()) => ControlFlow::Continue(()),
            Err(why) => {
                stopped = Some(why);
                ControlFlow::Break(())
            }
        }
    });
    if stopped.is_none() && *shutdown.borrow() {
        stopped = Some(Gone::Closing);
    } else if stopped.is_none() && tx.is_closed() {
        stopped = Some(Gone::Client);
    }
    let last = match (scanned, stopped) {
        (Ok(_), None) => deliver(&rt, tx, &mut shutdown, Bytes::from(chunk)),
        (Ok(_), Some(why)) => Err(why),
        (Err(e), _) => {
            tracing::warn!("export stopped: {e}");
            return false;
        }
    };
    match last {
        Ok(()) => true,
        Err(Gone::Client) => false,
        Err(Gone::Closing) => {
            tracing::info!("export stopped: the server is shutting down");
            false
        }
    }
}

/// Why a chunk was not delivered.
enum Gone {
    /// The server is shutting down.
    Closing,
    /// The client went away.
    Client,
}

/// Sends `chunk` to the response body from the blocking thread, waiting for the client to take
/// it unless the server is shutting down: a client that stops reading must not hold up the
/// server's exit (the runtime waits for its blocking threads), and a shutdown ends the export.
fn deliver(
    rt: &tokio::runtime::Handle,
    tx: &mpsc::Sender<Bytes>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    chunk: Bytes,
) -> Result<(), Gone> {
    if chunk.is_empty() {
        return Ok(());
    }
    rt.block_on(async {
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|closing| *closing) => Err(Gone::Closing),
            r = tx.send(chunk) => r.map_err(|_| Gone::Client),
        }
    })
}

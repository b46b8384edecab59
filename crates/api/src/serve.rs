//! The serve loop: accepts connections (plain or TLS) and runs each with hyper, within the
//! limits of [`ServeLimits`].
//!
//! `axum::serve` sets no timer on hyper, so a client sending its header byte by byte holds a
//! connection forever, and it has no cap on connections. This loop is the same shape (hyper's
//! auto builder per connection, graceful shutdown) with:
//! - `header_read_timeout`: hyper closes a connection whose request header is not complete
//!   in time (a Tokio timer is set, without which hyper ignores the setting);
//! - `max_connections`: a permit is taken before each accept, so over the cap new clients
//!   wait in the kernel's listen backlog while the open connections keep working;
//! - `request_timeout` and `max_requests`: a middleware around the router answers 408 when a
//!   request's reply has not started in time and 503 (`Retry-After`) when too many are in
//!   progress, each naming its setting.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use loglynx_config::HttpConfig;
use tokio::sync::Semaphore;

use crate::ApiError;

/// The limits the server holds every client to (`[http]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// A request header not complete by then closes the connection.
    pub header_read_timeout: Duration,
    /// A reply not started by then is answered 408.
    pub request_timeout: Duration,
    /// Open connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// Requests in progress at most; more are answered 503.
    pub max_requests: usize,
}

impl ServeLimits {
    /// The limits of the `[http]` config section.
    pub fn from_config(http: &HttpConfig) -> ServeLimits {
        ServeLimits {
            header_read_timeout: http.header_read_timeout,
            request_timeout: http.request_timeout,
            max_connections: http.max_connections.max(1),
            max_requests: http.max_requests.max(1),
        }
    }
}

impl Default for ServeLimits {
    /// The defaults of `[http]`.
    fn default() -> ServeLimits {
        ServeLimits::from_config(&HttpConfig::default())
    }
}

#[derive(Clone)]
struct RequestLimits {
    timeout: Duration,
    max: usize,
    in_progress: Arc<Semaphore>,
}

/// 503 over `max_requests`, 408 past `request_timeout`.
async fn limit_requests(
    State(lim): State<RequestLimits>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = lim.in_progress.clone().try_acquire_owned() else {
        return ApiError::Unavailable(format!(
            "too many requests in progress (http.max_requests = {}): retry shortly, or raise http.max_requests",
            lim.max
        ))
        .into_response();
    };
    match tokio::time::timeout(lim.timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::RequestTimeout(format!(
            "the request took longer than http.request_timeout ({}): send smaller requests, narrow the query, or raise http.request_timeout",
            humantime::format_duration(lim.timeout)
        ))
        .into_response(),
    }
}

/// How long a shutdown waits, beyond `request_timeout`, for the connections' requests in
/// progress before closing them: every request has had its reply started by then (or its 408),
/// so what is left are responses their clients stopped reading.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting and waits for the connections' requests in progress (at most `request_timeout`
/// plus [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve_limited<L>(
    mut listener: L,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let app = app.layer(middleware::from_fn_with_state(
        RequestLimits {
            timeout: limits.request_timeout,
            max: limits.max_requests,
            in_progress: Arc::new(Semaphore::new(limits.max_requests)),
        },
        limit_requests,
    ));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // The peer address feeds the limit on failed authentication attempts.
            req.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
        });
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(%peer, "connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    let grace = limits.request_timeout.saturating_add(SHUTDOWN_GRACE);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        // A client that stopped reading its response (an export, a big search) would hold the
        // exit forever. Every reply has started by now (ingest acknowledgements included), so
        // closing these connections loses nothing acknowledged.
        tracing::warn!(
            "connections still open {}s after shutdown began (clients not reading their responses); closing them",
            grace.as_secs()
        );
    }
    Ok(())
}

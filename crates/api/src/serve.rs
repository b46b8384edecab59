//! The serve loop: accepts connections (plain or TLS) and runs each with hyper, within the
//! limits of [`ServeLimits`].
//!
//! `axum::serve` sets no timer on hyper, so a client sending its header byte by byte holds a
//! connection forever, and it has no cap on connections. This loop is the same shape (hyper's
//! auto builder per connection, graceful shutdown) with:
//! - `header_read_timeout`: hyper closes a connection whose request header is not complete
//!   in time (a Tokio timer is set, without which hyper ignores the setting). Its timer only
//!   starts with the first byte, so the first read is awaited here with the same timeout (a
//!   client that connects and sends nothing is closed), and a connection with no request in
//!   progress and nothing to write that moves no byte for as long is closed too;
//! - HTTP/1.1 only (TLS offers nothing else through ALPN; plaintext HTTP/2 is refused);
//! - a response its client stops reading (the socket's send buffer full) for `request_timeout`
//!   closes the connection: otherwise a client could hold a slot forever by asking for an
//!   export and never reading it;
//! - `max_connections`: a permit is taken before each accept, so over the cap new clients
//!   wait in the kernel's listen backlog while the open connections keep working;
//! - `request_timeout` and `max_requests`: a middleware around the router answers 408 when a
//!   request's reply has not started in time and 503 (`Retry-After`) when too many are in
//!   progress, each naming its setting.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use loglynx_config::HttpConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
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

/// The first read of a connection, awaited at most `wait`: `None` when the client sent nothing
/// in that time (or closed, or failed), else the connection with those bytes to be read again.
async fn first_bytes<T>(mut io: T, wait: Duration, peer: SocketAddr) -> Option<Watched<T>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; FIRST_READ];
    match tokio::time::timeout(wait, io.read(&mut buf)).await {
        Ok(Ok(0)) => None,
        Ok(Ok(n)) => {
            buf.truncate(n);
            Some(Watched::new(io, buf))
        }
        Ok(Err(e)) => {
            tracing::trace!(%peer, "connection failed before its first byte: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "connection closed: nothing sent within http.header_read_timeout ({}s)", wait.as_secs_f64());
            None
        }
    }
}

/// Bytes of the first read of a connection.
const FIRST_READ: usize = 8 << 10;

/// Resolves (saying why) once the connection must be closed: no request in progress, nothing
/// left to write and no byte read or written for `header_read_timeout` (hyper's own timer
/// covers the same between requests), or a response its client has not read for
/// `request_timeout` (the socket's send buffer full all that time).
async fn stuck(a: &Activity, limits: ServeLimits) -> String {
    let tick = limits.header_read_timeout.min(Duration::from_secs(1)).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(tick).await;
        // No request in progress, nothing left to write (hyper drops a reply's body once it
        // has taken its last frame, maybe before the bytes are out), nothing moving.
        if a.in_flight.load(Ordering::Relaxed) == 0 && a.stalled().is_zero() && a.quiet() >= limits.header_read_timeout {
            return format!("idle for http.header_read_timeout ({:?}) with no request", limits.header_read_timeout);
        }
        if a.stalled() >= limits.request_timeout {
            return format!("its client read nothing of the response for http.request_timeout ({:?})", limits.request_timeout);
        }
    }
}

/// When a connection last moved a byte, whether its writes are blocked and how many of its
/// requests are in progress: shared between its I/O, its service and its watch.
#[derive(Clone)]
struct Activity {
    since: Instant,
    /// Milliseconds from `since` to the last byte read or written.
    last_ms: Arc<AtomicU64>,
    /// Milliseconds from `since` (plus 1; 0: not blocked) to the first write that found the
    /// socket full since the last one that went through.
    stalled_ms: Arc<AtomicU64>,
    in_flight: Arc<AtomicUsize>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            since: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            stalled_ms: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn wrote(&self) {
        self.touch();
        self.stalled_ms.store(0, Ordering::Relaxed);
    }

    fn blocked(&self) {
        let _ = self.stalled_ms.compare_exchange(0, self.now_ms() + 1, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// How long since the last byte.
    fn quiet(&self) -> Duration {
        self.since.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }

    /// How long writes have been blocked (zero when they are not).
    fn stalled(&self) -> Duration {
        match self.stalled_ms.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            at => self.since.elapsed().saturating_sub(Duration::from_millis(at - 1)),
        }
    }

    /// A request begins; it ends when the guard is dropped.
    fn request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(self.clone())
    }
}

/// One request in progress on a connection (see [`Activity::request`]).
struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body that keeps its request in progress until it is sent or dropped.
struct Tracked {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's I/O: the bytes of its first read again, then the socket; every byte read or
/// written counts as activity.
struct Watched<T> {
    first: Vec<u8>,
    at: usize,
    inner: T,
    activity: Activity,
}

impl<T> Watched<T> {
    fn new(inner: T, first: Vec<u8>) -> Watched<T> {
        Watched { first, at: 0, inner, activity: Activity::new() }
    }

    fn activity(&self) -> Activity {
        self.activity.clone()
    }

    fn note(&self, write: &Poll<io::Result<usize>>) {
        match write {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.blocked(),
            _ => {}
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.first.len() {
            let n = buf.remaining().min(this.first.len() - this.at);
            buf.put_slice(&this.first[this.at..this.at + n]);
            this.at += n;
            if this.at == this.first.len() {
                this.first = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        self.note(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
    // HTTP/1.1 only: TLS offers no other protocol (ALPN), and plaintext HTTP/2 (prior
    // knowledge) would bring flow control under which a client that stops reading never fills
    // the socket, so the unread-response rule below could not see it.
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Closes the connections still open when the shutdown grace is over.
    let (close_all, closing) = tokio::sync::watch::channel(false);
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
        let (builder, watcher, mut closing) = (builder.clone(), graceful.watcher(), closing.clone());
        tokio::spawn(async move {
            // A client that sends nothing holds a connection slot: hyper's header timer only
            // starts once it has read the first bytes, so they are awaited here first.
            let Some(io) = first_bytes(io, limits.header_read_timeout, peer).await else {
                drop(permit);
                return;
            };
            let activity = io.activity();
            let tracked = activity.clone();
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                // The peer address feeds the limit on failed authentication attempts.
                req.extensions_mut().insert(ConnectInfo(peer));
                let in_flight = tracked.request();
                let reply = tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new));
                async move {
                    let resp = reply.await?;
                    // The request is in progress until its body is sent (or dropped).
                    Ok::<_, std::convert::Infallible>(resp.map(|b| axum::body::Body::new(Tracked { inner: b, _in_flight: in_flight })))
                }
            });
            let conn = watcher.watch(builder.serve_connection(TokioIo::new(io), service).into_owned());
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::trace!(%peer, "connection ended: {e}");
                },
                why = stuck(&activity, limits) => tracing::debug!(%peer, "connection closed: {why}"),
                _ = closing.wait_for(|c| *c) => tracing::debug!(%peer, "connection closed: the shutdown's grace is over"),
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
        let _ = close_all.send(true);
    }
    Ok(())
}

//! Authentication and authorisation of every request: one middleware ([`require_auth`]) in
//! front of all routes, and the [`Principal`] extractor for handlers that want to know who
//! called.
//!
//! Who may call:
//! - no key file, no `http.auth_token`, listening on loopback: anyone (the default of a
//!   single-user install);
//! - otherwise every request needs a credential: an API key from `<data_dir>/keys.json`
//!   (`loglynx keys add`, with a scope, see [`Scope`]) or the `http.auth_token` (an admin key).
//!   As soon as the key file exists this holds on loopback too; off loopback it always holds
//!   (with no key and no token nothing is accepted).
//!
//! The key file is re-read when it changes (checked on every request: one `stat`), so `keys
//! add` and `keys revoke` take effect at once without a restart.
//!
//! Accepted forms:
//! - `Authorization: Bearer <key>` (the API, the CLI, the dashboard);
//! - `Authorization: Basic base64(<any user>:<key>)`, because browsers and log shippers
//!   (Fluent Bit, Vector, Filebeat `username`/`password`) speak Basic natively.
//!
//! Answers: 401 without a credential or with a wrong one, 403 with a key whose scope does not
//! allow the endpoint ([`required_scope`]), 429 while the client's address has used up its
//! wrong attempts (limit.rs). Wrong attempts are logged with the address, the path and the
//! key's public id when it has one, never the key.

mod keys;
mod limit;
mod origin;
mod rate;
mod session;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;

use crate::error::ApiError;

pub use keys::{KeyEntry, KeyError, KeyFile, Scope, KEYS_FILE};
use keys::{id_of, LoadedKeys};
use limit::FailureLimiter;
use origin::HostPolicy;
pub(crate) use rate::KeyRates;
pub(crate) use session::routes as session_routes;
use session::{Sessions, CSRF_HEADER, SESSION_COOKIE};

/// Who made a request, put in the request's extensions by [`require_auth`] (`anonymous` with
/// the admin scope when the server requires no credential); handlers take it as an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name (`token` for `http.auth_token`, `anonymous` when auth is off).
    pub name: String,
    /// What it may do.
    pub scope: Scope,
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized { basic: false })
    }
}

/// The server's credentials: the key file, the token, whether one is required, the hosts it
/// answers to, the dashboard sessions and the failed-attempt table. Cheap to clone (one `Arc`).
#[derive(Clone, Default)]
pub struct Auth(Arc<Inner>);

#[derive(Default)]
struct Inner {
    token: Option<String>,
    keys_path: Option<PathBuf>,
    required: bool,
    hosts: HostPolicy,
    session_ttl: Duration,
    secure_cookies: bool,
    keys: Mutex<LoadedKeys>,
    failures: Mutex<FailureLimiter>,
    sessions: Mutex<Sessions>,
    /// Wrong credentials (`loglynx_http_auth_failures_total`).
    failed_total: prometheus_client::metrics::counter::Counter,
    /// Requests refused because their address had no attempt left
    /// (`loglynx_http_auth_blocked_total`).
    blocked_total: prometheus_client::metrics::counter::Counter,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.0.token.as_ref().map(|_| "<set>"))
            .field("keys_path", &self.0.keys_path)
            .field("required", &self.0.required)
            .finish()
    }
}

/// What a request's credentials turned out to be.
enum Verdict {
    Open,
    /// Allowed; `csrf`: the session's token when the credential was the session cookie.
    Allowed(Principal, Option<String>),
    Missing,
    Wrong { key_id: Option<String> },
}

impl Auth {
    /// Credentials from `token` (an admin key; empty counts as unset) and the key file of
    /// `data_dir` when given. `required`: refuse requests without a credential even when there
    /// is neither (a server listening off loopback). Hosts: loopback names only when not
    /// `required`; sessions last 12 h.
    pub fn new(token: Option<&str>, data_dir: Option<&Path>, required: bool) -> Auth {
        Auth::build(token, data_dir, required, HostPolicy::new(!required, &[]), Duration::from_secs(12 * 3600), false)
    }

    /// The credentials of a server listening on `listen` with the `[http]` section `http`, the
    /// key file of `data_dir`, and `tls` (session cookies marked `Secure`).
    pub fn from_config(
        http: &loglynx_config::HttpConfig,
        data_dir: Option<&Path>,
        listen: SocketAddr,
        tls: bool,
    ) -> Auth {
        let loopback = listen.ip().is_loopback();
        Auth::build(
            http.auth_token.as_deref(),
            data_dir,
            !loopback,
            HostPolicy::new(loopback, &http.allowed_hosts),
            http.session_ttl,
            tls,
        )
    }

    fn build(
        token: Option<&str>,
        data_dir: Option<&Path>,
        required: bool,
        hosts: HostPolicy,
        session_ttl: Duration,
        secure_cookies: bool,
    ) -> Auth {
        let auth = Auth(Arc::new(Inner {
            token: token.filter(|t| !t.is_empty()).map(str::to_string),
            keys_path: data_dir.map(|d| KeyFile::in_data_dir(d).path().to_path_buf()),
            required,
            hosts,
            session_ttl,
            secure_cookies,
            keys: Mutex::default(),
            failures: Mutex::default(),
            sessions: Mutex::default(),
            failed_total: Default::default(),
            blocked_total: Default::default(),
        }));
        auth.refresh();
        auth
    }

    /// Re-reads the key file if it changed; whether any credential is required now.
    fn refresh(&self) -> bool {
        let exists = match &self.0.keys_path {
            Some(p) => {
                let mut keys = lock(&self.0.keys);
                keys.refresh(p);
                keys.exists
            }
            None => false,
        };
        self.0.required || self.0.token.is_some() || exists
    }

    /// The principal `key` is (with the key's id; `None` for the token), if it is one: re-reads
    /// the key file when it changed, then compares hashes (what every request with a key costs).
    pub fn check_key(&self, key: &str) -> Option<(Principal, Option<String>)> {
        self.refresh();
        if let Some(token) = &self.0.token {
            if constant_time_eq(key.as_bytes(), token.as_bytes()) {
                let p = Principal {
                    name: "token".into(),
                    scope: Scope::Admin,
                };
                return Some((p, None));
            }
        }
        let keys = lock(&self.0.keys);
        let entry = keys.check(key)?;
        let p = Principal {
            name: entry.name.clone(),
            scope: entry.scope,
        };
        Some((p, Some(entry.id.clone())))
    }

    /// `Some(seconds)` while `peer` has no attempt left.
    pub(crate) fn blocked(&self, peer: Option<IpAddr>) -> Option<u64> {
        let wait = lock(&self.0.failures).blocked(peer?, Instant::now());
        if wait.is_some() {
            self.0.blocked_total.inc();
        }
        wait
    }

    /// Registers the failure counters in `registry` (once per server).
    pub(crate) fn register_metrics(&self, registry: &loglynx_telemetry::Registry) {
        registry.register(
            "loglynx_http_auth_failures",
            "requests with a wrong or revoked key (401)",
            self.0.failed_total.clone(),
        );
        registry.register(
            "loglynx_http_auth_blocked",
            "requests refused because their address made too many wrong attempts (429)",
            self.0.blocked_total.clone(),
        );
    }

    /// Counts and logs a wrong credential (never the credential itself).
    pub(crate) fn failed(&self, peer: Option<IpAddr>, key_id: Option<&str>, path: &str) {
        self.0.failed_total.inc();
        let locked = peer.is_some_and(|ip| lock(&self.0.failures).fail(ip, Instant::now()));
        tracing::warn!(
            peer = %peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            key_id = key_id.unwrap_or("-"),
            %path,
            locked,
            "authentication failed: wrong or revoked key"
        );
    }

    /// The rule of the ingest routes for a request that does not pass through the HTTP router
    /// (OTLP/gRPC): `authorization` is its `Authorization` value (Bearer or Basic), `peer` its
    /// address, `what` the endpoint named in the log. `listener_required`: the listener is off
    /// loopback, so a credential is needed even with no key file and no token. The same key
    /// file (re-read when it changes), token, failed-attempt limit and counters as the HTTP
    /// routes: `Unauthorized` without a credential or with a wrong one, `Forbidden` for a key
    /// whose scope does not allow ingest, `TooManyAttempts` while `peer` has no attempt left.
    pub fn check_ingest(
        &self,
        authorization: Option<&str>,
        peer: Option<IpAddr>,
        listener_required: bool,
        what: &str,
    ) -> Result<Principal, ApiError> {
        if authorization.is_some() {
            if let Some(retry_after) = self.blocked(peer) {
                return Err(ApiError::TooManyAttempts { retry_after });
            }
        }
        if !self.refresh() && !listener_required {
            return Ok(Principal {
                name: "anonymous".into(),
                scope: Scope::Admin,
            });
        }
        let Some(value) = authorization else {
            return Err(ApiError::Unauthorized { basic: false });
        };
        let Some(given) = credential(value) else {
            self.failed(peer, None, what);
            return Err(ApiError::Unauthorized { basic: false });
        };
        let Some((principal, _)) = self.check_key(&given) else {
            self.failed(peer, id_of(&given), what);
            return Err(ApiError::Unauthorized { basic: false });
        };
        if !principal.scope.allows(Scope::Ingest) {
            return Err(ApiError::Forbidden(format!(
                "key {:?} has scope {}; {what} needs a key with scope ingest or admin",
                principal.name, principal.scope
            )));
        }
        Ok(principal)
    }

    pub(crate) fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.0.sessions)
    }

    pub(crate) fn session_ttl(&self) -> Duration {
        self.0.session_ttl
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.0.secure_cookies
    }

    fn verdict(&self, headers: &HeaderMap) -> Verdict {
        if !self.refresh() {
            return Verdict::Open;
        }
        if let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credential)
        {
            return match self.check_key(&given) {
                Some((p, _)) => Verdict::Allowed(p, None),
                None => Verdict::Wrong {
                    key_id: id_of(&given).map(str::to_string),
                },
            };
        }
        if headers.contains_key(header::AUTHORIZATION) {
            return Verdict::Wrong { key_id: None };
        }
        let Some(sid) = session::cookie(headers, SESSION_COOKIE) else {
            return Verdict::Missing;
        };
        let Some(s) = self.sessions().get(sid) else {
            return Verdict::Missing;
        };
        // A revoked key ends its sessions.
        let live = match &s.key_id {
            Some(id) => lock(&self.0.keys).has_id(id),
            None => self.0.token.is_some(),
        };
        if !live {
            self.sessions().end(sid);
            return Verdict::Missing;
        }
        let p = Principal {
            name: s.name,
            scope: s.scope,
        };
        Verdict::Allowed(p, Some(s.csrf))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Paths anyone may fetch, even when keys are required: the login page, its call, and the
/// dashboard's static files (code and styles, no data; the data comes from the API).
fn is_public(method: &Method, path: &str) -> bool {
    if path == "/api/v1/session" {
        return method == Method::POST;
    }
    let read = method == Method::GET || method == Method::HEAD;
    read && (path == "/ui/login"
        || path
            .strip_prefix("/ui/")
            .and_then(|f| f.rsplit('/').next())
            .is_some_and(|last| last.contains('.') && last != "index.html"))
}

/// Middleware: lets the request through when its host is answered and its credential allows
/// what it asks, else answers 401, 403, 429 (or sends a browser to the login page).
pub(crate) async fn require_auth(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    if let Err(reason) = auth.0.hosts.check(req.headers()) {
        return ApiError::Forbidden(reason).into_response();
    }
    let path = req.uri().path().to_string();
    if is_public(req.method(), &path) {
        return next.run(req).await;
    }
    let browser_path = path == "/" || path == "/ui" || path.starts_with("/ui/");
    let peer: Option<IpAddr> = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if req.headers().contains_key(header::AUTHORIZATION) {
        if let Some(retry_after) = auth.blocked(peer) {
            return ApiError::TooManyAttempts { retry_after }.into_response();
        }
    }
    let principal = match auth.verdict(req.headers()) {
        Verdict::Open => Principal {
            name: "anonymous".into(),
            scope: Scope::Admin,
        },
        Verdict::Allowed(p, csrf) => {
            let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            if let Some(csrf) = csrf.filter(|_| changes) {
                let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), csrf.as_bytes())) {
                    return ApiError::Forbidden(format!(
                        "missing or wrong {CSRF_HEADER} header: a request made with the dashboard's session cookie must send the token of the loglynx_csrf cookie"
                    ))
                    .into_response();
                }
            }
            p
        }
        Verdict::Missing => {
            let wants_html = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"));
            if browser_path && wants_html && *req.method() == Method::GET {
                let next_page = if path.starts_with("/ui/") { path.as_str() } else { "/ui/" };
                return Redirect::to(&format!("/ui/login?next={}", url_escape(next_page)))
                    .into_response();
            }
            return ApiError::Unauthorized {
                basic: browser_path,
            }
            .into_response();
        }
        Verdict::Wrong { key_id } => {
            auth.failed(peer, key_id.as_deref(), &path);
            return ApiError::Unauthorized {
                basic: browser_path,
            }
            .into_response();
        }
    };
    let needed = required_scope(req.method(), &path);
    if let Some(needed) = needed {
        if !principal.scope.allows(needed) {
            return ApiError::Forbidden(format!(
                "key {:?} has scope {}; {} {path} needs a key with scope {needed} or admin",
                principal.name,
                principal.scope,
                req.method()
            ))
            .into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// `s` with the characters a query value cannot hold percent-encoded.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The scope an endpoint needs; `None`: any valid key (health, the API description, the
/// Elasticsearch start-up probes shippers call with an ingest key).
///
/// One table for every route, so new routes get a safe default: reads (`GET`, `HEAD`) need
/// `read`, anything else `admin`, except the ingest endpoints (`ingest`) and the searches that
/// Elasticsearch clients send as `POST` (`read`).
pub fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let read_method = method == Method::GET || method == Method::HEAD;
    let last = path.rsplit('/').next().unwrap_or("");
    // Any key: liveness, the API description, the probes of Elasticsearch clients, who am I.
    if (read_method || path == "/api/v1/session")
        && (matches!(path, "/" | "/api/v1/health" | "/api/v1/openapi.yaml" | "/api/v1/session")
            || matches!(path, "/_license" | "/_xpack" | "/_cluster/health"))
    {
        return None;
    }
    // Ingest: the data paths and the template / pipeline set-up calls shippers make first.
    let ingest = matches!(path, "/api/v1/ingest" | "/v1/logs")
        || last == "_bulk"
        || path.starts_with("/_index_template/")
        || path.starts_with("/_ilm/policy/")
        || path.starts_with("/_ingest/pipeline/")
        || path.starts_with("/api/v1/otlp/");
    if ingest {
        return Some(Scope::Ingest);
    }
    if read_method {
        return Some(Scope::Read);
    }
    // Searches sent as POST (Elasticsearch clients, the rule backtest, aggregations) change
    // nothing.
    let read_post = matches!(
        last,
        "_search" | "_count" | "_msearch" | "_field_caps" | "_mget" | "_async_search"
    ) || matches!(path, "/api/v1/rules/backtest" | "/api/v1/aggs");
    if method == Method::POST && read_post {
        return Some(Scope::Read);
    }
    // Points in time: opened and closed by readers, they change no data.
    let pit = last == "_pit" || path == "/api/v1/pit" || path.starts_with("/api/v1/pit/");
    if pit && (method == Method::POST || method == Method::DELETE) {
        return Some(Scope::Read);
    }
    Some(Scope::Admin)
}

/// The key an `Authorization` header value carries (Bearer, or Basic's password).
fn credential(header_value: &str) -> Option<String> {
    let (scheme, rest) = header_value
        .trim()
        .split_once(' ')
        .unwrap_or((header_value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        (!rest.is_empty()).then(|| rest.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let i = decoded.iter().position(|&b| b == b':')?;
        let password = String::from_utf8(decoded[i + 1..].to_vec()).ok()?;
        (!password.is_empty()).then_some(password)
    } else {
        None
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_carry_the_key() {
        assert_eq!(credential("Bearer s3cret").as_deref(), Some("s3cret"));
        assert_eq!(credential("bearer  s3cret ").as_deref(), Some("s3cret"));
        assert_eq!(credential("Bearer "), None);
        assert_eq!(credential("s3cret"), None);
        // "elastic:s3cret"
        assert_eq!(credential("Basic ZWxhc3RpYzpzM2NyZXQ=").as_deref(), Some("s3cret"));
        assert_eq!(credential("Basic !!!"), None);
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn check_ingest_follows_the_keys_of_the_http_routes() {
        let dir = tempfile::tempdir().unwrap();
        let kind = |r: Result<Principal, ApiError>| r.map_err(|e| e.kind()).map(|p| p.name);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let auth = Auth::new(Some("t0ken"), Some(dir.path()), false);
        // Only the token so far: without it, or with a wrong one, refused.
        assert_eq!(kind(auth.check_ingest(None, Some(ip), false, "grpc")), Err("unauthorized"));
        assert_eq!(kind(auth.check_ingest(Some("Bearer t0ken"), None, false, "grpc")), Ok("token".into()));
        let file = KeyFile::in_data_dir(dir.path());
        let (ingest, _) = file.add("shipper", Scope::Ingest).unwrap();
        let (read, _) = file.add("analyst", Scope::Read).unwrap();
        let bearer = |k: &str| format!("Bearer {k}");
        // Keys added while running are picked up; a read key is not enough.
        assert_eq!(kind(auth.check_ingest(Some(&bearer(&ingest)), Some(ip), false, "grpc")), Ok("shipper".into()));
        assert_eq!(kind(auth.check_ingest(Some(&bearer(&read)), Some(ip), false, "grpc")), Err("forbidden"));
        file.revoke("shipper").unwrap();
        assert_eq!(kind(auth.check_ingest(Some(&bearer(&ingest)), Some(ip), false, "grpc")), Err("unauthorized"));
        // Wrong attempts count toward the address's limit: the revoked key was the first.
        for _ in 0..9 {
            assert_eq!(kind(auth.check_ingest(Some("Bearer nope"), Some(ip), false, "grpc")), Err("unauthorized"));
        }
        assert_eq!(
            kind(auth.check_ingest(Some("Bearer t0ken"), Some(ip), false, "grpc")),
            Err("too_many_attempts"),
            "blocked: even the right token"
        );
        assert_eq!(auth.0.failed_total.get(), 10);

        // No key file and no token: open on loopback, closed off loopback.
        let open = Auth::new(None, Some(&dir.path().join("none")), false);
        assert_eq!(kind(open.check_ingest(None, None, false, "grpc")), Ok("anonymous".into()));
        assert_eq!(kind(open.check_ingest(None, None, true, "grpc")), Err("unauthorized"));
    }

    #[test]
    fn public_paths_are_the_login_and_static_files() {
        assert!(is_public(&Method::POST, "/api/v1/session"));
        assert!(!is_public(&Method::GET, "/api/v1/session"));
        assert!(is_public(&Method::GET, "/ui/login"));
        assert!(is_public(&Method::GET, "/ui/app.js"));
        assert!(is_public(&Method::GET, "/ui/assets/x.css"));
        assert!(!is_public(&Method::GET, "/ui/"));
        assert!(!is_public(&Method::GET, "/ui/index.html"));
        assert!(!is_public(&Method::GET, "/ui/search"));
        assert!(!is_public(&Method::GET, "/api/v1/search"));
        assert!(!is_public(&Method::POST, "/ui/app.js"));
    }

    #[test]
    fn scopes_of_the_endpoints() {
        assert_eq!(required_scope(&Method::DELETE, "/api/v1/session"), None);
        let get = &Method::GET;
        let post = &Method::POST;
        assert_eq!(required_scope(get, "/api/v1/health"), None);
        assert_eq!(required_scope(get, "/_license"), None);
        assert_eq!(required_scope(post, "/api/v1/ingest"), Some(Scope::Ingest));
        assert_eq!(required_scope(post, "/_bulk"), Some(Scope::Ingest));
        assert_eq!(required_scope(&Method::PUT, "/logs/_bulk"), Some(Scope::Ingest));
        assert_eq!(required_scope(&Method::PUT, "/_index_template/x"), Some(Scope::Ingest));
        assert_eq!(required_scope(get, "/api/v1/search"), Some(Scope::Read));
        assert_eq!(required_scope(get, "/metrics"), Some(Scope::Read));
        assert_eq!(required_scope(get, "/ui/"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/logs/_search"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/api/v1/rules/backtest"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/api/v1/aggs"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/api/v1/alerts/a1/ack"), Some(Scope::Admin));
        assert_eq!(required_scope(post, "/api/v1/rules/r/disable"), Some(Scope::Admin));
        assert_eq!(required_scope(&Method::DELETE, "/api/v1/anything"), Some(Scope::Admin));
        // Points in time are part of reading: opening and closing one needs `read` only.
        assert_eq!(required_scope(post, "/_pit"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/logs/_pit"), Some(Scope::Read));
        assert_eq!(required_scope(&Method::DELETE, "/_pit"), Some(Scope::Read));
        assert_eq!(required_scope(post, "/api/v1/pit"), Some(Scope::Read));
        assert_eq!(required_scope(&Method::DELETE, "/api/v1/pit/abc"), Some(Scope::Read));
        assert_eq!(required_scope(get, "/api/v1/network/perf/history"), Some(Scope::Read));
    }
}

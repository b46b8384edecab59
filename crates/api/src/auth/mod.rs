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

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;

pub use keys::{KeyEntry, KeyError, KeyFile, Scope, KEYS_FILE};
use keys::{id_of, LoadedKeys};
use limit::FailureLimiter;

/// Who made a request, put in the request's extensions by [`require_auth`]; `None` scope
/// fields mean the server has auth off.
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

/// The server's credentials: the key file, the token, whether one is required, and the
/// failed-attempt table. Cheap to clone (one `Arc`).
#[derive(Clone, Default)]
pub struct Auth(Arc<Inner>);

#[derive(Default)]
struct Inner {
    token: Option<String>,
    keys_path: Option<PathBuf>,
    required: bool,
    keys: Mutex<LoadedKeys>,
    failures: Mutex<FailureLimiter>,
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
    Allowed(Principal),
    Missing,
    Wrong { key_id: Option<String> },
}

impl Auth {
    /// Credentials from `token` (an admin key; empty counts as unset) and the key file of
    /// `data_dir` when given. `required`: refuse requests without a credential even when there
    /// is neither (a server listening off loopback).
    pub fn new(token: Option<&str>, data_dir: Option<&std::path::Path>, required: bool) -> Auth {
        let auth = Auth(Arc::new(Inner {
            token: token.filter(|t| !t.is_empty()).map(str::to_string),
            keys_path: data_dir.map(|d| KeyFile::in_data_dir(d).path().to_path_buf()),
            required,
            keys: Mutex::default(),
            failures: Mutex::default(),
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

    fn verdict(&self, headers: &axum::http::HeaderMap) -> Verdict {
        if !self.refresh() {
            return Verdict::Open;
        }
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(credential)
        else {
            return Verdict::Missing;
        };
        if let Some(token) = &self.0.token {
            if constant_time_eq(given.as_bytes(), token.as_bytes()) {
                return Verdict::Allowed(Principal {
                    name: "token".into(),
                    scope: Scope::Admin,
                });
            }
        }
        if let Some(entry) = lock(&self.0.keys).check(&given) {
            return Verdict::Allowed(Principal {
                name: entry.name.clone(),
                scope: entry.scope,
            });
        }
        Verdict::Wrong {
            key_id: id_of(&given).map(str::to_string),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Middleware: lets the request through when its credential allows what it asks, else
/// answers 401, 403 or 429.
pub(crate) async fn require_auth(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let browser_path = path == "/" || path == "/ui" || path.starts_with("/ui/");
    let peer: Option<IpAddr> = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let has_credential = req.headers().contains_key(header::AUTHORIZATION);
    if has_credential {
        if let Some(ip) = peer {
            if let Some(retry_after) = lock(&auth.0.failures).blocked(ip, Instant::now()) {
                return ApiError::TooManyAttempts { retry_after }.into_response();
            }
        }
    }
    let principal = match auth.verdict(req.headers()) {
        Verdict::Open => Principal {
            name: "anonymous".into(),
            scope: Scope::Admin,
        },
        Verdict::Allowed(p) => p,
        Verdict::Missing => {
            return ApiError::Unauthorized {
                basic: browser_path,
            }
            .into_response()
        }
        Verdict::Wrong { key_id } => {
            let locked = peer.is_some_and(|ip| lock(&auth.0.failures).fail(ip, Instant::now()));
            tracing::warn!(
                peer = %peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                key_id = key_id.as_deref().unwrap_or("-"),
                %path,
                locked,
                "authentication failed: wrong or revoked key"
            );
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

/// The scope an endpoint needs; `None`: any valid key (health, the API description, the
/// Elasticsearch start-up probes shippers call with an ingest key).
///
/// One table for every route, so new routes get a safe default: reads (`GET`, `HEAD`) need
/// `read`, anything else `admin`, except the ingest endpoints (`ingest`) and the searches that
/// Elasticsearch clients send as `POST` (`read`).
pub fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let read_method = method == Method::GET || method == Method::HEAD;
    let last = path.rsplit('/').next().unwrap_or("");
    // Any key: liveness, the API description, the probes of Elasticsearch clients.
    if read_method
        && (matches!(path, "/" | "/api/v1/health" | "/api/v1/openapi.yaml")
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
    // Searches sent as POST (Elasticsearch clients, the rule backtest) change nothing.
    let read_post = matches!(
        last,
        "_search" | "_count" | "_msearch" | "_field_caps" | "_mget" | "_async_search"
    ) || path == "/api/v1/rules/backtest";
    if method == Method::POST && read_post {
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
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
    fn scopes_of_the_endpoints() {
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
        assert_eq!(required_scope(post, "/api/v1/alerts/a1/ack"), Some(Scope::Admin));
        assert_eq!(required_scope(post, "/api/v1/rules/r/disable"), Some(Scope::Admin));
        assert_eq!(required_scope(&Method::DELETE, "/api/v1/anything"), Some(Scope::Admin));
    }
}

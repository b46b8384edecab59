//! Dashboard sessions: a key typed into the login page (`/ui/login`) becomes a session cookie.
//!
//! `POST /api/v1/session {"key": "..."}` checks the key like any credential (wrong ones count
//! toward the address's limit) and answers with two cookies:
//! - `loglynx_session`: 32 random bytes, `HttpOnly` (scripts cannot read it), `SameSite=Strict`
//!   (not sent on requests started by other sites), `Path=/`, `Max-Age` = `http.session_ttl`,
//!   `Secure` when the server speaks TLS;
//! - `loglynx_csrf`: the session's CSRF token, readable by the dashboard's scripts, which send it
//!   back in the `X-CSRF-Token` header of every request that changes something. Such a request
//!   made with the session cookie and without the session's token is refused (403). A page on
//!   another site can neither read the cookie nor set the header without a CORS grant, which
//!   loglynx never gives.
//!
//! `GET /api/v1/session` says who is logged in; `DELETE /api/v1/session` logs out (the session
//! is forgotten and the cookies cleared). Sessions live in memory (a restart logs everyone
//! out), at most [`MAX_SESSIONS`]; a session ends when its key is revoked.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::{Principal, Scope};
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "loglynx_session";
/// The CSRF cookie's name (readable by scripts).
pub(crate) const CSRF_COOKIE: &str = "loglynx_csrf";
/// The header carrying the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions kept at most; logins beyond it are answered 503 until some expire.
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// One login.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub name: String,
    pub scope: Scope,
    /// The key's id; `None` for `http.auth_token`.
    pub key_id: Option<String>,
    pub csrf: String,
    pub expires: Instant,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The sessions of a server.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    /// Starts a session; `(session id, session)`, or `None` when the table is full.
    pub fn start(
        &mut self,
        principal: &Principal,
        key_id: Option<String>,
        ttl: Duration,
    ) -> Result<(String, Session), ApiError> {
        let now = Instant::now();
        if self.by_id.len() >= MAX_SESSIONS {
            self.by_id.retain(|_, s| s.expires > now);
        }
        if self.by_id.len() >= MAX_SESSIONS {
            return Err(ApiError::Unavailable(format!(
                "{MAX_SESSIONS} dashboard sessions are open: log out of unused ones or wait for them to expire"
            )));
        }
        let id = random_token()?;
        let session = Session {
            name: principal.name.clone(),
            scope: principal.scope,
            key_id,
            csrf: random_token()?,
            expires: now + ttl,
            expires_at: chrono::Utc::now()
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12)),
        };
        self.by_id.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session of `id`.
    pub fn get(&mut self, id: &str) -> Option<Session> {
        let s = self.by_id.get(id)?;
        if s.expires <= Instant::now() {
            self.by_id.remove(id);
            return None;
        }
        Some(s.clone())
    }

    /// Ends the session `id`.
    pub fn end(&mut self, id: &str) {
        self.by_id.remove(id);
    }
}

fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| ApiError::Internal(format!("the system's random source failed: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session routes (under [`crate::router`]; the login is public, see `is_public`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/session", get(whoami).post(login).delete(logout))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    key: String,
}

async fn login(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let body = match axum::body::to_bytes(req.into_body(), 16 << 10).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::BadRequest(format!("cannot read the login request: {e}"))
                .into_response()
        }
    };
    let login: Login = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => {
            return ApiError::BadRequest(format!(
                "invalid login request ({e}): send {{\"key\": \"<your API key>\"}}"
            ))
            .into_response()
        }
    };
    let auth = &st.auth;
    if let Some(retry_after) = auth.blocked(peer) {
        return ApiError::TooManyAttempts { retry_after }.into_response();
    }
    let Some((principal, key_id)) = auth.check_key(login.key.trim()) else {
        auth.failed(peer, super::keys::id_of(login.key.trim()), "/api/v1/session");
        return ApiError::Unauthorized { basic: false }.into_response();
    };
    let (id, session) = match auth.sessions().start(&principal, key_id, auth.session_ttl()) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    tracing::info!(key = %principal.name, "dashboard login");
    let max_age = auth.session_ttl().as_secs();
    let secure = if auth.secure_cookies() { "; Secure" } else { "" };
    let mut resp = (
        StatusCode::OK,
        Json(json!({
            "name": session.name,
            "scope": session.scope,
            "expires": session.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "csrf_token": session.csrf,
        })),
    )
        .into_response();
    let h = resp.headers_mut();
    for c in [
        format!("{SESSION_COOKIE}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"),
        format!("{CSRF_COOKIE}={}; Path=/; Max-Age={max_age}; SameSite=Strict{secure}", session.csrf),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn whoami(principal: Principal, headers: HeaderMap) -> Json<serde_json::Value> {
    let via = if headers.contains_key(header::AUTHORIZATION) {
        "header"
    } else if cookie(&headers, SESSION_COOKIE).is_some() && principal.name != "anonymous" {
        "session"
    } else {
        "open"
    };
    Json(json!({"name": principal.name, "scope": principal.scope, "via": via}))
}

async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        st.auth.sessions().end(id);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{name}=; Path=/; Max-Age=0; SameSite=Strict"
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; loglynx_session=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("loglynx_csrf=def"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("def"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn sessions_expire_and_end() {
        let mut s = Sessions::default();
        let p = Principal {
            name: "alice".into(),
            scope: Scope::Read,
        };
        let (id, sess) = s.start(&p, Some("k".into()), Duration::from_secs(60)).unwrap();
        assert_ne!(id, sess.csrf);
        assert_eq!(s.get(&id).unwrap().name, "alice");
        s.end(&id);
        assert!(s.get(&id).is_none());
        let (id, _) = s.start(&p, None, Duration::ZERO).unwrap();
        assert!(s.get(&id).is_none(), "expired");
    }
}

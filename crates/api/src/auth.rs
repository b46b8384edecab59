//! Token authentication: when `http.auth_token` is set, every request must carry it.
//!
//! Accepted forms:
//! - `Authorization: Bearer <token>` (the API, the CLI, the dashboard);
//! - `Authorization: Basic base64(<any user>:<token>)`, because browsers and log shippers
//!   (Fluent Bit, Vector, Filebeat `username`/`password`) speak Basic natively. The dashboard
//!   paths answer 401 with a Basic challenge too, so a browser prompts for it.
//!
//! Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;

/// Middleware: lets the request through when no token is configured (`None`) or the right
/// one is sent.
pub(crate) async fn require_token(
    State(token): State<Option<Arc<str>>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = token.as_deref() else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if given.is_some_and(|h| authorized(h, token)) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let browser_path = path == "/" || path == "/ui" || path.starts_with("/ui/");
    ApiError::Unauthorized {
        basic: browser_path,
    }
    .into_response()
}

/// Whether an `Authorization` header value carries `token`.
fn authorized(header_value: &str, token: &str) -> bool {
    let (scheme, rest) = header_value
        .trim()
        .split_once(' ')
        .unwrap_or((header_value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        constant_time_eq(rest.as_bytes(), token.as_bytes())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => return false,
        };
        constant_time_eq(password, token.as_bytes())
    } else {
        false
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
    fn bearer_and_basic_accept_only_the_token() {
        assert!(authorized("Bearer s3cret", "s3cret"));
        assert!(authorized("bearer  s3cret ", "s3cret"));
        assert!(!authorized("Bearer s3cre", "s3cret"));
        assert!(!authorized("Bearer s3cretx", "s3cret"));
        assert!(!authorized("Bearer ", "s3cret"));
        assert!(!authorized("s3cret", "s3cret"));
        // "elastic:s3cret"
        assert!(authorized("Basic ZWxhc3RpYzpzM2NyZXQ=", "s3cret"));
        // "elastic:wrong"
        assert!(!authorized("Basic ZWxhc3RpYzp3cm9uZw==", "s3cret"));
        assert!(!authorized("Basic !!!", "s3cret"));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}

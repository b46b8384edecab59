//! The dashboard: `ui/dist` embedded in the binary (copied to `OUT_DIR/ui` by `build.rs`, or a
//! page saying how to build it when it was not built), served under `/ui/`.
//!
//! Unknown paths without a file extension get `index.html` (client-side routes of the
//! single-page app); unknown files are a JSON 404. Files under `assets/` (hashed names) are
//! cached for a year, everything else is revalidated with its ETag.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/ui"]
struct Assets;

/// Handler of `GET /ui`: redirect to `/ui/` so relative asset paths resolve.
pub(crate) async fn redirect() -> Redirect {
    Redirect::permanent("/ui/")
}

/// Handler of `GET /ui/`.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// Handler of `GET /ui/{*path}`.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        return serve("index.html", &headers);
    }
    // The login page (public: see auth::is_public).
    if path == "login" {
        return serve("login.html", &headers);
    }
    if Assets::get(path).is_some() {
        return serve(path, &headers);
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    if last.contains('.') {
        ApiError::NotFound(format!("no dashboard file {path:?}: open /ui/")).into_response()
    } else {
        serve("index.html", &headers)
    }
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::NotFound(format!(
            "dashboard file {path:?} missing from this build: run scripts/build-ui.sh and rebuild"
        ))
        .into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, file.metadata.mimetype().to_string())],
            file.data.into_owned(),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_always_embedded() {
        let f = Assets::get("index.html").expect("build.rs always provides index.html");
        assert!(f.metadata.mimetype().starts_with("text/html"));
        assert!(!f.data.is_empty());
    }
}

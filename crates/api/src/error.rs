//! The API's errors and their HTTP mapping: the one place a status code is chosen for a failure.
//!
//! Every error body has the same shape, close to Elasticsearch's so its clients read it too:
//!
//! ```json
//! {"error": {"type": "bad_request", "reason": "limit must be at most 10000"}, "status": 400}
//! ```

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use loglynx_collect::CollectError;
use loglynx_query::QueryError;
use serde_json::json;

/// Why a request failed; converted to a status and a JSON body by [`IntoResponse`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter or body the client must fix.
    #[error("{0}")]
    BadRequest(String),
    /// The query string or time range could not be understood (the engine's message).
    #[error("{0}")]
    InvalidQuery(String),
    /// Missing or wrong credentials. `basic` adds a Basic challenge (browsers prompt for it).
    #[error("missing or invalid credentials: send the header `Authorization: Bearer <key>` with an API key (`loglynx keys add`) or the server's auth token")]
    Unauthorized {
        /// Offer HTTP Basic too (password = token), for browsers and log shippers.
        basic: bool,
    },
    /// A valid key whose scope does not allow this endpoint.
    #[error("{0}")]
    Forbidden(String),
    /// Too many wrong credentials from this address: wait `retry_after` seconds (429).
    #[error("too many failed authentication attempts from this address: wait {retry_after} s and check the key")]
    TooManyAttempts {
        /// Seconds until one more attempt is allowed.
        retry_after: u64,
    },
    /// No such route or resource.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed on this path: see /api/v1/openapi.yaml for the endpoints")]
    MethodNotAllowed,
    /// The body is larger than `http.max_body`.
    #[error("request body larger than {limit} bytes: send smaller requests (split the data) or raise http.max_body")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// An ingest request with more records than `http.max_records` (413); nothing taken.
    #[error("the request carries {count} records, more than http.max_records ({limit}): nothing was taken; send them in smaller requests")]
    TooManyRecords {
        /// Records in the request.
        count: usize,
        /// The configured cap.
        limit: usize,
    },
    /// Over a rate or concurrency limit (429 with `Retry-After`); `kind` is the `error.type`
    /// (`rate_limited`: `http.ingest_rate`; `too_many_queries`: `query.max_concurrent`).
    #[error("{reason}")]
    Throttled {
        /// The machine-readable `error.type`.
        kind: &'static str,
        /// What happened, naming the setting.
        reason: String,
        /// Seconds the client should wait.
        retry_after: u64,
    },
    /// A query stopped at `query.timeout` (503).
    #[error("{0}")]
    QueryTimeout(String),
    /// A body in a format this endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The pipeline or store cannot take or confirm the data now; the client should retry.
    #[error("{0}")]
    Unavailable(String),
    /// The ingest queue stayed full: nothing of the request was taken; retry it whole after
    /// `retry_after` seconds (503 with a `Retry-After` header).
    #[error("{reason}")]
    QueueFull {
        /// What happened and what to do.
        reason: String,
        /// Seconds the client should wait before sending again.
        retry_after: u64,
    },
    /// The reply did not start within `http.request_timeout` (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// A bug or an I/O failure on the server.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyRecords { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::QueryTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::QueueFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `error.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidQuery(_) => "query_error",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyRecords { .. } => "too_many_records",
            ApiError::Throttled { kind, .. } => *kind,
            ApiError::QueryTimeout(_) => "query_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::QueueFull { .. } => "queue_full",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {"type": self.kind(), "reason": self.to_string()},
            "status": self.status().as_u16(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(reason) = &self {
            tracing::error!(%reason, "api request failed");
        }
        let mut resp = (self.status(), Json(self.body())).into_response();
        let h = resp.headers_mut();
        match &self {
            ApiError::Unauthorized { basic } => {
                h.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"loglynx\""),
                );
                if *basic {
                    h.append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"loglynx\", charset=\"UTF-8\""),
                    );
                }
            }
            ApiError::Unavailable(_) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::QueueFull { retry_after, .. }
            | ApiError::TooManyAttempts { retry_after }
            | ApiError::Throttled { retry_after, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        resp
    }
}

impl From<loglynx_search::SearchError> for ApiError {
    /// The root's failures: a request the leaves refused is the client's (400); no leaf at all
    /// is 503.
    fn from(e: loglynx_search::SearchError) -> Self {
        use loglynx_search::SearchError as E;
        match e {
            E::BadRequest(m) => ApiError::InvalidQuery(m),
            E::NoLeaves | E::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            E::Busy { retry_after, .. } => ApiError::Throttled { kind: "too_many_pits", reason: e.to_string(), retry_after },
            E::Catalog { .. } | E::Client(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        query_error(e)
    }
}

/// Maps an engine error: what the user wrote is a 400, an index failure is a 500.
fn query_error(e: QueryError) -> ApiError {
    if matches!(e, QueryError::TimedOut { .. }) {
        ApiError::QueryTimeout(e.to_string())
    } else if matches!(e, QueryError::Cancelled) {
        ApiError::Unavailable(e.to_string())
    } else if e.is_user_error() {
        ApiError::InvalidQuery(e.to_string())
    } else {
        ApiError::Internal(format!("{e}: check the server log and the store directory"))
    }
}

impl From<CollectError> for ApiError {
    /// The HTTP source's failures: a body it does not read is 415 or 400; a request it could not
    /// take or confirm is 503 (`queue_full` with the source's `Retry-After` when nothing was
    /// taken).
    fn from(e: CollectError) -> Self {
        let reason = e.to_string();
        match e {
            CollectError::UnsupportedContentType(_)
            | CollectError::UnsupportedOtlpContentType(_) => {
                ApiError::UnsupportedMediaType(reason)
            }
            CollectError::BadOtlp { .. } => ApiError::BadRequest(reason),
            CollectError::EmptyBulk => ApiError::BadRequest(reason),
            CollectError::Refused { retry_after, .. } | CollectError::QueueFull { retry_after } => {
                ApiError::QueueFull {
                    reason,
                    retry_after,
                }
            }
            CollectError::Closed
            | CollectError::NotDurable(_)
            | CollectError::AckDropped
            | CollectError::AckTimeout(_) => ApiError::Unavailable(reason),
            CollectError::Config(_)
            | CollectError::Bind { .. }
            | CollectError::Io { .. }
            | CollectError::File { .. }
            | CollectError::Task(_) => ApiError::Internal(reason),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(format!("{}: check the URL parameters", r.body_text()))
    }
}

/// Turns a body-reading failure into a JSON error (413 when over the limit).
pub(crate) fn body_rejection(r: BytesRejection, limit: usize) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(format!("cannot read the request body: {}", r.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_type_reason_and_status() {
        let e = ApiError::PayloadTooLarge { limit: 10 };
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let b = e.body();
        assert_eq!(b["error"]["type"], "payload_too_large");
        assert_eq!(b["status"], 413);
        assert!(b["error"]["reason"].as_str().unwrap().contains("10 bytes"));
    }

    #[test]
    fn unauthorized_carries_challenges() {
        let r = ApiError::Unauthorized { basic: true }.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get_all(header::WWW_AUTHENTICATE).iter().count(),
            2
        );
        let r = ApiError::Unavailable("retry".into()).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = ApiError::QueueFull {
            reason: "full".into(),
            retry_after: 5,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    }
}

//! The one error type of the query crate.

use thiserror::Error;

/// Why a query could not be answered.
///
/// Every variant but [`QueryError::Index`] is the caller's mistake (HTTP 400); the message says
/// what to change. [`QueryError::is_user_error`] tells them apart.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The query string does not parse. `position` is the 0-based character offset.
    #[error("invalid query at position {position}: {message}")]
    Syntax {
        /// Character offset (0-based) where the problem was found.
        position: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A `field:value` clause names a field the store does not have.
    #[error("unknown field `{field}`: use one of {known}")]
    UnknownField {
        /// The field as typed.
        field: String,
        /// The valid field names, comma separated.
        known: String,
    },
    /// A value does not fit its field (a word for a number, a bad regex, a range on text...).
    #[error("invalid value `{value}` for field `{field}`: {reason}")]
    BadValue {
        /// The field the value was given for.
        field: String,
        /// The value as typed.
        value: String,
        /// What is expected instead.
        reason: String,
    },
    /// A time could not be read.
    #[error("invalid time `{input}`: {reason}")]
    BadTime {
        /// The time as typed.
        input: String,
        /// The accepted forms.
        reason: String,
    },
    /// A limit, offset, size or bucket count above what one request may ask for.
    #[error("{what} {value} is too large: the maximum is {max}")]
    TooLarge {
        /// Which parameter (`limit`, `offset + limit`, `size`, `bucket count`).
        what: &'static str,
        /// The requested value.
        value: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// Any other request the engine cannot answer as asked (e.g. `start` after `end`).
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// The query ran longer than its budget (`query.timeout`) and was stopped.
    #[error("the query ran longer than query.timeout ({timeout:?}): narrow the time range or the query, or raise query.timeout")]
    TimedOut {
        /// The budget it had.
        timeout: std::time::Duration,
    },
    /// The query was stopped because its client went away.
    #[error("the query was cancelled: its client disconnected")]
    Cancelled,
    /// The index failed underneath (I/O, corruption): not the caller's fault.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
}

impl QueryError {
    /// True when the request was wrong (answer 400), false when the index failed (answer 500)
    /// or the query was stopped ([`QueryError::TimedOut`], [`QueryError::Cancelled`]).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, QueryError::Index(_) | QueryError::TimedOut { .. } | QueryError::Cancelled)
    }

    pub(crate) fn syntax(position: usize, message: impl Into<String>) -> Self {
        QueryError::Syntax {
            position,
            message: message.into(),
        }
    }

    pub(crate) fn bad_value(field: &str, value: &str, reason: impl Into<String>) -> Self {
        QueryError::BadValue {
            field: field.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

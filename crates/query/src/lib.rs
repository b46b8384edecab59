//! loglynx query: query strings, search, aggregations and live tail over the store's windows.
//!
//! - [`request`](crate::SearchRequest): the request and response types (the API's JSON).
//! - `lang`: the Lucene-style query language (parser and compiler to tantivy queries).
//! - [`QueryEngine`]: `search` and `count` (search.rs), `histogram` and `terms` (aggs/),
//!   `tail` (tail.rs), `search_after` over a pinned snapshot (after.rs), all over
//!   `&[WindowSnapshot]`.
//! - [`parse_time`]: the time forms users type (`now-15m`, RFC 3339, epoch ms).
//! - [`Budget`]: a query's deadline, cancel flag and terms cardinality cap (budget.rs).
//! - [`QueryError`]: every way a request can fail, with messages that say what to fix.
//!
//! # The query language
//!
//! ```text
//! error disk                      bare words search `message`; adjacent clauses are ANDed
//! "disk full"                     phrase in `message`
//! host.name:web1                  keyword fields match exactly (case-sensitive)
//! host.name:(web1 OR web2)        a group applied to one field
//! process.pid:[100 TO 200]        inclusive range; `{100 TO 200}` exclusive; `*` open end
//! process.pid:>=100               comparisons `>`, `>=`, `<`, `<=`
//! @timestamp:>=now-1h             dates: RFC 3339, dates, epoch ms, `now-15m`
//! service.name:ngin*  fail?d      wildcards; `host.name:*` means the field exists
//! labels.env:prod                 free labels
//! a AND b, a OR b, NOT a, -a, +a  NOT binds tightest, then AND, then OR
//! ```
//!
//! Bare words are ANDed, as Kibana and Graylog users expect (Lucene's default is OR).

mod after;
mod aggs;
mod budget;
mod engine;
mod error;
mod lang;
mod request;
mod scan;
mod search;
mod tail;
mod time;
mod topk;

pub use after::{Page, PageRequest};
pub use aggs::{auto_interval_ms, bucket_edges, FieldStats, MAX_BUCKETS, MAX_TERMS};
pub use budget::{Budget, CancelOnDrop, DEFAULT_MAX_CLAUSES, DEFAULT_MAX_DISTINCT_TERMS, DEFAULT_MAX_WILDCARDS};
pub use engine::QueryEngine;
pub use error::QueryError;
pub use request::*;
pub use scan::ScanStats;
pub use search::MAX_RESULT_WINDOW;
pub use time::parse_time;

/// Whether `query` would match other events if clauses written side by side were ORed
/// (Lucene's and Elasticsearch's default) rather than ANDed as loglynx reads them: `a b`,
/// `+a b`; not `a -b` or `+a +b`. The Elasticsearch-compatible API refuses such a
/// `query_string` unless it says `default_operator: AND`. A query that does not parse is an
/// error.
pub fn differs_under_default_or(query: &str) -> Result<bool, QueryError> {
    lang::differs_under_default_or(query)
}

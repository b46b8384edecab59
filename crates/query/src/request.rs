//! Requests and responses of the query engine: the JSON shapes of the search API.

use loglynx_core::{Event, Timestamp};
use serde::{Deserialize, Serialize};

/// Most hits one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// A query string with a time range; shared by search, aggregations and tail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Lucene-style query string: `error AND host.name:web1`, `"disk full"`,
    /// `process.pid:[100 TO 200]`, `service.name:ngin*`, `NOT log.level:debug`. Empty or `*`
    /// matches everything. Bare words search `message`.
    #[serde(default)]
    pub query: String,
    /// Inclusive lower bound on `@timestamp`.
    #[serde(default)]
    pub start: Option<Timestamp>,
    /// Exclusive upper bound on `@timestamp`.
    #[serde(default)]
    pub end: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Newest `@timestamp` first (the default).
    #[default]
    Desc,
    Asc,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    #[serde(flatten)]
    pub filter: Filter,
    /// Hits to return, at most [`MAX_LIMIT`].
    pub limit: usize,
    /// Hits to skip (pagination).
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub sort: SortOrder,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Exact number of matching events.
    pub total: u64,
    /// The requested page, sorted by `@timestamp`.
    pub hits: Vec<Event>,
    pub took_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramRequest {
    #[serde(flatten)]
    pub filter: Filter,
    /// Bucket width in milliseconds; None picks a round width giving about `target_buckets`.
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Used when `interval_ms` is None (default 60).
    #[serde(default)]
    pub target_buckets: Option<usize>,
    /// The time zone buckets are cut in: an IANA name (`Europe/Berlin`, with its daylight
    /// saving changes), `UTC` or a fixed offset (`+05:30`); None is UTC. Buckets start at
    /// multiples of the width on the local clock, so a `1d` bucket is a local day, 23 or 25
    /// hours long when the clocks change, while `1h` buckets stay one hour long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    /// Start of the bucket.
    pub start: Timestamp,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramResponse {
    pub interval_ms: u64,
    /// Buckets in time order; empty buckets inside the range are included with count 0.
    pub buckets: Vec<HistogramBucket>,
    /// Sum of the bucket counts: the exact number of matching events.
    pub total: u64,
    pub took_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TermsRequest {
    #[serde(flatten)]
    pub filter: Filter,
    /// A keyword or numeric field, e.g. `host.name`, `log.level`, `process.pid`, `labels.env`.
    pub field: String,
    /// Number of top values (default 10).
    #[serde(default)]
    pub size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermsBucket {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermsResponse {
    pub field: String,
    /// Most frequent values first.
    pub buckets: Vec<TermsBucket>,
    /// Matching events whose value is not among the buckets (including events without the field).
    pub other: u64,
    /// True when the field had more distinct values than `query.max_distinct_terms`: only the
    /// most frequent were counted, so the buckets' counts are lower bounds and a value may be
    /// missing (see `aggs/terms.rs`). False: the counts are exact.
    #[serde(default)]
    pub approximate: bool,
    /// When approximate: no bucket's count is short by more than this, and a value missing
    /// from the buckets because it was dropped matched at most this many events (the sum, over
    /// every pruning, of the largest count dropped; Elasticsearch's
    /// `doc_count_error_upper_bound`). 0 when exact.
    #[serde(default)]
    pub error_upper_bound: u64,
    pub took_ms: u64,
}

/// Live tail: events ingested after a cursor, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailRequest {
    #[serde(flatten)]
    pub filter: Filter,
    /// Return events whose (`event.ingested`, `event.id`) is after this cursor; None starts at
    /// the newest events (returns the last `limit`).
    #[serde(default)]
    pub cursor: Option<TailCursor>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TailCursor {
    pub ingested: Timestamp,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailResponse {
    /// Oldest first.
    pub events: Vec<Event>,
    /// Pass this back to get what comes next.
    pub cursor: Option<TailCursor>,
}

//! What leaf and root say to each other, and the record a worker publishes in the catalog topic.
//!
//! The leaf API is internal (`/internal/v1/...`, JSON bodies, a shared key): the root sends
//! the query engine's own requests ([`loglynx_query::SearchRequest`], ...) wrapped in a
//! [`LeafRequest`] with the offsets the leaf answers for; the leaf answers with the engine's
//! responses.

use loglynx_core::{Event, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::SearchError;
use crate::offsets::OffsetFilter;

/// The path prefix of the leaf API.
pub const LEAF_PREFIX: &str = "/internal/v1";

/// The version of [`CatalogRecord`] this build writes and reads.
pub const CATALOG_VERSION: u32 = 1;

/// A query for a leaf: the engine's request and the offsets to keep to (`None`: everything the
/// leaf holds, its local answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafRequest<T> {
    /// The engine's request.
    pub request: T,
    /// Per partition, the offset ranges this leaf answers for.
    #[serde(default)]
    pub offsets: Option<OffsetFilter>,
}

/// A shard generation on a leaf's disk: the events of one partition consumed from `from` up to
/// `to` (exclusive) by one shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// Kafka partition.
    pub partition: i32,
    /// Its id on the leaf (the shard's directory name, with its generation).
    pub id: String,
    /// First offset it holds.
    pub from: u64,
    /// First offset it does not hold (its checkpoint: where it resumes).
    pub to: u64,
    /// Smallest `@timestamp` stored.
    #[serde(default)]
    pub min_timestamp: Option<Timestamp>,
    /// Largest `@timestamp` stored.
    #[serde(default)]
    pub max_timestamp: Option<Timestamp>,
    /// Events stored.
    pub docs: u64,
    /// Whether the leaf is writing it now (it owns the partition).
    #[serde(default)]
    pub live: bool,
}

/// A leaf's answer to `GET /internal/v1/generations`: who it is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafStatus {
    /// The worker's id (`<host>-<pid>`), the catalog key.
    pub worker: String,
    /// The generations on its disk.
    pub generations: Vec<Generation>,
}

/// A tail for a leaf: the events of its offset ranges matching `filter`. `follow` false: the
/// newest `limit` of each range (where a live tail starts); true: the oldest offsets first, at
/// most `limit` events in all, each range answered up to an offset (`next`) below which
/// everything matching was returned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafTail {
    /// The query and time range.
    pub filter: loglynx_query::Filter,
    /// Most events returned.
    pub limit: usize,
    /// Follow on from the ranges' starts (a cursor) rather than take the newest.
    pub follow: bool,
}

/// A leaf's answer to a tail: one part per offset range asked, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeafTailResponse {
    /// The ranges' answers.
    pub parts: Vec<TailPart>,
}

/// The tail of one offset range of one partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailPart {
    /// Kafka partition.
    pub partition: i32,
    /// The range's first offset.
    pub from: u64,
    /// Everything matching below this offset was returned: ask from here next time.
    pub next: u64,
    /// The matching events, oldest first.
    pub events: Vec<Event>,
}

/// Opens a point in time on a leaf (`POST /internal/v1/pit/open`): its snapshot pinned for
/// `keep_alive_ms`, renewed by every page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafPitOpen {
    /// How long the leaf keeps it between pages.
    pub keep_alive_ms: u64,
}

/// A leaf's point in time: its id in the leaf's own table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafPitOpened {
    /// The leaf's id of the point in time.
    pub pit_id: String,
}

/// Where a leaf's page of a point in time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeafAfter {
    /// The first page.
    Start,
    /// After this position of the leaf's own snapshot (the cursor is one of its hits).
    Position(u64),
    /// Beyond this `@timestamp` in the sort's direction, or at it too when `inclusive` (the
    /// cursor is another leaf's hit).
    Time {
        /// The cursor's exact `@timestamp`.
        at: Timestamp,
        /// Whether hits at exactly `at` come after the cursor.
        inclusive: bool,
    },
}

/// One page of a leaf's point in time (`POST /internal/v1/pit/page`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafPage {
    /// The leaf's id of the point in time.
    pub pit_id: String,
    /// The query (its time range included).
    pub filter: loglynx_query::Filter,
    /// Most hits returned.
    pub limit: usize,
    /// `@timestamp` order.
    pub sort: loglynx_query::SortOrder,
    /// Where the page starts.
    pub after: LeafAfter,
    /// The keep-alive renewed by this page.
    pub keep_alive_ms: Option<u64>,
}

/// A leaf's page: the matches of the whole point in time (`total`), the page's hits with their
/// positions in the leaf's snapshot, and the cursor's exact time when it was a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeafPageResponse {
    /// Every match of the filter in the leaf's point in time (within its offsets).
    pub total: u64,
    /// The hits and their positions, in order.
    pub hits: Vec<(Event, u64)>,
    /// The `@timestamp` of [`LeafAfter::Position`]'s hit.
    pub cursor: Option<Timestamp>,
}

/// Closes a leaf's point in time (`POST /internal/v1/pit/close`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeafPitClose {
    /// The leaf's id of the point in time.
    pub pit_id: String,
}

/// What a worker publishes in `<topic>-catalog` (key = its id) every few seconds while it
/// lives; when it exits cleanly, a last one with `left` set (older workers: a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRecord {
    /// [`CATALOG_VERSION`]; a reader skips (with a warning) a record of another version.
    pub version: u32,
    /// The worker's id (`<host>-<pid>`).
    pub worker: String,
    /// Where its leaf API answers (`host:port`).
    pub addr: String,
    /// When the worker wrote the record (ms since the epoch, its own clock).
    pub updated_ms: u64,
    /// Its consumer group (`kafka.group`): `serve` reads the group's committed offsets to know
    /// what must exist. Empty in records of older workers.
    #[serde(default)]
    pub group: String,
    /// Its generations.
    pub generations: Vec<Generation>,
    /// The worker exited cleanly: its last record, kept in the compacted topic (a tombstone
    /// would be compacted away), so a `serve` started later still names what only its disk
    /// holds as missing. Absent in a live worker's records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left: bool,
}

/// The key prefix of [`LostRecord`]s in the catalog topic (`lost:<addr>`); a worker id never
/// starts with it.
pub const LOST_PREFIX: &str = "lost:";

/// Offsets an operator accepted as lost (`loglynx leaves forget`, `DELETE /api/v1/leaves/{id}`):
/// the gone workers at `addr` and what only their disks held. Kept in the catalog topic under
/// `lost:<addr>` so every root agrees and it outlives restarts; a root names these offsets in
/// `lost` of `GET /api/v1/leaves`, not as `missing` of its answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostRecord {
    /// [`CATALOG_VERSION`].
    pub version: u32,
    /// The leaf address of the workers forgotten.
    pub addr: String,
    /// Their worker ids.
    pub workers: Vec<String>,
    /// The offsets accepted as lost.
    pub ranges: Vec<LostRange>,
    /// When the loss was accepted (ms since the epoch, the root's clock).
    pub at_ms: u64,
}

/// One partition's offsets accepted as lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostRange {
    /// Kafka partition.
    pub partition: i32,
    /// First offset lost.
    pub from: u64,
    /// First offset after them.
    pub to: u64,
}

impl LostRecord {
    /// Reads a record (a record of another version is refused, as [`CatalogRecord::decode`]).
    pub fn decode(key: &str, value: &[u8]) -> Result<LostRecord, SearchError> {
        let bad = |reason: String| SearchError::Catalog { key: key.to_string(), reason };
        let v: serde_json::Value = serde_json::from_slice(value).map_err(|e| bad(format!("not JSON: {e}")))?;
        match v.get("version").and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(CATALOG_VERSION) => {}
            Some(n) => return Err(bad(format!("version {n}, this build reads version {CATALOG_VERSION}: upgrade this serve"))),
            None => return Err(bad("no version field".into())),
        }
        serde_json::from_value(v).map_err(|e| bad(e.to_string()))
    }

    /// The record's key in the catalog topic.
    pub fn key(&self) -> String {
        format!("{LOST_PREFIX}{}", self.addr)
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The lost offsets as a filter.
    pub fn offsets(&self) -> OffsetFilter {
        let mut f = OffsetFilter::default();
        for r in &self.ranges {
            f.add(r.partition, r.from, r.to);
        }
        f
    }
}

impl CatalogRecord {
    /// Reads a record, refusing one of another version (the version is checked before the
    /// rest, so a future record with other fields is named as such).
    pub fn decode(key: &str, value: &[u8]) -> Result<CatalogRecord, SearchError> {
        let bad = |reason: String| SearchError::Catalog { key: key.to_string(), reason };
        let v: serde_json::Value =
            serde_json::from_slice(value).map_err(|e| bad(format!("not JSON: {e}")))?;
        match v.get("version").and_then(serde_json::Value::as_u64) {
            Some(n) if n == u64::from(CATALOG_VERSION) => {}
            Some(n) => {
                return Err(bad(format!(
                    "version {n}, this build reads version {CATALOG_VERSION}: upgrade this serve to the workers' version"
                )))
            }
            None => return Err(bad("no version field".into())),
        }
        serde_json::from_value(v).map_err(|e| bad(e.to_string()))
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_records_round_trip_and_other_versions_are_refused() {
        let r = CatalogRecord {
            version: CATALOG_VERSION,
            worker: "h1-7".into(),
            addr: "10.0.0.1:7720".into(),
            updated_ms: 5,
            group: "g".into(),
            generations: vec![Generation {
                partition: 2,
                id: "t-2".into(),
                from: 0,
                to: 10,
                min_timestamp: None,
                max_timestamp: None,
                docs: 10,
                live: true,
            }],
            left: false,
        };
        assert_eq!(CatalogRecord::decode("h1-7", &r.encode()).unwrap(), r);
        assert!(!String::from_utf8(r.encode()).unwrap().contains("left"), "a live record says nothing of leaving");
        let last = CatalogRecord { left: true, ..r.clone() };
        assert!(CatalogRecord::decode("h1-7", &last.encode()).unwrap().left);
        let lost = LostRecord {
            version: CATALOG_VERSION,
            addr: "10.0.0.1:7720".into(),
            workers: vec!["h1-7".into()],
            ranges: vec![LostRange { partition: 2, from: 0, to: 10 }],
            at_ms: 9,
        };
        assert_eq!(lost.key(), "lost:10.0.0.1:7720");
        assert_eq!(LostRecord::decode(&lost.key(), &lost.encode()).unwrap(), lost);
        assert_eq!(lost.offsets().ranges().collect::<Vec<_>>().len(), 1);
        assert!(LostRecord::decode("lost:x", br#"{"version": 2}"#).unwrap_err().to_string().contains("version 2"));
        let v2 = br#"{"version": 2, "worker": "x", "shiny": true}"#;
        let e = CatalogRecord::decode("x", v2).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
        assert!(CatalogRecord::decode("x", b"garbage").is_err());
        assert!(CatalogRecord::decode("x", br#"{"worker": "x"}"#).is_err());
    }
}

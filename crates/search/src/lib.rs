//! loglynx search across machines: every worker is a *leaf* answering queries over the shards
//! on its own disk, `loglynx serve` is the *root* that sends each query to the leaves and merges
//! the answers (as Elasticsearch and Quickwit do).
//!
//! - `offsets.rs`: [`OffsetFilter`], the per-partition Kafka offset ranges a leaf must keep to
//!   (a filter on the `kafka.partition` / `kafka.offset` fields).
//! - `wire.rs`: what leaf and root say to each other ([`LeafRequest`], [`Generation`],
//!   [`LeafStatus`]) and the catalog record ([`CatalogRecord`], versioned).
//! - `cover.rs`: [`cover`], one non-overlapping cover of each partition's offset line by the
//!   leaves' generations, so overlapping generations are counted once.
//! - `expected.rs`: [`expected`], what must exist per partition (the group's committed offsets,
//!   what gone leaves held), and [`unanswered`], what of it no live leaf answers.
//! - `lost.rs`: [`lost_ranges`], the offsets a gone worker's accepted loss covers
//!   ([`LostRecord`], `loglynx leaves forget`).
//! - `merge.rs`: hits by timestamp then event id, exact totals, histograms, terms (exact up to
//!   a cap, marked approximate beyond).
//! - `orphans.rs`: [`redundant`], the generations of a leaf no query needs (others answer
//!   every offset, below the committed offset): deleted by the leaf after a grace period.
//! - `root.rs`: [`Root`], the fan-out with a timeout per leaf; what a leaf did not answer is
//!   named in the answer's `missing` ([`Missing`]), never silently left out.
//! - `pit.rs`: points in time through the root ([`Root::open_pit`], [`RootPit`]): one per
//!   leaf, pages merged by time, then leaf, then the leaf's position.
//! - [`SearchError`] (error.rs).

mod cover;
mod error;
mod expected;
mod lost;
mod merge;
mod offsets;
mod pit;
mod orphans;
mod root;
mod wire;

pub use cover::{cover, other_copies, Cover, LeafView, Piece};
pub use error::SearchError;
pub use expected::{expected, unanswered, without_lost, Unanswered};
pub use lost::{lost_ranges, merge_lost};
pub use merge::{merge_histograms, merge_hits, merge_terms, TERMS_CAP};
pub use orphans::redundant;
pub use offsets::{OffsetFilter, OffsetRange, OFFSET_FIELD, PARTITION_FIELD};
pub use pit::{merge_pages, PitEntry, RootPage, RootPit};
pub use root::{leaf_client, leaf_status, Answer, Directory, Missing, OffsetCursor, Root, RootSettings, StaticLeaves};
pub use wire::{
    CatalogRecord, Generation, LostRange, LostRecord, LOST_PREFIX, LeafAfter, LeafPage, LeafPageResponse, LeafPitClose, LeafPitOpen,
    LeafPitOpened, LeafRequest, LeafStatus, LeafTail, LeafTailResponse, TailPart,
    CATALOG_VERSION, LEAF_PREFIX,
};

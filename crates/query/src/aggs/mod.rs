//! Aggregations over fast fields: the date histogram, top-N terms, and the distinct count and
//! numeric stats of a field (`stats.rs`, from the same value counts as terms).
//!
//! Both are small custom collectors reading tantivy's columnar fast fields directly: no
//! stored document is loaded, counts are exact and merged across windows.

mod histogram;
mod stats;
mod terms;
mod zoned;

pub use histogram::{auto_interval_ms, MAX_BUCKETS};
pub use stats::FieldStats;
pub use terms::MAX_TERMS;
pub use zoned::bucket_edges;

//! Aggregations over fast fields: the date histogram and top-N terms.
//!
//! Both are small custom collectors reading tantivy's columnar fast fields directly: no
//! stored document is loaded, counts are exact and merged across windows.

mod histogram;
mod terms;

pub use histogram::{auto_interval_ms, MAX_BUCKETS};
pub use terms::MAX_TERMS;

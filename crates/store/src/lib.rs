//! loglynx store: tantivy indexes in time windows, with the source checkpoint in each commit.

pub mod schema;
mod snapshot;

pub use schema::{FieldKind, StoreSchema};
pub use snapshot::WindowSnapshot;

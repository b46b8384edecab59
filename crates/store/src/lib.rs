//! loglynx store: tantivy indexes in time windows, with the source checkpoint in each commit.
//!
//! - [`Store`] (`store.rs`): opens `<data_dir>/store/`, hands out snapshots and the checkpoint.
//! - `window.rs`: one window index, its id, reader and commit payload.
//! - `writer.rs`: the writer thread ([`Store::start_writer`], [`WriterHandle`]): batches in,
//!   commits with the checkpoint, acks out, rollover.
//! - `retention.rs`: deleting whole windows by age and size.
//! - `seal.rs`: a closed window merged to one segment, its doc store recompressed (zstd).
//! - `upgrade.rs`: windows of an earlier version get the fields added since (schema upgrade).
//! - `disk.rs`: the disk watermark (ingestion pauses before the disk is full).
//! - [`schema`]: the tantivy schema, Event <-> document.
//! - `doc.rs`: the compact stored form of an event (the `_event` field).
//! - `snapshot.rs`: [`WindowSnapshot`], what queries search.
//! - `stats.rs`: [`StoreStats`] for the health page.
//! - `error.rs`: [`StoreError`].

mod disk;
mod doc;
mod error;
mod retention;
mod seal;
pub mod schema;
mod snapshot;
mod stats;
mod store;
mod upgrade;
mod window;
mod writer;

pub use doc::{Columns, KEYWORD_COLUMNS};
pub use error::StoreError;
pub use schema::{FieldKind, StoreSchema};
pub use snapshot::WindowSnapshot;
pub use stats::{SealProgress, StoreStats, WindowInfo, WindowPhase};
pub use store::Store;
pub use writer::WriterHandle;

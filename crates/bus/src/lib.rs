//! loglynx bus: how batches travel from sources to the pipeline.
//!
//! - embedded (the default, `loglynx run`): a bounded in-process channel ([`embedded`]);
//! - [`kafka`] (`loglynx agent` / `loglynx worker`): a partitioned topic and a consumer group.
//!
//! Every transport is bounded: a full channel makes sources wait (back-pressure).
//! - `error.rs`: [`BusError`] (and [`SpoolDamage`]).

mod error;
pub mod kafka;

pub use error::{BusError, SpoolDamage};

use loglynx_core::RawBatch;
use tokio::sync::mpsc;

/// The embedded transport: a bounded channel of `capacity` batches.
pub fn embedded(capacity: usize) -> (mpsc::Sender<RawBatch>, mpsc::Receiver<RawBatch>) {
    mpsc::channel(capacity.max(1))
}

//! loglynx bus: how batches travel from sources to the pipeline.
//!
//! - embedded (the default, `loglynx run`): a bounded in-process channel;
//! - Kafka (`loglynx agent` / `loglynx worker`): a partitioned topic and a consumer group
//!   (planned; see ARCHITECTURE.md).
//!
//! Every transport is bounded: a full channel makes sources wait (back-pressure).

use loglynx_core::RawBatch;
use tokio::sync::mpsc;

/// The embedded transport: a bounded channel of `capacity` batches.
pub fn embedded(capacity: usize) -> (mpsc::Sender<RawBatch>, mpsc::Receiver<RawBatch>) {
    mpsc::channel(capacity.max(1))
}

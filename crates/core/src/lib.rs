//! loglynx core: the event model every other crate speaks.
//!
//! - [`event`]: the normalised [`Event`] with ECS-style field names ([`fields`]).
//! - [`record`]: what a source produces before parsing ([`RawRecord`]) and the batches that
//!   travel through the pipeline carrying their source position ([`RawBatch`], [`EventBatch`]).
//! - [`checkpoint`]: source positions, written by the store in the same commit as the events.
//! - [`time`]: timestamps as nanoseconds since the Unix epoch, UTC.
//!
//! This crate does no I/O.

pub mod checkpoint;
pub mod event;
pub mod fields;
pub mod record;
pub mod sched;
pub mod time;

pub use checkpoint::{Checkpoint, FORGET};
pub use event::{Event, EventFlags};
pub use record::{ack_channel, positioned_id, Ack, JOURNALD_SOURCE, AckError, AckReceiver, EventBatch, FormatHint, KafkaOrigin, RawBatch, RawRecord, SourceKind};
pub use time::Timestamp;

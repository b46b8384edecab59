//! The HTTP source: the framing and delivery behind `POST /api/v1/ingest` and the
//! Elasticsearch `_bulk` API, independent of the HTTP server (which reads the request, calls
//! [`HttpSource`] and maps its results and [`crate::CollectError`]s to statuses).
//!
//! - `lines.rs`: NDJSON or raw line bodies ([`LineFormat`], [`Lines`]), truncation and flags;
//! - `bulk.rs`: `_bulk` action/document pairs ([`Bulk`], [`BulkItem`]), per-item outcomes;
//! - `json.rs`: the JSON-object check of a line ([`validate_json_line`]);
//! - `submit.rs`: batching into [`loglynx_core::RawBatch`]es, room for all of a request's
//!   batches reserved in the bounded queue at once (or nothing taken), waiting for the acks;
//! - `source.rs`: [`HttpSource`] and its [`HttpSettings`].
//!
//! Records have no position: HTTP ingest is at-least-once (a client retries what was not
//! confirmed).

mod bulk;
mod json;
mod lines;
mod source;
mod submit;

pub use bulk::{ActionError, Bulk, BulkItem, BulkItemError, BulkOp, DEFAULT_INDEX, INDEX_LABEL};
pub use json::{validate_json_line, JsonLineError};
pub use lines::{valid_stream, LineFormat, Lines, RejectedLine, MAX_REPORTED};
pub use source::{
    HttpSettings, HttpSource, DEFAULT_ACK_TIMEOUT, DEFAULT_MAX_LINE, DEFAULT_QUEUE_WAIT,
};
pub use submit::{Refuse, BATCH_RECORDS};

pub(crate) use lines::new_event_id;

//! loglynx telemetry: what a process says about itself, in one place.
//!
//! - [`Registry`] (registry.rs): the process's metrics, rendered in the Prometheus text format
//!   for `/metrics` (one per process; a test builds its own).
//! - [`internal_events`]: one named struct per thing worth counting (an HTTP request served,
//!   an ingest batch accepted, records delivered to Kafka, offsets given up as missing...);
//!   its `emit()` writes the log line and updates the metric, in Vector's style.
//! - [`health`]: the reports agents and workers write under `<data>/health/` (typed states),
//!   the summary JSON of `/api/v1/pipeline` and the `loglynx_kafka_*` series rendered from
//!   the reports at scrape time.
//! - [`TelemetryError`] (error.rs).
//!
//! The metrics are listed in `docs/METRICS.md`.

mod error;
pub mod health;
pub mod internal_events;
mod registry;

pub use error::TelemetryError;
pub use internal_events::InternalEvent;
pub use registry::{Registry, CONTENT_TYPE};

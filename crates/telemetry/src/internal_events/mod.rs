//! Internal events, in Vector's style: one named struct per thing that happens and is worth
//! counting. [`InternalEvent::emit`] writes the event's log line (at the level the code has
//! always used; some events have none) and updates its metric, so a log line and its counter
//! never drift apart.
//!
//! - `http.rs`: the HTTP server ([`HttpRequestServed`]) and the ingest endpoints
//!   ([`IngestRequestReceived`], [`IngestEventsAccepted`], [`IngestLinesRejected`],
//!   [`IngestQueueFull`]); their metrics are [`HttpMetrics`], registered in the process's
//!   [`crate::Registry`].
//! - `kafka.rs`: the agent's producer (records enqueued, delivered, failed, rejected,
//!   spooling started / ended, damaged disk buffer frames skipped) and the worker's consumers (records consumed, skipped as
//!   stored, sent twice, undecodable, re-fetches, offsets given up as missing, rebalances).
//!   Their metric is the process's counter behind its [`crate::health::HealthReport`]; the
//!   report is rendered as the `loglynx_kafka_*` series by
//!   [`crate::health::ReportsCollector`], with the rates and states of the report.

mod http;
mod kafka;

pub use http::{
    HttpMetrics, HttpRequestServed, IngestEndpoint, IngestEventsAccepted, IngestLinesRejected,
    IngestQueueFull, IngestRequestReceived,
};
pub use kafka::{
    ConsumerRebalance, KafkaRefetchStarted, OffsetsGivenUpAsMissing, RecordDelivered,
    RecordDeliveryFailed, RecordRejected, RecordTruncatedToFit, RecordUndecodable, RecordsConsumed, RecordsEnqueued,
    RecordsSkippedAsResent, RecordsSkippedAsStored, SpoolDamageSkipped, SpoolLoss, SpoolingEnded,
    SpoolingStarted,
};

/// Something that happened: [`InternalEvent::emit`] logs it and updates its metric.
pub trait InternalEvent: Sized {
    /// Where the event's metric lives.
    type Metrics: ?Sized;

    /// Writes the log line and updates the metric in `metrics`.
    fn emit(self, metrics: &Self::Metrics);
}

//! The one error type of the sources.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use loglynx_core::AckError;

/// What can stop a source. Per-file and per-connection problems are logged and skipped, not
/// returned: a source only fails when it cannot start or cannot go on at all. The HTTP source
/// fails per request: its variants below say why a request's records were not taken or not
/// confirmed (the caller maps them to a status, e.g. 415, 400 or 503).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The configuration cannot be used as given.
    #[error("invalid collect configuration: {0}")]
    Config(String),
    /// A listening socket could not be opened.
    #[error(
        "cannot listen on {addr} ({transport}): {source}: pick a free port or set it to \"off\""
    )]
    Bind {
        /// `udp` or `tcp`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An I/O operation that the source cannot do without failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `cannot accept tcp connection`.
        context: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file could not be read (kept for callers that read one file directly).
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A background task of the source panicked or was cancelled by the runtime.
    #[error("source task failed: {0}: this is a bug, please report it")]
    Task(String),
    /// An HTTP body in a content type the HTTP source does not read (the header as sent).
    #[error(
        "unsupported Content-Type {0:?}: send application/x-ndjson (one JSON object per line) or text/plain (raw log lines)"
    )]
    UnsupportedContentType(String),
    /// An OTLP/HTTP body in a content type other than protobuf or JSON (the header as sent).
    #[error(
        "unsupported Content-Type {0:?} for OTLP: send application/x-protobuf or application/json"
    )]
    UnsupportedOtlpContentType(String),
    /// An OTLP body that is not an export logs request in its encoding.
    #[error("invalid OTLP {encoding} export request: {reason}: send an ExportLogsServiceRequest (OTLP logs)")]
    BadOtlp {
        /// `protobuf` or `JSON`.
        encoding: &'static str,
        /// What the decoder found wrong.
        reason: String,
    },
    /// A `_bulk` body without a single item.
    #[error("empty bulk body: send action lines each followed by a document line (NDJSON)")]
    EmptyBulk,
    /// The HTTP source's refuse hook turned the request away before anything was taken (the
    /// agent: its disk buffer is full while the brokers are away).
    #[error("{reason}: nothing of this request was accepted, send it again in {retry_after}s")]
    Refused {
        /// What the hook said.
        reason: String,
        /// Seconds the client should wait before sending again.
        retry_after: u64,
    },
    /// The ingest queue stayed full for the whole wait: nothing of the request was taken.
    #[error(
        "the ingest queue is full (the pipeline is behind): nothing of this request was accepted, send it again in {retry_after}s"
    )]
    QueueFull {
        /// Seconds the client should wait before sending again.
        retry_after: u64,
    },
    /// The ingest queue's receiver is gone.
    #[error(
        "the ingest pipeline is closed (server shutting down): retry the request against a running server"
    )]
    Closed,
    /// A batch's ack reported a failure (batches acknowledged before it are durable).
    #[error("the events could not be made durable ({0}): retry the request")]
    NotDurable(#[source] AckError),
    /// A batch was dropped before its ack fired.
    #[error(
        "the pipeline dropped the batch before it was durable (shutting down?): retry the request"
    )]
    AckDropped,
    /// The acks did not all come within the ack timeout.
    #[error(
        "the events were not confirmed durable within {}s (overloaded?): retry the request later",
        .0.as_secs()
    )]
    AckTimeout(Duration),
}

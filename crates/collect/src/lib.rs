//! loglynx sources: they find and frame records, they do not parse them.
//!
//! - [`file`]: follow files by glob ([`FileSource`]), with rotation, truncation and resume from
//!   the store's checkpoint (DESIGN invariant 1);
//! - [`syslog`]: syslog over UDP and TCP ([`SyslogServer`]), RFC 6587 framing, no ack;
//! - [`http`]: NDJSON, raw lines and Elasticsearch `_bulk` bodies ([`HttpSource`]), answered
//!   once durable (the HTTP server itself is `loglynx-api`'s);
//! - [`otlp`]: OpenTelemetry logs, OTLP/HTTP bodies (protobuf, JSON) and the OTLP/gRPC service,
//!   mapped to records with ECS names and acknowledged like HTTP ingest;
//! - [`journald`]: the systemd journal ([`JournaldSource`]) through libsystemd, resumed from
//!   the store's checkpoint (per journal sequence id, the next sequence number);
//! - [`error`]: the crate's error type, [`CollectError`].
//!
//! Every source sends [`loglynx_core::RawBatch`]es into a bounded `tokio::sync::mpsc` channel
//! and awaits room there: a slow store slows the sources down (DESIGN invariant 2). The file and
//! syslog sources stop when their `tokio_util::sync::CancellationToken` is cancelled or the
//! receiver is dropped; the HTTP source works per request (its server stops taking requests)
//! and waits for room at most its queue wait, so a client is told to come back instead.

pub mod error;
pub mod file;
pub mod http;
pub mod journald;
pub mod otlp;
pub mod syslog;

pub use error::CollectError;
pub use file::{FileSource, FileSourceSnapshot, FileSourceState, FileStatus};
pub use http::HttpSource;
pub use journald::JournaldSource;
pub use syslog::SyslogServer;

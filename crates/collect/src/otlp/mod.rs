//! OpenTelemetry logs (OTLP): the export request in protobuf or JSON (`decode.rs`), mapped to
//! records with ECS names (`map.rs`, where the mapping table is), and the gRPC service
//! (`grpc.rs`, with its credential check, a [`GrpcAuth`], in `grpc_auth.rs`). OTLP/HTTP
//! (`POST /v1/logs`) is served by `loglynx-api`, which reads the body and calls
//! [`decode_request`], [`map_request`] and [`crate::HttpSource::submit`]; OTLP/gRPC is served
//! here by [`serve_grpc`]. The types are the OpenTelemetry project's own
//! (`opentelemetry-proto`), so the wire format is theirs.
//!
//! Records have no position: OTLP ingest is at-least-once, like HTTP ingest (an exporter
//! retries what was not confirmed).

mod decode;
mod grpc;
mod grpc_auth;
mod map;

pub use decode::{decode_request, encode_response, response, OtlpEncoding};
pub use grpc::{serve_grpc, GRPC_ENDPOINT};
pub use grpc_auth::{Caller, Denied, GrpcAuth};
pub use map::{
    ecs_name, map_request, Mapped, OtlpLimits, DATASET, DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_VALUE,
};

/// The endpoint name of OTLP/HTTP records (`SourceKind::Http`).
pub const HTTP_ENDPOINT: &str = "otlp_http";

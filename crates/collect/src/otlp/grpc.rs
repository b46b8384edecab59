//! OTLP/gRPC: the `LogsService/Export` method (tonic) over the [`HttpSource`], so a gRPC export
//! is framed, queued and acknowledged exactly like an HTTP ingest request: the reply comes once
//! the records are durable (the store's commit under `run`, the Kafka delivery or the agent's
//! disk buffer under `agent`).
//!
//! Status codes, as the OTLP specification asks: a full queue, a refusal, a shutdown or an ack
//! that failed is `UNAVAILABLE` (the exporters retry it); a message that does not decode is
//! tonic's `INTERNAL`/`INVALID_ARGUMENT`; rejected records are a partial success (`OK`).
//!
//! Every request is checked by a [`GrpcAuth`] before its message is read (the HTTP API's keys
//! and token: `UNAUTHENTICATED`, `PERMISSION_DENIED`, `RESOURCE_EXHAUSTED` after too many wrong
//! attempts), and its records are admitted by it once mapped (the key's ingest rate:
//! `RESOURCE_EXHAUSTED` with a retry delay; nothing of the request is taken).

use std::future::Future;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::error::CollectError;
use crate::http::HttpSource;
use crate::otlp::decode::response;
use crate::otlp::grpc_auth::{Caller, GrpcAuth};
use crate::otlp::map::{map_request, OtlpLimits};

/// The endpoint name of gRPC records (`SourceKind::Http`), and of their counters.
pub const GRPC_ENDPOINT: &str = "otlp_grpc";

/// The service: maps each export and submits it through the HTTP source.
struct Logs {
    source: HttpSource,
    limits: OtlpLimits,
    auth: Arc<dyn GrpcAuth>,
}

#[tonic::async_trait]
impl LogsService for Logs {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        // Put there by the interceptor, which runs first on every request.
        let caller = request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::internal("the request was not authenticated"))?;
        let mapped = map_request(
            request.into_inner(),
            self.source.host(),
            &self.limits,
            GRPC_ENDPOINT,
        );
        let accepted = mapped.records.len();
        self.auth
            .admit(&caller, accepted + mapped.rejected as usize)?;
        self.source
            .submit(mapped.records)
            .await
            .map_err(status_of)?;
        tracing::debug!(accepted, rejected = mapped.rejected, "otlp grpc export");
        Ok(Response::new(response(mapped.rejected, mapped.message)))
    }
}

/// The gRPC status of a failed submit: every submit failure is retryable.
fn status_of(e: CollectError) -> Status {
    Status::unavailable(e.to_string())
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes (in-flight exports are answered
/// first). `auth`: who may export, asked about every request. `max_message`: the largest
/// decoded message accepted (`http.max_body`); gzip-compressed requests are accepted.
pub async fn serve_grpc(
    listener: tokio::net::TcpListener,
    source: HttpSource,
    limits: OtlpLimits,
    auth: Arc<dyn GrpcAuth>,
    max_message: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CollectError> {
    let check_auth = auth.clone();
    let service = LogsServiceServer::new(Logs {
        source,
        limits,
        auth,
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(max_message);
    let check = move |mut req: Request<()>| -> Result<Request<()>, Status> {
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let caller = check_auth.authenticate(given, req.remote_addr())?;
        req.extensions_mut().insert(caller);
        Ok(req)
    };
    tonic::transport::Server::builder()
        .add_service(tonic::service::interceptor::InterceptedService::new(
            service, check,
        ))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .map_err(|e| CollectError::Io {
            context: "otlp grpc server failed".into(),
            source: std::io::Error::other(e),
        })
}

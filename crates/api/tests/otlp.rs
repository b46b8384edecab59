//! `POST /v1/logs` (OTLP/HTTP) on the ingest router alone (what `loglynx agent` serves): a
//! gzip-compressed protobuf export is answered in protobuf once its batches are acknowledged,
//! its records carry the mapped ECS names, and the token check applies. The mapping itself is
//! unit-tested in loglynx-collect; the real SDK exporters in crates/cli/tests/e2e_otlp.rs.

use std::io::Write as _;

use loglynx_api::{ingest_router, serve_router, IngestState};
use loglynx_config::HttpConfig;
use loglynx_core::{FormatHint, RawBatch};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value::Value as Any, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::Value;
use tokio::sync::mpsc;

fn text(v: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(Any::StringValue(v.into())) })
}

fn export(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue { key: "service.name".into(), value: text("cart") }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        severity_number: 13,
                        body: text(&format!("line {i}")),
                        trace_id: vec![7; 16],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn serve(st: IngestState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_router(listener, ingest_router(st, None), std::future::pending()));
    base
}

#[tokio::test]
async fn a_gzipped_protobuf_export_is_answered_in_protobuf_once_acknowledged() {
    let (tx, mut rx) = mpsc::channel::<RawBatch>(4);
    let base = serve(IngestState::new(tx, "agenthost".into(), &HttpConfig::default())).await;
    let consumer = tokio::spawn(async move {
        let b = rx.recv().await.unwrap();
        let records = b.records.clone();
        b.ack.unwrap().send(Ok(())).unwrap();
        records
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&export(3).encode_to_vec()).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let reply = ExportLogsServiceResponse::decode(r.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.partial_success, None);

    let records = consumer.await.unwrap();
    assert_eq!(records.len(), 3);
    let first: Value = serde_json::from_slice(&records[0].body).unwrap();
    assert_eq!(records[0].hint, FormatHint::Json);
    assert_eq!(records[0].host.as_deref(), Some("agenthost"));
    assert_eq!(first["message"], "line 0");
    assert_eq!(first["log.level"], "warn");
    assert_eq!(first["service.name"], "cart");
    assert_eq!(first["labels.trace.id"], "07".repeat(16));
}

#[tokio::test]
async fn the_token_applies_to_otlp_too() {
    let (tx, _rx) = mpsc::channel::<RawBatch>(4);
    let http = HttpConfig { auth_token: Some("s3cret".into()), ..HttpConfig::default() };
    let base = serve(IngestState::new(tx, "h".into(), &http)).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(export(1).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

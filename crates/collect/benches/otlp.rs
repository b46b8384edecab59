//! OTLP ingest cost per record before the pipeline, beside loglynx's own NDJSON path:
//! `cargo bench -p loglynx-collect --bench otlp`.
//!
//! - `otlp_protobuf`: an OTLP/HTTP protobuf export of 1,000 log records (resource with 3
//!   attributes, each record with a body, severity, trace and span ids and 4 attributes, as the
//!   Python SDK sends them) decoded and mapped to records (`decode_request` + `map_request`);
//! - `otlp_json`: the same export in OTLP/JSON;
//! - `ndjson` (the peer): 1,000 NDJSON lines carrying the same fields framed by
//!   `HttpSource::lines` (each line checked to be a JSON object), what `/api/v1/ingest` does.
//!
//! Criterion reports elements (records) per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loglynx_collect::http::{HttpSettings, HttpSource, LineFormat};
use loglynx_collect::otlp::{decode_request, map_request, OtlpEncoding, OtlpLimits};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as Any, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

const N: usize = 1000;

fn kv(k: &str, v: Any) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }) }
}

fn export() -> ExportLogsServiceRequest {
    let records = (0..N)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue { value: Some(Any::StringValue(format!("order o-{i} received from the web shop"))) }),
            attributes: vec![
                kv("order.id", Any::IntValue(i as i64)),
                kv("code.function.name", Any::StringValue("receive".into())),
                kv("code.line.number", Any::IntValue(42)),
                kv("http.response.status_code", Any::IntValue(200)),
            ],
            trace_id: vec![7; 16],
            span_id: vec![9; 8],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Any::StringValue("checkout".into())),
                    kv("deployment.environment", Any::StringValue("prod".into())),
                    kv("telemetry.sdk.language", Any::StringValue("python".into())),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn ndjson() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..N {
        out.push_str(&format!(
            "{{\"@timestamp\":\"2023-11-14T22:13:20.{i:09}Z\",\"log.level\":\"info\",\"message\":\"order o-{i} received from the web shop\",\"service.name\":\"checkout\",\"labels.deployment.environment\":\"prod\",\"labels.telemetry.sdk.language\":\"python\",\"labels.order.id\":{i},\"labels.code.function.name\":\"receive\",\"labels.code.line.number\":42,\"http.response.status_code\":200,\"labels.trace.id\":\"07070707070707070707070707070707\",\"labels.span.id\":\"0909090909090909\"}}\n"
        ));
    }
    out.into_bytes()
}

fn bench(c: &mut Criterion) {
    let req = export();
    let protobuf = req.encode_to_vec();
    let json = serde_json::to_vec(&req).unwrap();
    let lines = ndjson();
    let limits = OtlpLimits::default();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let source = HttpSource::new(tx, "host".into(), HttpSettings::default(), None);

    let mut g = c.benchmark_group("http_source");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("otlp_protobuf", |b| {
        b.iter(|| {
            let req = decode_request(black_box(&protobuf), OtlpEncoding::Protobuf).unwrap();
            map_request(req, "host", &limits, "otlp_http").records.len()
        })
    });
    g.bench_function("otlp_json", |b| {
        b.iter(|| {
            let req = decode_request(black_box(&json), OtlpEncoding::Json).unwrap();
            map_request(req, "host", &limits, "otlp_http").records.len()
        })
    });
    g.bench_function("ndjson", |b| {
        b.iter(|| source.lines(black_box(&lines), LineFormat::Ndjson, None).records.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! OpenTelemetry logs end to end: the Python OpenTelemetry SDK (its logging bridge, inside a
//! span) exports through the real OTLP/HTTP (protobuf, gzip) and OTLP/gRPC exporters to
//! `loglynx run`, and the records are found through the search API with their severity,
//! attributes, resource and trace ids. Then bad OTLP input: a clear 400 / 415 or a partial
//! success, and the server keeps serving. With API keys, the gRPC exporter follows them like
//! the HTTP ingest routes (issue 11).
//!
//! The SDK comes from PyPI in the virtual environment `scripts/pyenv.sh` creates when missing
//! (`target/pyenv`; `scripts/test.sh` runs it too).

mod support;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{add_key, otel_send as send, otel_send_with, pyenv_python, Server, BIN};

#[test]
fn python_sdk_logs_over_http_and_grpc_are_searchable_with_their_context() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--syslog-udp", "off", "--syslog-tcp", "off", "--otlp-grpc", "127.0.0.1:0"],
    );
    let grpc = server
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("otlp grpc: "))
        .expect("the otlp grpc address line")
        .to_string();

    let run = "e2e-otel";
    let via_http = send(&python, "http", &format!("http://{}", server.http), run);
    let via_grpc = send(&python, "grpc", &format!("http://{grpc}"), run);
    server.wait_total(&format!("labels.run:{run}"), 6, Duration::from_secs(30));

    for (mode, (trace, span)) in [("http", via_http), ("grpc", via_grpc)] {
        let body = server.search(&format!("labels.trace.id:{trace}"), 10, 0, "asc");
        let hits = body["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 3, "{mode}: {body}");
        let levels: Vec<&str> = hits.iter().map(|h| h["log.level"].as_str().unwrap()).collect();
        assert_eq!(levels, ["info", "warn", "error"], "{mode}");
        for h in hits {
            assert_eq!(h["event.dataset"], "otel");
            assert_eq!(h["service.name"], format!("checkout-{mode}"));
            assert_eq!(h["labels.deployment.environment"], "e2e");
            assert_eq!(h["labels.span.id"], span.as_str());
            assert_eq!(h["labels.order.id"], "1");
            assert_eq!(h["labels.otel.scope.name"], "shop");
            assert_eq!(h["labels.telemetry.sdk.language"], "python");
        }
        assert_eq!(hits[0]["message"], "order o-1 received");
        assert_eq!(hits[0]["labels.otel.severity_number"], "9");
        assert_eq!(hits[1]["http.response.status_code"], 502);
        assert_eq!(hits[1]["labels.otel.severity_text"], "WARN");
        assert_eq!(hits[2]["message"], "payment declined for order o-1");
        assert_eq!(hits[2]["source.ip"], "10.1.2.3");
        // Typed fields are searchable as such.
        assert_eq!(
            server.total(&format!("service.name:checkout-{mode} AND log.level:error AND source.ip:10.1.2.3")),
            1,
            "{mode}"
        );
    }
    let stats: Value = server
        .client()
        .get(server.url("/api/v1/stats"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(stats.to_string().contains("\"otlp\""), "{stats}");

    bad_input(&server);
}

/// Wrong types, undecodable bodies, other content types, bad ids, unknown enums and a huge
/// attribute map: clear answers, the good records kept, and the server still serving.
fn bad_input(server: &Server) {
    let post = |ct: &str, body: Vec<u8>| {
        let r = server
            .client()
            .post(server.url("/v1/logs"))
            .header("content-type", ct)
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().unwrap())
    };

    let wrong_type = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": "loud"}]}]}]});
    let (status, text) = post("application/json", wrong_type.to_string().into_bytes());
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid OTLP JSON export request"), "{text}");

    let (status, text) = post("application/x-protobuf", b"\x0a\xff\xff\xff\xff\x0f".to_vec());
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("invalid OTLP protobuf export request"), "{text}");

    let (status, text) = post("text/plain", b"hello".to_vec());
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("application/x-protobuf or application/json"), "{text}");

    let attrs: Vec<Value> = (0..5000)
        .map(|i| json!({"key": format!("a{i}"), "value": {"intValue": i}}))
        .collect();
    let rec = |extra: Value| {
        let mut r = json!({"timeUnixNano": "1700000000000000000", "body": {"stringValue": "bad-input-run"},
            "attributes": [{"key": "run", "value": {"stringValue": "bad"}}]});
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r
    };
    let body = json!({"resourceLogs": [{
        "resource": {"attributes": attrs},
        "scopeLogs": [{"logRecords": [
            rec(json!({"severityNumber": 9})),
            rec(json!({"traceId": "0102"})),
            rec(json!({"severityNumber": 77, "severityText": "LOUD"})),
        ]}]}]});
    let (status, text) = post("application/json", body.to_string().into_bytes());
    assert_eq!(status, 200, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    let partial = &reply["partialSuccess"];
    assert_eq!(partial["rejectedLogRecords"], json!(1), "{reply}");
    let msg = partial["errorMessage"].as_str().unwrap();
    assert!(msg.contains("record 2: trace_id must be 16 bytes (or empty), got 2"), "{msg}");
    assert!(msg.contains("unknown severity_number"), "{msg}");
    assert!(msg.contains("attribute(s) dropped"), "{msg}");

    server.wait_total("labels.run:bad", 2, Duration::from_secs(30));
    let hits = server.search("labels.run:bad", 10, 0, "asc");
    for h in hits["hits"].as_array().unwrap() {
        assert_eq!(h["@timestamp"], "2023-11-14T22:13:20Z");
        // 128 attributes kept: the record's own (`run`) first, then the resource's a0..a126.
        assert!(h.get("labels.a126").is_some(), "{h}");
        assert!(h.get("labels.a127").is_none(), "{h}");
        assert_eq!(h["labels.otel.dropped_attributes_count"], "4873", "{h}");
    }
    let health = server.client().get(server.url("/api/v1/health")).send().unwrap();
    assert!(health.status().is_success());
}

/// Issue 11: OTLP/gRPC used to check only `http.auth_token`, so with API keys (and no token)
/// an export without any credential was stored. Now, as on the HTTP ingest routes: without a
/// key or with a wrong one `UNAUTHENTICATED`, with a `read` key `PERMISSION_DENIED`, nothing of
/// those stored; an `ingest` key is stored, and refused once revoked while the server runs.
#[test]
fn grpc_exports_follow_the_api_keys() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let admin = add_key(data_s, "ops", "admin");
    let read = add_key(data_s, "analyst", "read");
    let log_path = dir.path().join("server.log");
    let mut cmd = Command::new(BIN);
    cmd.stderr(fs::File::create(&log_path).unwrap());
    let server = Server::start_with(
        cmd,
        &data,
        &["--syslog-udp", "off", "--syslog-tcp", "off", "--otlp-grpc", "127.0.0.1:0"],
    );
    let grpc = server
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("otlp grpc: "))
        .expect("the otlp grpc address line");
    let endpoint = format!("http://{grpc}");
    // Added while the server runs: picked up without a restart.
    let ingest = add_key(data_s, "shipper", "ingest");
    let bearer = |k: &str| format!("Bearer {k}");
    let last = if ingest.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &ingest[..ingest.len() - 1]);

    let refused = |run: &str, authorization: Option<&str>, code: &str| {
        let (results, err) = otel_send_with(&python, "grpc", &endpoint, run, authorization);
        assert_eq!(results, "exported FAILURE FAILURE FAILURE", "{run}: {err}");
        assert!(err.contains(&format!("StatusCode.{code}")), "{run}: {err}");
    };
    let accepted = |run: &str, key: &str| {
        let (results, err) = otel_send_with(&python, "grpc", &endpoint, run, Some(&bearer(key)));
        assert_eq!(results, "exported SUCCESS SUCCESS SUCCESS", "{run}: {err}");
    };
    refused("grpc-nokey", None, "UNAUTHENTICATED");
    refused("grpc-wrongkey", Some(&bearer(&wrong)), "UNAUTHENTICATED");
    refused("grpc-readkey", Some(&bearer(&read)), "PERMISSION_DENIED");
    accepted("grpc-ingestkey", &ingest);
    support::keys(&["revoke", "shipper", "--data-dir", data_s]);
    refused("grpc-revoked", Some(&bearer(&ingest)), "UNAUTHENTICATED");
    // The admin key passes; its records, sent last, show that the pipeline got this far.
    accepted("grpc-adminkey", &admin);

    // The HTTP API needs a key too (the server's own client has none).
    let c = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let total = |q: &str| -> u64 {
        let r = c
            .get(server.url("/api/v1/search"))
            .query(&[("q", q), ("limit", "1")])
            .bearer_auth(&admin)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "search {q}: {}", r.status());
        r.json::<Value>().unwrap()["total"].as_u64().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while total("labels.run:grpc-adminkey") < 3 {
        assert!(Instant::now() < deadline, "the admin key's records never showed");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(total("labels.run:grpc-ingestkey"), 3);
    for run in ["grpc-nokey", "grpc-wrongkey", "grpc-readkey", "grpc-revoked"] {
        assert_eq!(total(&format!("labels.run:{run}")), 0, "{run} was stored");
    }

    // Wrong keys counted like the HTTP side's: three exports with the wrong key, three with the
    // revoked one (no key and the read key are not wrong attempts).
    let metrics = c.get(server.url("/metrics")).bearer_auth(&admin).send().unwrap().text().unwrap();
    assert!(metrics.lines().any(|l| l == "loglynx_http_auth_failures_total 6"), "{metrics}");
    // Logged with the peer, the endpoint and the key's id, never the key.
    server.stop();
    let log = fs::read_to_string(&log_path).unwrap();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authentication failed") && l.contains("otlp grpc LogsService/Export"))
        .collect();
    assert_eq!(failures.len(), 6, "{log}");
    assert!(failures.iter().all(|l| l.contains("127.0.0.1") && l.contains(&ingest[4..16])), "{log}");
    assert!(!log.contains(&ingest[17..]), "a key was logged");
}

/// Issue 11: a key's `http.ingest_rate` is one budget for HTTP and gRPC. A key that overdrew
/// it over HTTP gets `RESOURCE_EXHAUSTED` on gRPC with the wait as `RetryInfo`, which the SDK's
/// exporter follows (a whole number of seconds, not its own jittered backoff) and then gets in.
#[test]
fn grpc_exports_share_the_keys_ingest_rate_and_say_when_to_retry() {
    let python = pyenv_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let key = add_key(data_s, "shipper", "ingest");
    let admin = add_key(data_s, "ops", "admin");
    let config = dir.path().join("loglynx.toml");
    fs::write(&config, "[http]\ningest_rate = 10\n").unwrap();
    let server = Server::start(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--syslog-udp",
            "off",
            "--syslog-tcp",
            "off",
            "--otlp-grpc",
            "127.0.0.1:0",
        ],
    );
    let grpc = server
        .startup
        .iter()
        .find_map(|l| l.strip_prefix("otlp grpc: "))
        .expect("the otlp grpc address line");
    let c = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    // 60 records of a 10-record bucket: let in, then 5 s in debt.
    let lines: String = (0..60).map(|i| format!("ratemark {i}\n")).collect();
    let r = c
        .post(server.url("/api/v1/ingest"))
        .header("content-type", "text/plain")
        .bearer_auth(&key)
        .body(lines)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let (results, err) =
        otel_send_with(&python, "grpc", &format!("http://{grpc}"), "grpc-rated", Some(&format!("Bearer {key}")));
    assert_eq!(results, "exported SUCCESS SUCCESS SUCCESS", "{err}");
    let retried: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("StatusCode.RESOURCE_EXHAUSTED") && l.contains("http.ingest_rate"))
        .collect();
    assert!(!retried.is_empty(), "never throttled: {err}");
    for l in &retried {
        let delay = l.split("retrying in ").nth(1).and_then(|r| r.split('s').next()).unwrap_or("");
        assert!(delay.ends_with(".00") && delay != "0.00", "the server's delay, not the SDK's backoff: {l}");
    }
    // Stored once each (the refused tries took nothing).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c
            .get(server.url("/api/v1/search"))
            .query(&[("q", "labels.run:grpc-rated"), ("limit", "1")])
            .bearer_auth(&admin)
            .send()
            .unwrap();
        let total = r.json::<Value>().unwrap()["total"].as_u64().unwrap();
        if total == 3 {
            break;
        }
        assert!(total < 3 && Instant::now() < deadline, "{total} stored");
        std::thread::sleep(Duration::from_millis(200));
    }
}

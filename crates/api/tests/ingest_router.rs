//! The ingest endpoints without a store ([`ingest_router`], what `loglynx agent` serves) and
//! the 503 of a full ingest queue (both routers).

use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_api::{ingest_router, serve_router, AppState, ExtraMetrics, IngestState};
use loglynx_config::{HttpConfig, StoreConfig};
use loglynx_core::{RawBatch, RawRecord};
use loglynx_query::QueryEngine;
use loglynx_store::Store;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

mod common;

use common::post_raw;

const NDJSON: (&str, &str) = ("content-type", "application/x-ndjson");

/// Serves `app` on 127.0.0.1:0; returns the base URL and the stop handle.
async fn serve(app: axum::Router) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_router(listener, app, async move {
        let _ = stopped.await;
    }));
    (base, stop)
}

/// A stand-in for the Kafka producer: acknowledges every batch and keeps its records.
fn acking_consumer(mut rx: mpsc::Receiver<RawBatch>) -> tokio::task::JoinHandle<Vec<RawRecord>> {
    tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(b) = rx.recv().await {
            all.extend(b.records);
            if let Some(ack) = b.ack {
                let _ = ack.send(Ok(()));
            }
        }
        all
    })
}

/// What the [`acking_consumer`] kept, with the bodies as text, once it ends (at most 10 s,
/// else it fails on `ending`: what should have ended it).
async fn kept(
    consumer: tokio::task::JoinHandle<Vec<RawRecord>>,
    ending: &str,
) -> (Vec<RawRecord>, Vec<String>) {
    let records = tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect(ending)
        .unwrap();
    let bodies = records
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    (records, bodies)
}

/// The text of `base`'s /metrics.
async fn metrics(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn full_queue_state(tx: mpsc::Sender<RawBatch>) -> IngestState {
    let mut st = IngestState::new(tx, "agenthost".into(), &HttpConfig::default());
    st.queue_wait = Duration::from_millis(300);
    st.ack_timeout = Duration::from_secs(30);
    st
}

fn filler() -> RawBatch {
    RawBatch {
        records: Vec::new(),
        checkpoint: Vec::new(),
        ack: None,
        kafka: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_router_acks_through_the_queue_and_serves_its_metrics() {
    let (tx, rx) = mpsc::channel(4);
    let consumer = acking_consumer(rx);
    let st = IngestState::new(tx, "agenthost".into(), &HttpConfig::default());
    let extra: ExtraMetrics = Arc::new(|out: &mut String| {
        out.push_str("# TYPE loglynx_test_extra gauge\nloglynx_test_extra 7\n")
    });
    let (base, stop) = serve(ingest_router(st, Some(extra))).await;
    let client = reqwest::Client::new();

    let body = "{\"message\":\"one\"}\n{bad\n{\"message\":\"two\"}\n";
    let r = post_raw(&client, format!("{base}/api/v1/ingest"), &[NDJSON], body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["rejected"][0]["line"], 2, "{v}");

    let bulk = "{\"index\":{\"_index\":\"web\",\"_id\":\"b1\"}}\n{\"message\":\"three\"}\n";
    let r = post_raw(&client, format!("{base}/_bulk"), &[NDJSON], bulk).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"], false, "{v}");
    assert_eq!(v["items"][0]["index"]["_id"], "b1");

    // Elasticsearch start-up probe: the version, never a redirect to a dashboard.
    let r = client
        .get(format!("{base}/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["name"], "agenthost");
    // No store behind this router.
    let r = client
        .get(format!("{base}/api/v1/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let text = metrics(&client, &base).await;
    assert!(
        text.contains("loglynx_events_ingested_total{endpoint=\"ingest\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("loglynx_events_ingested_total{endpoint=\"bulk\"} 1\n"));
    assert!(text.contains("loglynx_ingest_rejected_total{endpoint=\"ingest\"} 1\n"));
    assert!(
        text.contains("loglynx_http_requests_total{route=\"/api/v1/ingest\",status=\"200\"} 1\n")
    );
    assert!(text.contains("loglynx_test_extra 7\n"));

    let _ = stop.send(());
    // The server's state (and its queue sender) goes away with it.
    let (records, bodies) = kept(consumer, "the queue closes once the server stops").await;
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies[0], "{\"message\":\"one\"}");
    assert_eq!(bodies[1], "{\"message\":\"two\"}");
    assert!(bodies[2].contains("three") && bodies[2].contains("web"));
    assert!(records
        .iter()
        .all(|r| r.host.as_deref() == Some("agenthost")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_router_requires_the_token_when_set() {
    let (tx, rx) = mpsc::channel(4);
    let _consumer = acking_consumer(rx);
    let http = HttpConfig {
        auth_token: Some("s3cret".into()),
        ..HttpConfig::default()
    };
    let st = IngestState::new(tx, "h".into(), &http);
    let (base, _stop) = serve(ingest_router(st, None)).await;
    let client = reqwest::Client::new();
    let post = |token: Option<&str>| {
        let rb = client
            .post(format!("{base}/api/v1/ingest"))
            .header("content-type", "text/plain")
            .body("a line\n");
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    };
    assert_eq!(post(None).send().await.unwrap().status(), 401);
    assert_eq!(post(Some("wrong")).send().await.unwrap().status(), 401);
    assert_eq!(post(Some("s3cret")).send().await.unwrap().status(), 200);
    let r = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_answered_503_with_retry_after_and_nothing_taken() {
    // Capacity 1, filled, never drained.
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(filler()).unwrap();
    let (base, _stop) = serve(ingest_router(full_queue_state(tx), None)).await;
    let client = reqwest::Client::new();

    let began = Instant::now();
    let r = post_raw(
        &client,
        format!("{base}/api/v1/ingest"),
        &[NDJSON],
        "{\"message\":\"good\"}\n{bad\n{\"message\":\"also good\"}\n",
    )
    .await;
    let waited = began.elapsed();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "queue_full", "{v}");
    let reason = v["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("queue is full") && reason.contains("nothing of this request"),
        "{reason}"
    );
    // After the queue wait, long before the ack timeout.
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");

    let r = post_raw(
        &client,
        format!("{base}/_bulk"),
        &[NDJSON],
        "{\"index\":{}}\n{\"message\":\"x\"}\n",
    )
    .await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));

    // Nothing of either request reached the queue: only the filler is in it.
    let first = rx.try_recv().unwrap();
    assert!(first.records.is_empty());
    assert!(rx.try_recv().is_err());

    let text = metrics(&client, &base).await;
    assert!(
        text.contains("loglynx_ingest_queue_full_total{endpoint=\"ingest\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("loglynx_ingest_queue_full_total{endpoint=\"bulk\"} 1\n"));
    assert!(text.contains("loglynx_events_ingested_total{endpoint=\"ingest\"} 0\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_router_answers_a_full_queue_503_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let engine = Arc::new(QueryEngine::new(store.schema().clone()));
    let (tx, _rx) = mpsc::channel(1);
    tx.try_send(filler()).unwrap();
    let mut st = AppState::new(store, engine, tx, "h".into(), &HttpConfig::default());
    st.queue_wait = Duration::from_millis(200);
    let (base, _stop) = serve(loglynx_api::router(st)).await;
    let r = post_raw(
        &reqwest::Client::new(),
        format!("{base}/api/v1/ingest"),
        &[("content-type", "text/plain")],
        "one line\n",
    )
    .await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "queue_full", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_producer_is_answered_503_at_once_and_nothing_taken() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (tx, rx) = mpsc::channel(4);
    let consumer = acking_consumer(rx);
    let full = Arc::new(AtomicBool::new(true));
    let mut st = IngestState::new(tx, "agenthost".into(), &HttpConfig::default());
    let f = full.clone();
    st.refuse = Some(Arc::new(move || {
        f.load(Ordering::Relaxed)
            .then(|| "the agent's disk buffer is full".to_string())
    }));
    let (base, stop) = serve(ingest_router(st, None)).await;
    let client = reqwest::Client::new();
    let post =
        |body: &'static str| post_raw(&client, format!("{base}/api/v1/ingest"), &[NDJSON], body);
    let started = Instant::now();
    let r = post("{\"message\":\"refused\"}\n").await;
    assert_eq!(r.status(), 503);
    // Answered at once, not after the queue wait (the bound a loaded machine cannot miss).
    assert!(
        started.elapsed() < loglynx_collect::http::DEFAULT_QUEUE_WAIT,
        "answered after {:?}, not at once",
        started.elapsed()
    );
    assert_eq!(r.headers()["retry-after"], "5");
    let v: Value = r.json().await.unwrap();
    let msg = v.to_string();
    assert!(
        msg.contains("disk buffer is full") && msg.contains("nothing of this request was accepted"),
        "{msg}"
    );
    full.store(false, Ordering::Relaxed);
    let r = post("{\"message\":\"taken\"}\n").await;
    assert_eq!(r.status(), 200);
    let _ = stop.send(());
    drop(client);
    // The server drops its sender when it stops: the stand-in producer then ends.
    let (_, bodies) = kept(consumer, "the server stopped").await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("taken"), "{bodies:?}");
}

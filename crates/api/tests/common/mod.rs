//! A real server for the tests: store on a temp dir with its writer, a parse stage, the router
//! on 127.0.0.1:0.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_api::{serve, AppState};
use loglynx_config::{ByteSize, HttpConfig, QueryConfig, StoreConfig};
use loglynx_core::{EventBatch, RawBatch};
use loglynx_pipeline::parse::{parse_record, ParseContext};
use loglynx_query::QueryEngine;
use loglynx_store::{Store, WriterHandle};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    _writer: WriterHandle,
    _dir: tempfile::TempDir,
}

/// Options of a test server.
pub struct Opts {
    pub token: Option<&'static str>,
    pub max_body: u64,
    /// The rest of `[http]` (`auth_token` and `max_body` are taken from the fields above).
    pub http: HttpConfig,
    /// `[query]`.
    pub query: QueryConfig,
    /// Credentials other than `token` (a key file), when set.
    pub auth: Option<loglynx_api::Auth>,
    /// `[store]`.
    pub store: StoreConfig,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            token: None,
            max_body: 8 << 20,
            http: HttpConfig::default(),
            query: QueryConfig::default(),
            auth: None,
            store: StoreConfig::default(),
        }
    }
}

pub async fn start(opts: Opts) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts.store).unwrap();
    let (event_tx, event_rx) = mpsc::channel::<EventBatch>(8);
    let writer = store.start_writer(event_rx).unwrap();
    let (raw_tx, mut raw_rx) = mpsc::channel::<RawBatch>(8);
    tokio::spawn(async move {
        while let Some(b) = raw_rx.recv().await {
            let ctx = ParseContext::now();
            let events = b.records.iter().map(|r| parse_record(r, &ctx)).collect();
            let batch = EventBatch {
                events,
                checkpoint: b.checkpoint,
                ack: b.ack,
            };
            if event_tx.send(batch).await.is_err() {
                return;
            }
        }
    });
    let engine = Arc::new(QueryEngine::new(store.schema().clone()));
    let http = HttpConfig {
        auth_token: opts.token.map(str::to_string),
        max_body: ByteSize(opts.max_body),
        ..opts.http
    };
    let mut state = AppState::new(store.clone(), engine, raw_tx, "testhost".into(), &http);
    state.query_limits = loglynx_api::QueryLimits::new(&opts.query);
    if let Some(auth) = opts.auth {
        state.auth = auth;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server {
        base,
        client,
        store,
        token: opts.token.map(str::to_string),
        stop: Some(stop),
        _writer: writer,
        _dir: dir,
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .auth(self.client.get(self.url(path)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")),
        )
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let r = self
            .auth(
                self.client
                    .post(self.url(path))
                    .header("content-type", content_type)
                    .body(body),
            )
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")),
        )
    }

    /// Searches and returns (total, messages newest first).
    pub async fn search(&self, q: &str) -> (u64, Vec<String>) {
        let path = format!("/api/v1/search?q={}&limit=1000", urlencode(q));
        let (status, v) = self.get(&path).await;
        assert_eq!(status, 200, "{v}");
        let msgs = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["message"].as_str().unwrap().to_string())
            .collect();
        (v["total"].as_u64().unwrap(), msgs)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// POSTs `body` to `url` with these headers (and no token); the response, whatever its status.
pub async fn post_raw(
    client: &reqwest::Client,
    url: String,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut rb = client.post(url);
    for (name, value) in headers {
        rb = rb.header(*name, *value);
    }
    rb.body(body).send().await.unwrap()
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Waits until `f` returns Some, failing after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

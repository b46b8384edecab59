//! `/api/v1/network/*`: 404 with `enabled: false` when the monitor is off; the monitor's
//! reports as given when it runs.

mod common;

use std::sync::Arc;

use loglynx_api::{serve, AppState, NetworkView};
use loglynx_config::{HttpConfig, StoreConfig};
use loglynx_query::QueryEngine;
use loglynx_store::Store;
use serde_json::{json, Value};

struct Fake;

impl NetworkView for Fake {
    fn status(&self) -> Value {
        json!({"enabled": true, "mode": "sock_diag", "reason": "test"})
    }
    fn sockets(&self) -> Value {
        json!({"by_state": {"CLOSE_WAIT": 2}})
    }
    fn perf(&self) -> Value {
        json!({"processes": [{"pid": 7, "retransmits": 3}]})
    }
}

#[tokio::test]
async fn network_routes_say_when_the_monitor_is_off() {
    let s = common::start(common::Opts::default()).await;
    for path in [
        "/api/v1/network/status",
        "/api/v1/network/sockets",
        "/api/v1/network/perf",
    ] {
        let (code, body) = s.get(path).await;
        assert_eq!(code, 404, "{path}");
        assert_eq!(body["enabled"], false);
        assert!(body["error"].as_str().unwrap().contains("--tcp-states"));
    }
}

#[tokio::test]
async fn network_routes_serve_the_monitor_reports() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let engine = Arc::new(QueryEngine::new(store.schema().clone()));
    let (raw_tx, _raw_rx) = tokio::sync::mpsc::channel(1);
    let mut state = AppState::new(store, engine, raw_tx, "h".into(), &HttpConfig::default());
    state.network = Some(Arc::new(Fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, state, std::future::pending()));
    let get = |p: &'static str| {
        let url = format!("{base}{p}");
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, st) = get("/api/v1/network/status").await;
    assert_eq!((code, st["mode"].as_str()), (200, Some("sock_diag")));
    let (code, so) = get("/api/v1/network/sockets").await;
    assert_eq!(
        (code, so["by_state"]["CLOSE_WAIT"].as_u64()),
        (200, Some(2))
    );
    let (code, p) = get("/api/v1/network/perf").await;
    assert_eq!(
        (code, p["processes"][0]["retransmits"].as_u64()),
        (200, Some(3))
    );
}

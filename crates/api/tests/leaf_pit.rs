//! A search root opening a point in time over two real leaves (leaf routers on 127.0.0.1:0,
//! each over its own store), one of them with `query.max_open_pits = 1`: once that leaf is
//! full, the root answers 429 with `Retry-After` on both APIs (`POST /api/v1/pit`, `POST
//! /_pit`) and closes what the other leaf opened, instead of a point in time with the full
//! leaf's offsets missing.

use std::sync::Arc;
use std::time::Duration;

use loglynx_api::{leaf_router, serve, AppState, GenerationView, LeafState, Pits};
use loglynx_config::{HttpConfig, StoreConfig};
use loglynx_query::QueryEngine;
use loglynx_search::{CatalogRecord, Directory, Generation, Root, RootSettings, CATALOG_VERSION};
use loglynx_store::{Store, WindowSnapshot};

/// A leaf holding offsets 0..10 of one partition.
struct OnePartition(i32);

impl GenerationView for OnePartition {
    fn generations(&self, _: &[WindowSnapshot]) -> Vec<Generation> {
        vec![generation(self.0)]
    }
}

fn generation(partition: i32) -> Generation {
    Generation { partition, id: format!("p{partition}-g1"), from: 0, to: 10, min_timestamp: None, max_timestamp: None, docs: 10, live: true }
}

/// The two leaves, as the catalog would list them.
struct Leaves(Vec<CatalogRecord>);

impl Directory for Leaves {
    fn leaves(&self) -> Vec<CatalogRecord> {
        self.0.clone()
    }
}

/// A leaf router over a fresh store; its address and its points in time.
async fn leaf(partition: i32, max_open_pits: usize, dir: &std::path::Path) -> (String, Pits) {
    let store = Store::open(dir, &StoreConfig::default()).unwrap();
    let pits = Pits::new(max_open_pits, Duration::from_secs(3600));
    let state = LeafState {
        engine: Arc::new(QueryEngine::new(store.schema().clone())),
        store,
        key: None,
        worker: format!("w{partition}"),
        generations: Arc::new(OnePartition(partition)),
        health_dir: dir.join("health"),
        pits: pits.clone(),
        patterns: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, leaf_router(state)).await });
    (addr, pits)
}

#[tokio::test]
async fn a_full_leaf_makes_the_root_answer_429_and_close_the_other_leaves_points_in_time() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, a_pits) = leaf(0, 8, dirs[0].path()).await;
    let (b, b_pits) = leaf(1, 1, dirs[1].path()).await;
    let record = |worker: &str, addr: &str, partition| CatalogRecord {
        version: CATALOG_VERSION,
        worker: worker.into(),
        addr: addr.into(),
        updated_ms: 0,
        group: String::new(),
        generations: vec![generation(partition)],
        left: false,
    };
    let settings = RootSettings { timeout: Duration::from_secs(10), key: None, tls: false, ca_pem: None };
    let root = Root::new(settings, Arc::new(Leaves(vec![record("w0", &a, 0), record("w1", &b, 1)]))).unwrap();

    // The root serves the APIs (its own store is not read when it has a root).
    let store = Store::open(dirs[2].path(), &StoreConfig::default()).unwrap();
    let (raw_tx, _raw_rx) = tokio::sync::mpsc::channel(1);
    let engine = Arc::new(QueryEngine::new(store.schema().clone()));
    let mut state = AppState::new(store, engine, raw_tx, "root".into(), &HttpConfig::default());
    state.root = Some(Arc::new(root));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, state, std::future::pending::<()>()));
    let client = reqwest::Client::new();

    // The first point in time takes leaf b's only place.
    let r = client.post(format!("{base}/api/v1/pit?keep_alive=1m")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!((a_pits.len(), b_pits.len()), (1, 1));

    for path in ["/api/v1/pit?keep_alive=1m", "/_pit?keep_alive=1m", "/logs/_pit?keep_alive=1m"] {
        let r = client.post(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 429, "{path}");
        assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"), "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        let reason = body["error"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&b) && reason.contains("max_open_pits"), "{path}: {body}");
        // Leaf a's point in time of this attempt is closed again: only the first one is open.
        assert_eq!((a_pits.len(), b_pits.len()), (1, 1), "{path}");
    }
}

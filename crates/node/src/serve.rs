//! [`Serve`]: the search API and dashboard over the shards the workers write in the same data
//! directory (`<data_dir>/shards/*`), opened read-only and refreshed every [`REFRESH`] (new
//! commits, new windows, new shards, windows deleted by retention).
//!
//! `/api/v1/pipeline` and the `loglynx_kafka_*` series of `/metrics` come from the health
//! reports the agents and workers write in `<data_dir>/health/` ([`HealthFiles`]).
//!
//! Ingest endpoints answer with an error: in the scale-out shape records enter through
//! `loglynx agent`.
//!
//! `/api/v1/patterns` counts from the index and names the templates from the workers' saved
//! miner states, `<data_dir>/patterns/*.json`, merged by id ([`crate::patterns::StateFiles`]);
//! as a search root, from the leaves' miners (`GET /internal/v1/patterns`), merged the same way.
//!
//! Alerts come from the alerts topic the workers' correlator writes (`<topic>-alerts`, see
//! `worker/correlator.rs`), read with `--brokers`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_api::PipelineView;
use loglynx_config::Config;
use loglynx_telemetry::health;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, Result};
use crate::sources;

/// How often the shards are looked at again.
pub const REFRESH: Duration = Duration::from_millis(500);

/// A validated `serve`, not started yet.
pub struct Serve {
    cfg: Config,
}

/// A running `serve`.
pub struct RunningServe {
    http: SocketAddr,
    https: bool,
    shards: PathBuf,
    shutdown: CancellationToken,
    server: JoinHandle<Result<()>>,
}

impl Serve {
    /// Checks the configuration.
    pub fn build(cfg: Config) -> Result<Serve> {
        cfg.validate()?;
        Ok(Serve { cfg })
    }

    /// Opens the shards, starts refreshing them and serves the API.
    pub async fn start(self) -> Result<RunningServe> {
        let cfg = self.cfg;
        let shards = cfg.data_dir.join("shards");
        let store =
            loglynx_store::Store::open_read_only(&shards, &cfg.store).map_err(|source| {
                NodeError::Store {
                    dir: shards.clone(),
                    source,
                }
            })?;
        let shutdown = CancellationToken::new();
        tokio::spawn(refresh(store.clone(), shutdown.clone()));
        let tls = sources::api_tls(&cfg)?;
        let https = tls.is_some();
        let (listener, http) =
            sources::bind_http(cfg.http.listen, "in use? pass --http ADDR").await?;
        let engine = Arc::new(loglynx_query::QueryEngine::new(store.schema().clone()));
        // No pipeline here: the ingest queue is closed, so ingest requests get an error.
        let (ingest, _) = loglynx_bus::embedded(1);
        let mut state =
            loglynx_api::AppState::new(store, engine, ingest, cfg.host_name(), &cfg.http);
        state.auth = crate::sources::api_auth(&cfg, cfg.http.listen);
        state.query_limits = loglynx_api::QueryLimits::new(&cfg.query);
        // The alerts the workers' correlator raised, from the alerts topic.
        state.detection = alerts_from_kafka(&cfg, shutdown.clone())?;
        // The agents' and workers' health reports: /api/v1/pipeline and loglynx_kafka_* on /metrics.
        state.pipeline_view = Some(Arc::new(HealthFiles::new(&cfg.data_dir)));
        // The workers' learned parse structures, when they share this data directory.
        state.learned_state = Some(cfg.data_dir.join("parse").join("learned.json"));
        state.learned_config = Some(Arc::new(cfg.clone()));
        // The template dictionary of /api/v1/patterns: the workers' saved miner states, merged.
        state.patterns = crate::patterns::StateFiles::new(&cfg).map(|s| Arc::new(s) as Arc<dyn loglynx_api::PatternView>);
        // A root: queries go to the workers' leaf APIs, and the pipeline's health comes from
        // their reports.
        if cfg.serve.is_root() {
            let root = root(&cfg, shutdown.clone()).await?;
            let leaves = LeafViews { root: root.clone(), rt: tokio::runtime::Handle::current() };
            state.pipeline_view = Some(Arc::new(leaves.clone()));
            // The template texts of /api/v1/patterns: the leaves' miners, merged by id.
            if cfg.patterns.enabled {
                state.patterns = Some(Arc::new(leaves.clone()));
            }
            state.telemetry.register_collector(health::ReportsCollector::from_fn(move || leaves.reports()));
            state.root = Some(root);
        } else {
            state
                .telemetry
                .register_collector(health::ReportsCollector::files(health::health_dir(&cfg.data_dir)));
        }
        let limits = loglynx_api::ServeLimits::from_config(&cfg.http);
        let token = shutdown.clone();
        let server = tokio::spawn(async move {
            loglynx_api::serve_with(listener, state, tls, limits, token.cancelled_owned())
                .await
                .map_err(NodeError::Http)
        });
        tracing::info!(%http, shards = %shards.display(), "serve ready");
        Ok(RunningServe {
            http,
            https,
            shards,
            shutdown,
            server,
        })
    }
}

impl RunningServe {
    /// The API and dashboard address.
    pub fn http(&self) -> SocketAddr {
        self.http
    }

    /// `https` when it serves TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// The folder of the shards it reads.
    pub fn shards(&self) -> &Path {
        &self.shards
    }

    /// Stops accepting, answers the requests in flight and returns.
    pub async fn shutdown(self) -> Result<()> {
        self.shutdown.cancel();
        match self.server.await {
            Ok(r) => r,
            Err(e) => Err(NodeError::join("http server task failed", e)),
        }
    }
}

/// The rules (for `/api/v1/rules`) and the alerts of the scale-out shape: the alerts topic is
/// read whole into an alert book in memory and followed; acknowledging or closing an alert
/// here publishes the change to the topic (the correlator and the other `serve`s take it
/// from there). `None` with detection off.
fn alerts_from_kafka(cfg: &Config, stop: CancellationToken) -> Result<Option<Arc<loglynx_detect::Detection>>> {
    let Some(det) = crate::detection::open_tagging(cfg)? else {
        return Ok(None);
    };
    let topic = loglynx_bus::kafka::alerts_topic(&cfg.kafka.topic);
    let producer = Arc::new(loglynx_bus::kafka::SideProducer::new(&cfg.kafka)?);
    {
        let topic = topic.clone();
        det.set_publisher(Box::new(move |a| {
            let value = serde_json::to_vec(a).map_err(|e| e.to_string())?;
            producer
                .send(&topic, &[(a.id.clone(), value)], Duration::from_secs(10))
                .map_err(|e| e.to_string())
        }));
    }
    // Rules enabled or disabled here go to the workers through the rules topic; what others
    // changed there is read back.
    crate::worker::rule_states::publish_to_topic(&cfg.kafka, &det)?;
    {
        let stop = stop.clone();
        let _caught_up = crate::worker::rule_states::spawn(&cfg.kafka, det.clone(), move || stop.is_cancelled())?;
    }
    let kafka = cfg.kafka.clone();
    let book = det.clone();
    std::thread::Builder::new()
        .name("alerts-reader".into())
        .spawn(move || follow_alerts(&kafka, &topic, &book, &stop))
        .map_err(|source| NodeError::Thread { what: "alerts reader", source })?;
    Ok(Some(det))
}

/// Reads the alerts topic into `det`'s alert book until `stop`; an unreachable broker is
/// retried (and said once).
fn follow_alerts(kafka: &loglynx_config::KafkaConfig, topic: &str, det: &loglynx_detect::Detection, stop: &CancellationToken) {
    let mut warned = false;
    let mut reader = None;
    while !stop.is_cancelled() {
        let r = match reader.as_mut() {
            Some(r) => r,
            None => match loglynx_bus::kafka::TopicReader::new(kafka, topic) {
                Ok(r) => reader.insert(r),
                Err(e) => {
                    tracing::warn!("alerts not listed: {e}");
                    return;
                }
            },
        };
        match r.poll(1000, Duration::from_millis(500)) {
            Ok(records) => {
                warned = false;
                crate::worker::merge_alert_records(det, &records);
            }
            Err(e) => {
                if !warned {
                    tracing::warn!("alerts of {topic} not read: {e}; retrying (pass --brokers where the workers' brokers differ)");
                    warned = true;
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    }
}

/// How often the static leaves (`[serve] leaves`) are asked for their generations.
pub const LEAVES_REFRESH: Duration = Duration::from_secs(2);

/// How long `serve` waits for the catalog topic to be read before it answers searches.
const CATALOG_WAIT: Duration = Duration::from_secs(15);

/// The root of a search across machines: the leaves of the catalog topic (`[serve] catalog`)
/// and of `[serve] leaves`.
async fn root(cfg: &Config, stop: CancellationToken) -> Result<Arc<loglynx_search::Root>> {
    let ca_pem = match &cfg.serve.leaf_ca {
        Some(p) => Some(std::fs::read(p).map_err(|e| {
            NodeError::Search(loglynx_search::SearchError::Client(format!(
                "cannot read serve.leaf_ca {}: {e}: give the PEM certificate of the CA that signed the leaves' certificates",
                p.display()
            )))
        })?),
        None => None,
    };
    let settings = loglynx_search::RootSettings {
        timeout: cfg.serve.leaf_timeout,
        key: Some(cfg.search.key.clone()).filter(|k| !k.is_empty()),
        tls: cfg.serve.leaf_tls,
        ca_pem,
    };
    let fixed = match cfg.serve.leaves.is_empty() {
        true => None,
        false => Some(
            loglynx_search::StaticLeaves::start(cfg.serve.leaves.clone(), settings.clone(), LEAVES_REFRESH)
                .await
                .map_err(NodeError::Search)?,
        ),
    };
    let directory: Arc<dyn loglynx_search::Directory> = match (cfg.serve.catalog, fixed) {
        (true, fixed) => {
            let catalog = crate::catalog::CatalogLeaves::start(&cfg.kafka, cfg.serve.catalog_ttl, fixed, stop.clone())?;
            catalog.probe_quiet(settings.clone(), stop)?;
            // Serve nothing before the catalog is read: a search in the first second would
            // otherwise find no leaf, or only some of them, and say so as if it were final.
            let started = Instant::now();
            match catalog.wait_caught_up(CATALOG_WAIT).await {
                true => tracing::info!(
                    leaves = loglynx_search::Directory::leaves(catalog.as_ref()).len(),
                    ms = started.elapsed().as_millis() as u64,
                    "catalog read"
                ),
                false => tracing::warn!(
                    "the catalog topic {}-catalog was not read to its end within {CATALOG_WAIT:?} (no worker has created it yet, or the brokers are slow); searching with the leaves found so far",
                    cfg.kafka.topic
                ),
            }
            catalog
        }
        (false, Some(fixed)) => fixed,
        (false, None) => return Err(NodeError::Search(loglynx_search::SearchError::NoLeaves)),
    };
    tracing::info!(
        catalog = cfg.serve.catalog,
        leaves = cfg.serve.leaves.len(),
        "searching through the workers' leaf APIs"
    );
    Ok(Arc::new(loglynx_search::Root::new(settings, directory).map_err(NodeError::Search)?))
}

/// Refreshes the read-only store every [`REFRESH`] until `stop`.
pub(crate) async fn refresh(store: loglynx_store::Store, stop: CancellationToken) {
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.refresh()).await {
                    Ok(Err(e)) => tracing::warn!("shards not refreshed: {e}"),
                    Err(e) => tracing::warn!("refresh task failed: {e}"),
                    Ok(Ok(())) => {}
                }
            }
        }
    }
}

/// What a root asks every leaf for besides queries: the health reports (`GET
/// /internal/v1/health` of each), for the pipeline page and `/metrics` of a root, and the
/// pattern dictionaries (below); a leaf that does not answer is left out (its last report goes
/// stale on the page only if another leaf still has it).
#[derive(Clone)]
struct LeafViews {
    root: Arc<loglynx_search::Root>,
    rt: tokio::runtime::Handle,
}

impl LeafViews {
    /// Called off the async threads (the pipeline route and `/metrics` render on the blocking
    /// pool).
    fn reports(&self) -> Vec<health::HealthReport> {
        let answers = self.rt.block_on(self.root.get_each("health"));
        let mut out: Vec<health::HealthReport> = Vec::new();
        for (leaf, r) in answers {
            match r.and_then(|v| serde_json::from_value::<Vec<health::HealthReport>>(v).map_err(|e| e.to_string())) {
                Ok(reports) => {
                    for rep in reports {
                        if !out.iter().any(|o| o.id == rep.id) {
                            out.push(rep);
                        }
                    }
                }
                Err(e) => tracing::debug!(leaf = %leaf.addr, "leaf health not read: {e}"),
            }
        }
        out
    }
}

/// The leaves' template dictionaries (`GET /internal/v1/patterns` of each), merged by id: ids
/// are a hash of the template text, so leaves that mined the same lines agree. A leaf that
/// does not answer is left out (its ids show without text; its counts are `missing` anyway).
impl loglynx_api::PatternView for LeafViews {
    fn dictionary(&self) -> loglynx_patterns::Dictionary {
        let answers = self.rt.block_on(self.root.get_each("patterns"));
        let parts = answers.into_iter().filter_map(|(leaf, r)| {
            match r.and_then(|v| serde_json::from_value::<loglynx_patterns::Dictionary>(v).map_err(|e| e.to_string())) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::debug!(leaf = %leaf.addr, "leaf patterns not read: {e}");
                    None
                }
            }
        });
        loglynx_patterns::Dictionary::merge(parts.collect::<Vec<_>>())
    }
}

impl PipelineView for LeafViews {
    fn status(&self) -> serde_json::Value {
        health::summarize(&self.reports(), health::now_ms())
    }
}

/// The [`PipelineView`] of `serve`, built from the health reports the agents and workers write
/// in `<data_dir>/health/` (read again on each call: a few small files).
pub struct HealthFiles {
    dir: PathBuf,
}

impl HealthFiles {
    /// The reports under `<data_dir>/health/`.
    pub fn new(data_dir: &Path) -> HealthFiles {
        HealthFiles {
            dir: health::health_dir(data_dir),
        }
    }
}

impl PipelineView for HealthFiles {
    fn status(&self) -> serde_json::Value {
        health::summarize(&health::read_reports(&self.dir), health::now_ms())
    }
}

//! `loglynx serve`: the search API and dashboard over the shards the workers write in the
//! same data directory (`<data_dir>/shards/*`), opened read-only and refreshed every
//! [`REFRESH`] (new commits, new windows, new shards, windows deleted by retention).
//!
//! `/api/v1/pipeline` and the `loglynx_kafka_*` series of `/metrics` come from the health
//! reports the agents and workers write in `<data_dir>/health/` (see `pipeline_view.rs`).
//!
//! Ingest endpoints answer with an error: in the scale-out shape records enter through
//! `loglynx agent`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::pipeline_view::HealthFiles;
use super::scaleout::{build_config, init_logging, runtime, CommonArgs};

/// How often the shards are looked at again.
pub const REFRESH: Duration = Duration::from_millis(500);

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address of the API and dashboard [default: http.listen].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

pub fn main(args: ServeArgs) -> anyhow::Result<i32> {
    init_logging(&args.common.log);
    let mut cfg = build_config(&args.common, None)?;
    if let Some(h) = args.http {
        cfg.http.listen = h;
        cfg.validate()?;
    }
    runtime()?.block_on(run(cfg))?;
    Ok(0)
}

async fn run(cfg: loglynx_config::Config) -> anyhow::Result<()> {
    let shards: PathBuf = cfg.data_dir.join("shards");
    let store = loglynx_store::Store::open_read_only(&shards, &cfg.store)
        .with_context(|| format!("cannot read the shards in {}", shards.display()))?;
    let shutdown = CancellationToken::new();
    {
        let store = store.clone();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
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
        });
    }
    let listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (in use? pass --http ADDR)", cfg.http.listen))?;
    let addr = listener.local_addr()?;
    let engine = Arc::new(loglynx_query::QueryEngine::new(store.schema().clone()));
    // No pipeline here: the ingest queue is closed, so ingest requests get an error.
    let (ingest, _) = loglynx_bus::embedded(1);
    let mut state = loglynx_api::AppState::new(store, engine, ingest, cfg.host_name(), &cfg.http);
    // The agents' and workers' health reports: /api/v1/pipeline and loglynx_kafka_* on /metrics.
    state.pipeline_view = Some(Arc::new(HealthFiles::new(&cfg.data_dir)));
    state.telemetry.register_collector(loglynx_telemetry::health::ReportsCollector::files(loglynx_telemetry::health::health_dir(&cfg.data_dir)));
    let token = shutdown.clone();
    let server = tokio::spawn(async move {
        loglynx_api::serve(listener, state, token.cancelled_owned()).await
    });
    tracing::info!(%addr, shards = %shards.display(), "serve ready");
    let mut signals = super::scaleout::Shutdown::install();
    println!("loglynx ready: dashboard http://{addr}/ui/");
    signals.wait().await;
    shutdown.cancel();
    server.await.context("http server task failed")?.context("http server failed")?;
    Ok(())
}

//! `loglynx run`: the whole pipeline in one process (the embedded default).
//!
//! Wiring, in reverse order of the data flow, each stage given its downstream handle:
//! store writer <- pipeline <- sources (file tail, syslog, HTTP ingest); the API reads the store.
//! Shutdown (SIGINT/SIGTERM): sources stop and drop their senders, the pipeline drains, the
//! writer makes its final commit, then the process exits. Nothing acknowledged is lost.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use loglynx_config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Configuration file (TOML; see loglynx.example.toml). Flags override it.
    #[arg(long, short = 'c', value_name = "FILE", env = "LOGLYNX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the store and its checkpoints [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the API and dashboard [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Follow files matching this glob (repeatable; added to the config's files.include).
    #[arg(long = "tail", value_name = "GLOB")]
    pub tail: Vec<String>,
    /// Syslog UDP address, or "off" [default: 127.0.0.1:5514].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_udp: Option<String>,
    /// Syslog TCP address, or "off" [default: 127.0.0.1:5514].
    #[arg(long, value_name = "ADDR|off")]
    pub syslog_tcp: Option<String>,
    /// Log filter for loglynx's own logs (e.g. info, debug, loglynx_store=debug).
    #[arg(long, env = "LOGLYNX_LOG", default_value = "info")]
    pub log: String,
    /// Run the TCP state monitor (eBPF when permitted, else sock_diag snapshots; see
    /// [tcp_states] in loglynx.example.toml).
    #[arg(long)]
    pub tcp_states: bool,
}

pub(crate) fn parse_opt_addr(flag: &str, v: &str) -> anyhow::Result<Option<SocketAddr>> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .with_context(|| format!("--{flag} {t:?}: expected IP:PORT (e.g. 127.0.0.1:5514) or \"off\""))
}

/// The configuration: file (if any), then flags, then environment, validated.
pub fn build_config(args: &RunArgs) -> anyhow::Result<Config> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(d) = &args.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(h) = args.http {
        cfg.http.listen = h;
    }
    cfg.files.include.extend(args.tail.iter().cloned());
    if let Some(u) = &args.syslog_udp {
        cfg.syslog.udp = parse_opt_addr("syslog-udp", u)?;
    }
    if let Some(t) = &args.syslog_tcp {
        cfg.syslog.tcp = parse_opt_addr("syslog-tcp", t)?;
    }
    if let Ok(tok) = std::env::var("LOGLYNX_AUTH_TOKEN") {
        if !tok.is_empty() {
            cfg.http.auth_token = Some(tok);
        }
    }
    if args.tcp_states {
        cfg.tcp_states.enabled = true;
    }
    if cfg.tcp_states.enabled {
        cfg.tcp_states.validate()?;
    }
    cfg.validate()?;
    Ok(cfg)
}

pub fn main(args: RunArgs) -> anyhow::Result<i32> {
    init_logging(&args.log);
    let cfg = build_config(&args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loglynx")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(cfg))?;
    Ok(0)
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}

/// Takes an exclusive lock on the data directory so two processes never write one store.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}: check the path and its permissions", dir.display()))?;
    let path = dir.join("loglynx.lock");
    let f = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    if f.try_lock().is_err() {
        bail!(
            "data directory {} is in use by another loglynx process: stop it or pass another --data-dir",
            dir.display()
        );
    }
    Ok(f)
}

async fn run(cfg: Config) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&cfg.data_dir)?;
    let host = cfg.host_name();

    // Store first: its checkpoint says where the sources resume.
    let store = loglynx_store::Store::open(&cfg.data_dir, &cfg.store)
        .with_context(|| format!("cannot open the store in {}", cfg.data_dir.display()))?;
    let checkpoint = store.checkpoint();
    tracing::info!(sources = checkpoint.positions.len(), "store opened");

    // store writer <- pipeline <- transport
    let (event_tx, event_rx) = tokio::sync::mpsc::channel(cfg.pipeline.queue_batches);
    let writer = store.start_writer(event_rx).context("cannot start the store writer")?;
    let (raw_tx, raw_rx) = loglynx_bus::embedded(cfg.pipeline.queue_batches);
    let pipeline_stats = Arc::new(loglynx_pipeline::PipelineStats::default());
    let pipeline = loglynx_pipeline::spawn_pipeline(
        raw_rx,
        event_tx,
        cfg.pipeline.parse_threads,
        cfg.pipeline.keep_original,
        pipeline_stats.clone(),
    );

    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();

    // Sources.
    start_sources(&cfg, &host, &checkpoint, &raw_tx, &shutdown, &mut tasks).await?;

    // API and dashboard.
    let listener = tokio::net::TcpListener::bind(cfg.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (in use? pass --http ADDR)", cfg.http.listen))?;
    let addr = listener.local_addr()?;
    let engine = Arc::new(loglynx_query::QueryEngine::new(store.schema().clone()));
    let mut state = loglynx_api::AppState::new(store.clone(), engine, raw_tx.clone(), host.clone(), &cfg.http);
    let netmon = start_tcp_states(&cfg, &host, &raw_tx)?;
    if let Some(m) = &netmon {
        state.network = Some(Arc::new(NetView(m.shared())));
    }
    state.pipeline = pipeline_stats.clone();
    drop(raw_tx);
    {
        let token = shutdown.clone();
        tasks.spawn(async move {
            loglynx_api::serve(listener, state, token.cancelled_owned()).await.context("http server failed")
        });
    }
    tracing::info!(%addr, "loglynx ready: dashboard http://{addr}/ui/  api http://{addr}/api/v1/");
    let mut signals = super::scaleout::Shutdown::install();
    println!("loglynx ready: dashboard http://{addr}/ui/");

    // Run until a signal or a task fails.
    let mut failure = None;
    tokio::select! {
        _ = signals.wait() => tracing::info!("shutting down: finishing the in-flight batches"),
        Some(res) = tasks.join_next() => {
            if let Ok(Err(e)) = res { failure = Some(e); }
        }
    }
    shutdown.cancel();
    while let Some(res) = tasks.join_next().await {
        if let Ok(Err(e)) = res {
            tracing::error!("{e:#}");
        }
    }
    if let Some(m) = netmon {
        let _ = tokio::task::spawn_blocking(move || m.stop()).await;
    }
    // All senders are gone: the pipeline drains, then the writer commits and ends.
    pipeline.await.ok();
    match tokio::task::spawn_blocking(move || writer.join()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("store writer failed at shutdown: {e}"),
        Err(e) => tracing::error!("store writer panicked: {e}"),
    }
    tracing::info!("stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Starts the file tail and the syslog servers that `cfg` enables, each as a task of `tasks`
/// that ends when `shutdown` is cancelled; shared by `run` and `agent`. Prints the bound syslog
/// addresses on stdout (`syslog udp: ADDR`, `syslog tcp: ADDR`): scripts and tests read them.
pub(crate) async fn start_sources(
    cfg: &Config,
    host: &str,
    checkpoint: &loglynx_core::Checkpoint,
    raw_tx: &tokio::sync::mpsc::Sender<loglynx_core::RawBatch>,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    if !cfg.files.include.is_empty() {
        let files = loglynx_collect::FileSource::new(
            cfg.files.clone(),
            host.to_string(),
            checkpoint.clone(),
            raw_tx.clone(),
        )
        .context("cannot start the file tail")?;
        tracing::info!(globs = ?cfg.files.include, "tailing files");
        let token = shutdown.clone();
        tasks.spawn(async move { files.run(token).await.context("file tail failed") });
    }
    if cfg.syslog.udp.is_some() || cfg.syslog.tcp.is_some() {
        let syslog = loglynx_collect::SyslogServer::bind(&cfg.syslog, host.to_string(), raw_tx.clone())
            .await
            .context("cannot start the syslog server (is the port in use? pass --syslog-udp/--syslog-tcp ADDR or off)")?;
        if let Some(a) = syslog.udp_addr() {
            println!("syslog udp: {a}");
        }
        if let Some(a) = syslog.tcp_addr() {
            println!("syslog tcp: {a}");
        }
        let token = shutdown.clone();
        tasks.spawn(async move { syslog.run(token).await.context("syslog server failed") });
    }
    Ok(())
}

/// Starts the TCP state monitor when `[tcp_states]` is enabled; prints its mode on stdout
/// (`tcp states: mode bpf|sock_diag`) for scripts, and logs why.
pub(crate) fn start_tcp_states(
    cfg: &Config,
    host: &str,
    raw_tx: &tokio::sync::mpsc::Sender<loglynx_core::RawBatch>,
) -> anyhow::Result<Option<loglynx_netmon::Monitor>> {
    if !cfg.tcp_states.enabled {
        return Ok(None);
    }
    let m = loglynx_netmon::Monitor::start(&cfg.tcp_states, host.to_string(), raw_tx.clone())
        .context("cannot start the TCP state monitor")?;
    let sh = m.shared();
    println!("tcp states: mode {} ({})", sh.mode.name(), sh.reason);
    Ok(Some(m))
}

/// The monitor's state as the API sees it.
struct NetView(Arc<loglynx_netmon::MonitorShared>);

impl loglynx_api::NetworkView for NetView {
    fn status(&self) -> serde_json::Value {
        serde_json::to_value(self.0.status()).unwrap_or_default()
    }
    fn sockets(&self) -> serde_json::Value {
        serde_json::to_value(self.0.sockets()).unwrap_or_default()
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_off_disables_syslog() {
        let args = RunArgs {
            data_dir: Some("/tmp/x".into()),
            http: Some("127.0.0.1:9999".parse().unwrap()),
            tail: vec!["/var/log/*.log".into()],
            syslog_udp: Some("off".into()),
            ..Default::default()
        };
        let cfg = build_config(&args).unwrap();
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.http.listen.port(), 9999);
        assert_eq!(cfg.files.include, vec!["/var/log/*.log".to_string()]);
        assert!(cfg.syslog.udp.is_none());
        assert!(cfg.syslog.tcp.is_some());
    }

    #[test]
    fn a_bad_address_says_what_is_expected() {
        let args = RunArgs { syslog_tcp: Some("nowhere".into()), ..Default::default() };
        let e = format!("{:#}", build_config(&args).unwrap_err());
        assert!(e.contains("--syslog-tcp") && e.contains("IP:PORT"), "{e}");
    }
}

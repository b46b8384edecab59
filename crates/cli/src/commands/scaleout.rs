//! What `agent`, `worker` and `serve` share: the config file, data directory, Kafka flags,
//! logging and the shutdown signal.

use std::path::PathBuf;

use clap::Args;
use loglynx_config::Config;

/// Flags common to the scale-out commands.
#[derive(Args, Debug, Default, Clone)]
pub struct CommonArgs {
    /// Configuration file (TOML; see loglynx.example.toml). Flags override it.
    #[arg(long, short = 'c', value_name = "FILE", env = "LOGLYNX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log filter for loglynx's own logs (e.g. info, debug, librdkafka=debug).
    #[arg(long, env = "LOGLYNX_LOG", default_value = "info")]
    pub log: String,
}

/// Kafka flags of the agent and the worker.
#[derive(Args, Debug, Default, Clone)]
pub struct KafkaArgs {
    /// Bootstrap brokers, HOST:PORT[,HOST:PORT...] [default: kafka.brokers].
    #[arg(long, value_name = "HOST:PORT")]
    pub brokers: Option<String>,
    /// Topic of raw records [default: kafka.topic].
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
}

/// The configuration: file (if any), then flags, validated.
pub fn build_config(common: &CommonArgs, kafka: Option<&KafkaArgs>) -> anyhow::Result<Config> {
    let mut cfg = match &common.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(d) = &common.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(k) = kafka {
        if let Some(b) = &k.brokers {
            cfg.kafka.brokers = b.clone();
        }
        if let Some(t) = &k.topic {
            cfg.kafka.topic = t.clone();
        }
    }
    if let Ok(tok) = std::env::var("LOGLYNX_AUTH_TOKEN") {
        if !tok.is_empty() {
            cfg.http.auth_token = Some(tok);
        }
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Logs to stderr with `filter`.
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A multi-threaded runtime for the command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loglynx")
        .build()
        .context("cannot start the async runtime")
}

/// SIGINT / SIGTERM, with the handlers installed when this is made: make it before printing
/// the ready line and keep it across loop iterations. A signal future made anew in each turn
/// of a `select!` loop misses a SIGTERM that arrives between two turns (tokio keeps the
/// handler but a new listener only sees later signals): a worker was seen ignoring the
/// SIGTERM of a test that way, for good.
pub struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Installs the handlers (inside the runtime).
    pub fn install() -> Shutdown {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Shutdown {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Shutdown {}
    }

    /// Resolves at the first SIGINT or SIGTERM received since [`Shutdown::install`].
    pub async fn wait(&mut self) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.term) => {},
                _ = next(&mut self.int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

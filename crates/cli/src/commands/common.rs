//! What the commands that run loglynx share: the config file, data directory and Kafka flags
//! (turned into [`Overrides`]), logging, the runtime, the start-up lines and the shutdown signal.

use std::path::PathBuf;

use clap::Args;
use loglynx_node::{Listen, Overrides, SourceAddrs, TcpStatesMode};

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

/// TLS flags of the commands that serve HTTP (`run`, `serve`, `agent`).
#[derive(Args, Debug, Default, Clone)]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, leaf first) [default: http.tls_cert].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) [default: http.tls_key].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// Adds these flags to `o`.
    pub fn apply(&self, o: &mut Overrides) {
        o.tls_cert = self.tls_cert.clone();
        o.tls_key = self.tls_key.clone();
    }
}

/// The systemd journal flags of the commands that collect (`run`, `agent`).
#[derive(Args, Debug, Default, Clone)]
pub struct JournaldArgs {
    /// Read this machine's systemd journal, from where the store left off (see [journald] in
    /// loglynx.example.toml) [default: journald.enabled, off].
    #[arg(long)]
    pub journald: bool,
    /// Read the journal files of this directory instead (e.g. /var/log/journal/remote);
    /// implies --journald [default: journald.directory].
    #[arg(long, value_name = "DIR")]
    pub journald_directory: Option<PathBuf>,
}

impl JournaldArgs {
    /// Adds these flags to `o`.
    pub fn apply(&self, o: &mut Overrides) {
        o.journald = self.journald;
        o.journald_directory = self.journald_directory.clone();
    }
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

impl CommonArgs {
    /// The overrides these flags make (the rest left to the caller).
    pub fn overrides(&self) -> Overrides {
        Overrides { config: self.config.clone(), data_dir: self.data_dir.clone(), ..Default::default() }
    }
}

impl KafkaArgs {
    /// Adds these flags to `o`.
    pub fn apply(&self, o: &mut Overrides) {
        o.brokers = self.brokers.clone();
        o.topic = self.topic.clone();
    }
}

/// Reads `value` of `--flag`: `off` or `IP:PORT`.
pub fn listen(flag: &'static str, value: &Option<String>) -> anyhow::Result<Option<Listen>> {
    Ok(match value {
        Some(v) => Some(Listen::parse(flag, v)?),
        None => None,
    })
}

/// Prints the lines scripts and tests read before the ready line: the syslog and OTLP/gRPC
/// addresses and the TCP state monitor's mode.
pub fn print_startup(sources: &SourceAddrs, tcp_states: Option<&TcpStatesMode>) {
    if let Some(a) = sources.syslog_udp {
        println!("syslog udp: {a}");
    }
    if let Some(a) = sources.syslog_tcp {
        println!("syslog tcp: {a}");
    }
    if let Some(a) = sources.otlp_grpc {
        println!("otlp grpc: {a}");
    }
    if let Some(m) = tcp_states {
        println!("tcp states: mode {} ({})", m.mode, m.reason);
    }
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

/// Makes every file and directory this process creates private to its user: the data
/// directory, the store's index files, the spool, checkpoints, alerts and health files come
/// out 0600 / 0700 whatever the shell's umask (logs are what loglynx keeps, and they are
/// sensitive). Set before any thread starts, as PostgreSQL does with `umask(077)`.
pub fn private_files() {
    // SAFETY: umask only swaps the process's file-mode mask; no memory is involved.
    unsafe {
        libc::umask(0o077);
    }
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

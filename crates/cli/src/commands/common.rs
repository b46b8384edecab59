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
    /// Log filter (e.g. info, debug, librdkafka=debug) [default: RUST_LOG, else
    /// "warn,loglynx=info"].
    #[arg(long, env = "LOGLYNX_LOG")]
    pub log: Option<String>,
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

/// The log filter when neither `--log` / `LOGLYNX_LOG` nor `RUST_LOG` is set: loglynx's own
/// crates (targets `loglynx*`) at info, third-party crates at warn, so their chatter (tantivy
/// logs every commit, merge and garbage collection at info) stays out of the output.
pub const DEFAULT_LOG: &str = "warn,loglynx=info";

/// The filter to log with: `--log` / `LOGLYNX_LOG`, else `RUST_LOG`, else [`DEFAULT_LOG`]
/// (an empty value counts as unset).
pub fn log_filter(flag: Option<&str>, rust_log: Option<&str>) -> String {
    [flag, rust_log]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|f| !f.is_empty())
        .unwrap_or(DEFAULT_LOG)
        .to_string()
}

/// Logs to stderr with the filter of `flag` (`--log`), `RUST_LOG` or [`DEFAULT_LOG`]; a
/// filter that does not parse is reported and [`DEFAULT_LOG`] used.
pub fn init_logging(flag: Option<&str>) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let wanted = log_filter(flag, rust_log.as_deref());
    let filter = tracing_subscriber::EnvFilter::try_new(&wanted).unwrap_or_else(|e| {
        eprintln!("ignoring the log filter {wanted:?} ({e}): logging with {DEFAULT_LOG:?}; fix --log, LOGLYNX_LOG or RUST_LOG");
        tracing_subscriber::EnvFilter::new(DEFAULT_LOG)
    });
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

/// A multi-threaded runtime for the command. Its threads (the async workers and the blocking
/// pool, where searches run) ask for a short scheduler slice: see [`short_slice`].
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("loglynx")
        .on_thread_start(short_slice)
        .build()
        .context("cannot start the async runtime")
}

/// Asks the calling thread for the short scheduler slice (`loglynx_core::sched`): a search
/// that wakes while indexing keeps every core busy starts at once. A refusal is logged at
/// debug level, as nothing depends on it.
fn short_slice() {
    if let Err(e) = loglynx_core::sched::set_slice(Some(loglynx_core::sched::SHORT_SLICE_NS)) {
        tracing::debug!("no short scheduler slice for this thread: {e}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_flag_wins_then_rust_log_then_the_default() {
        assert_eq!(log_filter(Some("debug"), Some("trace")), "debug");
        assert_eq!(log_filter(None, Some("tantivy=info")), "tantivy=info");
        assert_eq!(log_filter(Some(" "), None), DEFAULT_LOG);
        assert_eq!(log_filter(None, None), DEFAULT_LOG);
    }

    /// The default filter, applied by a real subscriber: loglynx's info lines pass, a
    /// third-party crate's info lines (tantivy's commit messages) do not, its warnings do.
    #[test]
    fn the_default_filter_keeps_third_party_info_out() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || Capture(sink.clone()))
            .with_ansi(false);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(DEFAULT_LOG))
            .with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::event!(target: "loglynx_store::writer", Level::INFO, "ours at info");
            tracing::event!(target: "loglynx", Level::INFO, "the binary at info");
            tracing::event!(target: "tantivy::indexer::segment_updater", Level::INFO, "Preparing commit");
            tracing::event!(target: "tantivy::indexer", Level::WARN, "theirs at warn");
            tracing::event!(target: "loglynx_store::writer", Level::DEBUG, "ours at debug");
        });
        let out = seen.lock().unwrap().concat();
        assert!(out.contains("ours at info"), "{out}");
        assert!(out.contains("the binary at info"), "{out}");
        assert!(out.contains("theirs at warn"), "{out}");
        assert!(!out.contains("Preparing commit"), "{out}");
        assert!(!out.contains("ours at debug"), "{out}");
    }

    /// The async workers and the blocking pool (where searches run) have the short slice; a
    /// thread the runtime did not start keeps the kernel's. Kernels before 6.12 have no
    /// per-thread slice and report 0.
    #[test]
    fn the_runtime_threads_ask_for_a_short_slice() {
        use loglynx_core::sched::{has_slices, slice_ns as current_slice_ns, SHORT_SLICE_NS};
        let has_slices = has_slices();
        let want = if has_slices { SHORT_SLICE_NS } else { 0 };
        let rt = runtime().unwrap();
        let (worker, blocking) = rt.block_on(async {
            let worker = tokio::spawn(async { current_slice_ns().unwrap() })
                .await
                .unwrap();
            let blocking = tokio::task::spawn_blocking(|| current_slice_ns().unwrap())
                .await
                .unwrap();
            (worker, blocking)
        });
        assert_eq!((worker, blocking), (want, want));
        let other = std::thread::spawn(|| current_slice_ns().unwrap())
            .join()
            .unwrap();
        if has_slices {
            assert!(
                other > SHORT_SLICE_NS,
                "a thread outside the runtime has the kernel's slice: {other}"
            );
        }
    }

    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(String::from_utf8_lossy(buf).into_owned());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}

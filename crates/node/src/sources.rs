//! The sources `run` and `agent` share: file tail, syslog servers, the systemd journal and the
//! TCP state monitor, started from the config into the same bounded channel.

use std::net::SocketAddr;
use std::sync::Arc;

use loglynx_config::Config;
use loglynx_collect::syslog::SyslogStats;
use loglynx_core::{Checkpoint, RawBatch};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, Result};

/// What the started sources bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAddrs {
    /// The syslog UDP socket, when on.
    pub syslog_udp: Option<SocketAddr>,
    /// The syslog TCP listener, when on.
    pub syslog_tcp: Option<SocketAddr>,
    /// The OTLP/gRPC listener, when on.
    pub otlp_grpc: Option<SocketAddr>,
}

/// Starts the file tail, the syslog servers and the journal reader that `cfg` enables, each as
/// a task of `tasks` that ends when `shutdown` is cancelled; the file tail and the journal
/// resume from `checkpoint`. With the addresses: the syslog servers' counters, when on (to
/// register as [`loglynx_collect::syslog::SyslogMetrics`]).
pub(crate) async fn start(
    cfg: &Config,
    host: &str,
    checkpoint: &Checkpoint,
    raw_tx: &mpsc::Sender<RawBatch>,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<(SourceAddrs, Option<Arc<SyslogStats>>)> {
    let mut addrs = SourceAddrs::default();
    let mut syslog_stats = None;
    if !cfg.files.include.is_empty() {
        let files = loglynx_collect::FileSource::new(
            cfg.files.clone(),
            host.to_string(),
            checkpoint.clone(),
            raw_tx.clone(),
        )
        .map_err(|source| NodeError::Source {
            what: "cannot start the file tail",
            source,
        })?;
        tracing::info!(globs = ?cfg.files.include, "tailing files");
        let token = shutdown.clone();
        tasks.spawn(async move {
            files.run(token).await.map_err(|source| NodeError::Source {
                what: "file tail failed",
                source,
            })
        });
    }
    if cfg.journald.enabled {
        let journal = loglynx_collect::JournaldSource::new(
            cfg.journald.clone(),
            host.to_string(),
            checkpoint.clone(),
            raw_tx.clone(),
        )
        .map_err(|source| NodeError::Source {
            what: "cannot start the journald source",
            source,
        })?;
        let token = shutdown.clone();
        tasks.spawn(async move {
            journal.run(token).await.map_err(|source| NodeError::Source {
                what: "journald source failed (is libsystemd installed and the journal readable?)",
                source,
            })
        });
    }
    if cfg.syslog.udp.is_some() || cfg.syslog.tcp.is_some() {
        let syslog = loglynx_collect::SyslogServer::bind(&cfg.syslog, host.to_string(), raw_tx.clone())
            .await
            .map_err(|source| NodeError::Source {
                what: "cannot start the syslog server (is the port in use? pass --syslog-udp/--syslog-tcp ADDR or off)",
                source,
            })?;
        addrs.syslog_udp = syslog.udp_addr();
        addrs.syslog_tcp = syslog.tcp_addr();
        syslog_stats = Some(syslog.stats());
        let token = shutdown.clone();
        tasks.spawn(async move {
            syslog.run(token).await.map_err(|source| NodeError::Source {
                what: "syslog server failed",
                source,
            })
        });
    }
    Ok((addrs, syslog_stats))
}

/// The per-record limits of OTLP ingest (both transports) from `[otlp]`.
pub(crate) fn otlp_limits(cfg: &Config) -> loglynx_collect::otlp::OtlpLimits {
    loglynx_collect::otlp::OtlpLimits {
        max_attributes: cfg.otlp.max_attributes,
        max_value: usize::try_from(cfg.otlp.max_value.0).unwrap_or(usize::MAX),
        max_message: loglynx_collect::http::DEFAULT_MAX_LINE,
    }
}

/// Starts the OTLP/gRPC server on `otlp.grpc` (when set) as a task of `tasks` that stops
/// accepting when `shutdown` is cancelled and ends once its in-flight exports are answered.
/// Its records go into `raw_tx` through an HTTP source like the HTTP ingest's (`refuse`: the
/// store's disk watermark under `run`, the agent's full disk buffer). `ingest`: the HTTP
/// server's credentials and ingest rates, which gRPC requests follow too. Returns the bound
/// address.
pub(crate) async fn start_otlp_grpc(
    cfg: &Config,
    host: &str,
    raw_tx: &mpsc::Sender<RawBatch>,
    refuse: Option<loglynx_collect::http::Refuse>,
    ingest: &IngestAuth,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<Option<SocketAddr>> {
    let Some(addr) = cfg.otlp.grpc else {
        return Ok(None);
    };
    let (listener, bound) =
        bind_http(addr, "for OTLP/gRPC: in use? pass --otlp-grpc ADDR or off").await?;
    let source = loglynx_collect::HttpSource::new(
        raw_tx.clone(),
        host.to_string(),
        loglynx_collect::http::HttpSettings::default(),
        refuse,
    );
    let auth: Arc<dyn loglynx_collect::otlp::GrpcAuth> = Arc::new(GrpcKeys {
        ingest: ingest.clone(),
        listener_required: !bound.ip().is_loopback(),
    });
    let max_message = usize::try_from(cfg.http.max_body.0).unwrap_or(usize::MAX);
    let limits = otlp_limits(cfg);
    let stop = shutdown.clone();
    tasks.spawn(async move {
        loglynx_collect::otlp::serve_grpc(listener, source, limits, auth, max_message, stop.cancelled_owned())
            .await
            .map_err(|source| NodeError::Source {
                what: "otlp grpc server failed",
                source,
            })
    });
    tracing::info!(%bound, "otlp grpc listening");
    Ok(Some(bound))
}

/// What the ingest of a node checks, shared by its HTTP server and its OTLP/gRPC server (one
/// object each, so a key added or revoked counts for both at once, wrong attempts from an
/// address add up across both, and a key's ingest rate is one budget).
#[derive(Clone)]
pub(crate) struct IngestAuth {
    /// The API keys (re-read when the key file changes), the token, the failed-attempt limit.
    pub auth: loglynx_api::Auth,
    /// `http.max_records` and the per-key `http.ingest_rate`.
    pub limits: loglynx_api::IngestLimits,
}

impl IngestAuth {
    /// The credentials of an HTTP server listening on `listen` (see [`api_auth`]) and the
    /// `[http]` ingest limits.
    pub(crate) fn new(cfg: &Config, listen: SocketAddr) -> IngestAuth {
        IngestAuth {
            auth: api_auth(cfg, listen),
            limits: loglynx_api::IngestLimits::new(&cfg.http),
        }
    }
}

/// The OTLP/gRPC server's [`GrpcAuth`](loglynx_collect::otlp::GrpcAuth): the rules of the HTTP
/// ingest routes, with the HTTP server's own objects.
struct GrpcKeys {
    ingest: IngestAuth,
    /// The gRPC listener is off loopback: a credential is needed even with no key and no token.
    listener_required: bool,
}

/// The endpoint named in the log lines of refused gRPC requests.
const GRPC_EXPORT: &str = "otlp grpc LogsService/Export";

impl loglynx_collect::otlp::GrpcAuth for GrpcKeys {
    fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> std::result::Result<loglynx_collect::otlp::Caller, loglynx_collect::otlp::Denied> {
        self.ingest
            .auth
            .check_ingest(authorization, peer.map(|p| p.ip()), self.listener_required, GRPC_EXPORT)
            .map(|p| loglynx_collect::otlp::Caller(p.name))
            .map_err(grpc_denied)
    }

    fn admit(
        &self,
        caller: &loglynx_collect::otlp::Caller,
        records: usize,
    ) -> std::result::Result<(), loglynx_collect::otlp::Denied> {
        let who = loglynx_api::Principal {
            name: caller.0.clone(),
            scope: loglynx_api::Scope::Ingest,
        };
        self.ingest.limits.admit(&who, records).map_err(grpc_denied)
    }
}

/// The gRPC refusal of an API error of the ingest checks (401, 403, 413, 429).
fn grpc_denied(e: loglynx_api::ApiError) -> loglynx_collect::otlp::Denied {
    use loglynx_api::ApiError as E;
    use loglynx_collect::otlp::Denied;
    let message = e.to_string();
    match e {
        E::Unauthorized { .. } => Denied::Unauthenticated(
            "missing or invalid credentials: send the metadata `authorization: Bearer <key>` with an API key allowed to ingest (`loglynx keys add NAME --scope ingest`) or the server's auth token".into(),
        ),
        E::Forbidden(reason) => Denied::PermissionDenied(reason),
        E::TooManyAttempts { retry_after } | E::Throttled { retry_after, .. } => Denied::Exhausted {
            reason: message,
            retry_after,
        },
        _ => Denied::Invalid(message),
    }
}

/// Attaches the TCP state monitor's eBPF programs when `[tcp_states]` is enabled (at build,
/// before any thread starts: see [`loglynx_netmon::Attached`]).
pub(crate) fn attach_tcp_states(cfg: &Config) -> Option<loglynx_netmon::Attached> {
    cfg.tcp_states.enabled.then(|| loglynx_netmon::Attached::attach(&cfg.tcp_states))
}

/// Starts the TCP state monitor with the programs [`attach_tcp_states`] attached, when
/// `[tcp_states]` is enabled.
pub(crate) fn start_tcp_states(
    cfg: &Config,
    attached: Option<loglynx_netmon::Attached>,
    host: &str,
    raw_tx: &mpsc::Sender<RawBatch>,
) -> Result<Option<loglynx_netmon::Monitor>> {
    let Some(attached) = attached else {
        return Ok(None);
    };
    let m = loglynx_netmon::Monitor::start_attached(attached, &cfg.tcp_states, host.to_string(), raw_tx.clone())
        .map_err(NodeError::Netmon)?;
    let sh = m.shared();
    tracing::info!(mode = sh.mode.name(), reason = %sh.reason, "tcp state monitor started");
    Ok(Some(m))
}

/// Binds an HTTP listener on `addr`; `hint` says what to do when that fails. Returns it with the
/// address bound (port 0 becomes the one the kernel chose).
pub(crate) async fn bind_http(
    addr: SocketAddr,
    hint: &'static str,
) -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Listen { addr, hint, source })?;
    let bound = listener.local_addr().map_err(NodeError::Http)?;
    Ok((listener, bound))
}

/// Who may call the HTTP server listening on `listen`: `http.auth_token` and the API keys of
/// the data directory (re-read when they change); a credential is required off loopback.
pub(crate) fn api_auth(cfg: &loglynx_config::Config, listen: SocketAddr) -> loglynx_api::Auth {
    loglynx_api::Auth::from_config(&cfg.http, Some(&cfg.data_dir), listen, cfg.http.tls_cert.is_some())
}

/// The TLS set-up of the HTTP servers (`http.tls_cert` + `http.tls_key`), `None` for plain HTTP.
pub(crate) fn api_tls(cfg: &loglynx_config::Config) -> Result<Option<loglynx_api::TlsConfig>> {
    match (&cfg.http.tls_cert, &cfg.http.tls_key) {
        (Some(cert), Some(key)) => loglynx_api::TlsConfig::from_pem_files(cert, key)
            .map(Some)
            .map_err(NodeError::Tls),
        _ => Ok(None),
    }
}

/// Stops the monitor off the async threads (it joins its threads).
pub(crate) async fn stop_tcp_states(m: Option<loglynx_netmon::Monitor>) {
    if let Some(m) = m {
        let _ = tokio::task::spawn_blocking(move || m.stop()).await;
    }
}

/// The monitor's mode as the binary prints it (`bpf (reason)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpStatesMode {
    /// `bpf` or `sock_diag`.
    pub mode: &'static str,
    /// Why this mode.
    pub reason: String,
}

pub(crate) fn mode_of(m: &loglynx_netmon::Monitor) -> TcpStatesMode {
    let sh = m.shared();
    TcpStatesMode {
        mode: sh.mode.name(),
        reason: sh.reason.to_string(),
    }
}

/// The monitor's state as the API sees it.
pub(crate) struct NetView(pub(crate) Arc<loglynx_netmon::MonitorShared>);

impl loglynx_api::NetworkView for NetView {
    fn status(&self) -> serde_json::Value {
        serde_json::to_value(self.0.status()).unwrap_or_default()
    }
    fn sockets(&self) -> serde_json::Value {
        serde_json::to_value(self.0.sockets()).unwrap_or_default()
    }
    fn perf(&self) -> serde_json::Value {
        serde_json::to_value(self.0.perf()).unwrap_or_default()
    }
    fn netstat(&self, state: Option<&str>, size: usize) -> Result<serde_json::Value, String> {
        let states: Vec<loglynx_netmon::TcpState> = loglynx_netmon::TcpState::ALL
            .into_iter()
            .filter(|t| state == Some(t.name()))
            .collect();
        if state.is_some() && states.is_empty() {
            return Err(format!("no TCP state named {state:?}"));
        }
        let as_of = loglynx_core::Timestamp::now();
        let mut all = loglynx_netmon::netstat(&loglynx_netmon::NetstatQuery {
            states,
            ..Default::default()
        })
        .map_err(|e| format!("sock_diag: {e}"))?;
        let total = all.len();
        let bytes = |e: &loglynx_netmon::NetstatEntry| {
            e.socket
                .stats
                .as_ref()
                .and_then(|s| s.tcp.as_ref())
                .map_or(0, |t| t.bytes_acked + t.bytes_received)
        };
        // Stable: equal byte counts keep netstat's order (state, process, ports).
        all.sort_by_key(|e| std::cmp::Reverse(bytes(e)));
        all.truncate(size);
        Ok(serde_json::json!({"as_of": as_of, "total": total, "sockets": all}))
    }
}

/// Waits for every task of `tasks`, logging the failures (shutdown: the first failure, if any,
/// was taken already).
pub(crate) async fn drain(tasks: &mut JoinSet<Result<()>>) {
    while let Some(res) = tasks.join_next().await {
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("{}", crate::error::chain(&e)),
            Err(e) => tracing::error!("task ended abnormally: {e}"),
        }
    }
}

/// The first task of `tasks` to end: its error, if it failed (`None` when it ended cleanly or
/// there are no tasks, in which case this waits forever).
pub(crate) async fn first_failure(tasks: &mut JoinSet<Result<()>>) -> Option<NodeError> {
    match tasks.join_next().await {
        Some(Ok(Err(e))) => Some(e),
        Some(Err(e)) => Some(NodeError::join("a task ended abnormally", e)),
        Some(Ok(Ok(()))) => None,
        None => std::future::pending().await,
    }
}

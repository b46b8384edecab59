//! Syslog servers: UDP (one datagram, one message) and TCP (RFC 6587 framing, see
//! [`framing`]).
//!
//! The servers frame messages; they do not parse them (records carry
//! [`FormatHint::Syslog`] and the parser reads PRI, time and host). Records are batched per
//! socket (UDP) or per connection (TCP): a batch is sent when it holds [`MAX_BATCH`] records or
//! [`MAX_BATCH_BYTES`] bytes of messages, or its first record has waited `linger`.
//!
//! **Slow and silent TCP clients.** A message that has started must end within
//! `read_timeout`, else the connection is closed (a client that drips a byte at a time cannot
//! keep its slot); a connection that sends no message bytes for `idle_timeout` is closed too.
//! Both keep what came before, the unfinished frame included, and are counted in
//! [`SyslogStats`].
//!
//! **No acknowledgement.** Syslog over UDP and plain TCP has no application-level ack: a sender
//! cannot learn whether a message was stored. Batches carry no checkpoint and no [`Ack`]; what
//! is in flight when the process stops is lost, as with any syslog receiver. Back-pressure still
//! applies: while the pipeline is full, TCP connections stop being read (senders block in their
//! socket buffers) and UDP datagrams queue in, then overflow, the kernel's receive buffer.
//!
//! [`Ack`]: loglynx_core::Ack

pub mod framing;
mod metrics;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loglynx_config::SyslogConfig;
use loglynx_core::{FormatHint, RawBatch, RawRecord, SourceKind, Timestamp};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::CollectError;

pub use metrics::SyslogMetrics;

/// Most records in one batch.
pub const MAX_BATCH: usize = 1024;
/// Most message bytes in one batch (one message longer than this, possible when
/// `syslog.max_frame` is set above it, goes alone). Bounds what a TCP connection holds while
/// the pipeline is full: this batch, one frame of at most `max_frame` in its decoder and its
/// read buffer.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// The syslog servers' counters, shared with whoever reports them ([`SyslogMetrics`] on
/// `/metrics`).
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// TCP connections closed because a message they started did not end within
    /// `syslog.read_timeout`.
    pub tcp_read_timeouts: AtomicU64,
    /// TCP connections closed after `syslog.idle_timeout` without message bytes.
    pub tcp_idle_closes: AtomicU64,
}

/// The bound syslog sockets, ready to [`SyslogServer::run`].
#[derive(Debug)]
pub struct SyslogServer {
    udp: Option<UdpSocket>,
    tcp: Option<TcpListener>,
    settings: Settings,
    tx: mpsc::Sender<RawBatch>,
}

#[derive(Debug, Clone)]
struct Settings {
    max_frame: usize,
    max_connections: usize,
    linger: Duration,
    idle_timeout: Duration,
    read_timeout: Duration,
    host: String,
    stats: Arc<SyslogStats>,
}

impl SyslogServer {
    /// Binds the UDP and/or TCP addresses of `cfg` (port 0 picks a free port; see
    /// [`SyslogServer::udp_addr`]). `host` is this machine's name, used in log lines only:
    /// records carry no host, because a syslog message names its own.
    pub async fn bind(
        cfg: &SyslogConfig,
        host: String,
        tx: mpsc::Sender<RawBatch>,
    ) -> Result<Self, CollectError> {
        if cfg.max_connections == 0 {
            return Err(CollectError::Config(
                "syslog.max_connections must be at least 1".into(),
            ));
        }
        if cfg.idle_timeout.is_zero() {
            return Err(CollectError::Config(
                "syslog.idle_timeout must be above 0: e.g. \"10m\"".into(),
            ));
        }
        if cfg.read_timeout.is_zero() {
            return Err(CollectError::Config(
                "syslog.read_timeout must be above 0: e.g. \"30s\"".into(),
            ));
        }
        if cfg.max_frame.0 == 0 {
            return Err(CollectError::Config(
                "syslog.max_frame must be at least 1".into(),
            ));
        }
        let udp = match cfg.udp {
            Some(addr) => {
                Some(
                    UdpSocket::bind(addr)
                        .await
                        .map_err(|source| CollectError::Bind {
                            transport: "udp",
                            addr,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let tcp = match cfg.tcp {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| CollectError::Bind {
                            transport: "tcp",
                            addr,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let settings = Settings {
            max_frame: usize::try_from(cfg.max_frame.0).unwrap_or(usize::MAX),
            max_connections: cfg.max_connections,
            linger: cfg.linger,
            idle_timeout: cfg.idle_timeout,
            read_timeout: cfg.read_timeout,
            host,
            stats: Arc::default(),
        };
        Ok(SyslogServer {
            udp,
            tcp,
            settings,
            tx,
        })
    }

    /// The bound UDP address, if UDP is on.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// The servers' counters (live: read them at any time).
    pub fn stats(&self) -> Arc<SyslogStats> {
        Arc::clone(&self.settings.stats)
    }

    /// The bound TCP address, if TCP is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled or the receiver is dropped; both end with `Ok`.
    /// Open TCP connections are closed on the way out, after a best-effort send of their batch.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), CollectError> {
        let stop = shutdown.child_token();
        tracing::info!(udp = ?self.udp_addr(), tcp = ?self.tcp_addr(), host = %self.settings.host, "syslog server listening");
        let udp = self.udp.map(|sock| {
            tokio::spawn(udp::serve(
                sock,
                self.settings.clone(),
                self.tx.clone(),
                stop.clone(),
            ))
        });
        let tcp = self.tcp.map(|l| {
            tokio::spawn(tcp::serve(
                l,
                self.settings.clone(),
                self.tx.clone(),
                stop.clone(),
            ))
        });
        drop(self.tx);
        for task in [udp, tcp].into_iter().flatten() {
            task.await.map_err(|e| CollectError::Task(e.to_string()))?;
        }
        Ok(())
    }
}

/// Records waiting to be sent, with the time the first one arrived.
struct Batcher {
    records: Vec<RawRecord>,
    /// Message bytes in `records`.
    bytes: usize,
    first: Option<Instant>,
    linger: Duration,
}

impl Batcher {
    fn new(linger: Duration) -> Self {
        Batcher {
            records: Vec::new(),
            bytes: 0,
            first: None,
            linger,
        }
    }

    fn push(&mut self, r: RawRecord) {
        if self.records.is_empty() {
            self.first = Some(Instant::now());
        }
        self.bytes += r.body.len();
        self.records.push(r);
    }

    /// A message of `len` bytes can join without taking the batch past [`MAX_BATCH_BYTES`]
    /// (always, when the batch is empty).
    fn fits(&self, len: usize) -> bool {
        self.records.is_empty() || self.bytes + len <= MAX_BATCH_BYTES
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn is_full(&self) -> bool {
        self.records.len() >= MAX_BATCH || self.bytes >= MAX_BATCH_BYTES
    }

    /// When the batch must go even if not full (far ahead when empty).
    fn deadline(&self) -> tokio::time::Instant {
        let at = self.first.map_or_else(
            || Instant::now() + Duration::from_secs(3600),
            |f| f + self.linger,
        );
        tokio::time::Instant::from_std(at)
    }

    fn take(&mut self) -> RawBatch {
        self.first = None;
        self.bytes = 0;
        RawBatch {
            records: std::mem::take(&mut self.records),
            checkpoint: Vec::new(),
            ack: None,
            kafka: None,
        }
    }
}

/// Sends a batch, unless `stop` comes first. `false`: stop serving (shutdown, or the pipeline
/// closed its input, in which case `stop` is cancelled for the other tasks too).
async fn deliver(tx: &mpsc::Sender<RawBatch>, batch: RawBatch, stop: &CancellationToken) -> bool {
    if batch.records.is_empty() {
        return true;
    }
    tokio::select! {
        biased;
        _ = stop.cancelled() => false,
        r = tx.send(batch) => match r {
            Ok(()) => true,
            Err(_) => {
                tracing::info!("syslog server stopping: the pipeline closed its input");
                stop.cancel();
                false
            }
        },
    }
}

/// Adds a record, first sending the batch on (waiting for room in the pipeline) when the record
/// would take it past [`MAX_BATCH_BYTES`], and after when the batch is full. `false`: stop
/// serving, as [`deliver`].
async fn add(
    batch: &mut Batcher,
    r: RawRecord,
    tx: &mpsc::Sender<RawBatch>,
    stop: &CancellationToken,
) -> bool {
    if !batch.fits(r.body.len()) && !deliver(tx, batch.take(), stop).await {
        return false;
    }
    batch.push(r);
    !batch.is_full() || deliver(tx, batch.take(), stop).await
}

/// Last chance at shutdown: hand over what is ready if there is room, never wait.
fn deliver_now(tx: &mpsc::Sender<RawBatch>, batch: RawBatch) {
    let n = batch.records.len();
    if n > 0 && tx.try_send(batch).is_err() {
        tracing::warn!(
            records = n,
            "syslog records dropped at shutdown: the pipeline was full"
        );
    }
}

/// A syslog record (fresh uuid v7 id: syslog has no position to derive one from).
fn record(body: Vec<u8>, truncated: bool, source: &Arc<SourceKind>) -> RawRecord {
    RawRecord {
        body,
        truncated,
        hint: FormatHint::Syslog,
        source: Arc::clone(source),
        host: None,
        received: Timestamp::now(),
        id: uuid::Uuid::now_v7().to_string(),
    }
}

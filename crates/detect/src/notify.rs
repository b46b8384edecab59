//! Notifications of new alerts, and of the resolution of alerts whose rule resolves
//! ([`crate::resolve`]): a webhook (JSON `POST`) and syslog forwarding (RFC 5424 over
//! UDP or TCP), from a durable outbox.
//!
//! The outbox is a table of the alerts database, written in the transaction that creates the
//! alert ([`crate::AlertBook::set_channels`]), so a restart never loses a pending notification.
//! A [`Notifier`] thread sends the oldest due ones; a failure (error status, refused or hung
//! connection: a timeout) is retried with exponential backoff (1 s doubling to 5 min) and stays
//! visible ([`Notifier::pending`], `GET /api/v1/notifications`). Delivery is at least once: a
//! crash after the receiver answered and before the entry is removed sends it again, so each
//! webhook carries the header `X-Loglynx-Notification: <alert id>` (`<alert id>:resolved` for a
//! resolution) to deduplicate on.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loglynx_core::Timestamp;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, AlertBook, OUTBOX};
use crate::DetectError;

/// Name of the webhook channel.
pub const WEBHOOK: &str = "webhook";
/// Name of the syslog channel.
pub const SYSLOG: &str = "syslog";

/// Longest wait between two tries.
const MAX_BACKOFF_MS: i64 = 300_000;

/// What a notification tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A new alert (`"type": "alert"`).
    #[default]
    Raised,
    /// The alert's condition cleared (`"type": "alert.resolved"`, see [`crate::resolve`]).
    Resolved,
}

/// A notification waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub channel: String,
    /// Raised or resolved (older outboxes hold raised ones only).
    #[serde(default)]
    pub kind: Kind,
    pub alert: Alert,
    pub attempts: u32,
    /// Not before this time.
    pub next_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Pending {
    pub(crate) fn new(channel: &str, alert: Alert) -> Pending {
        Pending {
            channel: channel.to_string(),
            kind: Kind::Raised,
            alert,
            attempts: 0,
            next_at: Timestamp::from_secs(0),
            last_error: None,
        }
    }

    /// The resolution of `alert` on `channel`.
    pub(crate) fn resolved(channel: &str, alert: Alert) -> Pending {
        Pending { kind: Kind::Resolved, ..Pending::new(channel, alert) }
    }

    /// How the alert's `notified` names this delivery: the channel, with
    /// [`crate::resolve::RESOLVED_SUFFIX`] for a resolution.
    pub fn delivery(&self) -> String {
        match self.kind {
            Kind::Raised => self.channel.clone(),
            Kind::Resolved => format!("{}{}", self.channel, crate::resolve::RESOLVED_SUFFIX),
        }
    }

    /// `type` of the JSON sent.
    fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Raised => "alert",
            Kind::Resolved => "alert.resolved",
        }
    }
}

/// Where notifications go.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    /// Webhook URL (`http://` or `https://`), `None`: no webhook.
    pub webhook: Option<String>,
    /// Extra header sent with the webhook (e.g. `Authorization: Bearer ...`); never logged.
    pub webhook_header: Option<(String, String)>,
    /// Syslog receiver `udp://host:port` or `tcp://host:port`, `None`: no forwarding.
    pub syslog: Option<String>,
    /// Time allowed for one delivery.
    pub timeout: Duration,
    /// This host's name in syslog lines.
    pub host: String,
}

impl NotifySettings {
    /// The channels configured.
    pub fn channels(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.webhook.is_some() {
            v.push(WEBHOOK.to_string());
        }
        if self.syslog.is_some() {
            v.push(SYSLOG.to_string());
        }
        v
    }
}

/// Counters of deliveries.
#[derive(Debug, Default)]
pub struct NotifyStats {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
}

/// Sends the outbox.
pub struct Notifier {
    book: Arc<AlertBook>,
    settings: NotifySettings,
    client: reqwest::blocking::Client,
    pub stats: Arc<NotifyStats>,
    /// Sends only while set (a worker: while its correlator holds the signals partition);
    /// `None`: always.
    pub active: Option<Arc<AtomicBool>>,
    /// Called with the alert after each delivery (a worker publishes it to the alerts topic,
    /// so the next correlator does not send it again).
    pub delivered: Option<crate::runtime::Publisher>,
}

impl Notifier {
    pub fn new(book: Arc<AlertBook>, settings: NotifySettings) -> Result<Notifier, String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Notifier {
            book,
            settings,
            client,
            stats: Arc::new(NotifyStats::default()),
            active: None,
            delivered: None,
        })
    }

    /// The notifications not delivered yet, oldest first.
    pub fn pending(book: &AlertBook) -> Result<Vec<(u64, Pending)>, DetectError> {
        let tx = book.db.begin_read().map_err(|e| book.err("cannot read the alerts database", e))?;
        let t = tx.open_table(OUTBOX).map_err(|e| book.err("cannot open the outbox", e))?;
        let mut out = Vec::new();
        for row in t.iter().map_err(|e| book.err("cannot read the outbox", e))? {
            let (k, v) = row.map_err(|e| book.err("cannot read the outbox", e))?;
            if let Ok(p) = serde_json::from_slice::<Pending>(v.value()) {
                out.push((k.value(), p));
            }
        }
        Ok(out)
    }

    /// Delivers until `stop` is set.
    pub fn run(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            match self.round(stop) {
                Ok(0) => std::thread::sleep(Duration::from_millis(200)),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("notifications: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// Tries the due notifications once each; how many it tried.
    pub fn round(&self, stop: &AtomicBool) -> Result<usize, DetectError> {
        if self.active.as_ref().is_some_and(|a| !a.load(Ordering::Relaxed)) {
            return Ok(0);
        }
        let now = Timestamp::now();
        let due: Vec<(u64, Pending)> = Self::pending(&self.book)?
            .into_iter()
            .filter(|(_, p)| p.next_at <= now)
            .take(100)
            .collect();
        let n = due.len();
        for (seq, mut p) in due {
            if stop.load(Ordering::Relaxed) || self.active.as_ref().is_some_and(|a| !a.load(Ordering::Relaxed)) {
                break;
            }
            // Delivered meanwhile by another process (read from the alerts topic): dropped.
            let delivery = p.delivery();
            let done = self.book.get(&p.alert.id)?.is_some_and(|a| a.notified.contains(&delivery));
            let result = match p.channel.as_str() {
                _ if done => Ok(()),
                WEBHOOK => self.webhook(&p),
                SYSLOG => self.syslog(&p),
                other => Err(format!("unknown channel {other:?}")),
            };
            let result_ok = result.is_ok();
            let book = &self.book;
            let tx = book.db.begin_write().map_err(|e| book.err("cannot write the alerts database", e))?;
            {
                let mut t = tx.open_table(OUTBOX).map_err(|e| book.err("cannot open the outbox", e))?;
                match result {
                    Ok(()) => {
                        t.remove(seq).map_err(|e| book.err("cannot write the outbox", e))?;
                        if !done {
                            self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(alert = %p.alert.id, channel = %p.channel, attempts = p.attempts + 1, "alert notified");
                        }
                    }
                    Err(e) => {
                        p.attempts += 1;
                        let backoff = (1000i64 << p.attempts.min(20)).min(MAX_BACKOFF_MS);
                        p.next_at = Timestamp::from_millis(Timestamp::now().as_millis() + backoff / 2);
                        tracing::warn!(alert = %p.alert.id, channel = %p.channel, attempts = p.attempts, "notification failed, retrying in {} ms: {e}", backoff / 2);
                        p.last_error = Some(e);
                        self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                        let bytes = serde_json::to_vec(&p).unwrap_or_default();
                        t.insert(seq, bytes.as_slice()).map_err(|e| book.err("cannot write the outbox", e))?;
                    }
                }
            }
            tx.commit().map_err(|e| book.err("cannot commit to the alerts database", e))?;
            if result_ok && !done {
                self.after_delivery(&p.alert.id, &delivery);
            }
        }
        Ok(n)
    }

    /// Records the delivery on the alert and hands the alert to [`Notifier::delivered`].
    fn after_delivery(&self, id: &str, channel: &str) {
        match self.book.mark_notified(id, channel) {
            Ok(Some(a)) => {
                if let Some(publish) = &self.delivered {
                    // Not published: a correlator taking over sends it once more (at least once).
                    if let Err(e) = publish(&a) {
                        tracing::warn!(alert = %id, "delivery not published: {e}");
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(alert = %id, "delivery not recorded: {e}"),
        }
    }

    fn webhook(&self, p: &Pending) -> Result<(), String> {
        let a = &p.alert;
        let url = self.settings.webhook.as_deref().ok_or("no webhook configured")?;
        let key = match p.kind {
            Kind::Raised => a.id.clone(),
            Kind::Resolved => format!("{}{}", a.id, crate::resolve::RESOLVED_SUFFIX),
        };
        let mut req = self
            .client
            .post(url)
            .header("X-Loglynx-Notification", key)
            .json(&serde_json::json!({ "type": p.type_name(), "alert": a }));
        if let Some((k, v)) = &self.settings.webhook_header {
            req = req.header(k.as_str(), v.as_str());
        }
        // The URL may hold a secret: errors name the host only.
        let host = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        match req.send() {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("webhook at {host} answered {}", r.status())),
            Err(e) if e.is_timeout() => Err(format!("webhook at {host} did not answer within {:?}", self.settings.timeout)),
            Err(e) => Err(format!("webhook at {host}: {}", e.without_url())),
        }
    }

    fn syslog(&self, p: &Pending) -> Result<(), String> {
        let a = &p.alert;
        let target = self.settings.syslog.as_deref().ok_or("no syslog receiver configured")?;
        let (proto, addr) = target.split_once("://").ok_or_else(|| format!("{target}: expected udp://HOST:PORT or tcp://HOST:PORT"))?;
        let sev = match a.rule.level.as_deref() {
            Some("critical") => 2,
            Some("high") => 3,
            Some("medium") => 4,
            Some("low") => 5,
            _ => 6,
        };
        // facility 13 (log audit); RFC 5424 with the alert as structured JSON in the message
        let msg = format!(
            "<{}>1 {} {} loglynx - {} - {}",
            13 * 8 + sev,
            match p.kind {
                Kind::Raised => a.created,
                Kind::Resolved => a.updated,
            }
            .to_rfc3339(),
            self.settings.host,
            p.type_name(),
            serde_json::json!({ "type": p.type_name(), "alert": a })
        );
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr}: no address"))?;
        match proto {
            "udp" => {
                let s = UdpSocket::bind(if sock.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).map_err(|e| e.to_string())?;
                s.send_to(msg.as_bytes(), sock).map(|_| ()).map_err(|e| format!("syslog {addr}: {e}"))
            }
            "tcp" => {
                let mut s = TcpStream::connect_timeout(&sock, self.settings.timeout).map_err(|e| format!("syslog {addr}: {e}"))?;
                s.set_write_timeout(Some(self.settings.timeout)).ok();
                // RFC 6587 octet counting
                s.write_all(format!("{} {msg}", msg.len()).as_bytes()).map_err(|e| format!("syslog {addr}: {e}"))
            }
            other => Err(format!("{target}: unknown protocol {other:?}, expected udp or tcp")),
        }
    }
}

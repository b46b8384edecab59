//! `[http]`: the HTTP API, ingest endpoints and dashboard, and the agent's HTTP ingest.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, ConfigError};

/// The file of the data directory that holds the API keys (`loglynx keys add`): their names,
/// scopes and hashes. While it exists every request needs a key, on loopback too.
pub const KEYS_FILE: &str = "keys.json";

/// The HTTP API, ingest endpoints and dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on. Loopback by default; any other address requires `auth_token` or
    /// API keys (`loglynx keys add`, kept in `<data_dir>/keys.json`).
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// A shortcut for one admin API key: when set, every request needs it or an API key
    /// (`Authorization: Bearer TOKEN`). `listen` off loopback needs it or API keys. The
    /// environment variable `LOGLYNX_AUTH_TOKEN` overrides it.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// Largest accepted request body; larger ones are answered 413.
    #[serde(default = "default_max_body")]
    pub max_body: ByteSize,
    /// `loglynx agent`: address of its HTTP ingest (NDJSON, text, Elasticsearch `_bulk`), its
    /// `/metrics` and health, or `"off"`. Another port than `listen`, so an agent and
    /// `loglynx serve` can run on one machine. Not a loopback address: `auth_token` is required.
    #[serde(default = "default_agent_listen", with = "crate::opt_addr")]
    pub agent_listen: Option<SocketAddr>,
    /// How long a dashboard login lasts (the session cookie's lifetime); log in again after.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Extra host names the server answers to (`Host` header), e.g. the name of a reverse
    /// proxy in front of a loopback listener. On loopback only `localhost`, `*.localhost` and
    /// loopback addresses are answered otherwise (against DNS rebinding); off loopback any
    /// host is answered unless this is set.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Serve HTTPS: the certificate chain (PEM, leaf first) of `listen` and `agent_listen`.
    /// Set with `tls_key`; clients then use `https://` (the CLI's `--ca-cert` for a private CA).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// A client that has not sent a request's whole header by then (from the connection's
    /// start, or the end of its previous request) is disconnected (against slowloris).
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Longest time a request may take until its reply starts (reading the body included);
    /// longer ones are answered 408. Streamed replies (live tail, export) are not cut.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Requests in progress at most; more are answered 503 with `Retry-After`.
    #[serde(default = "default_max_requests")]
    pub max_requests: usize,
    /// Records (lines, `_bulk` documents, OTLP log records) one ingest request may carry;
    /// larger requests are answered 413 naming this setting, nothing of them taken.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// `_bulk` items whose error is reported in full (type and reason); later failed items of
    /// the same request keep their place and status with a short reason, so a request of
    /// garbage cannot make a reply many times its size.
    #[serde(default = "default_max_bulk_errors")]
    pub max_bulk_errors: usize,
    /// Records per second one API key (or the `auth_token`, or everyone when no credential is
    /// required) may ingest, in bursts of one second's worth; over it requests are answered 429
    /// with `Retry-After`. 0: no limit.
    #[serde(default = "default_ingest_rate")]
    pub ingest_rate: u64,
    /// Explicit layouts and zones for the lines of some HTTP streams (`[[http.layouts]]`, see
    /// [`crate::StreamLayoutRule`]; the first that matches wins over the structure learned for
    /// the stream).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layouts: Vec<crate::StreamLayoutRule>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_http_listen(),
            auth_token: None,
            max_body: default_max_body(),
            agent_listen: default_agent_listen(),
            session_ttl: default_session_ttl(),
            allowed_hosts: Vec::new(),
            tls_cert: None,
            tls_key: None,
            header_read_timeout: default_header_read_timeout(),
            request_timeout: default_request_timeout(),
            max_connections: default_max_connections(),
            max_requests: default_max_requests(),
            max_records: default_max_records(),
            max_bulk_errors: default_max_bulk_errors(),
            ingest_rate: default_ingest_rate(),
            layouts: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// The auth rule: an API open to the network needs a token or API keys (the key file of
    /// `data_dir`).
    pub(crate) fn validate(&self, data_dir: &Path) -> Result<(), ConfigError> {
        for (i, l) in self.layouts.iter().enumerate() {
            l.validate("http", i)?;
        }
        if !self.listen.ip().is_loopback() && !self.has_credentials(data_dir) {
            return Err(ConfigError::Invalid(format!(
                "http.listen = {} is not a loopback address: create an API key (`loglynx keys add NAME --scope admin --data-dir {}`) or set http.auth_token (or LOGLYNX_AUTH_TOKEN) so the API is not open to the network",
                self.listen,
                data_dir.display()
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "http.tls_cert and http.tls_key go together (--tls-cert and --tls-key): set both, or neither for plain HTTP".into(),
            ));
        }
        if self.session_ttl.is_zero() {
            return Err(ConfigError::Invalid(
                "http.session_ttl must be above 0: e.g. \"12h\"".into(),
            ));
        }
        for (key, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "http.{key} must be above 0: e.g. \"30s\""
                )));
            }
        }
        for (key, n) in [
            ("max_connections", self.max_connections),
            ("max_requests", self.max_requests),
            ("max_records", self.max_records),
        ] {
            if n == 0 {
                return Err(ConfigError::Invalid(format!(
                    "http.{key} must be at least 1: e.g. 256"
                )));
            }
        }
        if let Some(h) = self.allowed_hosts.iter().find(|h| h.trim().is_empty() || h.contains(['/', ' '])) {
            return Err(ConfigError::Invalid(format!(
                "http.allowed_hosts: {h:?} is not a host name: give names such as \"logs.example.com\""
            )));
        }
        Ok(())
    }

    /// Whether a credential is configured: `auth_token` or the key file of `data_dir`.
    pub fn has_credentials(&self, data_dir: &Path) -> bool {
        self.auth_token.as_deref().is_some_and(|t| !t.is_empty())
            || data_dir.join(KEYS_FILE).exists()
    }
}

fn default_http_listen() -> SocketAddr {
    "127.0.0.1:7700".parse().expect("valid literal")
}
fn default_max_body() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}
/// Default of `http.header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `http.request_timeout`: above the ingest ack timeout (60 s) plus the queue wait.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Default of `http.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default of `http.max_requests`.
pub const DEFAULT_MAX_REQUESTS: usize = 256;

/// Default of `http.max_records`.
pub const DEFAULT_MAX_RECORDS: usize = 100_000;
/// Default of `http.max_bulk_errors`.
pub const DEFAULT_MAX_BULK_ERRORS: usize = 1_000;
/// Default of `http.ingest_rate`: no per-key limit (the ingest queue's backpressure still
/// bounds memory; set a rate to share the store fairly between keys).
pub const DEFAULT_INGEST_RATE: u64 = 0;

fn default_max_records() -> usize {
    DEFAULT_MAX_RECORDS
}
fn default_max_bulk_errors() -> usize {
    DEFAULT_MAX_BULK_ERRORS
}
fn default_ingest_rate() -> u64 {
    DEFAULT_INGEST_RATE
}
fn default_header_read_timeout() -> Duration {
    DEFAULT_HEADER_READ_TIMEOUT
}
fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}
fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_max_requests() -> usize {
    DEFAULT_MAX_REQUESTS
}
fn default_agent_listen() -> Option<SocketAddr> {
    Some("127.0.0.1:7710".parse().expect("valid literal"))
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn non_loopback_without_token_is_refused() {
        let c: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:7700\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("auth_token") && e.contains("loglynx keys add"), "{e}");
        let c: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:7700\"\nauth_token = \"s3cret\"\n").unwrap();
        c.validate().unwrap();
        // A key file in the data directory is enough.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(super::KEYS_FILE), "{\"keys\": []}").unwrap();
        let text = format!("data_dir = {:?}\n[http]\nlisten = \"0.0.0.0:7700\"\n", dir.path());
        let c: Config = toml::from_str(&text).unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn tls_cert_and_key_go_together_and_sessions_need_a_lifetime() {
        let c: Config = toml::from_str("[http]\ntls_cert = \"c.pem\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("tls_key"), "{e}");
        let c: Config = toml::from_str("[http]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n").unwrap();
        c.validate().unwrap();
        let c: Config = toml::from_str("[http]\nsession_ttl = \"0s\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("session_ttl"));
        let c: Config = toml::from_str("[http]\nallowed_hosts = [\"a b\"]\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("allowed_hosts"));
    }

    #[test]
    fn client_limits_must_be_above_zero() {
        for (line, key) in [
            ("header_read_timeout = \"0s\"", "header_read_timeout"),
            ("request_timeout = \"0s\"", "request_timeout"),
            ("max_connections = 0", "max_connections"),
            ("max_requests = 0", "max_requests"),
            ("max_records = 0", "max_records"),
        ] {
            let c: Config = toml::from_str(&format!("[http]\n{line}\n")).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(&format!("http.{key}")), "{e}");
        }
        let c: Config = toml::from_str("[http]\nmax_connections = 4\nrequest_timeout = \"5s\"\n").unwrap();
        c.validate().unwrap();
        assert_eq!(c.http.max_connections, 4);
    }

    #[test]
    fn agent_http_defaults_beside_serve_and_can_be_switched_off() {
        let c = Config::default();
        assert_eq!(c.http.agent_listen, Some("127.0.0.1:7710".parse().unwrap()));
        assert_ne!(c.http.agent_listen, Some(c.http.listen));
        let c: Config = toml::from_str("[http]\nagent_listen = \"off\"\n").unwrap();
        assert!(c.http.agent_listen.is_none());
    }
}

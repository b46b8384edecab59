//! `[http]`: the HTTP API, ingest endpoints and dashboard, and the agent's HTTP ingest.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, ConfigError};

/// The HTTP API, ingest endpoints and dashboard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on. Loopback by default; any other address requires `auth_token`.
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
    /// Bearer token required on every endpoint when set; mandatory when `listen` is not a
    /// loopback address. The environment variable `LOGLYNX_AUTH_TOKEN` overrides it.
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
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_http_listen(),
            auth_token: None,
            max_body: default_max_body(),
            agent_listen: default_agent_listen(),
        }
    }
}

impl HttpConfig {
    /// The auth rule: an API open to the network needs a token.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() && self.auth_token.as_deref().map_or(true, str::is_empty) {
            return Err(ConfigError::Invalid(format!(
                "http.listen = {} is not a loopback address: set http.auth_token (or LOGLYNX_AUTH_TOKEN) so the API is not open to the network",
                self.listen
            )));
        }
        Ok(())
    }
}

fn default_http_listen() -> SocketAddr {
    "127.0.0.1:7700".parse().expect("valid literal")
}
fn default_max_body() -> ByteSize {
    ByteSize(64 << 20)
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
        assert!(e.contains("auth_token"), "{e}");
        let c: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:7700\"\nauth_token = \"s3cret\"\n").unwrap();
        c.validate().unwrap();
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

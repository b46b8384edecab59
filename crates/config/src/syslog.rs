//! `[syslog]`: the syslog servers.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, ConfigError, StreamLayoutRule};

/// Syslog servers (RFC 3164 and RFC 5424).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// UDP listen address, `""` or `"off"` to disable. Default port 5514 (unprivileged; 514
    /// needs root).
    #[serde(default = "default_syslog_addr", with = "crate::opt_addr")]
    pub udp: Option<SocketAddr>,
    /// TCP listen address (newline or octet-counting framing, RFC 6587), `""` or `"off"` to
    /// disable.
    #[serde(default = "default_syslog_addr", with = "crate::opt_addr")]
    pub tcp: Option<SocketAddr>,
    /// Largest accepted frame; longer ones are truncated and flagged.
    #[serde(default = "default_max_frame")]
    pub max_frame: ByteSize,
    /// Most TCP connections served at once; further ones wait.
    #[serde(default = "default_max_conns")]
    pub max_connections: usize,
    /// Time a batch may wait to fill before it is sent on.
    #[serde(default = "default_syslog_linger", with = "humantime_serde")]
    pub linger: Duration,
    /// A TCP connection that sends no message bytes for this long (separators and empty lines
    /// do not count) is closed (a frame it left unfinished is kept, as at any close), so
    /// silent clients cannot hold the `max_connections` slots; senders reconnect when they
    /// have more to send.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time a TCP message may take from its first byte to its end; a connection whose message
    /// is still unfinished then is closed (the messages before it are delivered, the
    /// unfinished one is kept flagged truncated), so a client dripping bytes cannot hold a
    /// slot. Counted and logged with the peer's address.
    #[serde(default = "default_read_timeout", with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Explicit layouts and zones for the messages of some senders and programs
    /// (`[[syslog.layouts]]`, see [`StreamLayoutRule`]; the first that matches wins over the
    /// structure learned for the stream).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layouts: Vec<StreamLayoutRule>,
}

impl SyslogConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::Invalid("syslog.idle_timeout must be more than 0s, e.g. \"10m\"".into()));
        }
        if self.read_timeout.is_zero() {
            return Err(ConfigError::Invalid("syslog.read_timeout must be more than 0s, e.g. \"30s\"".into()));
        }
        for (i, l) in self.layouts.iter().enumerate() {
            l.validate("syslog", i)?;
        }
        Ok(())
    }
}

impl Default for SyslogConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

fn default_syslog_addr() -> Option<SocketAddr> {
    Some("127.0.0.1:5514".parse().expect("valid literal"))
}
fn default_max_frame() -> ByteSize {
    ByteSize(256 << 10)
}
fn default_max_conns() -> usize {
    1024
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_syslog_linger() -> Duration {
    Duration::from_millis(100)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn syslog_can_be_switched_off() {
        let c: Config = toml::from_str("[syslog]\nudp = \"off\"\ntcp = \"127.0.0.1:6514\"\n").unwrap();
        assert!(c.syslog.udp.is_none());
        assert_eq!(c.syslog.tcp.unwrap().port(), 6514);
    }

    #[test]
    fn syslog_timeouts_have_defaults_and_must_be_above_zero() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.syslog.read_timeout, std::time::Duration::from_secs(30));
        assert_eq!(c.syslog.idle_timeout, std::time::Duration::from_secs(600));
        let c: Config = toml::from_str("[syslog]\nread_timeout = \"2s\"\n").unwrap();
        assert_eq!(c.syslog.read_timeout, std::time::Duration::from_secs(2));
        c.validate().unwrap();
        for key in ["read_timeout", "idle_timeout"] {
            let c: Config = toml::from_str(&format!("[syslog]\n{key} = \"0s\"\n")).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(&format!("syslog.{key} must be more than 0s")), "{e}");
        }
    }
}

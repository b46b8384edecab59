//! Raw settings -> validated [`Config`], in one place for every command.
//!
//! The binary parses its flags into [`Overrides`] (values as the user typed them, nothing
//! checked but their syntax); [`Overrides::resolve`] reads the config file, applies the
//! overrides and the environment, and validates the result. Every assembly starts from the
//! `Config` it returns, so `run`, `agent`, `worker` and `serve` read their settings the same way
//! (ripgrep's low-level -> high-level arguments).

use std::net::SocketAddr;
use std::path::PathBuf;

use loglynx_config::Config;

use crate::error::{NodeError, Result};

/// Environment variable with the API token (overrides `http.auth_token`; kept out of the
/// command line, where `ps` would show it).
pub const AUTH_TOKEN_ENV: &str = "LOGLYNX_AUTH_TOKEN";

/// Environment variable with the leaf API's shared key (overrides `search.key`).
pub const SEARCH_KEY_ENV: &str = "LOGLYNX_SEARCH_KEY";

/// An optional listening address: `off` or `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Not listening.
    Off,
    /// Listening on this address.
    At(SocketAddr),
}

impl Listen {
    /// Reads `value` given to `--flag`: `off` (or empty) or `IP:PORT`.
    pub fn parse(flag: &'static str, value: &str) -> Result<Listen> {
        match loglynx_config::parse_opt_addr(value) {
            Ok(Some(a)) => Ok(Listen::At(a)),
            Ok(None) => Ok(Listen::Off),
            Err(_) => Err(NodeError::Flag {
                flag,
                value: value.trim().to_string(),
                expected: "IP:PORT (e.g. 127.0.0.1:5514) or \"off\"",
            }),
        }
    }

    /// The address, `None` when off.
    pub fn addr(self) -> Option<SocketAddr> {
        match self {
            Listen::Off => None,
            Listen::At(a) => Some(a),
        }
    }
}

/// What the command line sets over the config file; `None` / empty leaves the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The TOML file (see loglynx.example.toml); defaults without one.
    pub config: Option<PathBuf>,
    /// `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `http.listen` (the API and dashboard of `run` and `serve`).
    pub http: Option<SocketAddr>,
    /// `http.agent_listen` (the agent's HTTP ingest).
    pub agent_http: Option<Listen>,
    /// Globs added to `files.include`.
    pub tail: Vec<String>,
    /// `syslog.udp`.
    pub syslog_udp: Option<Listen>,
    /// `syslog.tcp`.
    pub syslog_tcp: Option<Listen>,
    /// `otlp.grpc`.
    pub otlp_grpc: Option<Listen>,
    /// Turns `tcp_states.enabled` on.
    pub tcp_states: bool,
    /// Turns `journald.enabled` on.
    pub journald: bool,
    /// `journald.directory` (turns `journald.enabled` on).
    pub journald_directory: Option<PathBuf>,
    /// `kafka.brokers`.
    pub brokers: Option<String>,
    /// `kafka.topic`.
    pub topic: Option<String>,
    /// `kafka.group`.
    pub group: Option<String>,
    /// `kafka.consumers`.
    pub consumers: Option<usize>,
    /// `kafka.partitions`.
    pub partitions: Option<i32>,
    /// Rule files and folders added to `detect.rules`.
    pub rules: Vec<PathBuf>,
    /// `http.tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// `http.tls_key`.
    pub tls_key: Option<PathBuf>,
    /// `search.listen` (a worker's leaf API).
    pub search_listen: Option<Listen>,
    /// Added to `serve.leaves`.
    pub leaves: Vec<String>,
    /// Turns `serve.catalog` on.
    pub catalog: bool,
}

impl Overrides {
    /// The configuration: file (if any), then these overrides, then the environment
    /// ([`AUTH_TOKEN_ENV`]), validated.
    pub fn resolve(&self) -> Result<Config> {
        let mut cfg = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        self.apply(&mut cfg, std::env::var(AUTH_TOKEN_ENV).ok());
        if let Some(k) = std::env::var(SEARCH_KEY_ENV).ok().filter(|k| !k.is_empty()) {
            cfg.search.key = k;
        }
        // `[tcp_states]` is checked by the assemblies that run the monitor (run, agent).
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies the overrides and the token from the environment (if not empty) to `cfg`.
    fn apply(&self, cfg: &mut Config, token: Option<String>) {
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(h) = self.http {
            cfg.http.listen = h;
        }
        if let Some(h) = self.agent_http {
            cfg.http.agent_listen = h.addr();
        }
        cfg.files.include.extend(self.tail.iter().cloned());
        if let Some(u) = self.syslog_udp {
            cfg.syslog.udp = u.addr();
        }
        if let Some(t) = self.syslog_tcp {
            cfg.syslog.tcp = t.addr();
        }
        if let Some(g) = self.otlp_grpc {
            cfg.otlp.grpc = g.addr();
        }
        if self.tcp_states {
            cfg.tcp_states.enabled = true;
        }
        if self.journald {
            cfg.journald.enabled = true;
        }
        if let Some(d) = &self.journald_directory {
            cfg.journald.enabled = true;
            cfg.journald.directory = Some(d.clone());
        }
        if let Some(b) = &self.brokers {
            cfg.kafka.brokers = b.clone();
        }
        if let Some(t) = &self.topic {
            cfg.kafka.topic = t.clone();
        }
        if let Some(g) = &self.group {
            cfg.kafka.group = g.clone();
        }
        if let Some(n) = self.consumers {
            cfg.kafka.consumers = n;
        }
        if let Some(p) = self.partitions {
            cfg.kafka.partitions = p;
        }
        cfg.detect.rules.extend(self.rules.iter().cloned());
        if let Some(c) = &self.tls_cert {
            cfg.http.tls_cert = Some(c.clone());
        }
        if let Some(k) = &self.tls_key {
            cfg.http.tls_key = Some(k.clone());
        }
        if let Some(l) = self.search_listen {
            cfg.search.listen = l.addr();
        }
        cfg.serve.leaves.extend(self.leaves.iter().cloned());
        if self.catalog {
            cfg.serve.catalog = true;
        }
        if let Some(tok) = token.filter(|t| !t.is_empty()) {
            cfg.http.auth_token = Some(tok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_over_the_file_and_off_disables_a_listener() {
        let o = Overrides {
            data_dir: Some("/tmp/x".into()),
            http: Some("127.0.0.1:9999".parse().unwrap()),
            tail: vec!["/var/log/*.log".into()],
            syslog_udp: Some(Listen::parse("syslog-udp", "off").unwrap()),
            brokers: Some("k1:9092".into()),
            group: Some("g".into()),
            consumers: Some(3),
            ..Default::default()
        };
        let mut cfg = Config::default();
        o.apply(&mut cfg, Some("s3cret".into()));
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.http.listen.port(), 9999);
        assert_eq!(cfg.files.include, vec!["/var/log/*.log".to_string()]);
        assert!(cfg.syslog.udp.is_none());
        assert!(
            cfg.syslog.tcp.is_some(),
            "not overridden: the default stays"
        );
        assert_eq!(
            (
                cfg.kafka.brokers.as_str(),
                cfg.kafka.group.as_str(),
                cfg.kafka.consumers
            ),
            ("k1:9092", "g", 3)
        );
        assert_eq!(cfg.http.auth_token.as_deref(), Some("s3cret"));
        // An empty token in the environment is no token.
        let mut cfg = Config::default();
        Overrides::default().apply(&mut cfg, Some(String::new()));
        assert_eq!(cfg.http.auth_token, None);
    }

    #[test]
    fn a_bad_address_says_what_is_expected() {
        let e = Listen::parse("syslog-tcp", "nowhere")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--syslog-tcp") && e.contains("IP:PORT"), "{e}");
        assert_eq!(Listen::parse("http", " OFF ").unwrap(), Listen::Off);
        assert_eq!(Listen::parse("http", "").unwrap(), Listen::Off);
        assert_eq!(
            Listen::parse("http", "127.0.0.1:7").unwrap().addr(),
            Some("127.0.0.1:7".parse().unwrap())
        );
    }
}

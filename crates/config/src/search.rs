//! `[search]` (a worker's leaf API) and `[serve]` (`loglynx serve` as the root of a search
//! across machines).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// A worker's internal search API (the leaf `loglynx serve` sends queries to).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Where a worker serves its shards to `loglynx serve` (`IP:PORT`, or "off"). Flag
    /// `--search-listen`. Off by default: then only a `serve` sharing the data directory sees
    /// them.
    #[serde(default, with = "crate::opt_addr")]
    pub listen: Option<SocketAddr>,
    /// The address published in the catalog topic for `serve` to reach this leaf (`host:port`);
    /// empty: `listen` (which must then not be 0.0.0.0 / [::]).
    #[serde(default)]
    pub advertise: String,
    /// Shared secret of the leaf API: the workers check it, `serve` sends it (bearer token).
    /// Required when `listen` is not a loopback address. Environment `LOGLYNX_SEARCH_KEY`
    /// overrides it (keep it out of files others read).
    #[serde(default)]
    pub key: String,
    /// How often a worker publishes its address and generations to `<topic>-catalog`.
    #[serde(default = "default_publish_every", with = "humantime_serde")]
    pub publish_every: Duration,
    /// PEM certificate chain of the leaf API: set with `tls_key`, the leaf answers only HTTPS
    /// (then `serve` needs `serve.leaf_tls`, and `serve.leaf_ca` for a private CA). The
    /// certificate must name the address `serve` reaches (`advertise`, or `listen`'s IP).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// How long a shard generation of this worker must stay redundant before the worker
    /// deletes it: not written, below the group's committed offset, and every offset of it
    /// answered by another live leaf of the catalog (serve's `/api/v1/leaves` lists it among
    /// the orphans until then). Another worker counts as holding a copy only while its catalog
    /// record is at most three `publish_every` periods old.
    #[serde(default = "default_orphan_grace", with = "humantime_serde")]
    pub orphan_grace: Duration,
}

/// `loglynx serve` as the root of a search across machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Leaf API addresses (`host:port`) to search; with `catalog` also on, they are searched
    /// besides the catalog's. Flag `--leaves`. Empty and `catalog` off: serve reads the shards
    /// of its own data directory.
    #[serde(default)]
    pub leaves: Vec<String>,
    /// Find the leaves in the catalog topic `<kafka.topic>-catalog` (flag `--catalog`).
    #[serde(default)]
    pub catalog: bool,
    /// Longest wait for a leaf's answer; past it the answer names the leaf's offsets as
    /// missing.
    #[serde(default = "default_leaf_timeout", with = "humantime_serde")]
    pub leaf_timeout: Duration,
    /// How long a worker stays searched after its last catalog record. A record `serve` reads
    /// live is dated by serve's clock when it reads it (a worker's clock being off does not
    /// matter). A record of the topic's backlog, read by a starting serve, is dated by its own
    /// publish time (the worker's clock) when that is in the past by serve's clock: a worker
    /// that crashed before serve started is gone at once, and one whose clock lags by more than
    /// this looks gone until its next record. Serve asks the leaf of a record not refreshed for
    /// half of this every 2 s: while the same worker answers (cut from the brokers but
    /// reachable) it stays searched past this, and it is gone only when it has not answered for
    /// this long either; what only a gone worker's disk holds is named missing.
    #[serde(default = "default_catalog_ttl", with = "humantime_serde")]
    pub catalog_ttl: Duration,
    /// Reach the leaves with HTTPS (the workers set `search.tls_cert` / `search.tls_key`).
    #[serde(default)]
    pub leaf_tls: bool,
    /// PEM certificate(s) of the CA that signed the leaves' certificates, trusted besides the
    /// public roots (a private CA). Needs `leaf_tls`.
    #[serde(default)]
    pub leaf_ca: Option<PathBuf>,
}

fn default_publish_every() -> Duration {
    Duration::from_secs(3)
}

fn default_orphan_grace() -> Duration {
    Duration::from_secs(3600)
}

fn default_leaf_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_catalog_ttl() -> Duration {
    Duration::from_secs(30)
}

impl Default for SearchConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl SearchConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.publish_every.is_zero() || self.orphan_grace.is_zero() {
            return Err(ConfigError::Invalid("search.publish_every and search.orphan_grace must be more than 0s".into()));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "search.tls_cert and search.tls_key go together: set both for an HTTPS leaf API, or neither".into(),
            ));
        }
        if let Some(a) = self.listen {
            if !a.ip().is_loopback() && self.key.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "search.listen is {a}, reachable from other machines, without search.key: set a shared key (search.key or LOGLYNX_SEARCH_KEY, the same on serve) or listen on 127.0.0.1"
                )));
            }
            if a.ip().is_unspecified() && self.advertise.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "search.listen is {a}: set search.advertise to the host:port serve should reach this worker at"
                )));
            }
        }
        Ok(())
    }
}

impl ServeConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.leaf_timeout.is_zero() || self.catalog_ttl.is_zero() {
            return Err(ConfigError::Invalid("serve.leaf_timeout and serve.catalog_ttl must be more than 0s".into()));
        }
        if self.leaf_ca.is_some() && !self.leaf_tls {
            return Err(ConfigError::Invalid(
                "serve.leaf_ca is set but serve.leaf_tls is off: set serve.leaf_tls = true to reach the leaves with HTTPS".into(),
            ));
        }
        if let Some(bad) = self.leaves.iter().find(|l| l.trim().is_empty() || !l.contains(':')) {
            return Err(ConfigError::Invalid(format!(
                "serve.leaves has {bad:?}: give each leaf as host:port (a worker's search.listen)"
            )));
        }
        Ok(())
    }

    /// Whether serve searches through leaves rather than its own data directory.
    pub fn is_root(&self) -> bool {
        self.catalog || !self.leaves.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reachable_leaf_needs_a_key_and_an_advertised_address() {
        let mut s = SearchConfig { listen: Some("10.0.0.1:7720".parse().unwrap()), ..SearchConfig::default() };
        assert!(s.validate().unwrap_err().to_string().contains("search.key"));
        s.key = "k".into();
        s.validate().unwrap();
        s.listen = Some("0.0.0.0:7720".parse().unwrap());
        assert!(s.validate().unwrap_err().to_string().contains("search.advertise"));
        s.listen = Some("127.0.0.1:0".parse().unwrap());
        s.key.clear();
        s.validate().unwrap();
        s.tls_cert = Some("c.pem".into());
        assert!(s.validate().unwrap_err().to_string().contains("search.tls_key"));
        s.tls_key = Some("k.pem".into());
        s.validate().unwrap();
        let ca = ServeConfig { leaf_ca: Some("ca.pem".into()), ..ServeConfig::default() };
        assert!(ca.validate().unwrap_err().to_string().contains("serve.leaf_tls"));
        let bad = ServeConfig { leaves: vec!["nohost".into()], ..ServeConfig::default() };
        assert!(bad.validate().is_err());
        assert!(!ServeConfig::default().is_root());
    }
}

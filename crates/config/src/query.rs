//! `[query]`: what one search, aggregation or tail may cost the server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Limits of the query endpoints (search, histogram, terms, tail, the Elasticsearch search
/// API, talkers, patterns).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Longest a query may run; a longer one is stopped (between index segments) and answered
    /// 503 naming this setting. A query whose client disconnects is stopped the same way.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Queries running at once at most; more are answered 429 with `Retry-After` naming this
    /// setting (ingest is not counted).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// Distinct values a terms aggregation counts exactly; beyond, only the most frequent are
    /// kept (per index segment and when merging), so the answer is approximate and says so
    /// (`approximate: true`).
    #[serde(default = "default_max_distinct_terms")]
    pub max_distinct_terms: usize,
    /// Most `field:value` clauses (bare words included) in one query; a query with more is
    /// refused with 400 naming this setting before it runs (each clause is a term lookup per
    /// index window).
    #[serde(default = "default_max_clauses")]
    pub max_clauses: usize,
    /// Most wildcard terms (`ngin*`, `fail?d`, `host.name:*`) in one query, counted among
    /// `max_clauses`; more are refused with 400 naming this setting. Each walks the field's
    /// whole term dictionary (tantivy matches the pattern against the dictionary as it goes
    /// rather than expanding it into a list of terms, so this caps the expansions' cost).
    /// 0 refuses every wildcard.
    #[serde(default = "default_max_wildcards")]
    pub max_wildcards: usize,
    /// Points in time (`POST /_pit`, `POST /api/v1/pit`) open at once at most; each pins the
    /// store's files as they were when it was opened (disk retention cannot free them) until
    /// it is closed or its keep-alive runs out. One more is answered 429 naming this setting.
    #[serde(default = "default_max_open_pits")]
    pub max_open_pits: usize,
    /// Longest keep-alive a point in time may ask for (each page of a `search_after` walk
    /// renews it); a longer one is refused with a 400 naming this setting.
    #[serde(default = "default_max_pit_keep_alive", with = "humantime_serde")]
    pub max_pit_keep_alive: Duration,
}

/// Default of `query.timeout`.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of `query.max_concurrent`.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 32;
/// Default of `query.max_distinct_terms`.
pub const DEFAULT_MAX_DISTINCT_TERMS: usize = 100_000;
/// Default of `query.max_clauses`.
pub const DEFAULT_MAX_CLAUSES: usize = 1024;
/// Default of `query.max_wildcards`.
pub const DEFAULT_MAX_WILDCARDS: usize = 64;

/// Default of `query.max_open_pits`.
pub const DEFAULT_MAX_OPEN_PITS: usize = 64;
/// Default of `query.max_pit_keep_alive`.
pub const DEFAULT_MAX_PIT_KEEP_ALIVE: Duration = Duration::from_secs(3600);

fn default_max_open_pits() -> usize {
    DEFAULT_MAX_OPEN_PITS
}
fn default_max_pit_keep_alive() -> Duration {
    DEFAULT_MAX_PIT_KEEP_ALIVE
}
fn default_timeout() -> Duration {
    DEFAULT_QUERY_TIMEOUT
}
fn default_max_concurrent() -> usize {
    DEFAULT_MAX_CONCURRENT_QUERIES
}
fn default_max_distinct_terms() -> usize {
    DEFAULT_MAX_DISTINCT_TERMS
}
fn default_max_clauses() -> usize {
    DEFAULT_MAX_CLAUSES
}
fn default_max_wildcards() -> usize {
    DEFAULT_MAX_WILDCARDS
}

impl Default for QueryConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl QueryConfig {
    /// Every limit above zero.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_pit_keep_alive.is_zero() {
            return Err(ConfigError::Invalid("query.max_pit_keep_alive must be above 0: e.g. \"1h\"".into()));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Invalid("query.timeout must be above 0: e.g. \"30s\"".into()));
        }
        for (key, n, eg) in [
            ("max_concurrent", self.max_concurrent, 32),
            ("max_distinct_terms", self.max_distinct_terms, 100_000),
            ("max_clauses", self.max_clauses, 1024),
            ("max_open_pits", self.max_open_pits, 64),
        ] {
            if n == 0 {
                return Err(ConfigError::Invalid(format!("query.{key} must be at least 1: e.g. {eg}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn defaults_and_zero_refused() {
        let c = Config::default();
        assert_eq!(c.query.timeout, super::DEFAULT_QUERY_TIMEOUT);
        assert_eq!(c.query.max_concurrent, 32);
        for (line, key) in [
            ("timeout = \"0s\"", "query.timeout"),
            ("max_concurrent = 0", "query.max_concurrent"),
            ("max_distinct_terms = 0", "query.max_distinct_terms"),
            ("max_open_pits = 0", "query.max_open_pits"),
            ("max_pit_keep_alive = \"0s\"", "query.max_pit_keep_alive"),
        ] {
            let c: Config = toml::from_str(&format!("[query]\n{line}\n")).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}

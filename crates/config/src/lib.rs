//! loglynx configuration: the TOML file, its defaults and validation.
//!
//! Every field has a default, so an empty file (or none) is a working configuration. Command-line
//! flags override the file in the binary. `loglynx.example.toml` at the repository root is this
//! module rendered as a documented example; keep them in step.

mod size;
mod tcp_states;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use size::ByteSize;
pub use tcp_states::TcpStatesConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the store, its checkpoints and state live. Created when absent.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The name this machine gives its events (`host.name`) when a line names none.
    /// Default: the system hostname.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub files: FilesConfig,
    #[serde(default)]
    pub syslog: SyslogConfig,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub store: StoreConfig,
    /// The Kafka transport of the scale-out shape (`loglynx agent`, `loglynx worker`).
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// The TCP state monitor (`loglynx run --tcp-states`).
    #[serde(default)]
    pub tcp_states: TcpStatesConfig,
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config is valid")
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

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
    #[serde(default = "default_agent_listen", with = "opt_addr")]
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

fn default_http_listen() -> SocketAddr {
    "127.0.0.1:7700".parse().expect("valid literal")
}
fn default_max_body() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_agent_listen() -> Option<SocketAddr> {
    Some("127.0.0.1:7710".parse().expect("valid literal"))
}

/// Tailing files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Glob patterns of files to follow (`/var/log/*.log`, `/srv/app/**/*.log`). New files that
    /// match are picked up while running.
    #[serde(default)]
    pub include: Vec<String>,
    /// Glob patterns of files never to read (rotated archives such as `*.gz`).
    #[serde(default = "default_exclude")]
    pub exclude: Vec<String>,
    /// How often globs are re-evaluated and files checked for growth, rotation and truncation.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Lines longer than this are cut to this length and flagged `truncated`; the rest of the
    /// line is skipped.
    #[serde(default = "default_max_line")]
    pub max_line: ByteSize,
    /// Where to start in a file seen for the first time with no checkpoint: `beginning` or
    /// `end`. Files created while running are always read from the beginning.
    #[serde(default)]
    pub start_at: StartAt,
    /// Lines per batch sent into the pipeline.
    #[serde(default = "default_batch_lines")]
    pub batch_lines: usize,
    /// Bytes read at the start of a file to tell it apart from another file with the same
    /// device and inode (inode reuse after rotation).
    #[serde(default = "default_fingerprint")]
    pub fingerprint_bytes: usize,
    /// A file that no longer matches or was deleted is closed after this long without growth.
    #[serde(default = "default_close_inactive", with = "humantime_serde")]
    pub close_inactive: Duration,
}

impl Default for FilesConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    #[default]
    Beginning,
    End,
}

fn default_exclude() -> Vec<String> {
    vec!["*.gz".into(), "*.zip".into(), "*.bz2".into(), "*.xz".into()]
}
fn default_poll() -> Duration {
    Duration::from_millis(250)
}
fn default_max_line() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_batch_lines() -> usize {
    2048
}
fn default_fingerprint() -> usize {
    256
}
fn default_close_inactive() -> Duration {
    Duration::from_secs(300)
}

/// Syslog servers (RFC 3164 and RFC 5424).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// UDP listen address, `""` or `"off"` to disable. Default port 5514 (unprivileged; 514
    /// needs root).
    #[serde(default = "default_syslog_addr", with = "opt_addr")]
    pub udp: Option<SocketAddr>,
    /// TCP listen address (newline or octet-counting framing, RFC 6587), `""` or `"off"` to
    /// disable.
    #[serde(default = "default_syslog_addr", with = "opt_addr")]
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
}

impl Default for SyslogConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

/// An address that `""` or `"off"` switches off (TOML has no null).
mod opt_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match a {
            Some(a) => s.serialize_str(&a.to_string()),
            None => s.serialize_str("off"),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let t = String::deserialize(d)?;
        let t = t.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|e| {
            serde::de::Error::custom(format!("invalid address {t:?} ({e}): expected IP:PORT or \"off\""))
        })
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
fn default_syslog_linger() -> Duration {
    Duration::from_millis(100)
}

/// Parsing and the queues between stages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Batches that may wait between sources and the parser, and between the parser and the
    /// store. Bounded: when the store falls behind, sources slow down.
    #[serde(default = "default_queue")]
    pub queue_batches: usize,
    /// Keep the raw line in `event.original` (costs index space).
    #[serde(default)]
    pub keep_original: bool,
    /// Parser threads (0: one per core).
    #[serde(default)]
    pub parse_threads: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

fn default_queue() -> usize {
    16
}

/// The tantivy store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// How often new events are committed (and so become searchable and durable).
    #[serde(default = "default_commit", with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Length of a time window: a new index is started when the current one is this old
    /// (by ingest time) or `window_max_size` large. Whole windows are deleted by retention.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// A window is closed once its index reaches this size.
    #[serde(default = "default_window_max")]
    pub window_max_size: ByteSize,
    /// Delete windows whose newest event was ingested longer ago than this (0s: keep forever).
    #[serde(default = "default_retention_age", with = "humantime_serde")]
    pub retention_age: Duration,
    /// Delete the oldest windows while the store is larger than this (0: no limit).
    #[serde(default)]
    pub retention_size: ByteSize,
    /// Memory budget of the index writer (split over its threads).
    #[serde(default = "default_writer_memory")]
    pub writer_memory: ByteSize,
    /// Indexing threads (0: one per core, at most 4).
    #[serde(default)]
    pub writer_threads: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

fn default_commit() -> Duration {
    Duration::from_secs(1)
}
fn default_window() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_window_max() -> ByteSize {
    ByteSize(8 << 30)
}
fn default_retention_age() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_writer_memory() -> ByteSize {
    ByteSize(256 << 20)
}

/// The Kafka transport: agents produce raw records to a topic, workers consume it in one group.
///
/// Every field maps to a librdkafka property; `properties` overrides any of them (and sets any
/// other librdkafka property, see librdkafka's CONFIGURATION.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers (`bootstrap.servers`), e.g. `"kafka1:9092,kafka2:9092"`.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// The topic of raw records.
    #[serde(default = "default_topic")]
    pub topic: String,
    /// Partitions of the topic when the agent creates it (0: this machine's CPU cores).
    #[serde(default)]
    pub partitions: i32,
    /// Replication factor of the topic when the agent creates it.
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
    /// Topic `retention.ms` when the agent creates it (0s: the broker's default).
    #[serde(default = "default_topic_retention", with = "humantime_serde")]
    pub retention: Duration,
    /// Topic `retention.bytes` per partition when the agent creates it (0: the broker's default).
    #[serde(default)]
    pub retention_bytes: ByteSize,
    /// Producer `linger.ms`: how long records wait to fill a batch.
    #[serde(default = "default_linger", with = "humantime_serde")]
    pub linger: Duration,
    /// Producer `batch.size` in bytes.
    #[serde(default = "default_batch_size")]
    pub batch_size: ByteSize,
    /// Producer `compression.type`: none, gzip, lz4, zstd, snappy.
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Producer in-memory buffer: most records waiting for delivery
    /// (`queue.buffering.max.messages`). When full, sources wait (back-pressure).
    #[serde(default = "default_buffer_messages")]
    pub buffer_messages: u64,
    /// Producer in-memory buffer in bytes (`queue.buffering.max.kbytes`).
    #[serde(default = "default_buffer_size")]
    pub buffer_size: ByteSize,
    /// Consumer group of the workers (`group.id`).
    #[serde(default = "default_group")]
    pub group: String,
    /// Consumers per worker process, all in the one group (0: this machine's CPU cores).
    #[serde(default)]
    pub consumers: usize,
    /// Consumer `fetch.min.bytes`.
    #[serde(default = "default_fetch_min_bytes")]
    pub fetch_min_bytes: ByteSize,
    /// Consumer `fetch.wait.max.ms` (Kafka's `fetch.max.wait.ms`).
    #[serde(default = "default_fetch_max_wait", with = "humantime_serde")]
    pub fetch_max_wait: Duration,
    /// Consumer `max.poll.interval.ms`.
    #[serde(default = "default_max_poll_interval", with = "humantime_serde")]
    pub max_poll_interval: Duration,
    /// Consumer `session.timeout.ms`: how soon the group gives a dead worker's partitions away.
    #[serde(default = "default_session_timeout", with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Records per batch handed to a shard's pipeline (worker).
    #[serde(default = "default_consume_batch")]
    pub consume_batch: usize,
    /// Agent: capacity of the on-disk buffer (`<data_dir>/agent/spool/`) that takes batches
    /// while the brokers are unreachable or stalled, drained in order when they return. When
    /// full, files are read slower and HTTP ingest answers 503. 0 disables the buffer (batches
    /// then wait in memory, `buffer_messages` / `buffer_size`).
    #[serde(default = "default_spool_size")]
    pub spool_size: ByteSize,
    /// Agent: how long the oldest unconfirmed batch may wait for the brokers (or librdkafka's
    /// queue may stay full) before batches go to the on-disk buffer.
    #[serde(default = "default_spool_after", with = "humantime_serde")]
    pub spool_after: Duration,
    /// Any librdkafka property, applied last (producer, consumer and admin clients alike);
    /// e.g. `"security.protocol" = "ssl"`. An unknown property stops the start with its name.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_topic() -> String {
    "loglynx-raw".into()
}
fn default_replication() -> i32 {
    1
}
fn default_topic_retention() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_linger() -> Duration {
    Duration::from_millis(20)
}
fn default_batch_size() -> ByteSize {
    ByteSize(1 << 20)
}
fn default_compression() -> String {
    "lz4".into()
}
fn default_buffer_messages() -> u64 {
    100_000
}
fn default_buffer_size() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_group() -> String {
    "loglynx-workers".into()
}
fn default_fetch_min_bytes() -> ByteSize {
    ByteSize(1)
}
fn default_fetch_max_wait() -> Duration {
    Duration::from_millis(100)
}
fn default_max_poll_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_session_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_consume_batch() -> usize {
    1000
}
fn default_spool_size() -> ByteSize {
    ByteSize(1 << 30)
}
fn default_spool_after() -> Duration {
    Duration::from_secs(5)
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let cfg: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what types cannot: consistent values and the auth rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !self.http.listen.ip().is_loopback()
            && self.http.auth_token.as_deref().map_or(true, str::is_empty)
        {
            return bad(format!(
                "http.listen = {} is not a loopback address: set http.auth_token (or LOGLYNX_AUTH_TOKEN) so the API is not open to the network",
                self.http.listen
            ));
        }
        if self.store.commit_interval.is_zero() {
            return bad("store.commit_interval must be greater than 0".into());
        }
        if self.store.window < Duration::from_secs(60) {
            return bad("store.window must be at least 1m".into());
        }
        if self.pipeline.queue_batches == 0 {
            return bad("pipeline.queue_batches must be at least 1".into());
        }
        if self.files.batch_lines == 0 {
            return bad("files.batch_lines must be at least 1".into());
        }
        if self.files.max_line.0 < 1024 {
            return bad("files.max_line must be at least 1KiB".into());
        }
        if self.kafka.topic.trim().is_empty() {
            return bad("kafka.topic must not be empty".into());
        }
        if self.kafka.consume_batch == 0 {
            return bad("kafka.consume_batch must be at least 1".into());
        }
        if !matches!(self.kafka.compression.as_str(), "none" | "gzip" | "lz4" | "zstd" | "snappy") {
            return bad(format!(
                "kafka.compression = {:?}: use none, gzip, lz4, zstd or snappy",
                self.kafka.compression
            ));
        }
        for g in self.files.include.iter().chain(&self.files.exclude) {
            if let Err(e) = glob::Pattern::new(g) {
                return bad(format!("invalid glob {g:?} in files: {e}"));
            }
        }
        Ok(())
    }

    /// The host name for events: configured, or the system's.
    pub fn host_name(&self) -> String {
        if let Some(h) = &self.hostname {
            return h.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_working_defaults() {
        let c = Config::default();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.http.listen.ip().is_loopback());
        assert_eq!(c.store.commit_interval, Duration::from_secs(1));
        assert_eq!(c.syslog.udp.unwrap().port(), 5514);
        c.validate().unwrap();
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../loglynx.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let e = toml::from_str::<Config>("[store]\ncomit_interval = \"1s\"\n").unwrap_err();
        assert!(e.to_string().contains("comit_interval"), "{e}");
    }

    #[test]
    fn non_loopback_without_token_is_refused() {
        let c: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:7700\"\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("auth_token"), "{e}");
        let c: Config = toml::from_str("[http]\nlisten = \"0.0.0.0:7700\"\nauth_token = \"s3cret\"\n").unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn sizes_and_durations_read_like_a_human_writes_them() {
        let c: Config = toml::from_str(
            "[store]\nretention_size = \"10GiB\"\nretention_age = \"7d\"\nwindow = \"1h\"\n",
        )
        .unwrap();
        assert_eq!(c.store.retention_size.0, 10 << 30);
        assert_eq!(c.store.retention_age, Duration::from_secs(7 * 86400));
    }

    #[test]
    fn kafka_section_has_defaults_and_free_properties() {
        let c = Config::default();
        assert_eq!(c.kafka.compression, "lz4");
        assert_eq!(c.kafka.partitions, 0);
        assert_eq!(c.kafka.session_timeout, Duration::from_secs(10));
        let c: Config = toml::from_str(
            "[kafka]\nbrokers = \"k:9092\"\ncompression = \"zstd\"\n[kafka.properties]\n\"socket.keepalive.enable\" = \"true\"\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.kafka.brokers, "k:9092");
        assert_eq!(c.kafka.properties.get("socket.keepalive.enable").map(String::as_str), Some("true"));
        let c: Config = toml::from_str("[kafka]\ncompression = \"snappy\"\n").unwrap();
        c.validate().unwrap();
        let c: Config = toml::from_str("[kafka]\ncompression = \"lzma\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("kafka.compression"));
    }

    #[test]
    fn agent_http_defaults_beside_serve_and_can_be_switched_off() {
        let c = Config::default();
        assert_eq!(c.http.agent_listen, Some("127.0.0.1:7710".parse().unwrap()));
        assert_ne!(c.http.agent_listen, Some(c.http.listen));
        let c: Config = toml::from_str("[http]\nagent_listen = \"off\"\n").unwrap();
        assert!(c.http.agent_listen.is_none());
    }

    #[test]
    fn syslog_can_be_switched_off() {
        let c: Config = toml::from_str("[syslog]\nudp = \"off\"\ntcp = \"127.0.0.1:6514\"\n").unwrap();
        assert!(c.syslog.udp.is_none());
        assert_eq!(c.syslog.tcp.unwrap().port(), 6514);
    }
}

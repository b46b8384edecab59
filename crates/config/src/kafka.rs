//! `[kafka]`: the Kafka transport of the scale-out shape (`loglynx agent`, `loglynx worker`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::choice::{self, Choice};
use crate::{ByteSize, ConfigError};

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
    /// How every client (producer, consumer, admin) talks to the brokers
    /// (`security.protocol`): `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`. Certificates,
    /// the SASL mechanism and the credentials go in `properties` (`ssl.ca.location`,
    /// `sasl.mechanisms`, `sasl.username`, `sasl.password`); the SASL mechanisms PLAIN,
    /// SCRAM-SHA-256 and SCRAM-SHA-512 are built in (librdkafka with OpenSSL; GSSAPI is not).
    /// A `"security.protocol"` in `properties` overrides this field, as it does every field.
    #[serde(default = "default_security_protocol", deserialize_with = "security_protocol")]
    pub security_protocol: SecurityProtocol,
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
    #[serde(default = "default_compression", deserialize_with = "compression")]
    pub compression: Compression,
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
    /// Worker: join the group as a static member (`group.instance.id` = the host name, a hash
    /// of the data directory and the consumer's index), so a worker restarted within
    /// `session_timeout` gets its partitions back without a rebalance. A static member that
    /// stops cleanly does not leave the group either: its partitions wait `session_timeout`
    /// before they move. Off by default: Tansu 0.6 does not support it in practice (with two
    /// static workers, the first one's assignment was taken back as lost 1.5 s after it was given
    /// and no member held a partition for the next 40 s; its session check also runs only on
    /// requests of dynamic members). Turn it on with Apache Kafka or Redpanda.
    #[serde(default)]
    pub static_membership: bool,
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
    /// Any librdkafka property, applied last (producer, consumer and admin clients alike), so
    /// it overrides the fields above; e.g. `"socket.keepalive.enable" = "true"` or
    /// `"ssl.ca.location" = "/etc/ssl/ca.pem"`. An unknown property stops the start with its name.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl KafkaConfig {
    /// A topic to produce to and batches that hold a record.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.topic.trim().is_empty() {
            return bad("kafka.topic must not be empty");
        }
        if self.consume_batch == 0 {
            return bad("kafka.consume_batch must be at least 1");
        }
        Ok(())
    }
}

/// `kafka.compression`: the codec of the producer's record batches (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Uncompressed: the most bytes to the brokers (4.5x lz4 in docs/BENCHMARKS.md).
    None,
    /// gzip: 2.7x lz4's agent CPU for more bytes than zstd.
    Gzip,
    /// LZ4 (the default): cheap on CPU.
    Lz4,
    /// Zstandard: 45% fewer bytes than lz4 for ~6% more agent CPU; choose it when broker disk
    /// or network matters.
    Zstd,
    /// Snappy: as fast as none, a little larger than lz4.
    Snappy,
}

impl Compression {
    /// Every codec, in the order of the documentation.
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Lz4, Compression::Zstd, Compression::Snappy];
}

impl Choice for Compression {
    const ALL: &'static [Self] = &Compression::ALL;
    fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kafka.security_protocol`: how the clients talk to the brokers (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    /// No encryption, no authentication (the default).
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL authentication without encryption.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in the order of the documentation.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];
}

impl Choice for SecurityProtocol {
    const ALL: &'static [Self] = &SecurityProtocol::ALL;
    fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn compression<'de, D: Deserializer<'de>>(d: D) -> Result<Compression, D::Error> {
    choice::deserialize("kafka.compression", d)
}
fn security_protocol<'de, D: Deserializer<'de>>(d: D) -> Result<SecurityProtocol, D::Error> {
    choice::deserialize("kafka.security_protocol", d)
}

fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_security_protocol() -> SecurityProtocol {
    SecurityProtocol::Plaintext
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
fn default_compression() -> Compression {
    Compression::Lz4
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::choice::tests::spelled_like_serde;
    use crate::Config;

    #[test]
    fn kafka_section_has_defaults_and_free_properties() {
        let c = Config::default();
        assert_eq!(c.kafka.compression, Compression::Lz4);
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
        // Refused when parsed (it was refused by `validate` while the field was a string).
        let e = toml::from_str::<Config>("[kafka]\ncompression = \"lzma\"\n").unwrap_err();
        assert!(e.to_string().contains("kafka.compression"));
    }

    #[test]
    fn a_closed_setting_names_its_key_and_its_values_when_refused() {
        let e = toml::from_str::<Config>("[kafka]\ncompression = \"lzma\"\n").unwrap_err().to_string();
        assert!(e.contains("kafka.compression = \"lzma\": use none, gzip, lz4, zstd or snappy"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = toml::from_str::<Config>("[kafka]\nsecurity_protocol = \"tls\"\n").unwrap_err().to_string();
        assert!(
            e.contains("kafka.security_protocol = \"tls\": use plaintext, ssl, sasl_plaintext or sasl_ssl"),
            "{e}"
        );
        // Spelled exactly as documented: no other case.
        assert!(toml::from_str::<Config>("[kafka]\ncompression = \"LZ4\"\n").is_err());
    }

    #[test]
    fn security_protocol_defaults_to_plaintext_and_takes_every_value() {
        assert_eq!(Config::default().kafka.security_protocol, SecurityProtocol::Plaintext);
        for p in SecurityProtocol::ALL {
            let c: Config = toml::from_str(&format!("[kafka]\nsecurity_protocol = \"{p}\"\n")).unwrap();
            assert_eq!(c.kafka.security_protocol, p);
        }
        let c: Config = toml::from_str("[kafka]\nsecurity_protocol = \"sasl_ssl\"\n").unwrap();
        assert_eq!(c.kafka.security_protocol, SecurityProtocol::SaslSsl);
    }

    #[test]
    fn choices_are_spelled_as_serde_spells_them() {
        spelled_like_serde::<Compression>();
        spelled_like_serde::<SecurityProtocol>();
    }
}

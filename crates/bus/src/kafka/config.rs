//! librdkafka client configurations built from `[kafka]`; `kafka.properties` is applied last,
//! so any property can be overridden. librdkafka checks names and values when a client is
//! created: an unknown property becomes [`crate::BusError::Property`] naming it.

use std::time::Duration;

use loglynx_config::{Compression, KafkaConfig, SecurityProtocol};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;

fn ms(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

/// librdkafka's `compression.type` value of `kafka.compression`.
fn compression_type(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
        Compression::Snappy => "snappy",
    }
}

/// librdkafka's `security.protocol` value of `kafka.security_protocol`.
fn security_protocol(p: SecurityProtocol) -> &'static str {
    match p {
        SecurityProtocol::Plaintext => "plaintext",
        SecurityProtocol::Ssl => "ssl",
        SecurityProtocol::SaslPlaintext => "sasl_plaintext",
        SecurityProtocol::SaslSsl => "sasl_ssl",
    }
}

/// What every client shares: the brokers and how to reach them. A `"security.protocol"` in
/// `kafka.properties` overrides `kafka.security_protocol`, as properties override every field.
fn base(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    c.set("security.protocol", security_protocol(cfg.security_protocol));
    c.set("client.id", "loglynx");
    c
}

fn overrides(mut c: ClientConfig, cfg: &KafkaConfig) -> ClientConfig {
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    c
}

/// The producer: idempotent, acks=all, batching, compression and a bounded in-memory buffer.
pub fn producer_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = base(cfg);
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", ms(cfg.linger))
        .set(
            "batch.size",
            cfg.batch_size.0.min(i32::MAX as u64).to_string(),
        )
        .set("compression.type", compression_type(cfg.compression))
        .set(
            "queue.buffering.max.messages",
            cfg.buffer_messages.clamp(1, 2_147_483_647).to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            (cfg.buffer_size.0 / 1024)
                .clamp(1, 2_147_483_647)
                .to_string(),
        )
        // Retry for as long as it takes: a record is either delivered or the agent stops.
        .set("message.timeout.ms", "0")
        // The Java client's partitioner (murmur2). librdkafka's default (CRC32) maps keys that
        // differ only in the last characters to one partition: `host|file:/var/log/a1.log` ..
        // `a4.log` all landed on partition 0 of 2, leaving the other consumer idle.
        .set("partitioner", "murmur2_random")
        // A record that fails after later ones of its partition succeeded stops the producer
        // instead of leaving a gap: the workers skip records below what they have stored, so a
        // gap filled later would be skipped.
        .set("enable.gapless.guarantee", "true");
    overrides(c, cfg)
}

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// The producer's `message.max.bytes` (from `[kafka.properties]`, else librdkafka's default):
/// librdkafka refuses a larger record before sending it.
pub(crate) fn max_message_bytes(cfg: &KafkaConfig) -> usize {
    cfg.properties
        .get("message.max.bytes")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MESSAGE_MAX_BYTES)
}

/// Producer properties whose value the delivery guarantees depend on, with the value required.
const REQUIRED: [(&str, &[&str]); 3] = [
    ("enable.idempotence", &["true"]),
    ("acks", &["all", "-1"]),
    ("enable.gapless.guarantee", &["true"]),
];

/// Refuses `kafka.properties` that would break the agent's guarantees (ordered, gapless,
/// acknowledged by every in-sync replica): the workers' exactly-once depends on them.
pub fn check_producer_overrides(cfg: &KafkaConfig) -> Result<(), crate::BusError> {
    for (key, allowed) in REQUIRED {
        if let Some(v) = cfg.properties.get(key) {
            if !allowed.contains(&v.trim().to_ascii_lowercase().as_str()) {
                return Err(crate::BusError::Property {
                    key: key.to_string(),
                    value: v.clone(),
                    reason: format!(
                        "loglynx needs {key} = {}: without it records can be lost or reordered, and the workers' exactly-once relies on ordered, gapless delivery; remove it from [kafka.properties]",
                        allowed[0]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A consumer of `group`: cooperative-sticky assignment, no auto commit (the store holds the
/// positions; offsets go back to Kafka only for lag tools), the fetch and liveness settings.
pub fn consumer_config(cfg: &KafkaConfig, group: &str) -> ClientConfig {
    let mut c = base(cfg);
    c.set("group.id", group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set(
            "fetch.min.bytes",
            cfg.fetch_min_bytes.0.clamp(1, 100_000_000).to_string(),
        )
        .set("fetch.wait.max.ms", ms(cfg.fetch_max_wait))
        .set("max.poll.interval.ms", ms(cfg.max_poll_interval))
        .set("session.timeout.ms", ms(cfg.session_timeout))
        .set("heartbeat.interval.ms", ms(cfg.session_timeout / 5))
        // A worker started before the agent created the topic sees it within seconds, not at
        // librdkafka's default 5 minute refresh.
        .set("topic.metadata.refresh.interval.ms", "5000");
    overrides(c, cfg)
}

/// A consumer without a group that reads partitions it is given (the side topics every
/// process reads whole): it reports the end of each partition.
pub fn reader_config(cfg: &KafkaConfig) -> ClientConfig {
    static READERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut c = base(cfg);
    // librdkafka assigns only in a consumer with a group; this one never joins it (no
    // subscribe, no commit), so a name of its own is enough.
    let n = READERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    c.set("group.id", format!("loglynx-reader-{}-{n}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "100");
    overrides(c, cfg)
}

/// The admin client (topic creation).
pub fn admin_config(cfg: &KafkaConfig) -> ClientConfig {
    overrides(base(cfg), cfg)
}

/// Sends librdkafka's own logs and errors to `tracing`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        log_line(level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        log_error(error, reason);
    }
}

pub(crate) fn log_line(level: RDKafkaLogLevel, fac: &str, msg: &str) {
    // loglynx sets this property on purpose (see producer_config): not worth a warning at
    // every start.
    if fac == "CONFWARN" && msg.contains("enable.gapless.guarantee is experimental") {
        tracing::debug!(target: "librdkafka", "{fac}: {msg}");
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", "{fac}: {msg}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", "{fac}: {msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", "{fac}: {msg}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac}: {msg}"),
    }
}

pub(crate) fn log_error(error: KafkaError, reason: &str) {
    // The end of a partition is news to the readers that ask for it, not an error.
    if matches!(&error, KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)) {
        return;
    }
    tracing::warn!(target: "librdkafka", "kafka client error: {error}: {reason}");
}

#[cfg(test)]
mod tests {
    use rdkafka::producer::FutureProducer;

    use super::*;
    use crate::BusError;

    #[test]
    fn an_unknown_property_is_named_in_the_error() {
        let mut cfg = KafkaConfig::default();
        cfg.properties.insert("no.such.property".into(), "1".into());
        let e = producer_config(&cfg)
            .create_with_context::<_, FutureProducer<LogContext>>(LogContext)
            .map_err(|e| BusError::kafka("producer", e))
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(matches!(e, BusError::Property { .. }), "{msg}");
        assert!(
            msg.contains("no.such.property") && msg.contains("kafka.properties"),
            "{msg}"
        );
    }

    #[test]
    fn overrides_that_break_the_guarantees_are_refused_by_name() {
        let mut cfg = KafkaConfig::default();
        assert!(check_producer_overrides(&cfg).is_ok());
        cfg.properties.insert("acks".into(), "-1".into());
        assert!(check_producer_overrides(&cfg).is_ok());
        for (k, v) in [("enable.idempotence", "false"), ("acks", "1"), ("enable.gapless.guarantee", "false")] {
            let mut cfg = KafkaConfig::default();
            cfg.properties.insert(k.into(), v.into());
            let msg = check_producer_overrides(&cfg).unwrap_err().to_string();
            assert!(msg.contains(k) && msg.contains("remove it"), "{msg}");
        }
    }

    #[test]
    fn typed_fields_become_librdkafka_values() {
        assert_eq!(producer_config(&KafkaConfig::default()).get("compression.type"), Some("lz4"));
        let cfg = KafkaConfig {
            compression: Compression::None,
            ..KafkaConfig::default()
        };
        assert_eq!(producer_config(&cfg).get("compression.type"), Some("none"));
        // security.protocol on every client: producer, consumer, admin (and watermarks).
        let cfg = KafkaConfig::default();
        assert_eq!(producer_config(&cfg).get("security.protocol"), Some("plaintext"));
        let cfg = KafkaConfig {
            security_protocol: SecurityProtocol::SaslSsl,
            ..KafkaConfig::default()
        };
        assert_eq!(producer_config(&cfg).get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(consumer_config(&cfg, "g").get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(admin_config(&cfg).get("security.protocol"), Some("sasl_ssl"));
        // ... unless kafka.properties says otherwise.
        let mut cfg = cfg;
        cfg.properties.insert("security.protocol".into(), "ssl".into());
        assert_eq!(consumer_config(&cfg, "g").get("security.protocol"), Some("ssl"));
        assert_eq!(admin_config(&cfg).get("security.protocol"), Some("ssl"));
    }

    #[test]
    fn every_security_protocol_starts_or_is_refused_by_name() {
        let create = |cfg: &KafkaConfig| {
            producer_config(cfg)
                .create_with_context::<_, FutureProducer<LogContext>>(LogContext)
                .map(|_| ())
                .map_err(|e| BusError::kafka("producer", e))
        };
        let with = |p: SecurityProtocol| KafkaConfig {
            security_protocol: p,
            ..KafkaConfig::default()
        };
        create(&with(SecurityProtocol::Plaintext)).unwrap();
        // SASL PLAIN is built in (the default mechanism, GSSAPI, needs libsasl2).
        let mut cfg = with(SecurityProtocol::SaslPlaintext);
        for (k, v) in [("sasl.mechanisms", "PLAIN"), ("sasl.username", "u"), ("sasl.password", "p")] {
            cfg.properties.insert(k.into(), v.into());
        }
        create(&cfg).unwrap();
        // TLS needs a librdkafka built with OpenSSL (rdkafka's "ssl" feature, off in this
        // build): without it the start stops with the property named.
        for p in [SecurityProtocol::Ssl, SecurityProtocol::SaslSsl] {
            if let Err(e) = create(&with(p)) {
                let msg = e.to_string();
                assert!(matches!(e, BusError::Property { .. }), "{msg}");
                assert!(msg.contains("security.protocol"), "{msg}");
            }
        }
    }

    #[test]
    fn properties_override_the_typed_fields() {
        let mut cfg = KafkaConfig::default();
        cfg.properties
            .insert("compression.type".into(), "zstd".into());
        let c = producer_config(&cfg);
        assert_eq!(c.get("compression.type"), Some("zstd"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("partitioner"), Some("murmur2_random"));
        assert_eq!(c.get("enable.gapless.guarantee"), Some("true"));
        let c = consumer_config(&KafkaConfig::default(), "g");
        assert_eq!(
            c.get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("session.timeout.ms"), Some("10000"));
        // Every compression the config accepts is built into this librdkafka.
        for codec in Compression::ALL {
            let cfg = KafkaConfig {
                compression: codec,
                ..KafkaConfig::default()
            };
            let _producer = producer_config(&cfg)
                .create_with_context::<_, FutureProducer<LogContext>>(LogContext)
                .unwrap_or_else(|e| panic!("{codec}: {e}"));
        }
        // Every default must be accepted by librdkafka.
        let _ = producer_config(&KafkaConfig::default())
            .create_with_context::<_, FutureProducer<LogContext>>(LogContext)
            .unwrap();
    }
}

/// Consumers without rebalance work of their own (the side topics' readers) use librdkafka's
/// default assignment handling.
impl rdkafka::consumer::ConsumerContext for LogContext {}

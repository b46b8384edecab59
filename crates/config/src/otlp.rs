//! `[otlp]`: OpenTelemetry logs (OTLP). OTLP/HTTP (`POST /v1/logs`) is always served on the
//! HTTP ingest addresses (`http.listen` under `run`, `http.agent_listen` under `agent`); this
//! section adds the OTLP/gRPC listener and the limits both transports apply per log record.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::{ByteSize, ConfigError};

/// OpenTelemetry logs (OTLP/HTTP and OTLP/gRPC).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// OTLP/gRPC listen address (OpenTelemetry's usual port is 4317), or `""` / `"off"`. Off by
    /// default. Requests follow the HTTP API's credentials: once an API key exists (or
    /// `http.auth_token` is set) each needs the metadata `authorization: Bearer <key>` with a
    /// key of scope `ingest` or `admin` (or the token); an address that is not loopback
    /// requires a key or the token.
    #[serde(default, with = "crate::opt_addr")]
    pub grpc: Option<SocketAddr>,
    /// Most attributes kept per log record (resource, scope and record attributes together);
    /// the others are dropped and counted in the label `otel.dropped_attributes_count`.
    #[serde(default = "default_max_attributes")]
    pub max_attributes: usize,
    /// Longest attribute value kept; longer values are cut to it.
    #[serde(default = "default_max_value")]
    pub max_value: ByteSize,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        toml::from_str("").expect("empty section is valid")
    }
}

impl OtlpConfig {
    /// Limits that keep a record usable.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attributes == 0 || self.max_value.0 == 0 {
            return Err(ConfigError::Invalid(
                "otlp.max_attributes and otlp.max_value must be above 0: raise them (defaults 128 and 8KiB)".into(),
            ));
        }
        Ok(())
    }
}

fn default_max_attributes() -> usize {
    128
}
fn default_max_value() -> ByteSize {
    ByteSize(8 << 10)
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn grpc_is_off_by_default_and_limits_are_checked() {
        let c = Config::default();
        assert!(c.otlp.grpc.is_none());
        assert_eq!(c.otlp.max_attributes, 128);
        let c: Config = toml::from_str("[otlp]\ngrpc = \"127.0.0.1:4317\"\nmax_attributes = 0\n").unwrap();
        assert_eq!(c.otlp.grpc.unwrap().port(), 4317);
        assert!(c.validate().unwrap_err().to_string().contains("otlp.max_attributes"));
    }

    #[test]
    fn grpc_off_loopback_needs_a_key_or_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("data_dir = {:?}\n[otlp]\ngrpc = \"0.0.0.0:4317\"\n", dir.path());
        let c: Config = toml::from_str(&text).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("otlp.grpc") && e.contains("loglynx keys add"), "{e}");
        // A key file in the data directory is enough, as for http.listen.
        std::fs::write(dir.path().join(crate::KEYS_FILE), "{\"keys\": []}").unwrap();
        c.validate().unwrap();
    }
}

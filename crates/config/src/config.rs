//! [`Config`]: the whole file, how it is read and how it is checked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    ConfigError, DetectConfig, FilesConfig, HttpConfig, JournaldConfig, KafkaConfig, OtlpConfig, PatternsConfig, PipelineConfig, QueryConfig,
    StoreConfig, SyslogConfig, TcpStatesConfig,
};

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
    /// The HTTP API, ingest endpoints and dashboard.
    #[serde(default)]
    pub http: HttpConfig,
    /// Tailing files.
    #[serde(default)]
    pub files: FilesConfig,
    /// The syslog servers.
    #[serde(default)]
    pub syslog: SyslogConfig,
    /// OpenTelemetry logs: the OTLP/gRPC listener and the per-record limits.
    #[serde(default)]
    pub otlp: OtlpConfig,
    /// The systemd journal as a source.
    #[serde(default)]
    pub journald: JournaldConfig,
    /// Parsing and the queues between stages.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// What one query may cost: its time, how many run at once, terms cardinality.
    #[serde(default)]
    pub query: QueryConfig,
    /// The tantivy store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The Kafka transport of the scale-out shape (`loglynx agent`, `loglynx worker`).
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// The TCP state monitor (`loglynx run --tcp-states`).
    #[serde(default)]
    pub tcp_states: TcpStatesConfig,
    /// Sigma rules, correlation and alerts.
    #[serde(default)]
    pub detect: DetectConfig,
    /// Log pattern mining.
    #[serde(default)]
    pub patterns: PatternsConfig,
    /// A worker's internal search API (`loglynx worker --search-listen`).
    #[serde(default)]
    pub search: crate::SearchConfig,
    /// `loglynx serve` as the root of a search across machines (leaves, catalog).
    #[serde(default)]
    pub serve: crate::ServeConfig,
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config is valid")
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let cfg: Config =
            toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what types cannot: consistent values and the auth rule, section by section.
    /// `tcp_states` is checked by `loglynx run` when the monitor is on
    /// ([`TcpStatesConfig::validate`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate(&self.data_dir)?;
        self.store.validate()?;
        self.pipeline.validate()?;
        self.query.validate()?;
        self.files.validate()?;
        self.syslog.validate()?;
        self.kafka.validate()?;
        self.detect.validate()?;
        self.otlp.validate()?;
        self.journald.validate()?;
        if let Some(addr) = self.otlp.grpc {
            if !addr.ip().is_loopback() && !self.http.has_credentials(&self.data_dir) {
                return Err(ConfigError::Invalid(format!(
                    "otlp.grpc = {addr} is not a loopback address: create an API key (`loglynx keys add NAME --scope ingest --data-dir {}`) or set http.auth_token (or LOGLYNX_AUTH_TOKEN) so OTLP ingest is not open to the network",
                    self.data_dir.display()
                )));
            }
        }
        self.patterns.validate()?;
        self.search.validate()?;
        self.serve.validate()?;
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
    use std::time::Duration;

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
    fn packaged_config_parses() {
        // /etc/loglynx/loglynx.toml of the Debian package (pkg/deb/, scripts/deb.sh).
        let c: Config = toml::from_str(include_str!("../../../pkg/deb/loglynx.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/loglynx"));
        assert!(c.journald.enabled);
    }

    #[test]
    fn example_file_sets_every_key() {
        let example: toml::Table = toml::from_str(include_str!("../../../loglynx.example.toml")).unwrap();
        let defaults: toml::Table = toml::from_str(&toml::to_string(&Config::default()).unwrap()).unwrap();
        for (section, value) in &defaults {
            let Some(keys) = value.as_table() else {
                assert!(example.contains_key(section), "loglynx.example.toml lacks {section}");
                continue;
            };
            for key in keys.keys() {
                let documented = example.get(section).and_then(|s| s.get(key)).is_some();
                assert!(documented, "loglynx.example.toml lacks {section}.{key}");
            }
        }
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let e = toml::from_str::<Config>("[store]\ncomit_interval = \"1s\"\n").unwrap_err();
        assert!(e.to_string().contains("comit_interval"), "{e}");
    }

    #[test]
    fn load_names_the_file_and_the_line() {
        let dir = std::env::temp_dir().join(format!("loglynx-config-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[kafka]\ncompresion = \"lz4\"\n").unwrap();
        let e = Config::load(&path).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Parse { .. }), "{msg}");
        assert!(msg.contains("bad.toml") && msg.contains("line 2") && msg.contains("compresion"), "{msg}");
        let e = Config::load(&dir.join("absent.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
        assert!(e.to_string().contains("--config"), "{e}");
        std::fs::write(&path, "[kafka]\ncompression = \"brotli\"\n").unwrap();
        let msg = Config::load(&path).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("kafka.compression = \"brotli\""), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! loglynx configuration: the TOML file, its defaults and validation.
//!
//! Every field has a default, so an empty file (or none) is a working configuration. Command-line
//! flags override the file in the binary. `loglynx.example.toml` at the repository root is this
//! crate rendered as a documented example; keep them in step.
//!
//! One module per section of the file, each with its defaults and its checks;
//! [`Config::validate`] runs them all.

mod choice;
mod config;
mod detect;
mod error;
mod files;
mod http;
mod journald;
mod kafka;
mod layout;
mod opt_addr;
mod otlp;
mod patterns;
mod pipeline;
mod search;
mod query;
mod size;
mod store;
mod syslog;
mod tcp_states;
mod zone;

pub use config::Config;
pub use detect::{DetectConfig, NotifyConfig};
pub use error::ConfigError;
pub use files::{FilesConfig, Multiline, StartAt, ZoneRule};
pub use http::{HttpConfig, KEYS_FILE};
pub use journald::JournaldConfig;
pub use kafka::{Compression, KafkaConfig, SecurityProtocol};
pub use layout::{LayoutRule, StreamLayoutRule, LAYOUT_GROUPS};
pub use opt_addr::parse_opt_addr;
pub use otlp::OtlpConfig;
pub use patterns::PatternsConfig;
pub use pipeline::{PipelineConfig, DEFAULT_LEARNED_SOURCES};
pub use search::{SearchConfig, ServeConfig};
pub use query::QueryConfig;
pub use size::ByteSize;
pub use store::StoreConfig;
pub use syslog::SyslogConfig;
pub use tcp_states::TcpStatesConfig;
pub use zone::Zone;

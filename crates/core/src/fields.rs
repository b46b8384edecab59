//! ECS-style field names, the one place they are spelled.
//!
//! The store's schema, the query language, the API's JSON and the dashboard all use these names.

pub const TIMESTAMP: &str = "@timestamp";
pub const EVENT_INGESTED: &str = "event.ingested";
pub const EVENT_ID: &str = "event.id";
pub const EVENT_DATASET: &str = "event.dataset";
pub const EVENT_ORIGINAL: &str = "event.original";
pub const HOST_NAME: &str = "host.name";
pub const LOG_FILE_PATH: &str = "log.file.path";
pub const LOG_LEVEL: &str = "log.level";
pub const LOG_SYSLOG_FACILITY: &str = "log.syslog.facility.code";
pub const LOG_SYSLOG_SEVERITY: &str = "log.syslog.severity.code";
/// Flags set by the pipeline on events it could not fully handle (see [`crate::EventFlags`]).
pub const LOG_FLAGS: &str = "log.flags";
pub const SERVICE_NAME: &str = "service.name";
pub const PROCESS_NAME: &str = "process.name";
pub const PROCESS_PID: &str = "process.pid";
pub const MESSAGE: &str = "message";
pub const SOURCE_IP: &str = "source.ip";
pub const SOURCE_PORT: &str = "source.port";
pub const DESTINATION_IP: &str = "destination.ip";
pub const DESTINATION_PORT: &str = "destination.port";
pub const USER_NAME: &str = "user.name";
pub const PATTERN_ID: &str = "pattern.id";
pub const NETWORK_TRANSPORT: &str = "network.transport";
pub const TCP_OLD_STATE: &str = "tcp.old_state";
pub const TCP_NEW_STATE: &str = "tcp.new_state";
pub const TCP_STATE_DURATION_US: &str = "tcp.state_duration_us";
/// Prefix of free-form labels: `labels.<key>`.
pub const LABELS_PREFIX: &str = "labels.";

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
/// What happened, as a short snake_case verb phrase set by the decoders (`ssh_login`,
/// `session_opened`, `user_added`, `firewall_block`, ...).
pub const EVENT_ACTION: &str = "event.action";
/// `success`, `failure` or `unknown`.
pub const EVENT_OUTCOME: &str = "event.outcome";
/// ECS category: `authentication`, `session`, `iam`, `process`, `network`, `web`.
pub const EVENT_CATEGORY: &str = "event.category";
/// The user a command runs as (sudo's `USER=`, su's target).
pub const USER_EFFECTIVE_NAME: &str = "user.effective.name";
/// The account an administrative action is about (useradd, usermod, passwd, ...).
pub const USER_TARGET_NAME: &str = "user.target.name";
pub const GROUP_NAME: &str = "group.name";
pub const PROCESS_COMMAND_LINE: &str = "process.command_line";
/// The client's host name when the line names it instead of an address (pam `rhost=`).
pub const SOURCE_DOMAIN: &str = "source.domain";
/// The systemd unit a line is about (`nginx.service`), as journald's field.
pub const SYSTEMD_UNIT: &str = "systemd.unit";
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub const URL_ORIGINAL: &str = "url.original";
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
pub const TCP_OLD_STATE: &str = "tcp.old_state";
pub const TCP_NEW_STATE: &str = "tcp.new_state";
pub const TCP_STATE_DURATION_US: &str = "tcp.state_duration_us";
// Connection lifetimes (`event.dataset: network.connection`).
/// Bytes sent by the side that connected.
pub const SOURCE_BYTES: &str = "source.bytes";
/// Bytes sent by the side that accepted.
pub const DESTINATION_BYTES: &str = "destination.bytes";
pub const NETWORK_BYTES: &str = "network.bytes";
/// Nanoseconds.
pub const EVENT_DURATION: &str = "event.duration";
pub const TCP_RETRANSMITS: &str = "tcp.retransmits";
pub const TCP_SRTT_US: &str = "tcp.srtt_us";
// Performance summaries (`event.dataset: network.perf`).
/// Packets the kernel dropped (a count over the event's interval).
pub const NETWORK_DROPS: &str = "network.drops";
/// Why the kernel dropped them (its `kfree_skb` drop reason name, `NO_SOCKET`).
pub const NETWORK_DROP_REASON: &str = "network.drop.reason";
/// The ids of the detection rules an event matched (several when several matched), and on an
/// alert event the id of the rule that raised it. Set by the detection stage.
pub const RULE_ID: &str = "rule.id";
/// The names (or titles) of the rules of [`RULE_ID`], in the same order.
pub const RULE_NAME: &str = "rule.name";
/// On an alert event (`event.dataset: loglynx.alert`): the alert's id, stable across replays.
pub const ALERT_ID: &str = "alert.id";
/// The Kafka partition a worker consumed the event from (absent for events `run` stored
/// directly). With [`KAFKA_OFFSET`] it names the event's place in the topic: the coordinate
/// handover and the search root's offset cover use to count each record once.
pub const KAFKA_PARTITION: &str = "kafka.partition";
/// The offset of the record in its [`KAFKA_PARTITION`] (absent outside a Kafka worker).
pub const KAFKA_OFFSET: &str = "kafka.offset";
/// Prefix of free-form labels: `labels.<key>`.
pub const LABELS_PREFIX: &str = "labels.";

//! Which event field a structured key (JSON, logfmt) fills: ECS names, flat dotted or nested,
//! and common aliases. Everything else becomes a label.
//!
//! Beside the ECS names: a time held in MongoDB Extended JSON's `{"$date": ...}` under any key;
//! the short keys of MongoDB 4.4+'s structured log (`s` severity, `c` component, `ctx` thread),
//! taken only when their value fits (a level word, one word), else labels as written; logger
//! and thread names (`logger`, `logger_name`, `component`, `thread`, `thread_name`) as labels
//! `log.logger` and `process.thread.name`.

use loglynx_core::Event;

use super::level;
use super::scan::parse_u32;
use super::timestamp::{self, TsField};

/// The target of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `@timestamp` and aliases; lower rank wins when several are present.
    Timestamp(u8),
    /// `message` and aliases; lower rank wins.
    Message(u8),
    Level,
    /// A short key that is a level only when its value is a level word (MongoDB's `"s":"I"`);
    /// else a label.
    LevelWord,
    /// Label `log.logger`: a logger, class or component name (one word).
    Logger,
    /// Label `process.thread.name` (one word).
    Thread,
    Host,
    Service,
    ProcessName,
    Pid,
    Dataset,
    FilePath,
    SourceIp,
    SourcePort,
    DestinationIp,
    DestinationPort,
    UserName,
    Transport,
    /// A keyword field the decoders also set (`event.outcome`, `group.name`, ...).
    Keyword(KeywordField),
    HttpStatus,
    /// A non-negative count of the network monitor's events (`source.bytes`, ...).
    Count(CountField),
    Facility,
    Severity,
    /// `labels.<key>`: the label `<key>`.
    Label,
    /// Any other key: a label with the key as written.
    Other,
}

/// The counts of [`Event`] (numeric fields) that structured records may name directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountField {
    SourceBytes,
    DestinationBytes,
    NetworkBytes,
    Duration,
    TcpRetransmits,
    TcpSrttUs,
    NetworkDrops,
}

impl CountField {
    fn set(self, ev: &mut Event, n: u64) {
        let f = match self {
            CountField::SourceBytes => &mut ev.source_bytes,
            CountField::DestinationBytes => &mut ev.destination_bytes,
            CountField::NetworkBytes => &mut ev.network_bytes,
            CountField::Duration => &mut ev.duration_ns,
            CountField::TcpRetransmits => &mut ev.tcp_retransmits,
            CountField::TcpSrttUs => &mut ev.tcp_srtt_us,
            CountField::NetworkDrops => &mut ev.network_drops,
        };
        *f = Some(n);
    }
}

/// The string fields of [`Event`] that structured records may name directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeywordField {
    Action,
    Outcome,
    Category,
    UserEffective,
    UserTarget,
    Group,
    CommandLine,
    SourceDomain,
    SystemdUnit,
    HttpMethod,
    Url,
    UserAgent,
    DropReason,
}

impl KeywordField {
    fn set(self, ev: &mut Event, v: String) {
        match self {
            KeywordField::Action => ev.action = Some(v.into()),
            KeywordField::Outcome => ev.outcome = Some(v.into()),
            KeywordField::Category => ev.category = Some(v.into()),
            KeywordField::UserEffective => ev.user_effective_name = Some(v),
            KeywordField::UserTarget => ev.user_target_name = Some(v),
            KeywordField::Group => ev.group_name = Some(v),
            KeywordField::CommandLine => ev.command_line = Some(v),
            KeywordField::SourceDomain => ev.source_domain = Some(v),
            KeywordField::SystemdUnit => ev.systemd_unit = Some(v),
            KeywordField::HttpMethod => ev.http_method = Some(v),
            KeywordField::Url => ev.url_original = Some(v),
            KeywordField::UserAgent => ev.user_agent = Some(v),
            KeywordField::DropReason => ev.network_drop_reason = Some(v),
        }
    }
}

/// Maps a full dotted key.
pub(crate) fn classify(key: &str) -> Target {
    match key {
        "@timestamp" => Target::Timestamp(0),
        "timestamp" => Target::Timestamp(1),
        "time" => Target::Timestamp(2),
        "ts" => Target::Timestamp(3),
        // MongoDB Extended JSON's date wrapper (`"t":{"$date":"2024-..."}`): a time whatever
        // the key that holds it, after the named ones.
        k if k.ends_with(".$date") => Target::Timestamp(4),
        "message" => Target::Message(0),
        "msg" => Target::Message(1),
        "log" => Target::Message(2),
        "log.level" | "level" | "severity" | "lvl" | "loglevel" | "levelname" => Target::Level,
        "s" => Target::LevelWord,
        "log.logger" | "logger" | "logger_name" | "component" | "c" => Target::Logger,
        "process.thread.name" | "thread" | "thread_name" | "ctx" => Target::Thread,
        "host.name" | "host" | "hostname" | "host.hostname" => Target::Host,
        "service.name" | "service" | "app" => Target::Service,
        "process.name" | "process" | "program" => Target::ProcessName,
        "process.pid" | "pid" => Target::Pid,
        "event.dataset" => Target::Dataset,
        "log.file.path" => Target::FilePath,
        "source.ip" => Target::SourceIp,
        "source.port" => Target::SourcePort,
        "destination.ip" => Target::DestinationIp,
        "destination.port" => Target::DestinationPort,
        "user.name" | "user" | "username" => Target::UserName,
        "network.transport" => Target::Transport,
        "event.action" => Target::Keyword(KeywordField::Action),
        "event.outcome" => Target::Keyword(KeywordField::Outcome),
        "event.category" => Target::Keyword(KeywordField::Category),
        "user.effective.name" => Target::Keyword(KeywordField::UserEffective),
        "user.target.name" => Target::Keyword(KeywordField::UserTarget),
        "group.name" => Target::Keyword(KeywordField::Group),
        "process.command_line" => Target::Keyword(KeywordField::CommandLine),
        "source.domain" => Target::Keyword(KeywordField::SourceDomain),
        "systemd.unit" => Target::Keyword(KeywordField::SystemdUnit),
        "http.request.method" => Target::Keyword(KeywordField::HttpMethod),
        "url.original" => Target::Keyword(KeywordField::Url),
        "user_agent.original" => Target::Keyword(KeywordField::UserAgent),
        "http.response.status_code" => Target::HttpStatus,
        "source.bytes" => Target::Count(CountField::SourceBytes),
        "destination.bytes" => Target::Count(CountField::DestinationBytes),
        "network.bytes" => Target::Count(CountField::NetworkBytes),
        "event.duration" => Target::Count(CountField::Duration),
        "tcp.retransmits" => Target::Count(CountField::TcpRetransmits),
        "tcp.srtt_us" => Target::Count(CountField::TcpSrttUs),
        "network.drops" => Target::Count(CountField::NetworkDrops),
        "network.drop.reason" => Target::Keyword(KeywordField::DropReason),
        "log.syslog.facility.code" => Target::Facility,
        "log.syslog.severity.code" => Target::Severity,
        k if k.starts_with("labels.") => Target::Label,
        _ => Target::Other,
    }
}

/// Label `name` when `text` is one word (a logger, a thread), else the label `key` as written.
fn one_word_label(ev: &mut Event, name: &str, key: &str, text: String) {
    let word = !text.is_empty() && text.len() <= 128 && !text.contains([' ', '\t', '\n']);
    ev.labels.insert(if word { name } else { key }.to_string(), text);
}

/// Collects the fields of one structured record, then writes them into the event.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Rank, value read, text, key.
    ts: Option<(u8, TsField, String, String)>,
    msg: Option<(u8, String)>,
}

const MSG_KEYS: [&str; 3] = ["message", "msg", "log"];

/// A value as the collector sees it: text, or a number.
pub(crate) enum Val<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
}

impl Val<'_> {
    fn to_text(&self) -> String {
        match self {
            Val::Text(s) => (*s).to_string(),
            Val::Int(n) => n.to_string(),
            Val::Float(f) => f.to_string(),
        }
    }
    fn as_u64(&self) -> Option<u64> {
        match self {
            Val::Text(s) => parse_u32(s.trim()).map(u64::from),
            Val::Int(n) => u64::try_from(*n).ok(),
            Val::Float(_) => None,
        }
    }
}

impl Collected {
    /// Sets the field `key` names. Values that do not fit their field (a port of `"http"`)
    /// are kept as labels so nothing is lost.
    pub(crate) fn set(&mut self, key: &str, v: Val<'_>, ev: &mut Event) {
        let as_label = |ev: &mut Event, v: &Val<'_>| {
            ev.labels.insert(key.to_string(), v.to_text());
        };
        match classify(key) {
            Target::Timestamp(rank) => {
                // The best-ranked alias wins; the others are kept as labels.
                if self.ts.as_ref().is_some_and(|(r, _, _, _)| *r <= rank) {
                    return as_label(ev, &v);
                }
                if let Some((_, _, old, old_key)) = self.ts.take() {
                    ev.labels.insert(old_key, old);
                }
                let ts = match &v {
                    Val::Text(s) => timestamp::parse_text(s),
                    Val::Int(n) => timestamp::from_epoch_int(*n),
                    Val::Float(f) => timestamp::from_epoch_f64(*f),
                };
                self.ts = Some((rank, ts.map_or(TsField::Bad, TsField::Ok), v.to_text(), key.to_string()));
            }
            Target::Message(rank) => {
                if self.msg.as_ref().is_some_and(|(r, _)| *r <= rank) {
                    return as_label(ev, &v);
                }
                if let Some((r, old)) = self.msg.take() {
                    ev.labels.insert(MSG_KEYS[usize::from(r)].into(), old);
                }
                self.msg = Some((rank, v.to_text()));
            }
            Target::Level => match &v {
                Val::Int(n) => match level::from_number(*n) {
                    Some(l) => ev.level = Some(l.to_string()),
                    None => as_label(ev, &v),
                },
                _ => match level::from_field(&v.to_text()) {
                    Some(l) => ev.level = Some(l),
                    None => as_label(ev, &v),
                },
            },
            Target::LevelWord => match &v {
                Val::Text(t) => match super::header::level_word(t.trim()) {
                    Some(l) => ev.level = Some(l.to_string()),
                    None => as_label(ev, &v),
                },
                _ => as_label(ev, &v),
            },
            Target::Logger => one_word_label(ev, "log.logger", key, v.to_text()),
            Target::Thread => one_word_label(ev, "process.thread.name", key, v.to_text()),
            Target::Host => ev.host = Some(v.to_text()),
            Target::Service => ev.service = Some(v.to_text()),
            Target::ProcessName => ev.process_name = Some(v.to_text()),
            Target::Dataset => ev.dataset = Some(v.to_text()),
            Target::FilePath => ev.file_path = Some(v.to_text()),
            Target::SourceIp => ev.source_ip = Some(v.to_text()),
            Target::DestinationIp => ev.destination_ip = Some(v.to_text()),
            Target::UserName => ev.user_name = Some(v.to_text()),
            Target::Transport => ev.network_transport = Some(v.to_text()),
            Target::Keyword(k) => k.set(ev, v.to_text()),
            Target::HttpStatus => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => ev.http_status = Some(n),
                None => as_label(ev, &v),
            },
            Target::Count(f) => match v.as_u64() {
                Some(n) => f.set(ev, n),
                None => as_label(ev, &v),
            },
            Target::Pid => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => ev.pid = Some(n),
                None => as_label(ev, &v),
            },
            Target::SourcePort => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => ev.source_port = Some(n),
                None => as_label(ev, &v),
            },
            Target::DestinationPort => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => ev.destination_port = Some(n),
                None => as_label(ev, &v),
            },
            Target::Facility => match v.as_u64().and_then(|n| u8::try_from(n).ok()) {
                Some(n) => ev.syslog_facility = Some(n),
                None => as_label(ev, &v),
            },
            Target::Severity => match v.as_u64().and_then(|n| u8::try_from(n).ok()) {
                Some(n) => ev.syslog_severity = Some(n),
                None => as_label(ev, &v),
            },
            Target::Label => {
                let k = key.strip_prefix("labels.").unwrap_or(key);
                ev.labels.insert(k.to_string(), v.to_text());
            }
            Target::Other => as_label(ev, &v),
        }
    }

    /// Writes timestamp and message. Without a message key the event's message is
    /// `fallback` (the whole raw record), so the event stays readable and searchable.
    pub(crate) fn finish(self, ev: &mut Event, fallback: &str) {
        if let Some((_, ts, _, _)) = self.ts {
            super::record::apply_ts(ev, ts);
        }
        ev.message = match self.msg {
            Some((_, m)) => m,
            None => fallback.to_string(),
        };
    }
}

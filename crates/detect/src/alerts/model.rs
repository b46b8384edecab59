//! An alert, as stored, listed and notified: its rule (author included), status, history and
//! evidence, and the event it becomes in the index (`event.dataset: loglynx.alert`).

use std::collections::BTreeMap;

use loglynx_core::{Event, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ruleset::RuleInfo;

/// The dataset of alert events in the index.
pub const ALERT_DATASET: &str = "loglynx.alert";

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
    /// The rule's condition stopped holding (rules tagged `loglynx.resolve`, see
    /// [`AlertBook::resolve`]); later matches raise a new alert.
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
            AlertStatus::Resolved => "resolved",
        }
    }
    /// Closed or resolved: new matches raise a new alert.
    pub fn is_done(self) -> bool {
        matches!(self, AlertStatus::Closed | AlertStatus::Resolved)
    }
    pub fn parse(s: &str) -> Option<AlertStatus> {
        match s {
            "open" => Some(AlertStatus::Open),
            "acknowledged" | "ack" => Some(AlertStatus::Acknowledged),
            "closed" => Some(AlertStatus::Closed),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// The rule of an alert, as it was when the alert was raised. `author` is kept on every alert
/// (SigmaHQ rules are under the DRL 1.1, which requires it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub title: String,
    pub level: Option<String>,
    pub author: Option<String>,
}

impl From<&RuleInfo> for AlertRule {
    fn from(r: &RuleInfo) -> AlertRule {
        AlertRule {
            id: r.key().to_string(),
            name: r.display_name().to_string(),
            title: r.title.clone(),
            level: r.level.clone(),
            author: r.author.clone(),
        }
    }
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub status: AlertStatus,
    pub by: String,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: AlertRule,
    pub status: AlertStatus,
    /// Group-by field -> value (`{"source.ip": "1.2.3.4"}`); empty for a rule without groups.
    pub group: BTreeMap<String, String>,
    /// Events folded into the alert (distinct event ids).
    pub count: u64,
    /// Event time of the first and last of them.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The ids of the events (the first [`AlertBook`]'s `max_evidence`).
    pub evidence: Vec<String>,
    /// The host of the events, when they all came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// When loglynx raised it and last changed it (wall clock).
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Status changes, oldest first.
    #[serde(default)]
    pub history: Vec<Change>,
    /// The channels it is to be notified on (those configured when it was raised).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// The channels it was delivered to. In the scale-out shape this is the outbox: a
    /// correlator that takes over queues what `notify` has and `notified` lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notified: Vec<String>,
    /// When each entry of `notified` was delivered (the first delivery).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notified_at: BTreeMap<String, Timestamp>,
}

impl Alert {
    /// The alert as an event for the index (`event.dataset: loglynx.alert`), at the event time
    /// its evidence starts.
    pub fn to_event(&self) -> Event {
        let group = self
            .group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let msg = if group.is_empty() {
            format!("alert: {} ({} events)", self.rule.title, self.count)
        } else {
            format!("alert: {} [{group}] ({} events)", self.rule.title, self.count)
        };
        let mut e = Event::new(msg, self.first_seen, self.created, format!("alert-{}", self.id));
        e.dataset = Some(ALERT_DATASET.into());
        e.alert_id = Some(self.id.clone());
        e.rule_ids = vec![self.rule.id.clone()];
        e.rule_names = vec![self.rule.name.clone()];
        e.level = Some(level_to_log_level(self.rule.level.as_deref()).into());
        e.host = self.host.clone();
        e.service = Some("loglynx".into());
        for (k, v) in &self.group {
            match k.as_str() {
                loglynx_core::fields::SOURCE_IP => e.source_ip = Some(v.clone()),
                loglynx_core::fields::USER_NAME => e.user_name = Some(v.clone()),
                loglynx_core::fields::HOST_NAME => e.host = Some(v.clone()),
                loglynx_core::fields::DESTINATION_IP => e.destination_ip = Some(v.clone()),
                loglynx_core::fields::PROCESS_NAME => e.process_name = Some(v.clone()),
                _ => {
                    e.labels.insert(format!("group.{k}"), v.clone());
                }
            }
        }
        if let Some(a) = &self.rule.author {
            e.labels.insert("rule.author".into(), a.clone());
        }
        e.labels.insert("alert.count".into(), self.count.to_string());
        e
    }
}

/// Sigma `level` -> `log.level` of the alert event.
fn level_to_log_level(level: Option<&str>) -> &'static str {
    match level {
        Some("critical") => "crit",
        Some("high") => "error",
        Some("medium") => "warn",
        Some("low") => "notice",
        _ => "info",
    }
}

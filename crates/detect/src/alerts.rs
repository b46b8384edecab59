//! Alerts: raised from rule matches and correlation firings, kept in an embedded transactional
//! store (redb, `<data>/alerts/alerts.redb`), with a lifecycle (`open` -> `acknowledged` ->
//! `closed`, who, when, a comment).
//!
//! Why redb and not the index: an alert changes (its count grows, someone acknowledges it), the
//! index is append-only and eventually consistent (a second per commit); the alerts of a
//! process are few (thousands, not billions), and a change must be durable when the API answers.
//! Every new alert is also written to the index as an event (`event.dataset: loglynx.alert`, see
//! [`Alert::to_event`]) so it can be searched and charted with the logs.
//!
//! Idempotence: a rule match or correlation firing for (rule, group) folds into the alert of
//! that (rule, group) while its event time is within `suppress` of the alert's events; the
//! evidence is a set of event ids (event ids are stable across replays), so events read again
//! after a crash add nothing, and a new alert's id is derived from rule + group + the event
//! time its window started. A replay therefore raises nothing twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loglynx_core::{Event, Timestamp};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::correlate::Fired;
use crate::ruleset::RuleInfo;
use crate::DetectError;

pub(crate) const ALERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts");
/// rule key + group -> id of its latest alert.
const LATEST: TableDefinition<&str, &str> = TableDefinition::new("latest");
/// Pending notifications: sequence number -> [`crate::notify::Pending`] as JSON. Written in the
/// transaction that creates the alert, so a notification is never lost nor made without its
/// alert.
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// rule key -> enabled, set through the API (wins over `[detect] disabled`).
const RULE_STATE: TableDefinition<&str, bool> = TableDefinition::new("rule_state");

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

/// A rule match or correlation observation to fold into the alerts.
#[derive(Debug, Clone)]
pub struct Signal<'a> {
    pub rule: std::borrow::Cow<'a, RuleInfo>,
    pub group: Vec<(String, String)>,
    /// Event time, seconds.
    pub ts: i64,
    pub event_id: &'a str,
    pub host: Option<&'a str>,
    /// Set when the rule's condition is met (always for a single-event rule); an unmet
    /// observation only extends an alert that exists.
    pub fired: Option<Fired>,
}

/// What [`AlertBook::list`] selects.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    /// A rule id, name or title.
    pub rule: Option<String>,
    /// Words that must all appear (case-insensitive) in the rule title or name, a group value
    /// or the alert id.
    pub q: Option<String>,
    /// Alerts whose events overlap [start, end).
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub limit: usize,
}

/// The alerts of a data directory.
pub struct AlertBook {
    pub(crate) db: Database,
    path: PathBuf,
    suppress_secs: i64,
    max_evidence: usize,
    /// Where each new alert is notified (names of the channels configured); empty: nowhere.
    channels: Vec<String>,
}

impl std::fmt::Debug for AlertBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertBook").field("path", &self.path).finish()
    }
}

fn db_err(path: &Path, what: &'static str, e: impl std::fmt::Display) -> DetectError {
    DetectError::Alerts {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
    }
}

impl AlertBook {
    /// Opens (creates) `<dir>/alerts.redb`. Matches for a (rule, group) fold into its alert
    /// while within `suppress_secs` of its events; an alert keeps at most `max_evidence` ids.
    pub fn open(dir: &Path, suppress_secs: u64, max_evidence: usize) -> Result<AlertBook, DetectError> {
        std::fs::create_dir_all(dir).map_err(|e| db_err(dir, "cannot create the alerts directory", e))?;
        let path = dir.join("alerts.redb");
        let db = Database::create(&path).map_err(|e| db_err(&path, "cannot open the alerts database", e))?;
        Self::with_db(db, path, suppress_secs, max_evidence)
    }

    /// An alert book in memory (a backtest: what rules would raise, stored nowhere).
    pub fn in_memory(suppress_secs: u64, max_evidence: usize) -> Result<AlertBook, DetectError> {
        let path = PathBuf::from("(memory)");
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| db_err(&path, "cannot create an alerts database in memory", e))?;
        Self::with_db(db, path, suppress_secs, max_evidence)
    }

    fn with_db(db: Database, path: PathBuf, suppress_secs: u64, max_evidence: usize) -> Result<AlertBook, DetectError> {
        let book = AlertBook {
            channels: Vec::new(),
            db,
            path,
            suppress_secs: suppress_secs.min(i64::MAX as u64 / 4) as i64,
            max_evidence: max_evidence.max(1),
        };
        // Create the tables so readers never meet a missing one.
        let tx = book.db.begin_write().map_err(|e| book.err("cannot write the alerts database", e))?;
        tx.open_table(ALERTS).map_err(|e| book.err("cannot open the alerts table", e))?;
        tx.open_table(LATEST).map_err(|e| book.err("cannot open the alerts table", e))?;
        tx.open_table(RULE_STATE).map_err(|e| book.err("cannot open the alerts table", e))?;
        tx.open_table(OUTBOX).map_err(|e| book.err("cannot open the alerts table", e))?;
        tx.commit().map_err(|e| book.err("cannot write the alerts database", e))?;
        Ok(book)
    }

    /// Notifies every new alert on `channels` (their names, e.g. `webhook`, `syslog`): each
    /// creation queues one notification per channel in the same transaction.
    pub fn set_channels(&mut self, channels: Vec<String>) {
        self.channels = channels;
    }

    /// The channels new alerts are notified on.
    pub(crate) fn channels(&self) -> &[String] {
        &self.channels
    }

    pub(crate) fn err(&self, what: &'static str, e: impl std::fmt::Display) -> DetectError {
        db_err(&self.path, what, e)
    }

    /// Folds `signals` into the alerts in one durable transaction; returns the alerts it
    /// created.
    pub fn apply(&self, signals: &[Signal<'_>]) -> Result<Vec<Alert>, DetectError> {
        Ok(self.apply_changes(signals)?.created)
    }

    /// [`AlertBook::apply`], also returning every alert the signals changed (created, counted
    /// further, moved in time): what a correlator publishes. Signals read again (a replay)
    /// change nothing and are not in it.
    pub fn apply_changes(&self, signals: &[Signal<'_>]) -> Result<Applied, DetectError> {
        if signals.is_empty() {
            return Ok(Applied::default());
        }
        let now = Timestamp::now();
        let mut created = Vec::new();
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let out = {
            let mut alerts = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
            let mut latest = tx.open_table(LATEST).map_err(|e| self.err("cannot open the alerts table", e))?;
            // The alerts touched in this transaction, written once at the end.
            let mut touched: BTreeMap<String, Alert> = BTreeMap::new();
            // Their evidence as sets (an alert keeps up to `max_evidence` ids; a linear search
            // per match was most of the stage's time).
            let mut seen: std::collections::HashMap<String, std::collections::HashSet<String>> =
                std::collections::HashMap::new();
            for s in signals {
                let group_json = serde_json::to_string(&s.group).unwrap_or_default();
                let lkey = format!("{}\u{1f}{group_json}", s.rule.key());
                let current_id = latest
                    .get(lkey.as_str())
                    .map_err(|e| self.err("cannot read the alerts table", e))?
                    .map(|v| v.value().to_string());
                let mut current = match current_id {
                    Some(id) => match touched.remove(&id) {
                        Some(a) => Some(a),
                        None => self.read(&alerts, &id)?,
                    },
                    None => None,
                };
                let usable = current.as_ref().is_some_and(|a| {
                    !a.status.is_done()
                        && s.ts <= secs(a.last_seen).saturating_add(self.suppress_secs)
                        && s.ts >= secs(a.first_seen).saturating_sub(self.suppress_secs)
                });
                if !usable {
                    let Some(fired) = &s.fired else {
                        if let Some(a) = current.take() {
                            touched.insert(a.id.clone(), a);
                        }
                        continue;
                    };
                    if let Some(a) = current.take() {
                        touched.insert(a.id.clone(), a);
                    }
                    let mut id = alert_id(s.rule.key(), &group_json, fired.first_ts);
                    // The same alert raised again (a replay): fold into it.
                    current = match touched.remove(&id) {
                        Some(a) => Some(a),
                        None => self.read(&alerts, &id)?,
                    };
                    // A closed alert stays closed: new matches raise a new alert, whose id is
                    // salted with the closed one's (the same window start would name it again).
                    while let Some(closed) = current.take_if(|a| a.status.is_done()) {
                        id = alert_id(s.rule.key(), &format!("{group_json}\u{1f}{}", closed.id), fired.first_ts);
                        touched.insert(closed.id.clone(), closed);
                        current = match touched.remove(&id) {
                            Some(a) => Some(a),
                            None => self.read(&alerts, &id)?,
                        };
                    }
                    if current.is_none() {
                        let a = Alert {
                            id: id.clone(),
                            rule: AlertRule::from(&*s.rule),
                            status: AlertStatus::Open,
                            group: s.group.iter().cloned().collect(),
                            count: 0,
                            first_seen: Timestamp::from_secs(fired.first_ts.min(s.ts)),
                            last_seen: Timestamp::from_secs(s.ts),
                            evidence: Vec::new(),
                            host: s.host.map(str::to_string),
                            created: now,
                            updated: now,
                            history: vec![Change {
                                status: AlertStatus::Open,
                                by: "loglynx".into(),
                                at: now,
                                comment: None,
                            }],
                            notify: self.channels.clone(),
                            notified: Vec::new(),
                            notified_at: BTreeMap::new(),
                        };
                        created.push(id.clone());
                        current = Some(a);
                    }
                    latest
                        .insert(lkey.as_str(), id.as_str())
                        .map_err(|e| self.err("cannot write the alerts table", e))?;
                }
                let mut a = current.expect("an alert to fold into");
                let ids = s
                    .fired
                    .iter()
                    .flat_map(|f| f.evidence.iter().map(String::as_str))
                    .chain(std::iter::once(s.event_id));
                let set = seen
                    .entry(a.id.clone())
                    .or_insert_with(|| a.evidence.iter().cloned().collect());
                for id in ids {
                    self.add_evidence(&mut a, set, id, s.ts);
                }
                if let Some(f) = &s.fired {
                    a.first_seen = a.first_seen.min(Timestamp::from_secs(f.first_ts));
                }
                a.last_seen = a.last_seen.max(Timestamp::from_secs(s.ts));
                if a.host.as_deref() != s.host {
                    a.host = None;
                }
                a.updated = now;
                touched.insert(a.id.clone(), a);
            }
            let mut changed = Vec::new();
            for (id, a) in &touched {
                let before = self.read(&alerts, id)?;
                if before.as_ref().is_some_and(|b| same_state(b, a)) {
                    continue;
                }
                let bytes = serde_json::to_vec(a).unwrap_or_default();
                alerts
                    .insert(id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err("cannot write the alerts table", e))?;
                changed.push(a.clone());
            }
            let out: Vec<Alert> = created.iter().filter_map(|id| touched.get(id).cloned()).collect();
            if !self.channels.is_empty() && !out.is_empty() {
                let mut outbox = tx.open_table(OUTBOX).map_err(|e| self.err("cannot open the outbox", e))?;
                let mut seq = outbox
                    .last()
                    .map_err(|e| self.err("cannot read the outbox", e))?
                    .map_or(0, |(k, _)| k.value() + 1);
                for a in &out {
                    for ch in &self.channels {
                        let p = crate::notify::Pending::new(ch, a.clone());
                        let bytes = serde_json::to_vec(&p).unwrap_or_default();
                        outbox
                            .insert(seq, bytes.as_slice())
                            .map_err(|e| self.err("cannot write the outbox", e))?;
                        seq += 1;
                    }
                }
            }
            drop(alerts);
            drop(latest);
            Applied { created: out, changed }
        };
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(out)
    }

    /// Takes in alerts another process wrote (the correlator's changes and the lifecycle
    /// changes of `serve`, read from the alerts topic of the scale-out shape): each is merged
    /// with the copy here, if any ([`merged`]), and becomes its (rule, group)'s latest alert when
    /// it is the most recent. Returns the alerts that changed here.
    pub fn merge(&self, incoming: &[Alert]) -> Result<Vec<Alert>, DetectError> {
        if incoming.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let mut changed = Vec::new();
        {
            let mut alerts = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
            let mut latest = tx.open_table(LATEST).map_err(|e| self.err("cannot open the alerts table", e))?;
            for a in incoming {
                let before = self.read(&alerts, &a.id)?;
                let after = match &before {
                    Some(b) => merged(b, a, self.max_evidence),
                    None => a.clone(),
                };
                if before.as_ref().is_some_and(|b| same_state(b, &after) && b.history.len() == after.history.len()) {
                    continue;
                }
                let bytes = serde_json::to_vec(&after).unwrap_or_default();
                alerts
                    .insert(a.id.as_str(), bytes.as_slice())
                    .map_err(|e| self.err("cannot write the alerts table", e))?;
                let group: Vec<(&String, &String)> = after.group.iter().collect();
                let lkey = format!("{}\u{1f}{}", after.rule.id, serde_json::to_string(&group).unwrap_or_default());
                let newer = match latest.get(lkey.as_str()).map_err(|e| self.err("cannot read the alerts table", e))? {
                    Some(id) => {
                        let id = id.value().to_string();
                        id != after.id && self.read(&alerts, &id)?.is_none_or(|cur| cur.first_seen <= after.first_seen)
                    }
                    None => true,
                };
                if newer {
                    latest
                        .insert(lkey.as_str(), after.id.as_str())
                        .map_err(|e| self.err("cannot write the alerts table", e))?;
                }
                changed.push(after);
            }
        }
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(changed)
    }

    fn add_evidence(&self, a: &mut Alert, seen: &mut std::collections::HashSet<String>, id: &str, ts: i64) {
        if seen.contains(id) {
            return;
        }
        seen.insert(id.to_string());
        if a.evidence.len() < self.max_evidence {
            a.evidence.push(id.to_string());
            a.count += 1;
        } else if ts >= secs(a.last_seen) {
            // Past the evidence cap, ids are no longer kept: count the events that move the
            // alert forward in time (a replay of older ones does not).
            a.count += 1;
        }
    }

    fn read(&self, t: &impl ReadableTable<&'static str, &'static [u8]>, id: &str) -> Result<Option<Alert>, DetectError> {
        let Some(v) = t.get(id).map_err(|e| self.err("cannot read the alerts table", e))? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| self.err("an alert record is not readable", e))
    }

    /// One alert.
    pub fn get(&self, id: &str) -> Result<Option<Alert>, DetectError> {
        let tx = self.db.begin_read().map_err(|e| self.err("cannot read the alerts database", e))?;
        let t = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
        self.read(&t, id)
    }

    /// The alerts `filter` selects, newest `last_seen` first, at most `filter.limit`, and how
    /// many it selects in all.
    pub fn list(&self, filter: &AlertFilter) -> Result<(usize, Vec<Alert>), DetectError> {
        let tx = self.db.begin_read().map_err(|e| self.err("cannot read the alerts database", e))?;
        let t = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
        let words: Vec<String> = filter
            .q
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut out = Vec::new();
        for row in t.iter().map_err(|e| self.err("cannot read the alerts table", e))? {
            let (_, v) = row.map_err(|e| self.err("cannot read the alerts table", e))?;
            let Ok(a) = serde_json::from_slice::<Alert>(v.value()) else {
                continue;
            };
            if filter.status.is_some_and(|s| s != a.status) {
                continue;
            }
            if let Some(r) = &filter.rule {
                if r != &a.rule.id && r != &a.rule.name && r != &a.rule.title {
                    continue;
                }
            }
            if filter.start.is_some_and(|s| a.last_seen < s) || filter.end.is_some_and(|e| a.first_seen >= e) {
                continue;
            }
            if !words.is_empty() {
                let hay = format!(
                    "{} {} {} {}",
                    a.id,
                    a.rule.title,
                    a.rule.name,
                    a.group.values().cloned().collect::<Vec<_>>().join(" ")
                )
                .to_lowercase();
                if !words.iter().all(|w| hay.contains(w.as_str())) {
                    continue;
                }
            }
            out.push(a);
        }
        let total = out.len();
        out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.id.cmp(&b.id)));
        out.truncate(filter.limit);
        Ok((total, out))
    }

    /// Moves an alert to `status` (acknowledge, close, or reopen), recording who and why.
    /// `None` when there is no such alert.
    pub fn set_status(&self, id: &str, status: AlertStatus, by: &str, comment: Option<String>) -> Result<Option<Alert>, DetectError> {
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let out = {
            let mut t = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
            let Some(mut a) = self.read(&t, id)? else {
                return Ok(None);
            };
            let now = Timestamp::now();
            a.status = status;
            a.updated = now;
            a.history.push(Change {
                status,
                by: by.to_string(),
                at: now,
                comment,
            });
            let bytes = serde_json::to_vec(&a).unwrap_or_default();
            t.insert(id, bytes.as_slice()).map_err(|e| self.err("cannot write the alerts table", e))?;
            a
        };
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(Some(out))
    }

    /// Records that alert `id` was delivered on `channel`; the alert as it is now (`None`
    /// when there is no such alert).
    pub fn mark_notified(&self, id: &str, channel: &str) -> Result<Option<Alert>, DetectError> {
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let out = {
            let mut t = tx.open_table(ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
            let Some(mut a) = self.read(&t, id)? else {
                return Ok(None);
            };
            if !a.notified.iter().any(|c| c == channel) {
                a.notified.push(channel.to_string());
                a.notified.sort();
                a.notified_at.insert(channel.to_string(), Timestamp::now());
                let bytes = serde_json::to_vec(&a).unwrap_or_default();
                t.insert(id, bytes.as_slice()).map_err(|e| self.err("cannot write the alerts table", e))?;
            }
            a
        };
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(Some(out))
    }

    /// Queues a notification for each channel an alert is to be notified on, was not delivered
    /// to and has none queued (what a correlator taking over must send: the alerts topic is the
    /// outbox of the scale-out shape). Only the channels configured here. Returns how many.
    pub fn requeue_pending(&self) -> Result<usize, DetectError> {
        if self.channels.is_empty() {
            return Ok(0);
        }
        let queued: std::collections::HashSet<(String, String)> = crate::notify::Notifier::pending(self)?
            .into_iter()
            .map(|(_, p)| (p.alert.id, p.channel))
            .collect();
        let (_, all) = self.list(&AlertFilter { limit: usize::MAX, ..Default::default() })?;
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let mut n = 0;
        {
            let mut outbox = tx.open_table(OUTBOX).map_err(|e| self.err("cannot open the outbox", e))?;
            let mut seq = outbox
                .last()
                .map_err(|e| self.err("cannot read the outbox", e))?
                .map_or(0, |(k, _)| k.value() + 1);
            for a in &all {
                for ch in a.notify.iter().filter(|c| self.channels.contains(c) && !a.notified.contains(c)) {
                    if queued.contains(&(a.id.clone(), ch.clone())) {
                        continue;
                    }
                    let bytes = serde_json::to_vec(&crate::notify::Pending::new(ch, a.clone())).unwrap_or_default();
                    outbox.insert(seq, bytes.as_slice()).map_err(|e| self.err("cannot write the outbox", e))?;
                    seq += 1;
                    n += 1;
                }
            }
        }
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(n)
    }

    /// Rules enabled or disabled through the API: key -> enabled.
    pub fn rule_overrides(&self) -> Result<std::collections::HashMap<String, bool>, DetectError> {
        let tx = self.db.begin_read().map_err(|e| self.err("cannot read the alerts database", e))?;
        let t = tx.open_table(RULE_STATE).map_err(|e| self.err("cannot open the rules table", e))?;
        let mut m = std::collections::HashMap::new();
        for row in t.iter().map_err(|e| self.err("cannot read the rules table", e))? {
            let (k, v) = row.map_err(|e| self.err("cannot read the rules table", e))?;
            m.insert(k.value().to_string(), v.value());
        }
        Ok(m)
    }

    /// Records that the rule `key` is enabled or disabled (durable).
    pub fn set_rule_enabled(&self, key: &str, enabled: bool) -> Result<(), DetectError> {
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        {
            let mut t = tx.open_table(RULE_STATE).map_err(|e| self.err("cannot open the rules table", e))?;
            t.insert(key, enabled).map_err(|e| self.err("cannot write the rules table", e))?;
        }
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))
    }
}

/// What [`AlertBook::apply_changes`] did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Alerts raised.
    pub created: Vec<Alert>,
    /// Alerts raised or changed (the created ones included).
    pub changed: Vec<Alert>,
}

/// Whether two copies of an alert say the same (its wall-clock `updated` aside).
fn same_state(a: &Alert, b: &Alert) -> bool {
    a.status == b.status
        && a.count == b.count
        && a.first_seen == b.first_seen
        && a.last_seen == b.last_seen
        && a.host == b.host
        && a.evidence.len() == b.evidence.len()
        && a.notified.len() == b.notified.len()
}

/// Two copies of one alert written by different processes, made one: the lifecycle of the copy
/// with the longer history (changes are only appended: the longer one has seen more), the
/// count, time span and evidence of both (each only grows). The result does not depend on the
/// order the copies arrive in, so every reader of the alerts topic ends up with the same alert.
pub fn merged(a: &Alert, b: &Alert, max_evidence: usize) -> Alert {
    let (life, other) = if b.history.len() > a.history.len() { (b, a) } else { (a, b) };
    let mut out = life.clone();
    out.count = a.count.max(b.count);
    out.first_seen = a.first_seen.min(b.first_seen);
    out.last_seen = a.last_seen.max(b.last_seen);
    out.updated = a.updated.max(b.updated);
    out.created = a.created.min(b.created);
    if out.host != other.host {
        out.host = None;
    }
    for (mine, theirs) in [(&mut out.notify, &other.notify), (&mut out.notified, &other.notified)] {
        for c in theirs {
            if !mine.contains(c) {
                mine.push(c.clone());
            }
        }
        mine.sort();
    }
    for (c, t) in &other.notified_at {
        let e = out.notified_at.entry(c.clone()).or_insert(*t);
        *e = (*e).min(*t);
    }
    let mut seen: std::collections::HashSet<&str> = out.evidence.iter().map(String::as_str).collect();
    let extra: Vec<String> = other
        .evidence
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect();
    for id in extra {
        if out.evidence.len() >= max_evidence {
            break;
        }
        out.evidence.push(id);
    }
    out
}

fn secs(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(1000)
}

/// The id of a new alert: rule + group + the event time its window starts, hashed, so the same
/// evidence read again names the same alert.
fn alert_id(rule: &str, group_json: &str, first_ts: i64) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(format!("{rule}\u{1f}{group_json}\u{1f}{first_ts}").as_bytes());
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RuleInfo {
        RuleInfo {
            title: "t".into(),
            id: Some("r1".into()),
            name: Some("r".into()),
            level: Some("high".into()),
            author: Some("a".into()),
            file: PathBuf::from("x.yml"),
            logsource: String::new(),
            resolves: false,
        }
    }

    fn fired<'a>(r: &'a RuleInfo, ts: i64, ev: &'a str, evidence: &[&str]) -> Signal<'a> {
        Signal {
            rule: std::borrow::Cow::Borrowed(r),
            group: vec![("source.ip".into(), "1.2.3.4".into())],
            ts,
            event_id: ev,
            host: None,
            fired: Some(Fired { value: 1.0, first_ts: 100, evidence: evidence.iter().map(|s| s.to_string()).collect() }),
        }
    }

    #[test]
    fn matches_fold_replays_count_once_and_a_closed_alert_is_not_reopened() {
        let book = AlertBook::in_memory(3600, 1000).unwrap();
        let r = rule();
        let created = book.apply(&[fired(&r, 110, "e2", &["e1", "e2"])]).unwrap();
        assert_eq!(created.len(), 1);
        let first = created[0].id.clone();
        // more of the same, and a replay of e1/e2: folds, counts e3 once
        assert!(book.apply(&[fired(&r, 120, "e3", &["e1", "e2", "e3"]), fired(&r, 120, "e3", &["e3"])]).unwrap().is_empty());
        assert_eq!(book.get(&first).unwrap().unwrap().count, 3);
        // closed: the next firing of the same window raises a new alert, the closed one keeps its count
        book.set_status(&first, AlertStatus::Closed, "bob", None).unwrap();
        let again = book.apply(&[fired(&r, 130, "e4", &["e3", "e4"])]).unwrap();
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, first);
        assert_eq!(book.get(&first).unwrap().unwrap().count, 3);
        assert_eq!(book.get(&first).unwrap().unwrap().status, AlertStatus::Closed);
        // and later matches fold into the new one, not the closed one
        assert!(book.apply(&[fired(&r, 140, "e5", &["e5"])]).unwrap().is_empty());
        assert_eq!(book.get(&again[0].id).unwrap().unwrap().count, 3);
        let (total, _) = book.list(&AlertFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(total, 2);
    }

    #[test]
    fn changes_are_reported_once_and_copies_merge_to_the_same_alert_in_any_order() {
        // The correlator's book: the changes it publishes; a replay publishes nothing.
        let corr = AlertBook::in_memory(3600, 1000).unwrap();
        let r = rule();
        let a = corr.apply_changes(&[fired(&r, 110, "e2", &["e1", "e2"])]).unwrap();
        assert_eq!((a.created.len(), a.changed.len()), (1, 1));
        let b = corr.apply_changes(&[fired(&r, 120, "e3", &["e3"])]).unwrap();
        assert_eq!((b.created.len(), b.changed.len()), (0, 1));
        assert_eq!(b.changed[0].count, 3);
        let replay = corr.apply_changes(&[fired(&r, 120, "e3", &["e1", "e2", "e3"])]).unwrap();
        assert!(replay.changed.is_empty(), "{:?}", replay.changed);

        // serve's book: the alert as first published, then acknowledged there, then the
        // correlator's later copy (count 3, no acknowledgement) arrives: one alert, acknowledged,
        // counting 3, whichever order the copies come in.
        let first = a.changed[0].clone();
        let later = b.changed[0].clone();
        let mut acked = first.clone();
        acked.status = AlertStatus::Acknowledged;
        acked.history.push(Change { status: AlertStatus::Acknowledged, by: "ann".into(), at: Timestamp::from_secs(200), comment: None });
        for order in [vec![first.clone(), acked.clone(), later.clone()], vec![later.clone(), acked.clone(), first.clone()]] {
            let serve = AlertBook::in_memory(3600, 1000).unwrap();
            for copy in order {
                serve.merge(&[copy]).unwrap();
            }
            let got = serve.get(&first.id).unwrap().unwrap();
            assert_eq!((got.status, got.count, got.evidence.len()), (AlertStatus::Acknowledged, 3, 3));
            assert_eq!(got.history.len(), 2);
        }
        // A merged alert is the latest of its rule + group: new matches fold into it.
        let restored = AlertBook::in_memory(3600, 1000).unwrap();
        restored.merge(&[later.clone()]).unwrap();
        let more = restored.apply_changes(&[fired(&r, 130, "e4", &["e4"])]).unwrap();
        assert!(more.created.is_empty());
        assert_eq!(more.changed[0].id, later.id);
        assert_eq!(more.changed[0].count, 4);
    }
}

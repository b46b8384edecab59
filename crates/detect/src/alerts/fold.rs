//! Rule matches and correlation firings folded into alerts, in one durable transaction per
//! batch: a match for (rule, group) joins that pair's latest alert while its event time is
//! within `suppress` of the alert's events, else raises a new one (when the rule's condition is
//! met), whose id derives from rule + group + window start; evidence is a set of event ids, so
//! a replay changes nothing.

use std::collections::BTreeMap;

use loglynx_core::Timestamp;
use redb::ReadableTable;

use super::book::{AlertBook, ALERTS, LATEST};
use super::model::{Alert, AlertRule, AlertStatus, Change};
use crate::correlate::Fired;
use crate::notify::Pending;
use crate::ruleset::RuleInfo;
use crate::DetectError;

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

impl AlertBook {
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
                let pending = out.iter().flat_map(|a| self.channels.iter().map(|ch| Pending::new(ch, a.clone())));
                self.queue(&tx, pending)?;
            }
            drop(alerts);
            drop(latest);
            Applied { created: out, changed }
        };
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(out)
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
pub(super) fn same_state(a: &Alert, b: &Alert) -> bool {
    a.status == b.status
        && a.count == b.count
        && a.first_seen == b.first_seen
        && a.last_seen == b.last_seen
        && a.host == b.host
        && a.evidence.len() == b.evidence.len()
        && a.notified.len() == b.notified.len()
}

/// The id of a new alert: rule + group + the event time its window starts, hashed, so the same
/// evidence read again names the same alert.
fn alert_id(rule: &str, group_json: &str, first_ts: i64) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(format!("{rule}\u{1f}{group_json}\u{1f}{first_ts}").as_bytes());
    format!("{h:032x}")
}

fn secs(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(1000)
}

//! Copies of an alert written by different processes (the correlator's changes, the lifecycle
//! changes made through `serve`, read from the alerts topic of the scale-out shape) made one.

use redb::ReadableTable;

use super::book::{AlertBook, ALERTS, LATEST};
use super::fold::same_state;
use super::model::Alert;
use crate::DetectError;

impl AlertBook {
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
    }}

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

//! The alerts store: a redb database (`<data>/alerts/alerts.redb`, or in memory for a
//! backtest), its tables, and what reads and changes one alert at a time: get, list, lifecycle
//! changes (acknowledge, close, reopen), deliveries, and the rules enabled through the API.

use std::path::{Path, PathBuf};

use loglynx_core::Timestamp;
use redb::{Database, ReadableTable, TableDefinition};

use super::model::{Alert, AlertStatus, Change};
use super::outbox::OUTBOX;
use crate::DetectError;

/// alert id -> the alert (JSON).
pub(crate) const ALERTS: TableDefinition<&str, &[u8]> = TableDefinition::new("alerts");
/// rule key + group -> id of its latest alert.
pub(super) const LATEST: TableDefinition<&str, &str> = TableDefinition::new("latest");
/// rule key -> enabled, set through the API (wins over `[detect] disabled`).
const RULE_STATE: TableDefinition<&str, bool> = TableDefinition::new("rule_state");

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
    pub(super) suppress_secs: i64,
    pub(super) max_evidence: usize,
    /// Where each new alert is notified (names of the channels configured); empty: nowhere.
    pub(super) channels: Vec<String>,
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

    pub(super) fn read(&self, t: &impl ReadableTable<&'static str, &'static [u8]>, id: &str) -> Result<Option<Alert>, DetectError> {
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

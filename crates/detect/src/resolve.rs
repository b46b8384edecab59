//! Resolution: an alert of a rule tagged `loglynx.resolve` (a condition that holds, then clears:
//! the network monitor's socket counts, retransmit rates...) moves to `resolved` when no match
//! came for `[detect] resolve_after`, measured in event time: the detection stage keeps the
//! newest event time it processed (its watermark, never ahead of the wall clock) and resolves
//! the alerts whose `last_seen` is older than the watermark by more than the period. So a bulk
//! import of last month's logs resolves last month's alerts, and an idle pipeline resolves
//! nothing until events come again.
//!
//! The resolution is a lifecycle change (`history`: by `loglynx`, with the period in the
//! comment), is notified on the alert's channels like its creation (`"type":
//! "alert.resolved"`; `notified` then also names `<channel>:resolved`), and becomes an alert
//! event (`event.action: resolved`). Later matches raise a new alert, as after a close.

use std::collections::HashMap;

use loglynx_core::{Event, Timestamp};
use redb::ReadableTable;

use crate::alerts::{Alert, AlertBook, AlertStatus, Change};
use crate::DetectError;

/// The suffix of a channel in `notified` once the resolution was delivered on it.
pub const RESOLVED_SUFFIX: &str = ":resolved";

/// Most seconds an event's time may run ahead of the wall clock and still move the watermark.
const MAX_AHEAD_SECS: i64 = 60;

/// The alerts that may resolve: id -> `last_seen` (seconds), kept by the detection stage.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    after_secs: i64,
    watermark: i64,
    candidates: HashMap<String, i64>,
}

impl Resolver {
    /// Resolution after `after_secs` without a match (0: never), seeded with the open and
    /// acknowledged alerts of resolving rules in `book` (`resolves` says which rule keys).
    pub(crate) fn new(after_secs: u64, book: &AlertBook, resolves: impl Fn(&str) -> bool) -> Resolver {
        let mut r = Resolver { after_secs: after_secs.min(i64::MAX as u64 / 4) as i64, ..Default::default() };
        if r.after_secs == 0 {
            return r;
        }
        for status in [AlertStatus::Open, AlertStatus::Acknowledged] {
            let f = crate::AlertFilter { status: Some(status), limit: usize::MAX, ..Default::default() };
            match book.list(&f) {
                Ok((_, alerts)) => {
                    for a in alerts.into_iter().filter(|a| resolves(&a.rule.id)) {
                        r.candidates.insert(a.id, secs(a.last_seen));
                    }
                }
                Err(e) => tracing::warn!("open alerts not read, they do not resolve until they match again: {e}"),
            }
        }
        r
    }

    /// Takes up again the open and acknowledged alerts of resolving rules in `book` (those
    /// another process raised since: a correlator taking over), keeping the watermark.
    pub(crate) fn reseed(&mut self, book: &AlertBook, resolves: impl Fn(&str) -> bool) {
        let watermark = self.watermark;
        *self = Resolver::new(self.after_secs as u64, book, resolves);
        self.watermark = watermark;
    }

    pub(crate) fn enabled(&self) -> bool {
        self.after_secs > 0
    }

    /// Moves the watermark to the newest of `events` (not past the wall clock).
    pub(crate) fn saw(&mut self, events: &[Event]) {
        if !self.enabled() {
            return;
        }
        let cap = Timestamp::now().as_millis().div_euclid(1000) + MAX_AHEAD_SECS;
        if let Some(t) = events.iter().map(|e| e.timestamp.as_millis().div_euclid(1000)).max() {
            self.watermark = self.watermark.max(t.min(cap));
        }
    }

    /// Follows a changed alert: an open one of a resolving rule is a candidate, others are not.
    pub(crate) fn track(&mut self, a: &Alert, resolves: bool) {
        if !self.enabled() {
            return;
        }
        if resolves && !a.status.is_done() {
            self.candidates.insert(a.id.clone(), secs(a.last_seen));
        } else {
            self.candidates.remove(&a.id);
        }
    }

    /// Resolves the candidates quiet for longer than the period; the alerts it resolved.
    pub(crate) fn resolve(&mut self, book: &AlertBook) -> Result<Vec<Alert>, DetectError> {
        if !self.enabled() {
            return Ok(Vec::new());
        }
        let due: Vec<(String, i64)> = self
            .candidates
            .iter()
            .filter(|(_, last)| last.saturating_add(self.after_secs) < self.watermark)
            .map(|(id, last)| (id.clone(), *last))
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let done = book.resolve(&due, self.after_secs)?;
        for (id, _) in &due {
            self.candidates.remove(id);
        }
        Ok(done)
    }
}

fn secs(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(1000)
}

impl AlertBook {
    /// Resolves the alerts `due` names (id, `last_seen` seconds when found quiet) that are still
    /// open or acknowledged and have not moved since, in one durable transaction with their
    /// notifications; returns them.
    pub(crate) fn resolve(&self, due: &[(String, i64)], after_secs: i64) -> Result<Vec<Alert>, DetectError> {
        let now = Timestamp::now();
        let tx = self.db.begin_write().map_err(|e| self.err("cannot write the alerts database", e))?;
        let mut out = Vec::new();
        {
            let mut t = tx.open_table(crate::alerts::ALERTS).map_err(|e| self.err("cannot open the alerts table", e))?;
            for (id, last) in due {
                let Some(v) = t.get(id.as_str()).map_err(|e| self.err("cannot read the alerts table", e))? else {
                    continue;
                };
                let Ok(mut a) = serde_json::from_slice::<Alert>(v.value()) else { continue };
                drop(v);
                if a.status.is_done() || secs(a.last_seen) != *last {
                    continue;
                }
                a.status = AlertStatus::Resolved;
                a.updated = now;
                a.history.push(Change {
                    status: AlertStatus::Resolved,
                    by: "loglynx".into(),
                    at: now,
                    comment: Some(format!("condition cleared: no match for {after_secs} s after the last one")),
                });
                let bytes = serde_json::to_vec(&a).unwrap_or_default();
                t.insert(id.as_str(), bytes.as_slice()).map_err(|e| self.err("cannot write the alerts table", e))?;
                out.push(a);
            }
        }
        let channels = self.channels();
        if !channels.is_empty() && !out.is_empty() {
            let pending = out.iter().flat_map(|a| {
                a.notify
                    .iter()
                    .filter(|c| channels.contains(c))
                    .map(|c| crate::notify::Pending::resolved(c, a.clone()))
            });
            self.queue(&tx, pending)?;
        }
        tx.commit().map_err(|e| self.err("cannot commit to the alerts database", e))?;
        Ok(out)
    }
}

/// The event of a resolution (`event.dataset: loglynx.alert`, `event.action: resolved`), at the
/// alert's last match.
pub fn resolved_event(a: &Alert) -> Event {
    let mut e = a.to_event();
    e.id = format!("alert-{}-resolved", a.id);
    e.timestamp = a.last_seen;
    e.action = Some("resolved".into());
    e.message = format!("resolved: {}", e.message.trim_start_matches("alert: "));
    e.level = Some("info".into());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Signal;
    use crate::correlate::Fired;
    use crate::ruleset::RuleInfo;

    fn rule(resolves: bool) -> RuleInfo {
        RuleInfo {
            title: "t".into(),
            id: Some(if resolves { "net" } else { "ssh" }.into()),
            name: None,
            level: Some("high".into()),
            author: None,
            file: "x.yml".into(),
            logsource: String::new(),
            resolves,
        }
    }

    fn sig<'a>(r: &'a RuleInfo, ts: i64, ev: &'a str) -> Signal<'a> {
        Signal {
            rule: std::borrow::Cow::Borrowed(r),
            group: vec![("process.pid".into(), "7".into())],
            ts,
            event_id: ev,
            host: None,
            fired: Some(Fired { value: 1.0, first_ts: ts, evidence: Vec::new() }),
        }
    }

    fn at(t: i64) -> Event {
        Event::new("x", Timestamp::from_secs(t), Timestamp::from_secs(t), format!("w{t}"))
    }

    #[test]
    fn a_quiet_alert_of_a_resolving_rule_resolves_once_with_a_notification_and_the_next_match_raises_a_new_one() {
        let mut book = AlertBook::in_memory(3600, 100).unwrap();
        book.set_channels(vec!["webhook".into()]);
        let (net, ssh) = (rule(true), rule(false));
        let created = book.apply(&[sig(&net, 1000, "a"), sig(&ssh, 1000, "b")]).unwrap();
        let mut r = Resolver::new(300, &book, |k| k == "net");
        assert_eq!(r.candidates.len(), 1, "seeded with the open alert of the resolving rule");
        for a in &created {
            r.track(a, a.rule.id == "net");
        }
        r.saw(&[at(1300)]);
        assert!(r.resolve(&book).unwrap().is_empty(), "300 s quiet is not more than 300 s");
        r.saw(&[at(1301)]);
        let done = r.resolve(&book).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].rule.id, "net");
        assert_eq!(done[0].status, AlertStatus::Resolved);
        let last = done[0].history.last().unwrap();
        assert_eq!((last.by.as_str(), last.comment.as_deref()), ("loglynx", Some("condition cleared: no match for 300 s after the last one")));
        assert!(r.resolve(&book).unwrap().is_empty(), "once");
        let ssh_alert = created.iter().find(|a| a.rule.id == "ssh").unwrap();
        assert_eq!(book.get(&ssh_alert.id).unwrap().unwrap().status, AlertStatus::Open, "rules not tagged do not resolve");
        let queued: Vec<_> = crate::notify::Notifier::pending(&book).unwrap().into_iter().map(|(_, p)| (p.alert.id, p.kind)).collect();
        assert!(queued.contains(&(done[0].id.clone(), crate::notify::Kind::Resolved)), "{queued:?}");
        assert_eq!(queued.len(), 3, "two raised, one resolved: {queued:?}");
        // the condition holds again: a new alert
        let again = book.apply(&[sig(&net, 1400, "c")]).unwrap();
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, done[0].id);
        let ev = resolved_event(&done[0]);
        assert_eq!((ev.action.as_deref(), ev.dataset.as_deref()), (Some("resolved"), Some("loglynx.alert")));
    }

    #[test]
    fn the_watermark_does_not_run_ahead_of_the_clock() {
        let book = AlertBook::in_memory(3600, 100).unwrap();
        let net = rule(true);
        let now = Timestamp::now().as_millis() / 1000;
        let created = book.apply(&[sig(&net, now - 10, "a")]).unwrap();
        let mut r = Resolver::new(300, &book, |_| true);
        r.track(&created[0], true);
        r.saw(&[at(now + 100_000)]); // a clock far ahead on some host
        assert!(r.resolve(&book).unwrap().is_empty());
    }
}

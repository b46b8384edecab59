//! Correlation state: Sigma correlation rules (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`, `value_sum`, `value_avg`, ...) over windows in event time.
//!
//! The window arithmetic is rsigma's ([`WindowState`], [`apply_window_open`],
//! [`GroupKey::extract`]); the state around it is written here, because rsigma's
//! `CorrelationEngine` has one cap for all rules and does not say what it evicted, keeps no
//! event ids unless it converts every matching event to JSON, and owns its own detection
//! engine (here detection runs first, on the parse threads, and tags the event with the ids of
//! the rules it matched: see [`crate::Detector::tag`]). Here each correlation rule has its own
//! cap on groups (the stalest group goes first, and evictions are counted per rule), each
//! group keeps the ids of the events in its window (the alert's evidence), and correlations
//! that refer to other correlations are fed their firings (chains, e.g. "a brute force, then a
//! success from the same source").

use std::collections::{HashMap, VecDeque};

use loglynx_core::Event;
use rsigma_eval::correlation::{apply_window_open, CompiledCorrelation, GroupKey, WindowDecision, WindowState};
use rsigma_eval::Event as _;
use rsigma_parser::{CorrelationType, WindowMode};

use crate::event::SigmaEvent;
use crate::ruleset::RuleInfo;

/// Most event ids a group keeps as evidence (the newest).
pub const EVIDENCE_PER_GROUP: usize = 100;

/// One compiled correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationSpec {
    pub info: RuleInfo,
    pub compiled: CompiledCorrelation,
}

impl CorrelationSpec {
    /// The key rules and alerts use for it: `id`, else `name`, else `title`.
    pub fn key(&self) -> &str {
        self.info.key()
    }
}

#[derive(Debug)]
struct Group {
    window: WindowState,
    /// (event time, event id) of the events in the window, oldest first.
    evidence: VecDeque<(i64, String)>,
    last_ts: i64,
}

/// What observing an event did to one correlation's group.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Index of the correlation in [`Correlator::specs`].
    pub correlation: usize,
    /// The group-by field -> value pairs (fields absent from the event are left out).
    pub group: Vec<(String, String)>,
    /// Event time, seconds.
    pub ts: i64,
    /// The event observed (or, for a chained correlation, the last event of the firing below).
    pub event_id: String,
    /// When the condition is met: the aggregated value and the ids of the events in the window.
    pub fired: Option<Fired>,
}

/// A met correlation condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// Count, distinct values, sum, ... as the rule's type says.
    pub value: f64,
    /// Event time of the oldest event in the window, seconds.
    pub first_ts: i64,
    /// The ids of the events in the window, oldest first (at most [`EVIDENCE_PER_GROUP`]).
    pub evidence: Vec<String>,
}

/// The correlation rules' state.
#[derive(Debug)]
pub struct Correlator {
    specs: Vec<CorrelationSpec>,
    /// Rule key (id or name of a detection or correlation rule) -> correlations referring to it.
    refs: HashMap<String, Vec<usize>>,
    groups: Vec<HashMap<GroupKey, Group>>,
    evicted: Vec<u64>,
    max_groups: usize,
}

impl Correlator {
    /// A correlator for `specs`, each keeping at most `max_groups` groups.
    pub fn new(specs: Vec<CorrelationSpec>, max_groups: usize) -> Correlator {
        let mut refs: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in specs.iter().enumerate() {
            for r in &s.compiled.rule_refs {
                refs.entry(r.clone()).or_default().push(i);
            }
        }
        let n = specs.len();
        Correlator {
            specs,
            refs,
            groups: (0..n).map(|_| HashMap::new()).collect(),
            evicted: vec![0; n],
            max_groups: max_groups.max(1),
        }
    }

    /// The rules, in index order.
    pub fn specs(&self) -> &[CorrelationSpec] {
        &self.specs
    }

    /// Groups held now, per correlation.
    pub fn group_counts(&self) -> Vec<usize> {
        self.groups.iter().map(HashMap::len).collect()
    }

    /// Groups evicted because a rule held `max_groups`, per correlation.
    pub fn evicted(&self) -> &[u64] {
        &self.evicted
    }

    /// Whether some correlation refers to the rule `key` (its id or name).
    pub fn refers_to(&self, key: &str) -> bool {
        self.refs.contains_key(key)
    }

    /// Takes over the groups of `old` for the rules both have (same key), so a rule reload
    /// keeps the windows in progress.
    pub fn adopt(&mut self, mut old: Correlator) {
        for (i, spec) in self.specs.iter().enumerate() {
            if let Some(j) = old.specs.iter().position(|s| s.key() == spec.key() && s.compiled.correlation_type == spec.compiled.correlation_type) {
                self.groups[i] = std::mem::take(&mut old.groups[j]);
                self.evicted[i] = old.evicted[j];
            }
        }
    }

    /// Feeds an event tagged by [`crate::Detector::tag`] (its `rule_ids` / `rule_names`) to the
    /// correlations that refer to those rules, and the correlations that fire to their own
    /// parents. One observation per correlation and group touched.
    pub fn observe(&mut self, event: &Event) -> Vec<Observation> {
        let mut out = Vec::new();
        if event.rule_ids.is_empty() {
            return out;
        }
        let ts = event.timestamp.as_millis().div_euclid(1000);
        for (i, id) in event.rule_ids.iter().enumerate() {
            let name = event.rule_names.get(i).map(String::as_str);
            let mut targets: Vec<usize> = Vec::new();
            for k in std::iter::once(id.as_str()).chain(name) {
                if let Some(v) = self.refs.get(k) {
                    targets.extend(v);
                }
            }
            targets.sort_unstable();
            targets.dedup();
            for c in targets {
                let idents: Vec<&str> = std::iter::once(id.as_str()).chain(name).collect();
                let key = GroupKey::extract(&SigmaEvent(event), &self.specs[c].compiled.group_by, &idents);
                let o = self.push(c, key, ts, &event.id, &idents, Some(event));
                self.chain(&o, &mut out, 0);
                out.push(o);
            }
        }
        out
    }

    /// Feeds a firing of correlation `o.correlation` to the correlations that refer to it.
    fn chain(&mut self, o: &Observation, out: &mut Vec<Observation>, depth: usize) {
        if o.fired.is_none() || depth > 4 {
            return;
        }
        let spec = &self.specs[o.correlation];
        let idents: Vec<String> = [spec.info.id.clone(), spec.info.name.clone()].into_iter().flatten().collect();
        let mut parents: Vec<usize> = idents.iter().filter_map(|k| self.refs.get(k)).flatten().copied().collect();
        parents.sort_unstable();
        parents.dedup();
        for p in parents {
            let key = GroupKey::from_pairs(&o.group, &self.specs[p].compiled.group_by);
            let idents: Vec<&str> = idents.iter().map(String::as_str).collect();
            let po = self.push(p, key, o.ts, &o.event_id, &idents, None);
            self.chain(&po, out, depth + 1);
            out.push(po);
        }
    }

    fn push(
        &mut self,
        c: usize,
        key: GroupKey,
        ts: i64,
        event_id: &str,
        idents: &[&str],
        event: Option<&Event>,
    ) -> Observation {
        let spec = &self.specs[c].compiled;
        let group_pairs = key.to_pairs(&spec.group_by);
        if !self.groups[c].contains_key(&key) && self.groups[c].len() >= self.max_groups {
            self.evict(c, ts);
        }
        let spec = &self.specs[c].compiled;
        let g = self.groups[c].entry(key).or_insert_with(|| Group {
            window: WindowState::new_for(spec.correlation_type),
            evidence: VecDeque::new(),
            last_ts: ts,
        });
        let decision = apply_window_open(&mut g.window, ts, spec.timespan_secs, spec.window_mode, spec.gap_secs);
        let mut obs = Observation {
            correlation: c,
            group: group_pairs,
            ts,
            event_id: event_id.to_string(),
            fired: None,
        };
        // The same event seen again (a replay) does not count twice.
        if decision != WindowDecision::Reset && g.evidence.iter().any(|(_, id)| id == event_id) {
            return obs;
        }
        match decision {
            WindowDecision::Discard => return obs,
            WindowDecision::Reset => g.evidence.clear(),
            WindowDecision::Extend => {
                if spec.window_mode == WindowMode::Sliding {
                    let cutoff = ts - spec.timespan_secs as i64;
                    while g.evidence.front().is_some_and(|(t, _)| *t < cutoff) {
                        g.evidence.pop_front();
                    }
                }
            }
        }
        let rule_ref = idents
            .iter()
            .copied()
            .find(|i| spec.rule_refs.iter().any(|r| r == i))
            .unwrap_or("");
        let fields = spec.condition.field.as_deref().unwrap_or(&[]);
        match spec.correlation_type {
            CorrelationType::EventCount => g.window.push_event_count(ts),
            CorrelationType::ValueCount => {
                let values: Option<Vec<String>> = event.map(|e| {
                    fields
                        .iter()
                        .map(|f| SigmaEvent(e).get_field(f).and_then(|v| v.as_str().map(|s| s.into_owned())).unwrap_or_default())
                        .collect()
                });
                match values {
                    Some(v) if v.iter().any(|s| !s.is_empty()) => g.window.push_value_count(ts, v.join("\u{1f}")),
                    _ => return obs,
                }
            }
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => g.window.push_temporal(ts, rule_ref),
            _ => {
                let n = event.zip(fields.first()).and_then(|(e, f)| {
                    match SigmaEvent(e).get_field(f)? {
                        rsigma_eval::EventValue::Int(i) => Some(i as f64),
                        rsigma_eval::EventValue::Float(x) => Some(x),
                        other => other.as_str().and_then(|s| s.trim().parse().ok()),
                    }
                });
                match n {
                    Some(n) => g.window.push_numeric(ts, n),
                    None => return obs,
                }
            }
        }
        g.last_ts = g.last_ts.max(ts);
        if g.evidence.len() >= EVIDENCE_PER_GROUP {
            g.evidence.pop_front();
        }
        g.evidence.push_back((ts, event_id.to_string()));
        if let Some(value) = g.window.check_condition(&spec.condition, spec.correlation_type, &spec.rule_refs, spec.extended_expr.as_ref()) {
            obs.fired = Some(Fired {
                value,
                first_ts: g.window.earliest_timestamp().unwrap_or(ts),
                evidence: g.evidence.iter().map(|(_, id)| id.clone()).collect(),
            });
        }
        obs
    }

    /// Makes room in correlation `c`: drops the groups whose window ended before `now`, then,
    /// if still full, the stalest tenth. Counts what it dropped while still in its window.
    fn evict(&mut self, c: usize, now: i64) {
        let span = self.specs[c].compiled.timespan_secs as i64;
        let groups = &mut self.groups[c];
        groups.retain(|_, g| now - g.last_ts <= span);
        if groups.len() < self.max_groups {
            return;
        }
        let excess = groups.len() - self.max_groups * 9 / 10;
        let mut by_age: Vec<(i64, GroupKey)> = groups.iter().map(|(k, g)| (g.last_ts, k.clone())).collect();
        by_age.select_nth_unstable_by_key(excess.saturating_sub(1), |(t, _)| *t);
        for (_, k) in by_age.into_iter().take(excess) {
            groups.remove(&k);
        }
        self.evicted[c] += excess as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_core::Timestamp;

    use crate::{Detector, DetectorOptions, LoadOptions, RuleSet};

    fn detector(max_groups: usize) -> Detector {
        let rules = RuleSet::load_all::<&str>(&[], crate::rules::BUILTIN, LoadOptions::default()).unwrap();
        Detector::new(rules, DetectorOptions { max_groups, ..Default::default() })
    }

    fn failure(ip: &str, ts: i64, id: &str, user: &str) -> Event {
        let mut e = Event::new(
            format!("Failed password for {user} from {ip} port 22 ssh2"),
            Timestamp::from_secs(ts),
            Timestamp::from_secs(ts),
            id.into(),
        );
        e.process_name = Some("sshd".into());
        e.action = Some("ssh_login".into());
        e.outcome = Some("failure".into());
        e.source_ip = Some(ip.into());
        e.user_name = Some(user.into());
        e
    }

    #[test]
    fn a_million_distinct_groups_stay_bounded_and_evictions_are_counted() {
        let d = detector(1_000);
        let mut c = d.correlator();
        for i in 0..1_000_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            let mut e = failure(&ip, 1_700_000_000, &i.to_string(), "root");
            d.tag(&mut e);
            c.observe(&e);
        }
        for (n, spec) in c.group_counts().iter().zip(c.specs()) {
            assert!(*n <= 1_000, "{} holds {n} groups", spec.key());
        }
        let evicted: u64 = c.evicted().iter().sum();
        // brute force and spraying both group by source.ip: each evicted ~999,000
        assert!(evicted >= 2 * 998_000, "evicted {evicted}");
    }

    #[test]
    fn ten_failures_fire_once_the_tenth_arrives_and_a_replayed_event_counts_once() {
        let d = detector(100);
        let mut c = d.correlator();
        let brute = c.specs().iter().position(|s| s.key().ends_with("0a03")).unwrap();
        let mut fired_at = None;
        for i in 0..10 {
            let mut e = failure("203.0.113.9", 1_700_000_000 + i, &format!("e{i}"), "root");
            d.tag(&mut e);
            let obs = c.observe(&e);
            // the 5th event is read again (a replay): no extra count
            if i == 4 {
                let again = c.observe(&e);
                assert!(again.iter().all(|o| o.fired.is_none()));
            }
            if obs.iter().any(|o| o.correlation == brute && o.fired.is_some()) && fired_at.is_none() {
                fired_at = Some(i);
            }
        }
        assert_eq!(fired_at, Some(9));
        // ten failures more than 5 minutes apart never fire
        let mut c = d.correlator();
        for i in 0..10 {
            let mut e = failure("203.0.113.10", 1_700_000_000 + i * 400, &format!("f{i}"), "root");
            d.tag(&mut e);
            assert!(c.observe(&e).iter().all(|o| o.correlation != brute || o.fired.is_none()));
        }
    }

    #[test]
    fn spraying_counts_distinct_users_and_chains_feed_success_after_brute_force() {
        let d = detector(100);
        let mut c = d.correlator();
        let key = |suffix: &str| c.specs().iter().position(|s| s.key().ends_with(suffix)).unwrap();
        let (spray, after) = (key("0a04"), key("0a05"));
        let mut fired = std::collections::BTreeSet::new();
        for i in 0..12 {
            let mut e = failure("198.51.100.7", 1_700_000_000 + i, &format!("s{i}"), &format!("user{}", i % 6));
            d.tag(&mut e);
            for o in c.observe(&e) {
                if o.fired.is_some() {
                    fired.insert(o.correlation);
                }
            }
        }
        assert!(fired.contains(&spray));
        assert!(!fired.contains(&after), "no success yet");
        let mut ok = failure("198.51.100.7", 1_700_000_100, "ok", "user1");
        ok.outcome = Some("success".into());
        d.tag(&mut ok);
        assert!(c.observe(&ok).iter().any(|o| o.correlation == after && o.fired.is_some()));
    }
}

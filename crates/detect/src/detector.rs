//! [`Detector`]: the loaded rules as the pipeline uses them: [`Detector::tag`] (stateless, on
//! the parse threads) and [`Detector::signals`] (turns a tagged event and what the
//! [`Correlator`] observed into [`Signal`]s for the [`crate::AlertBook`]).

use std::collections::HashSet;

use loglynx_core::Event;

use crate::alerts::Signal;
use crate::correlate::{Correlator, Fired, Observation};
use crate::ruleset::{RuleInfo, RuleSet};

/// How a [`Detector`] turns matches into alerts.
#[derive(Debug, Clone)]
pub struct DetectorOptions {
    /// Rules (id or name) that neither tag events nor raise alerts.
    pub disabled: Vec<String>,
    /// The fields that group the alerts of a single-event rule (one alert per rule and value,
    /// folding matches while they keep coming); absent fields are left out.
    pub group_by: Vec<String>,
    /// Most groups a correlation rule holds; beyond it the stalest are evicted and counted.
    pub max_groups: usize,
    /// Rule key -> enabled, set through the API; wins over `disabled`.
    pub overrides: std::collections::HashMap<String, bool>,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            disabled: Vec::new(),
            group_by: vec![loglynx_core::fields::HOST_NAME.to_string()],
            max_groups: 100_000,
            overrides: Default::default(),
        }
    }
}

/// Loaded rules, ready for the pipeline.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    disabled: HashSet<String>,
    correlation_only: HashSet<String>,
    options: DetectorOptions,
}

impl Detector {
    pub fn new(rules: RuleSet, options: DetectorOptions) -> Detector {
        let correlation_only = rules.correlation_only();
        Detector {
            rules,
            disabled: options.disabled.iter().cloned().collect(),
            correlation_only,
            options,
        }
    }

    /// The rules, loaded and refused.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Whether the rule is enabled (not in `disabled` by id, name or title).
    pub fn is_enabled(&self, r: &RuleInfo) -> bool {
        if let Some(&on) = self.options.overrides.get(r.key()) {
            return on;
        }
        !(self.disabled.contains(r.key())
            || r.name.as_ref().is_some_and(|n| self.disabled.contains(n))
            || r.id.as_ref().is_some_and(|n| self.disabled.contains(n))
            || self.disabled.contains(&r.title))
    }

    /// The key of `event` (tagged) as a signal of the scale-out shape: rule + group key, so
    /// that the matches one correlation group needs share a key (and a partition, once the
    /// signals topic has more than one). The rule is the first correlation that uses the
    /// event's first matched rule, with that correlation's `group-by` values
    /// (`<correlation key>|field=value,...`); for a rule no correlation uses, the rule and the
    /// alert group of single-event rules (`[detect] group_by`). Empty for an untagged event.
    pub fn signal_key(&self, event: &Event) -> String {
        let Some(id) = event.rule_ids.first() else {
            return String::new();
        };
        let name = event.rule_names.first().map(String::as_str);
        let idents: Vec<&str> = std::iter::once(id.as_str()).chain(name).collect();
        let pairs = |pairs: Vec<(String, String)>| -> String {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        };
        for (info, c) in self.rules.correlations_compiled() {
            if c.rule_refs.iter().any(|r| idents.contains(&r.as_str())) {
                let key = rsigma_eval::correlation::GroupKey::extract(&crate::event::SigmaEvent(event), &c.group_by, &idents);
                return format!("{}|{}", info.key(), pairs(key.to_pairs(&c.group_by)));
            }
        }
        let group = self.options.group_by.iter().filter_map(|f| event.get(f).map(|v| (f.clone(), v))).collect();
        format!("{id}|{}", pairs(group))
    }

    /// Tags `event` with the enabled rules it matches (`rule.id`, `rule.name`).
    pub fn tag(&self, event: &mut Event) {
        // An alert event names the rule that raised it; it is not matched again.
        if event.dataset.as_deref() == Some(crate::alerts::ALERT_DATASET) {
            return;
        }
        self.rules.tag(event, |r| !self.is_enabled(r));
    }

    /// A correlator for the enabled correlation rules.
    pub fn correlator(&self) -> Correlator {
        let specs = self
            .rules
            .correlation_specs()
            .into_iter()
            .filter(|s| self.is_enabled(&s.info))
            .collect();
        Correlator::new(specs, self.options.max_groups)
    }

    /// What `event` (tagged) and the correlator's `observations` of it mean for the alerts:
    /// one fired signal per matched rule that raises alerts on its own (grouped by
    /// `group_by`), one signal per correlation observation.
    pub fn signals<'a>(
        &'a self,
        event: &'a Event,
        observations: &[Observation],
        correlator: &Correlator,
    ) -> Vec<Signal<'a>> {
        let ts = event.timestamp.as_millis().div_euclid(1000);
        let mut out = Vec::new();
        for (i, id) in event.rule_ids.iter().enumerate() {
            let name = event.rule_names.get(i);
            if self.correlation_only.contains(id) || name.is_some_and(|n| self.correlation_only.contains(n)) {
                continue;
            }
            let Some(rule) = self.rules.active_rule(id) else { continue };
            let group = self
                .options
                .group_by
                .iter()
                .filter_map(|f| event.get(f).map(|v| (f.clone(), v)))
                .collect();
            out.push(Signal {
                rule: std::borrow::Cow::Borrowed(rule),
                group,
                ts,
                event_id: &event.id,
                host: event.host.as_deref(),
                fired: Some(Fired { value: 1.0, first_ts: ts, evidence: Vec::new() }),
            });
        }
        for o in observations {
            out.push(Signal {
                rule: std::borrow::Cow::Owned(correlator.specs()[o.correlation].info.clone()),
                group: o.group.clone(),
                ts: o.ts,
                event_id: &event.id,
                host: event.host.as_deref(),
                fired: o.fired.clone(),
            });
        }
        out
    }
}

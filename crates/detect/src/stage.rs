//! [`DetectionStage`]: the stateful half of detection, run in order over the pipeline's
//! batches (after the parse threads tagged each event with the rules it matched, see
//! [`crate::Detector::tag`]): correlation, then alerts, whose new ones join the batch as events,
//! then the resolution of quiet alerts ([`crate::resolve`]), whose events join it too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use loglynx_core::Event;

use crate::alerts::AlertBook;
use crate::correlate::Correlator;
use crate::detector::Detector;
use crate::resolve::{resolved_event, Resolver};
use crate::DetectError;

/// Counters of the detection stage, shared with the API.
#[derive(Debug, Default)]
pub struct DetectionStats {
    /// Matches per rule key since the process started.
    pub hits: BTreeMap<String, u64>,
    /// Alerts raised since the process started.
    pub alerts_raised: u64,
    /// Groups held now and evicted so far, per correlation rule key.
    pub groups: BTreeMap<String, (usize, u64)>,
    /// Batches whose alerts could not be written (the error is logged).
    pub alert_errors: u64,
}

/// Correlation and alerting over tagged events.
pub struct DetectionStage {
    detector: Arc<Detector>,
    correlator: Correlator,
    book: Arc<AlertBook>,
    stats: Arc<Mutex<DetectionStats>>,
    /// The alerts the batches processed since the last [`DetectionStage::take_changed`] changed.
    changed: Vec<crate::Alert>,
    /// Whether `changed` is kept (a correlator takes it after each batch; `run` does not).
    keep_changed: bool,
    /// Resolves the quiet alerts of rules tagged `loglynx.resolve`.
    resolver: Resolver,
}

impl DetectionStage {
    pub fn new(detector: Arc<Detector>, book: Arc<AlertBook>, stats: Arc<Mutex<DetectionStats>>) -> DetectionStage {
        let correlator = detector.correlator();
        DetectionStage { detector, correlator, book, stats, changed: Vec::new(), keep_changed: false, resolver: Resolver::default() }
    }

    /// Resolves the alerts of rules tagged `loglynx.resolve` after `secs` without a match, in
    /// event time (0: never; see [`crate::resolve`]), starting with the open ones in the book.
    pub fn resolve_after(&mut self, secs: u64) {
        let d = self.detector.clone();
        self.resolver = Resolver::new(secs, &self.book, |key| d.rules().find(key).is_some_and(|r| r.resolves));
    }

    /// Takes up the open alerts of resolving rules that are in the book now, so they resolve
    /// here: a correlator taking over the signals calls it, its book holds the alerts the
    /// previous one raised (read from the alerts topic since this stage was made).
    pub fn track_open_alerts(&mut self) {
        let d = self.detector.clone();
        self.resolver.reseed(&self.book, |key| d.rules().find(key).is_some_and(|r| r.resolves));
    }

    /// Uses newly loaded rules; the windows of correlation rules that are still there are kept.
    pub fn reload(&mut self, detector: Arc<Detector>) {
        let mut c = detector.correlator();
        c.adopt(std::mem::replace(&mut self.correlator, Correlator::new(Vec::new(), 1)));
        self.correlator = c;
        self.detector = detector;
    }

    /// How far back in event time the correlation windows reach (the longest timespan, twice
    /// for chains): what a restart must read again to rebuild them.
    pub fn lookback_secs(&self) -> i64 {
        let max = self.correlator.specs().iter().map(|s| s.compiled.timespan_secs).max().unwrap_or(0);
        (max.min(i64::MAX as u64 / 4) as i64) * 2
    }

    /// The alerts changed (raised, counted further) since the last call, oldest change first:
    /// what a correlator publishes to the other processes.
    /// Only kept after [`DetectionStage::keep_changed`].
    pub fn take_changed(&mut self) -> Vec<crate::Alert> {
        std::mem::take(&mut self.changed)
    }

    /// Keeps the changed alerts for [`DetectionStage::take_changed`].
    pub fn keep_changed(&mut self) {
        self.keep_changed = true;
    }

    /// The rules in use.
    pub fn detector(&self) -> &Arc<Detector> {
        &self.detector
    }

    /// Correlates the tagged events of a batch, folds the matches into the alerts (one durable
    /// transaction) and appends the alerts it created to `events`, as alert events. Returns how
    /// many it created.
    pub fn process(&mut self, events: &mut Vec<Event>) -> Result<usize, DetectError> {
        self.resolver.saw(events);
        let mut hits: BTreeMap<String, u64> = BTreeMap::new();
        let created = {
            let mut signals = Vec::new();
            for e in events.iter() {
                if e.rule_ids.is_empty() {
                    continue;
                }
                for id in &e.rule_ids {
                    *hits.entry(id.clone()).or_default() += 1;
                }
                let obs = self.correlator.observe(e);
                for o in obs.iter().filter(|o| o.fired.is_some()) {
                    *hits.entry(self.correlator.specs()[o.correlation].key().to_string()).or_default() += 1;
                }
                signals.extend(self.detector.signals(e, &obs, &self.correlator));
            }
            // A failed write is retried (a full disk may clear); the signals are kept meanwhile.
            let mut tries = 0;
            loop {
                match self.book.apply_changes(&signals) {
                    Err(e) if tries < 3 => {
                        tries += 1;
                        tracing::error!("{e}; retrying ({tries}/3)");
                        std::thread::sleep(std::time::Duration::from_millis(200 * 5u64.pow(tries)));
                    }
                    other => break other,
                }
            }
        };
        let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        for (k, n) in hits {
            *st.hits.entry(k).or_default() += n;
        }
        let counts = self.correlator.group_counts();
        for (i, spec) in self.correlator.specs().iter().enumerate() {
            st.groups.insert(spec.key().to_string(), (counts[i], self.correlator.evicted()[i]));
        }
        match created {
            Ok(applied) => {
                let created = applied.created;
                if self.resolver.enabled() {
                    for a in &applied.changed {
                        let resolves = self.detector.rules().find(&a.rule.id).is_some_and(|r| r.resolves);
                        self.resolver.track(a, resolves);
                    }
                }
                if self.keep_changed {
                    self.changed.extend(applied.changed);
                }
                st.alerts_raised += created.len() as u64;
                drop(st);
                let n = created.len();
                for a in created {
                    tracing::warn!(alert = %a.id, rule = %a.rule.name, group = ?a.group, count = a.count, "alert raised: {}", a.rule.title);
                    events.push(a.to_event());
                }
                match self.resolver.resolve(&self.book) {
                    Ok(resolved) => {
                        for a in resolved {
                            tracing::info!(alert = %a.id, rule = %a.rule.name, group = ?a.group, "alert resolved: {}", a.rule.title);
                            events.push(resolved_event(&a));
                            if self.keep_changed {
                                self.changed.push(a);
                            }
                        }
                    }
                    // Tried again after the next batch.
                    Err(e) => tracing::error!("alerts not resolved: {e}"),
                }
                Ok(n)
            }
            Err(e) => {
                st.alert_errors += 1;
                Err(e)
            }
        }
    }
}

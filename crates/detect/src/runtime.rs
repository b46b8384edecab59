//! [`Detection`]: detection as a running process has it: the rules in use (reloaded when their
//! files change), the alerts, the counters; shared by the pipeline (tagging on the parse
//! threads, the [`DetectionStage`] after them) and the API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use crate::alerts::AlertBook;
use crate::detector::{Detector, DetectorOptions};
use crate::ruleset::{LoadOptions, RuleSet};
use crate::stage::{DetectionStage, DetectionStats};
use crate::DetectError;

/// Where rules come from and how they alert.
#[derive(Debug, Clone)]
pub struct DetectionSettings {
    /// Rule files and folders.
    pub paths: Vec<PathBuf>,
    /// Processing pipeline files of the user's, applied with loglynx's own (see
    /// [`RuleSet::load_all_with`]).
    pub pipelines: Vec<PathBuf>,
    /// Load the built-in pack.
    pub builtin: bool,
    /// Values of the built-in rules' `${name}` parameters (see [`crate::rules::DEFAULT_PARAMS`]).
    pub params: Vec<(String, String)>,
    pub options: DetectorOptions,
    /// Fold window of alerts, seconds.
    pub suppress_secs: u64,
    /// Alerts of rules tagged `loglynx.resolve` resolve after this long without a match, in
    /// event time, seconds (0: never).
    pub resolve_after_secs: u64,
    pub max_evidence: usize,
    /// How often the rule files are checked for changes.
    pub reload_interval: Duration,
    /// Where new alerts are notified.
    pub notify: crate::notify::NotifySettings,
}

/// Detection in a running process.
pub struct Detection {
    settings: DetectionSettings,
    detector: RwLock<Arc<Detector>>,
    generation: AtomicU64,
    book: Arc<AlertBook>,
    stats: Arc<Mutex<DetectionStats>>,
    stop: AtomicBool,
    reloads: AtomicU64,
    notify_stats: Arc<crate::notify::NotifyStats>,
    notify_stop: Mutex<Option<Arc<AtomicBool>>>,
    /// Where lifecycle changes go besides the alert book (`serve` of the scale-out shape
    /// publishes them to the alerts topic).
    publisher: RwLock<Option<Publisher>>,
    /// Where rule state changes go besides the alerts database (the rules topic).
    rule_publisher: RwLock<Option<RulePublisher>>,
}

/// Receives each alert whose lifecycle changed through [`Detection::set_status`]; an error
/// is returned to the caller of the change.
pub type Publisher = Box<dyn Fn(&crate::Alert) -> Result<(), String> + Send + Sync>;

/// Receives each rule enabled or disabled through [`Detection::set_enabled`]; an error is
/// returned to the caller of the change.
pub type RulePublisher = Box<dyn Fn(&RuleState) -> Result<(), String> + Send + Sync>;

/// A rule enabled or disabled, by whom and when: what `serve` of the scale-out shape publishes
/// to the rules topic (key: the rule key) and the workers apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleState {
    /// The rule key ([`crate::RuleInfo::key`]).
    pub key: String,
    pub enabled: bool,
    /// Who changed it (the API's `by`, default `api`).
    pub by: String,
    /// When.
    pub at: loglynx_core::Timestamp,
}

impl std::fmt::Debug for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detection").field("settings", &self.settings).finish()
    }
}

impl Detection {
    /// Loads the rules (refused ones are logged and listed, the others run) and opens the
    /// alerts under `alerts_dir`.
    pub fn open(settings: DetectionSettings, alerts_dir: &Path) -> Result<Arc<Detection>, DetectError> {
        let mut book = AlertBook::open(alerts_dir, settings.suppress_secs, settings.max_evidence)?;
        book.set_channels(settings.notify.channels());
        let book = Arc::new(book);
        let detector = load(&settings, book.rule_overrides()?)?;
        Ok(Self::with(settings, book, detector))
    }

    /// Detection without an alerts database: its alert book is in memory. A worker of the
    /// scale-out shape tags with it and its correlator fills the book from the alerts topic;
    /// `serve` lists alerts from it (see ARCHITECTURE.md, "Detection across workers").
    pub fn open_tagging(settings: DetectionSettings) -> Result<Arc<Detection>, DetectError> {
        let mut book = AlertBook::in_memory(settings.suppress_secs, settings.max_evidence)?;
        // a worker's correlator queues the notifications of the alerts it raises
        book.set_channels(settings.notify.channels());
        let book = Arc::new(book);
        let detector = load(&settings, HashMap::new())?;
        Ok(Self::with(settings, book, detector))
    }

    fn with(settings: DetectionSettings, book: Arc<AlertBook>, detector: Detector) -> Arc<Detection> {
        Arc::new(Detection {
            settings,
            detector: RwLock::new(Arc::new(detector)),
            generation: AtomicU64::new(0),
            book,
            stats: Arc::new(Mutex::new(DetectionStats::default())),
            stop: AtomicBool::new(false),
            reloads: AtomicU64::new(0),
            notify_stats: Arc::new(crate::notify::NotifyStats::default()),
            notify_stop: Mutex::new(None),
            publisher: RwLock::new(None),
            rule_publisher: RwLock::new(None),
        })
    }

    /// The rules in use now.
    pub fn detector(&self) -> Arc<Detector> {
        self.detector.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends every lifecycle change to `p` too, after the alert book took it.
    pub fn set_publisher(&self, p: Publisher) {
        *self.publisher.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }

    /// Sends every rule enabled or disabled to `p` too, after this process took it.
    pub fn set_rule_publisher(&self, p: RulePublisher) {
        *self.rule_publisher.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }

    /// Moves an alert to `status` (see [`AlertBook::set_status`]) and publishes the change.
    /// `None` when there is no such alert.
    pub fn set_status(
        &self,
        id: &str,
        status: crate::AlertStatus,
        by: &str,
        comment: Option<String>,
    ) -> Result<Option<crate::Alert>, DetectError> {
        let Some(a) = self.book.set_status(id, status, by, comment)? else {
            return Ok(None);
        };
        if let Some(p) = self.publisher.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            p(&a).map_err(|reason| DetectError::Publish { alert: a.id.clone(), reason })?;
        }
        Ok(Some(a))
    }

    /// The alerts.
    pub fn alerts(&self) -> &Arc<AlertBook> {
        &self.book
    }

    /// The stage's counters (hits per rule, alerts raised, correlation groups).
    pub fn stats(&self) -> &Arc<Mutex<DetectionStats>> {
        &self.stats
    }

    /// Times the rules were reloaded since the start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// The stateful stage, to run in order over the pipeline's batches; it picks up reloaded
    /// rules at its next batch ([`Detection::refresh`]).
    pub fn stage(&self) -> (DetectionStage, u64) {
        let g = self.generation.load(Ordering::Acquire);
        let mut stage = DetectionStage::new(self.detector(), self.book.clone(), self.stats.clone());
        stage.resolve_after(self.settings.resolve_after_secs);
        (stage, g)
    }

    /// Gives `stage` the current rules if they changed since `seen`.
    pub fn refresh(&self, stage: &mut DetectionStage, seen: &mut u64) {
        let g = self.generation.load(Ordering::Acquire);
        if g != *seen {
            *seen = g;
            stage.reload(self.detector());
        }
    }

    /// Loads the rules again now; on success they replace the ones in use.
    pub fn reload(&self) -> Result<(), DetectError> {
        let d = load(&self.settings, self.book.rule_overrides()?)?;
        *self.detector.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(d);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Starts the thread that reloads the rules when a rule or pipeline file changes (new,
    /// removed, modified). Ends with [`Detection::stop`].
    pub fn watch(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = self.clone();
        std::thread::Builder::new().name("rules-watch".into()).spawn(move || {
            let watched: Vec<PathBuf> = me.settings.paths.iter().chain(&me.settings.pipelines).cloned().collect();
            let mut last = fingerprint(&watched);
            while !me.stop.load(Ordering::Relaxed) {
                std::thread::sleep(me.settings.reload_interval);
                let now = fingerprint(&watched);
                if now == last {
                    continue;
                }
                last = now;
                match me.reload() {
                    Ok(()) => {
                        let d = me.detector();
                        tracing::info!(
                            active = d.rules().active().len(),
                            correlations = d.rules().correlations().count(),
                            rejected = d.rules().rejected().len(),
                            "rules reloaded"
                        );
                    }
                    Err(e) => tracing::error!("rules not reloaded, the previous ones keep running: {e}"),
                }
            }
        })
    }

    /// Ends the watcher and notifier threads (at their next check).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.notify_stop.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            s.store(true, Ordering::Relaxed);
        }
    }

    /// Starts delivering the outbox when a channel is configured (also what an earlier run
    /// left pending).
    pub fn start_notifier(&self) -> Result<Option<std::thread::JoinHandle<()>>, String> {
        self.start_notifier_with(None, None)
    }

    /// [`Detection::start_notifier`] that sends only while `active` is set and hands each
    /// delivered alert to `delivered` (a worker: while its correlator holds the signals
    /// partition; it publishes the delivery to the alerts topic).
    pub fn start_notifier_with(
        &self,
        active: Option<Arc<AtomicBool>>,
        delivered: Option<Publisher>,
    ) -> Result<Option<std::thread::JoinHandle<()>>, String> {
        if self.settings.notify.channels().is_empty() {
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        *self.notify_stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop.clone());
        let (book, settings, stats) = (self.book.clone(), self.settings.notify.clone(), self.notify_stats.clone());
        // The blocking HTTP client owns a runtime of its own: made and dropped on this thread,
        // never inside the caller's async context.
        std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || match crate::notify::Notifier::new(book, settings) {
                Ok(mut n) => {
                    n.stats = stats;
                    n.active = active;
                    n.delivered = delivered;
                    n.run(&stop);
                }
                Err(e) => tracing::error!("alert notifications off: {e}"),
            })
            .map(Some)
            .map_err(|e| format!("cannot start the notifier thread: {e}"))
    }

    /// Notifications delivered and failed attempts since start.
    pub fn notify_stats(&self) -> &crate::notify::NotifyStats {
        &self.notify_stats
    }

    /// The channels configured (`webhook`, `syslog`).
    pub fn notify_channels(&self) -> Vec<String> {
        self.settings.notify.channels()
    }
}

fn load(s: &DetectionSettings, overrides: HashMap<String, bool>) -> Result<Detector, DetectError> {
    let rules = load_rules(s, None)?;
    for r in rules.rejected() {
        tracing::warn!("rule refused: {}:{}: {}", r.file.display(), r.line, r.reason);
    }
    let mut options = s.options.clone();
    options.overrides = overrides;
    Ok(Detector::new(rules, options))
}

/// The rules of `s`, plus `extra` (a YAML text, named `builtin:backtest.yml`).
fn load_rules(s: &DetectionSettings, extra: Option<&str>) -> Result<RuleSet, DetectError> {
    let builtin = if s.builtin { crate::rules::builtin_with(&s.params) } else { Vec::new() };
    let mut texts: Vec<(&str, &str)> = builtin.iter().map(|(n, t)| (*n, t.as_str())).collect();
    if let Some(y) = extra {
        texts.push((BACKTEST_FILE, y));
    }
    let pipelines = crate::pipeline::read_pipelines(&s.pipelines)?;
    RuleSet::load_all_with(&s.paths, &texts, LoadOptions::default(), &pipelines)
}

/// The name a backtested YAML text is loaded under (`builtin:backtest.yml`).
const BACKTEST_FILE: &str = "backtest.yml";

/// What a backtest runs.
#[derive(Debug, Clone)]
pub enum BacktestRule {
    /// A loaded rule, by key, id, name or title (also a disabled one).
    Loaded(String),
    /// Sigma YAML (one or more rules; correlations may refer to the loaded rules).
    Yaml(String),
}

/// What a backtest found: nothing of it is stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BacktestResult {
    pub events_scanned: usize,
    /// Events that matched the rule (for a correlation: the rules it refers to).
    pub matched: usize,
    /// The alerts the rule would have raised.
    pub alerts: Vec<crate::Alert>,
}

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("no loaded rule is called {0:?}: GET /api/v1/rules lists them (key, name or title)")]
    UnknownRule(String),
    #[error("the YAML has no rule that compiles: {}", .0.iter().map(|r| format!("line {}: {}", r.line, r.reason)).collect::<Vec<_>>().join("; "))]
    Rejected(Vec<crate::Rejection>),
    #[error(transparent)]
    Detect(#[from] DetectError),
}

impl Detection {
    /// Enables or disables the loaded rule `key` (key, id, name or title) durably, reloads
    /// the rules and publishes the change (see [`Detection::set_rule_publisher`]); the rule's
    /// key, or `None` when no loaded rule has that name.
    pub fn set_enabled(&self, key: &str, enabled: bool, by: &str) -> Result<Option<String>, DetectError> {
        let Some(k) = self.detector().rules().find(key).map(|r| r.key().to_string()) else {
            return Ok(None);
        };
        self.book.set_rule_enabled(&k, enabled)?;
        self.reload()?;
        if let Some(p) = self.rule_publisher.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let state = RuleState { key: k.clone(), enabled, by: by.to_string(), at: loglynx_core::Timestamp::now() };
            p(&state).map_err(|reason| DetectError::PublishRule { rule: k.clone(), reason })?;
        }
        Ok(Some(k))
    }

    /// Applies rule states made elsewhere (read from the rules topic): each one that changes
    /// what this process has is recorded, and the rules are reloaded once if any did. Returns
    /// how many changed. A key no rule has here is recorded too (its rule may load later).
    pub fn apply_rule_states(&self, states: &[RuleState]) -> Result<usize, DetectError> {
        let have = self.book.rule_overrides()?;
        // the last state of each rule wins (the topic's order)
        let mut last: HashMap<&str, &RuleState> = HashMap::new();
        for s in states {
            last.insert(&s.key, s);
        }
        let mut changed = 0;
        for s in last.into_values() {
            if have.get(&s.key) != Some(&s.enabled) {
                self.book.set_rule_enabled(&s.key, s.enabled)?;
                tracing::info!(rule = %s.key, enabled = s.enabled, by = %s.by, at = %s.at, "rule state applied");
                changed += 1;
            }
        }
        if changed > 0 {
            self.reload()?;
        }
        Ok(changed)
    }

    /// Runs `rule` over `events` (stored events, oldest first) with a correlation state and
    /// alerts of its own, in memory: the alerts it would have raised.
    pub fn backtest(&self, rule: &BacktestRule, mut events: Vec<loglynx_core::Event>) -> Result<BacktestResult, BacktestError> {
        let (rules, targets) = match rule {
            BacktestRule::Yaml(y) => {
                let rules = load_rules(&self.settings, Some(y))?;
                let file = format!("builtin:{BACKTEST_FILE}");
                let mine: Vec<String> = rules
                    .active()
                    .iter()
                    .chain(rules.correlations())
                    .filter(|r| r.file.to_string_lossy() == file)
                    .map(|r| r.key().to_string())
                    .collect();
                if mine.is_empty() {
                    let rejected = rules.rejected().iter().filter(|r| r.file.to_string_lossy() == file).cloned().collect();
                    return Err(BacktestError::Rejected(rejected));
                }
                (rules, mine)
            }
            BacktestRule::Loaded(key) => {
                let rules = load_rules(&self.settings, None)?;
                let k = rules
                    .find(key)
                    .map(|r| r.key().to_string())
                    .ok_or_else(|| BacktestError::UnknownRule(key.clone()))?;
                (rules, vec![k])
            }
        };
        // what the targets use: themselves, and for correlations the rules they refer to
        let mut used: std::collections::HashSet<String> = targets.iter().cloned().collect();
        for s in rules.correlation_specs() {
            if targets.iter().any(|t| t == s.key()) {
                used.extend(s.compiled.rule_refs.iter().cloned());
            }
        }
        let mut options = self.settings.options.clone();
        options.disabled.clear();
        let detector = Arc::new(Detector::new(rules, options));
        let book = Arc::new(AlertBook::in_memory(self.settings.suppress_secs, self.settings.max_evidence)?);
        let mut stage = DetectionStage::new(detector.clone(), book.clone(), Arc::new(Mutex::new(DetectionStats::default())));
        let scanned = events.len();
        let mut matched = 0;
        for e in &mut events {
            e.rule_ids.clear();
            e.rule_names.clear();
            detector.tag(e);
            if e.rule_ids.iter().chain(&e.rule_names).any(|k| used.contains(k)) {
                matched += 1;
            }
        }
        for chunk in events.chunks(1000) {
            let mut batch = chunk.to_vec();
            stage.process(&mut batch)?;
        }
        let (_, all) = book.list(&crate::AlertFilter { limit: usize::MAX, ..Default::default() })?;
        let alerts = all.into_iter().filter(|a| targets.contains(&a.rule.id)).collect();
        Ok(BacktestResult { events_scanned: scanned, matched, alerts })
    }
}

/// (path, size, mtime) of every rule file under `paths`: a change of any means a reload.
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    for p in paths {
        let _ = crate::ruleset::collect_files(p, &mut files);
    }
    files
        .into_iter()
        .map(|f| {
            let m = std::fs::metadata(&f).ok();
            let size = m.as_ref().map_or(0, |m| m.len());
            let mtime = m.and_then(|m| m.modified().ok());
            (f, size, mtime)
        })
        .collect()
}

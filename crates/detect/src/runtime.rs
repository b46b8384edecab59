//! [`Detection`]: detection as a running process has it: the rules in use (reloaded when their
//! files change), the alerts, the counters; shared by the pipeline (tagging on the parse
//! threads, the [`DetectionStage`] after them) and the API.

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
    /// Load the built-in pack.
    pub builtin: bool,
    pub options: DetectorOptions,
    /// Fold window of alerts, seconds.
    pub suppress_secs: u64,
    pub max_evidence: usize,
    /// How often the rule files are checked for changes.
    pub reload_interval: Duration,
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
        let detector = load(&settings)?;
        let book = Arc::new(AlertBook::open(alerts_dir, settings.suppress_secs, settings.max_evidence)?);
        Ok(Arc::new(Detection {
            settings,
            detector: RwLock::new(Arc::new(detector)),
            generation: AtomicU64::new(0),
            book,
            stats: Arc::new(Mutex::new(DetectionStats::default())),
            stop: AtomicBool::new(false),
            reloads: AtomicU64::new(0),
        }))
    }

    /// The rules in use now.
    pub fn detector(&self) -> Arc<Detector> {
        self.detector.read().unwrap_or_else(|p| p.into_inner()).clone()
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
        (DetectionStage::new(self.detector(), self.book.clone(), self.stats.clone()), g)
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
        let d = load(&self.settings)?;
        *self.detector.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(d);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Starts the thread that reloads the rules when a rule file changes (new, removed,
    /// modified). Ends with [`Detection::stop`].
    pub fn watch(self: &Arc<Self>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = self.clone();
        std::thread::Builder::new().name("rules-watch".into()).spawn(move || {
            let mut last = fingerprint(&me.settings.paths);
            while !me.stop.load(Ordering::Relaxed) {
                std::thread::sleep(me.settings.reload_interval);
                let now = fingerprint(&me.settings.paths);
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

    /// Ends the watcher thread (at its next check).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn load(s: &DetectionSettings) -> Result<Detector, DetectError> {
    let texts: &[(&str, &str)] = if s.builtin { crate::rules::BUILTIN } else { &[] };
    let rules = RuleSet::load_all(&s.paths, texts, LoadOptions::default())?;
    for r in rules.rejected() {
        tracing::warn!("rule refused: {}:{}: {}", r.file.display(), r.line, r.reason);
    }
    Ok(Detector::new(rules, s.options.clone()))
}

/// (path, size, mtime) of every rule file under `paths`: a change of any means a reload.
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    for p in paths {
        let _ = crate::ruleset::collect_files_pub(p, &mut files);
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

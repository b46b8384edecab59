//! Patterns in an assembly: the miner ([`loglynx_patterns::Patterns`]) opened from its saved
//! state, the hook that gives every parsed event its `pattern.id` on the parse threads, and the
//! thread that saves the state after the store commits.
//!
//! The state is saved after a commit, so it is never behind the store: every `pattern.id` in
//! the index is known to the dictionary after a restart. Lines mined but not committed when the
//! process dies are read and mined again (the miner's own counts may count them twice; the
//! counts users see come from the index).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loglynx_config::Config;
use loglynx_core::Event;
use loglynx_patterns::{format_id, Dictionary, MinerSettings, Patterns, DEFAULT_MAX_SERVICES};
use loglynx_pipeline::BatchHook;
use loglynx_store::Store;

use crate::error::{NodeError, Result};

/// The directory of the saved states.
fn states_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("patterns")
}

/// The state file of `loglynx run` (one miner per data directory).
pub(crate) fn state_path(data_dir: &Path) -> PathBuf {
    states_dir(data_dir).join("state.json")
}

/// Slots a host's workers may take in one data directory.
const MAX_SLOTS: usize = 1024;

/// A worker's own state file, `<data_dir>/patterns/worker-<host>-<slot>.json`: the lowest slot
/// no running worker holds (an exclusive lock on `<...>.lock` beside it, held while the worker
/// lives). Workers sharing a data directory never write each other's file, and a restarted
/// worker resumes a state of its host.
pub(crate) struct Slot {
    /// The state file.
    pub(crate) path: PathBuf,
    _lock: Option<std::fs::File>,
}

impl Slot {
    /// A file no other process writes (`loglynx run`'s [`state_path`]): no lock.
    pub(crate) fn unlocked(path: PathBuf) -> Slot {
        Slot { path, _lock: None }
    }
}

/// Takes the first free slot of `host` (see [`Slot`]).
pub(crate) fn worker_slot(data_dir: &Path, host: &str) -> Result<Slot> {
    let dir = states_dir(data_dir);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NodeError::Patterns { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let host: String = host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    for n in 0..MAX_SLOTS {
        let lock_path = dir.join(format!("worker-{host}-{n}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {
                let path = dir.join(format!("worker-{host}-{n}.json"));
                // a state saved before workers had their own files (`state.json`): the first
                // worker without a state of its own resumes it
                let legacy = state_path(data_dir);
                if !path.exists() && legacy.exists() {
                    std::fs::rename(&legacy, &path).map_err(io(&legacy))?;
                    tracing::info!(from = %legacy.display(), to = %path.display(), "patterns state adopted");
                }
                return Ok(Slot { path, _lock: Some(lock) });
            }
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(source)) => return Err(NodeError::Patterns { path: lock_path, source }),
        }
    }
    Err(NodeError::Patterns {
        path: dir,
        source: std::io::Error::other(format!("{MAX_SLOTS} workers of this host already hold a patterns state here; stop one or use another data directory")),
    })
}

fn settings(cfg: &Config) -> MinerSettings {
    let p = &cfg.patterns;
    MinerSettings {
        similarity: p.similarity,
        max_templates: p.max_templates,
        max_tokens: p.max_tokens,
        max_services: DEFAULT_MAX_SERVICES,
    }
}

/// Opens the miner as `cfg.patterns` says (`None` when off), resumed from its saved state at
/// `path`. A state that does not read is moved aside (`state.json.bad`) and mining starts afresh.
pub(crate) fn open(cfg: &Config, path: &Path) -> Result<Option<Arc<Patterns>>> {
    if !cfg.patterns.enabled {
        return Ok(None);
    }
    let path = path.to_path_buf();
    let patterns = match std::fs::read(&path) {
        Ok(bytes) => match Patterns::load(settings(cfg), &bytes) {
            Ok(p) => {
                tracing::info!(templates = p.template_count(), "patterns resumed");
                p
            }
            Err(e) => {
                let bad = path.with_extension("json.bad");
                tracing::warn!(path = %path.display(), "{e}; moved to {} and mining afresh", bad.display());
                let _ = std::fs::rename(&path, &bad);
                Patterns::new(settings(cfg))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Patterns::new(settings(cfg)),
        Err(source) => return Err(NodeError::Patterns { path, source }),
    };
    Ok(Some(Arc::new(patterns)))
}

/// The key an event's templates are kept under: its service, program or dataset.
pub(crate) fn service_of(e: &Event) -> &str {
    e.service
        .as_deref()
        .or(e.process_name.as_deref())
        .or(e.dataset.as_deref())
        .unwrap_or("")
}

/// `event.dataset` of new-pattern events.
pub(crate) const PATTERN_DATASET: &str = "loglynx.pattern";
/// `event.action` of new-pattern events.
pub(crate) const PATTERN_NEW: &str = "pattern-new";

/// Gives each parsed event its `pattern.id`, on the parse threads (one lock per batch); with
/// `signals`, the first line of a new template is followed by a new-pattern event.
pub(crate) fn hook(patterns: &Arc<Patterns>, signals: bool, warmup: Duration) -> BatchHook {
    let patterns = patterns.clone();
    let warmup_ms = i64::try_from(warmup.as_millis()).unwrap_or(i64::MAX);
    Arc::new(move |events: &mut Vec<Event>| {
        let mut mined = Vec::with_capacity(events.len());
        let mut new = Vec::new();
        patterns.mine_batch(
            events.iter().map(|e| (service_of(e), e.message.as_str(), e.timestamp.as_millis())),
            |i, m, text| {
                mined.push(m);
                if let (true, Some(t)) = (signals, text) {
                    new.push((i, t.to_string()));
                }
            },
        );
        for (e, m) in events.iter_mut().zip(&mined) {
            e.pattern_id = Some(format_id(m.id));
        }
        for (i, template) in new.into_iter().rev() {
            let signal = signal_of(&events[i], template, mined[i].service_age >= warmup_ms);
            events.insert(i + 1, signal);
        }
    })
}

/// The new-pattern event that follows `e`, the first line of its template.
fn signal_of(e: &Event, template: String, warm: bool) -> Event {
    let id = e.pattern_id.clone().unwrap_or_default();
    // the id follows the line's, so a replay of the line makes the same event
    let mut s = Event::new(format!("new pattern: {template}"), e.timestamp, e.ingested, format!("{}-pattern", e.id));
    s.dataset = Some(PATTERN_DATASET.into());
    s.action = Some(PATTERN_NEW.into());
    s.host = e.host.clone();
    s.service = e.service.clone();
    s.process_name = e.process_name.clone();
    s.level = e.level.clone();
    s.file_path = e.file_path.clone();
    // in a label, not pattern.id: the pattern's counts are of its lines
    s.labels.insert("pattern_id".into(), id);
    s.labels.insert("pattern_template".into(), template);
    s.labels.insert("pattern_service".into(), service_of(e).to_string());
    s.labels.insert("pattern_warm".into(), warm.to_string());
    s
}

/// The pattern hook, then the detection hook (so rules can use `pattern.id`).
pub(crate) fn chain(first: Option<BatchHook>, then: Option<BatchHook>) -> Option<BatchHook> {
    match (first, then) {
        (Some(a), Some(b)) => Some(Arc::new(move |events: &mut Vec<Event>| {
            a(events);
            b(events);
        })),
        (a, b) => a.or(b),
    }
}

/// Writes the state: a temporary file, synced, renamed over the old one.
pub(crate) fn save(patterns: &Patterns, path: &Path) -> Result<()> {
    let io = |source| NodeError::Patterns { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&patterns.save()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Saves the state after store commits, at most every `interval`, until [`Saver::stop`].
pub(crate) struct Saver {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    patterns: Arc<Patterns>,
    slot: Slot,
}

impl Saver {
    /// Saves to `slot` after the commits of `store`; without one (a worker, whose shards commit
    /// apart), every `interval`. Holds the slot (its lock) until stopped.
    pub(crate) fn start(patterns: Arc<Patterns>, store: Option<Store>, slot: Slot, interval: Duration) -> Result<Saver> {
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, pa) = (patterns.clone(), stop.clone(), slot.path.clone());
        let thread = std::thread::Builder::new()
            .name("patterns-saver".into())
            .spawn(move || {
                let commits = || store.as_ref().map_or(u64::MAX, |s| s.stats().commits);
                let mut saved_at = commits();
                let tick = interval.min(Duration::from_millis(200));
                let mut waited = Duration::ZERO;
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited < interval {
                        continue;
                    }
                    waited = Duration::ZERO;
                    let now = commits();
                    if now != saved_at || now == u64::MAX {
                        saved_at = now;
                        if let Err(e) = save(&p, &pa) {
                            tracing::warn!("{e}");
                        }
                    }
                }
            })
            .map_err(|source| NodeError::Thread { what: "patterns saver", source })?;
        Ok(Saver { stop, thread: Some(thread), patterns, slot })
    }

    /// Stops the thread and saves once more (call after the store's last commit).
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Err(e) = save(&self.patterns, &self.slot.path) {
            tracing::warn!("{e}");
        }
    }
}

/// The workers' saved states (`loglynx serve`): every `<data_dir>/patterns/*.json`, merged by
/// id ([`Dictionary::merge`]), read again when a file is added, removed or rewritten (looked at
/// on each request: a directory listing).
pub(crate) struct StateFiles {
    dir: PathBuf,
    settings: MinerSettings,
    /// The listing the dictionary was merged from, and the dictionary.
    cache: std::sync::Mutex<(Vec<Listed>, Dictionary)>,
}

/// A state file as listed: path, modification time, length.
type Listed = (PathBuf, std::time::SystemTime, u64);

impl StateFiles {
    /// The states of `cfg.data_dir` (`None` when mining is off).
    pub(crate) fn new(cfg: &Config) -> Option<StateFiles> {
        cfg.patterns.enabled.then(|| StateFiles {
            dir: states_dir(&cfg.data_dir),
            settings: settings(cfg),
            cache: std::sync::Mutex::new((Vec::new(), Dictionary::default())),
        })
    }

    fn listing(&self) -> Vec<Listed> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| {
                let m = std::fs::metadata(&p).ok()?;
                Some((p, m.modified().ok()?, m.len()))
            })
            .collect();
        out.sort();
        out
    }
}

impl loglynx_api::PatternView for StateFiles {
    fn dictionary(&self) -> Dictionary {
        let now = self.listing();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != now {
            let parts = now.iter().filter_map(|(path, _, _)| {
                let bytes = std::fs::read(path).ok()?;
                match loglynx_patterns::Miner::load(self.settings, &bytes) {
                    Ok(m) => Some(m.dictionary()),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), "{e}; its templates are left out");
                        None
                    }
                }
            });
            let merged = Dictionary::merge(parts.collect::<Vec<_>>());
            *cache = (now, merged);
        }
        cache.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_api::PatternView;

    #[test]
    fn workers_of_one_host_take_their_own_state_file() {
        let tmp = tempfile::tempdir().unwrap();
        let a = worker_slot(tmp.path(), "web 1").unwrap();
        let b = worker_slot(tmp.path(), "web 1").unwrap();
        assert_ne!(a.path, b.path, "a held slot is not handed out twice");
        assert_eq!(a.path.file_name().unwrap(), "worker-web_1-0.json");
        // a state from before (one state.json per data directory) is taken by one of them only
        std::fs::write(state_path(tmp.path()), b"old").unwrap();
        let c = worker_slot(tmp.path(), "web 1").unwrap();
        assert_eq!(std::fs::read(&c.path).unwrap(), b"old");
        assert!(!state_path(tmp.path()).exists());
        let freed = a.path.clone();
        drop(a);
        // a restarted worker takes the slot let go, and resumes its state
        assert_eq!(worker_slot(tmp.path(), "web 1").unwrap().path, freed);
    }

    #[test]
    fn serve_merges_the_states_and_reads_them_again_when_they_change() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = Config { data_dir: tmp.path().to_path_buf(), ..Config::default() };
        let files = StateFiles::new(&cfg).unwrap();
        assert!(files.dictionary().templates().is_empty(), "no state yet");
        let (w1, w2) = (Patterns::new(settings(&cfg)), Patterns::new(settings(&cfg)));
        let slot1 = worker_slot(tmp.path(), "h").unwrap();
        let slot2 = worker_slot(tmp.path(), "h").unwrap();
        w1.mine_batch([("app", "user 1 logged in", 1), ("app", "user 2 logged in", 2)], |_, _, _| {});
        save(&w1, &slot1.path).unwrap();
        assert_eq!(files.dictionary().templates().len(), 1);
        w2.mine_batch([("app", "user 3 logged in", 3), ("app", "disk full", 4)], |_, _, _| {});
        save(&w2, &slot2.path).unwrap();
        let d = files.dictionary();
        let mut t: Vec<_> = d.templates().iter().map(|t| t.template.as_str()).collect();
        t.sort();
        assert_eq!(t, ["disk full", "user <*> logged in"]);
        // a state that does not read is left out, the others still answer
        std::fs::write(tmp.path().join("patterns/worker-x-0.json"), b"{").unwrap();
        assert_eq!(files.dictionary().templates().len(), 2);
    }
}

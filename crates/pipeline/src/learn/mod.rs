//! Structure inference per file: what format detection reads as a generic timestamped header
//! (`event.dataset` `timestamped`) or does not explain (`unparsed`, `bad_timestamp`) is sampled,
//! and the header structure of the sample is inferred (`infer`: how its time is read, its
//! delimiter, what each field holds, where the message starts). A structure that reads more than
//! detection is applied to the file's next lines as a layout tried before detection
//! (`event.dataset` `timestamped`, labels `log.structure`, `log.timestamp_format`); when
//! detection reads the sample as well, the file is settled: only unexplained lines are sampled
//! from then on, as before.
//!
//! - Learning needs [`MIN_SAMPLE`] sampled lines. A file's first batch with fewer tops the
//!   sample up from the head of the file when the file is on this machine (its first 32 KiB),
//!   so a file tailed a line at a time learns from its first line. Once settled, unexplained
//!   lines must be at least half of the lines seen since the file started learning. The batch
//!   that completes the sample is parsed again with what was learned.
//! - Re-learning: over every [`WINDOW`] lines, when more than half did not fit the learned
//!   layout (the file changed structure), it is dropped and learning starts again. A learned
//!   date order that was a guess (days and months all <= 12) is dropped at the first line it
//!   cannot read (a day 13 read month-first), and learned again with that line in the sample.
//! - A file whose lines detection explains by a fast path (syslog, JSON, logfmt, access logs)
//!   keeps no state and never pays for a learned layout.
//! - Keyed per source: a file by host and path (a configured `[[files.layouts]]` entry wins, no
//!   learning), raw text lines over HTTP by endpoint and host, and the messages behind a
//!   header (syslog, JSON documents' `message`) per stream ([`message`]). At most
//!   `pipeline.learned_sources` ([`MAX_FILES`] by default) sources have state, the least
//!   recently used forgotten first. What was learned is saved in a small state file under the
//!   data directory (`<data_dir>/parse/learned.json`, written when it changes) and loaded at
//!   start, so a source does not learn again after a restart.
//!
//! The timestamp candidates ([`CANDIDATES`]) are the common formats the generic header reader
//! does not take: day-first dates (`31/05/2024`, `31.05.2024`, `31-05-2024`, `31-May-2024`),
//! `Jun 01, 2024 10:00:00 AM` (java.util.logging), `Jun 01 2024 10:00:00`, DB2's
//! `2024-05-31-10.00.00`, compact digits.

mod infer;
mod listing;
pub(crate) mod message;
mod store;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loglynx_core::{Event, Timestamp};

use crate::parse::{Layout, ParseContext, Structure};

pub use infer::{infer, infer_message};
pub use listing::{learned_sources, learned_sources_with, LearnedSource, Segment};
pub use store::Seen;

use lru::LruCache;

/// Timestamp formats tried on unexplained lines (strftime; `%.f` is an optional fraction).
pub const CANDIDATES: &[&str] = &[
    "%d/%m/%Y %H:%M:%S%.f",
    "%d.%m.%Y %H:%M:%S%.f",
    "%d.%m.%y %H:%M:%S%.f",
    "%d-%m-%Y %H:%M:%S%.f",
    "%d-%b-%Y %H:%M:%S%.f",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M",
    "%b %d, %Y %I:%M:%S %p",
    "%b %d, %Y %H:%M:%S",
    "%b %d %Y %H:%M:%S%.f",
    "%Y-%m-%d-%H.%M.%S%.f",
    "%Y-%m-%d_%H:%M:%S%.f",
    "%Y%m%d %H%M%S",
    "%Y%m%d%H%M%S",
];

/// Sampled lines needed to learn.
pub const MIN_SAMPLE: usize = 8;
/// Most sample lines kept per file (each cut to 256 bytes).
const SAMPLE: usize = 32;
/// Sources with learning state at most by default (`pipeline.learned_sources`; about 8 KiB each
/// while learning, well under 1 KiB once learned): beyond, the source used least recently is
/// forgotten (memory stays bounded in a worker that sees the sources of many agents).
pub const MAX_FILES: usize = loglynx_config::DEFAULT_LEARNED_SOURCES;
/// Lines over which a learned layout is checked, and after which a file that did not learn
/// starts counting again.
pub const WINDOW: u32 = 256;

/// The line does not have its structure read: no format matched or its time was refused.
pub(crate) fn unexplained(ev: &Event) -> bool {
    ev.flags.unparsed || ev.flags.bad_timestamp
}

/// The line was read by the generic header reader: its structure may be learned better.
pub(crate) fn generic(ev: &Event) -> bool {
    ev.dataset.as_deref() == Some("timestamped") && !ev.labels.contains_key("log.structure")
}

/// The candidate that reads the start of the most `lines`, if at least 3 in 4.
pub fn infer_format(lines: &[&str], ctx: &ParseContext) -> Option<&'static str> {
    let day = 86_400 * 1_000_000_000;
    let score = |fmt: &str| {
        lines
            .iter()
            .filter(|l| {
                matches!(crate::parse::layout_start_time(l, fmt, ctx),
                    Some((Some(t), _)) if t.0 >= 0 && t.0 <= ctx.now.0.saturating_add(day))
            })
            .count()
    };
    let (best, n) = CANDIDATES
        .iter()
        .map(|f| (*f, score(f)))
        .fold(("", 0), |acc, c| if c.1 > acc.1 { c } else { acc });
    (n > 0 && n * 4 >= lines.len() * 3).then_some(best)
}

/// How often at most the state file is rewritten when only the counts of what learned
/// structures read changed.
const SAVE_COUNTS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct FileState {
    /// Lines seen in the current window.
    seen: u32,
    /// Unexplained lines (or, with a learned layout, lines it did not read) in the window.
    misses: u32,
    /// While learning: the first lines of the sampled lines.
    samples: Vec<String>,
    learned: Option<Arc<Layout>>,
    /// Inference found detection good enough: only unexplained lines are sampled.
    settled: bool,
    /// What the learned structure read (kept across re-learning: the count of re-learnings).
    read: Seen,
    /// The learned structure was dropped: the next one learned counts as a re-learning.
    relearning: bool,
    /// The head of the file was read (or there was none to read).
    head_tried: bool,
}

/// Per source: what was learned and the counts that decide learning again; the sources used
/// least recently are forgotten first.
#[derive(Debug)]
pub(crate) struct Learner {
    files: Mutex<LruCache<String, FileState>>,
    /// Where learned structures are saved; `None`: memory only.
    state_file: Option<PathBuf>,
    /// When the state file was last written, and whether counts changed since.
    saved: Mutex<(Option<Instant>, bool)>,
    /// Counts alone are saved at most this often ([`SAVE_COUNTS_EVERY`]).
    save_every: Duration,
}

impl Default for Learner {
    fn default() -> Self {
        Learner { files: Mutex::new(LruCache::new(capacity(MAX_FILES))), state_file: None, saved: Mutex::default(), save_every: SAVE_COUNTS_EVERY }
    }
}

fn capacity(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

/// What one batch said about one file.
pub(crate) struct Outcome<'a> {
    pub(crate) lines: u32,
    /// Lines the file's learned layout read.
    pub(crate) fitted: u32,
    /// First lines of the events that are unexplained (`true`) or read by the generic header
    /// reader (`false`).
    pub(crate) sampled: Vec<(&'a str, bool)>,
    /// The lines are messages behind a header that had the time (`infer_message`), not lines
    /// of a file.
    pub(crate) messages: bool,
}

/// The head of a file: its first lines (format detection's candidates only) and its
/// modification time.
pub(crate) type Head = (Vec<String>, Option<Timestamp>);

impl Learner {
    /// A learner that saves what it learns in `state_file` and starts from what it holds (a
    /// missing or unreadable file is an empty start, logged).
    pub(crate) fn with_state_file(state_file: PathBuf) -> Self {
        let mut files = LruCache::new(capacity(MAX_FILES));
        let saved = store::load(&state_file);
        // Least recently used first: each `put` makes its source the most recent, so the order
        // is the one before the restart (the most recent kept when there are too many).
        let skip = saved.len().saturating_sub(MAX_FILES);
        for (k, s, seen) in saved.into_iter().skip(skip) {
            let st = FileState {
                learned: Some(Arc::new(Layout::learned(s))),
                read: seen,
                settled: true,
                head_tried: true,
                ..FileState::default()
            };
            files.put(k, st);
        }
        Learner { files: Mutex::new(files), state_file: Some(state_file), saved: Mutex::default(), save_every: SAVE_COUNTS_EVERY }
    }

    /// Keeps state for `n` sources at most (at least 1); beyond, the least recently used go.
    pub(crate) fn set_capacity(&self, n: usize) {
        if let Ok(mut files) = self.files.lock() {
            files.resize(capacity(n));
        }
    }

    /// Sources it keeps state for at most.
    pub(crate) fn capacity(&self) -> usize {
        self.files.lock().map_or(MAX_FILES, |f| f.cap().get())
    }

    /// The layout learned for the source `key`.
    pub(crate) fn layout(&self, key: &str) -> Option<Arc<Layout>> {
        let mut files = self.files.lock().ok()?;
        files.get(key).and_then(|f| f.learned.clone())
    }

    /// Whether the source `key` still learns (it has no state yet, or is not settled).
    pub(crate) fn learning(&self, key: &str) -> bool {
        let Ok(mut files) = self.files.lock() else { return false };
        files.get(key).is_none_or(|f| !f.settled || f.learned.is_some())
    }

    fn save(&self, files: &LruCache<String, FileState>) {
        let Some(path) = &self.state_file else { return };
        // The cache iterates the most recent first; the file holds the least recent first.
        let learned: Vec<store::Entry<&Structure>> = files
            .iter()
            .rev()
            .filter_map(|(k, f)| {
                let structure = f.learned.as_deref()?.structure()?;
                Some(store::Entry { key: k.clone(), structure, seen: f.read.clone() })
            })
            .collect();
        store::save(path, &learned);
        if let Ok(mut saved) = self.saved.lock() {
            *saved = (Some(Instant::now()), false);
        }
    }

    /// Counts changed: saves them when the file was last written long enough ago.
    fn counts_changed(&self, files: &LruCache<String, FileState>) {
        if self.state_file.is_none() {
            return;
        }
        let due = {
            let Ok(mut saved) = self.saved.lock() else { return };
            saved.1 = true;
            saved.0.is_none_or(|at| at.elapsed() >= self.save_every)
        };
        if due {
            self.save(files);
        }
    }

    /// Takes a batch's outcome for the file `key`; returns a layout when one was just learned
    /// (the batch should be parsed again with it). `head` reads the head of the file, called at
    /// most once per file, when its first sample is too small.
    pub(crate) fn observe(
        &self,
        key: &str,
        out: Outcome<'_>,
        ctx: &ParseContext,
        head: &dyn Fn() -> Option<Head>,
    ) -> Option<Arc<Layout>> {
        let mut files = self.files.lock().ok()?;
        if !files.contains(key) {
            if out.sampled.is_empty() {
                // Detection explains this file by a fast path: no state at all.
                return None;
            }
            // Beyond the capacity, the source used least recently is forgotten.
            files.put(key.to_string(), FileState::default());
        }
        let st = files.get_mut(key)?;
        st.seen = st.seen.saturating_add(out.lines);
        let unexplained = out.sampled.iter().filter(|s| s.1).count();
        let missed = u32::try_from(unexplained).unwrap_or(u32::MAX);
        if let Some(learned) = &st.learned {
            let ambiguous = learned.structure().is_some_and(|s| s.ambiguous_date);
            st.misses = st.misses.saturating_add(out.lines.saturating_sub(out.fitted));
            st.read.matched = st.read.matched.saturating_add(u64::from(out.fitted));
            let contradicted = ambiguous && unexplained > 0;
            if !contradicted {
                if st.seen < WINDOW {
                    if out.fitted > 0 {
                        self.counts_changed(&files);
                    }
                    return None;
                }
                let changed = st.misses.saturating_mul(2) > st.seen;
                (st.seen, st.misses) = (0, 0);
                if !changed {
                    st.samples.clear();
                    self.counts_changed(&files);
                    return None;
                }
                tracing::info!(file = key, "lines no longer fit the learned structure, learning again");
            } else {
                tracing::info!(file = key, "a line contradicts the guessed day / month order, learning again");
            }
            st.learned = None;
            st.settled = false;
            st.relearning = true;
            (st.seen, st.misses) = (out.lines, missed);
            if contradicted {
                // Room for the lines that settle the order.
                st.samples.truncate(SAMPLE / 2);
            } else {
                st.samples.clear();
            }
            self.save(&files);
            return self.sample_and_infer(&mut files, key, &out, ctx, None);
        }
        st.misses = st.misses.saturating_add(missed);
        let mut head_lines = None;
        if !st.head_tried && !st.settled && st.samples.len() + out.sampled.len() < MIN_SAMPLE {
            st.head_tried = true;
            head_lines = head();
        }
        self.sample_and_infer(&mut files, key, &out, ctx, head_lines)
    }

    fn sample_and_infer(
        &self,
        files: &mut LruCache<String, FileState>,
        key: &str,
        out: &Outcome<'_>,
        ctx: &ParseContext,
        head: Option<Head>,
    ) -> Option<Arc<Layout>> {
        let st = files.get_mut(key)?;
        let cut = |l: &str| l.char_indices().nth(256).map_or(l, |(i, _)| &l[..i]).to_string();
        let mut mtime = None;
        let head_read = head.is_some();
        if let Some((lines, mt)) = head {
            mtime = mt;
            // The batch's own lines are added after: leave room for them.
            let keep = SAMPLE.saturating_sub(out.sampled.len().min(SAMPLE / 2));
            st.samples.extend(lines.iter().take(keep).map(|l| cut(l)));
        }
        let room = SAMPLE.saturating_sub(st.samples.len());
        for (l, unexplained) in out.sampled.iter().take(room) {
            if *unexplained || !st.settled {
                st.samples.push(cut(l));
            }
        }
        let n = st.samples.len();
        let enough = if st.settled { st.misses.saturating_mul(2) >= st.seen } else { true };
        let ready = n >= MIN_SAMPLE || (head_read && n >= 2);
        if ready && enough {
            let lines: Vec<&str> = st.samples.iter().map(String::as_str).collect();
            let inferred = if out.messages { infer_message(&lines, ctx) } else { infer(&lines, ctx, mtime) };
            match inferred {
                Some(s) => {
                    tracing::info!(file = key, structure = %s.describe(), "learned the structure of the file's lines");
                    let ambiguous = s.ambiguous_date;
                    // A line it reads, to show it (the sample's last: the source's latest).
                    let sample = st.samples.iter().rev().find(|l| s.segments(l, ctx).is_some()).cloned();
                    let relearned = st.read.relearned.saturating_add(u32::from(st.relearning));
                    let layout = Arc::new(Layout::learned(s));
                    let samples = if ambiguous { std::mem::take(&mut st.samples) } else { Vec::new() };
                    *st = FileState {
                        learned: Some(Arc::clone(&layout)),
                        samples,
                        head_tried: true,
                        read: Seen { matched: 0, relearned, sample },
                        ..FileState::default()
                    };
                    self.save(files);
                    return Some(layout);
                }
                None if !st.settled => {
                    // Detection reads these lines as well: from now on only unexplained
                    // lines are sampled.
                    st.settled = true;
                    st.samples.clear();
                    (st.seen, st.misses) = (0, 0);
                    return None;
                }
                None => {}
            }
        }
        if st.seen >= WINDOW {
            // Nothing learned from this window: start another one (the file may change).
            (st.seen, st.misses) = (0, 0);
            st.samples.clear();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::Timestamp;

    use super::*;
    use crate::parse::TimeReading;
    use loglynx_core::Event;

    fn ctx() -> ParseContext {
        ParseContext { now: Timestamp(1_717_200_000_000_000_000), keep_original: false, utc_offset_secs: 0 }
    }

    #[test]
    fn the_format_that_reads_most_lines_and_at_least_three_in_four() {
        let lines = ["31.05.2024 10:00:00 INFO a", "31.05.2024 10:00:01,5 WARN b", "[01.05.2024 10:00:02] c", "garbage"];
        assert_eq!(infer_format(&lines, &ctx()), Some("%d.%m.%Y %H:%M:%S%.f"));
        let lines = ["31.05.2024 10:00:00 INFO a", "garbage", "more garbage", "x"];
        assert_eq!(infer_format(&lines, &ctx()), None);
        let lines = ["May 31, 2024 10:00:00 AM com.acme.Main run", "May 31, 2024 1:00:00 PM x"];
        assert_eq!(infer_format(&lines, &ctx()), Some("%b %d, %Y %I:%M:%S %p"));
        // A year far ahead is no time.
        assert_eq!(infer_format(&["31.05.2099 10:00:00 x"], &ctx()), None);
    }

    fn out<'a>(lines: u32, fitted: u32, sampled: &[&'a str], unexplained: bool) -> Outcome<'a> {
        Outcome { lines, fitted, sampled: sampled.iter().map(|l| (*l, unexplained)).collect(), messages: false }
    }

    fn no_head() -> Option<Head> {
        None
    }

    #[test]
    fn learns_after_enough_unexplained_lines_and_forgets_when_they_change() {
        let l = Learner::default();
        let line = "31/05/2024 10:00:00 INFO x";
        let seven = vec![line; MIN_SAMPLE - 1];
        assert!(l.observe("/a.log", out(7, 0, &seven, true), &ctx(), &no_head).is_none());
        let got = l.observe("/a.log", out(1, 0, &[line], true), &ctx(), &no_head);
        let s = got.unwrap().structure().cloned().unwrap();
        assert_eq!(s.time, TimeReading::DayFirst, "{}", s.describe());
        assert!(l.layout("/a.log").is_some());
        // Mostly read with it: kept after a window.
        l.observe("/a.log", out(WINDOW, WINDOW - 3, &[], true), &ctx(), &no_head);
        assert!(l.layout("/a.log").is_some());
        // A window where most lines no longer fit: dropped.
        let other = vec!["something else"; 200];
        l.observe("/a.log", out(WINDOW, 56, &other, true), &ctx(), &no_head);
        assert!(l.layout("/a.log").is_none());
        // Past its capacity, the learner forgets the source used least recently.
        let small = Learner::default();
        small.set_capacity(2);
        let eight = vec![line; MIN_SAMPLE];
        for f in ["/1.log", "/2.log"] {
            assert!(small.observe(f, out(8, 0, &eight, true), &ctx(), &no_head).is_some());
        }
        assert!(small.layout("/1.log").is_some(), "used last: /1.log");
        assert!(small.observe("/3.log", out(8, 0, &eight, true), &ctx(), &no_head).is_some());
        assert!(small.layout("/2.log").is_none(), "the least recently used was forgotten");
        assert!(small.layout("/1.log").is_some() && small.layout("/3.log").is_some());
        assert_eq!(small.files.lock().unwrap().len(), 2);
        // A file detection explains by a fast path keeps no state.
        l.observe("/b.log", out(1000, 0, &[], true), &ctx(), &no_head);
        assert!(!l.files.lock().unwrap().contains("/b.log"));
        // Generic headers detection reads as well as a structure would: settled, nothing learned.
        let log4j = vec!["2024-05-31 10:00:00,123 INFO  [main] com.acme.Server - started"; 10];
        assert!(l.observe("/d.log", out(10, 0, &log4j, false), &ctx(), &no_head).is_none());
        assert!(l.files.lock().unwrap().get("/d.log").unwrap().settled);
        // Mostly explained with a few odd lines: nothing learned.
        for _ in 0..20 {
            l.observe("/c.log", out(100, 0, &[line], true), &ctx(), &no_head);
        }
        assert!(l.layout("/c.log").is_none());
    }

    #[test]
    fn a_first_small_batch_learns_from_the_head_of_the_file() {
        let l = Learner::default();
        let pipe = |i: u32| format!("2024-05-31 10:00:{:02}.250|WARN|worker-{i}|billing.Invoice|total {i}", i % 60);
        let head_lines: Vec<String> = (0..20).map(pipe).collect();
        let first = pipe(21);
        let head = || Some((head_lines.clone(), None));
        let got = l.observe("/p.log", out(1, 0, &[first.as_str()], false), &ctx(), &head);
        let s = got.expect("learned from the head").structure().cloned().unwrap();
        assert_eq!(s.describe(), "time|level|thread|logger|message");
    }

    #[test]
    fn structures_of_common_headers_are_inferred() {
        let c = ctx();
        let infer_all = |lines: &[String]| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            infer(&refs, &c, None).map(|s| s.describe())
        };
        let pipe: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i}|INFO|pool-1-thread-{i}|com.acme.Db|query {i} took 3ms")).collect();
        assert_eq!(infer_all(&pipe).as_deref(), Some("time|level|thread|logger|message"));
        let semi: Vec<String> = (0..10).map(|i| format!("2024-05-31T10:00:0{i}Z; ERROR ; billing ; invoice {i} failed; retry")).collect();
        assert_eq!(infer_all(&semi).as_deref(), Some("time;level;logger;message"));
        let dashes: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i},123 - WARNING - billing - queue {i} - slow")).collect();
        assert_eq!(infer_all(&dashes).as_deref(), Some("time - level - logger - message"));
        // Python's `asctime - name - levelname - message`: detection reads it as well.
        let python: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i},123 - app.worker - WARNING - queue {i} - slow")).collect();
        assert_eq!(infer_all(&python), None);
        let sys: Vec<String> = (0..10).map(|i| format!("2024-05-31T10:00:0{i}Z INFO web-{i} nginx[12{i}]: GET / 200")).collect();
        assert_eq!(infer_all(&sys).as_deref(), Some("time level host program message"));
        let thread_first: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i} [worker-{i}] WARN OrderService: order {i} late")).collect();
        assert_eq!(infer_all(&thread_first).as_deref(), Some("time thread level logger message"));
        // Detection reads log4j's layout as well: nothing to learn.
        let log4j: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i},123 INFO  [main] com.acme.Server - started {i}")).collect();
        assert_eq!(infer_all(&log4j), None);
        // No time at all: nothing.
        let plain: Vec<String> = (0..10).map(|i| format!("just words {i}")).collect();
        assert_eq!(infer_all(&plain), None);
    }

    /// Reads `line` with `s`: (level, logger, thread, message, timestamp).
    fn read(s: &Structure, line: &str) -> (Option<String>, Option<String>, Option<String>, String, Timestamp) {
        let mut ev = Event::default();
        assert!(s.apply(line, &mut ev, &ctx()), "{} does not read {line:?}", s.describe());
        let label = |k: &str| ev.labels.get(k).cloned();
        (ev.level.clone(), label("log.logger"), label("process.thread.name"), ev.message.clone(), ev.timestamp)
    }

    #[test]
    fn layouts_with_the_level_before_the_time_are_learned() {
        let c = ctx();
        let levels = ["INFO", "WARN", "ERROR", "DEBUG"];
        let learn = |lines: &[String]| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            infer(&refs, &c, None).expect("learned")
        };
        let t = |i: usize| Timestamp(1_717_149_600_000_000_000 + i as i64 * 1_000_000_000 + 678_000_000);
        // `%p %d [%t] %c: %m`
        let lines: Vec<String> = (0..10)
            .map(|i| format!("{} 2024-05-31 10:00:0{i},678 [main] c.e.Foo: msg {i}", levels[i % 4]))
            .collect();
        let s = learn(&lines);
        assert_eq!(s.describe(), "level time thread logger message");
        let got = read(&s, "ERROR 2024-05-31 10:00:03,678 [main] c.e.Foo: java.net.ConnectException: refused");
        assert_eq!(
            got,
            (Some("error".into()), Some("c.e.Foo".into()), Some("main".into()), "java.net.ConnectException: refused".into(), t(3))
        );
        // Cassandra's `%-5level [%thread] %date %F:%L - %msg`.
        let lines: Vec<String> = (0..10)
            .map(|i| {
                format!("{:<5} [CompactionExecutor:{i}] 2024-05-31 10:00:0{i},678 CompactionTask.java:255 - Compacted {i} sstables", levels[i % 4])
            })
            .collect();
        let s = learn(&lines);
        assert_eq!(s.describe(), "level thread time - logger - message");
        assert_eq!(
            read(&s, &lines[2]),
            (
                Some("error".into()),
                Some("CompactionTask.java:255".into()),
                Some("CompactionExecutor:2".into()),
                "Compacted 2 sstables".into(),
                t(2)
            )
        );
        // `[LEVEL] [time] msg`
        let lines: Vec<String> =
            (0..10).map(|i| format!("[{}] [2024-05-31 10:00:0{i},678] queue {i} is slow", levels[i % 4])).collect();
        let s = learn(&lines);
        assert_eq!(s.describe(), "level time message");
        assert_eq!(read(&s, &lines[1]), (Some("warn".into()), None, None, "queue 1 is slow".into(), t(1)));
        // A level word that only some lines start with is a message, not a header.
        let lines: Vec<String> = (0..10).map(|i| format!("{} items 2024-05-31 10:00:0{i}", if i < 5 { "INFO" } else { "some" })).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(infer(&refs, &c, None), None);
    }

    #[test]
    fn a_file_name_before_the_time_and_a_context_after_the_logger_are_learned() {
        let c = ctx();
        let levels = ["INFO", "WARN", "ERROR", "DEBUG"];
        // Several files' lines behind their names, `pid LEVEL logger [context] msg`.
        let lines: Vec<String> = (0..10)
            .map(|i| {
                let file = if i % 3 == 0 { "queue-api.log.1" } else { "queue-worker.log" };
                let ctx = if i % 4 == 0 { "[-]".to_string() } else { format!("[req-{i}a7 alice shop - - -]") };
                format!("{file} 2024-05-31 10:00:0{i}.678 41{i} {} queue.api.handlers {ctx} job {i} taken", levels[i % 4])
            })
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let s = infer(&refs, &c, None).expect("learned");
        assert_eq!(s.describe(), "prefix time pid level logger field message");
        let mut ev = Event::default();
        assert!(s.apply(&lines[1], &mut ev, &c));
        assert_eq!(ev.timestamp, Timestamp(1_717_149_601_678_000_000));
        assert_eq!((ev.pid, ev.level.as_deref()), (Some(411), Some("warn")));
        assert_eq!(ev.labels.get("log.logger").map(String::as_str), Some("queue.api.handlers"));
        assert_eq!(ev.labels.get("log.prefix").map(String::as_str), Some("queue-worker.log"));
        assert_eq!(ev.labels.get("log.header.4").map(String::as_str), Some("[req-1a7 alice shop - - -]"));
        assert_eq!(ev.message, "job 1 taken");
        let named: Vec<&str> = s.segments(&lines[1], &c).unwrap().into_iter().filter_map(|(n, _)| n).collect();
        assert_eq!(named, ["prefix", "time", "pid", "level", "logger", "field", "message"]);
        assert_eq!(s.fields(), ["prefix", "time", "pid", "level", "logger", "field", "message"]);
        // The same lines without the file names.
        let bare: Vec<&str> = refs.iter().map(|l| l.split_once(' ').unwrap().1).collect();
        let s = infer(&bare, &c, None).expect("learned");
        assert_eq!(s.describe(), "time pid level logger field message");
    }

    #[test]
    fn messages_learn_an_app_layout_without_a_time() {
        let c = ctx();
        let learn = |lines: &[String]| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            infer_message(&refs, &c).map(|s| s.describe())
        };
        let app: Vec<String> = (0..10)
            .map(|i| format!("{} [worker-{i}] com.acme.Billing: invoice {i} sent", ["INFO", "WARN", "ERROR"][i % 3]))
            .collect();
        assert_eq!(learn(&app).as_deref(), Some("level thread logger message"));
        let timed: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i},123 WARN  [main] com.acme.Db - slow query {i}")).collect();
        assert_eq!(learn(&timed).as_deref(), Some("time level thread logger message"));
        // Plain messages have no header: nothing learned.
        let sshd: Vec<String> =
            (0..10).map(|i| format!("Accepted password for root from 10.0.0.{i} port 22 ssh2")).collect();
        assert_eq!(learn(&sshd), None);
        // Files never learn a header without a time.
        let refs: Vec<&str> = app.iter().map(String::as_str).collect();
        assert_eq!(infer(&refs, &c, None), None);
    }

    #[test]
    fn an_ambiguous_date_order_follows_the_lines_order_and_is_flagged() {
        let c = ctx();
        // Day-first, days and months <= 12, in time order: 10/01 .. 03/02 read day-first are
        // Jan 10 .. Feb 3; month-first Oct 1, Nov 1, Dec 1, Jan 2...: out of order.
        let dates = ["10/01", "11/01", "12/01", "01/02", "02/02", "03/02", "04/02", "05/02"];
        let lines: Vec<String> = dates.iter().map(|d| format!("{d}/2023 10:00:00 INFO tick")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let s = infer(&refs, &c, None).unwrap();
        assert_eq!((s.time.clone(), s.ambiguous_date), (TimeReading::DayFirst, true), "{}", s.describe());
        // Month-first in order: kept month-first, flagged.
        let dates = ["01/10", "01/11", "01/12", "02/01", "02/02", "02/03", "02/04", "02/05"];
        let lines: Vec<String> = dates.iter().map(|d| format!("{d}/2023 10:00:00 INFO tick")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let s = infer(&refs, &c, None).unwrap();
        assert_eq!((s.time.clone(), s.ambiguous_date), (TimeReading::Known, true));
        // Read month-first some would be months ahead: day-first, not flagged.
        let lines: Vec<String> = (1..=12).map(|d| format!("{d:02}/02/2024 10:00:00 INFO tick {d}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let s = infer(&refs, &c, None).unwrap();
        assert_eq!((s.time.clone(), s.ambiguous_date), (TimeReading::DayFirst, false));
        // A day over 12 settles it: day-first, not flagged.
        let lines: Vec<String> = (1..=12).map(|d| format!("{:02}/02/2024 10:00:00 INFO tick", d + 12)).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let s = infer(&refs, &c, None).unwrap();
        assert_eq!((s.time.clone(), s.ambiguous_date), (TimeReading::DayFirst, false));
    }

    #[test]
    fn learned_sources_show_the_layout_what_it_read_and_a_sample_cut_into_its_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parse/learned.json");
        let pipe: Vec<String> = (0..10)
            .map(|i| format!("2024-05-31 10:00:0{i}.250|WARN|worker-{i}|billing.Invoice|total {i} due"))
            .collect();
        let refs: Vec<&str> = pipe.iter().map(String::as_str).collect();
        let mut l = Learner::with_state_file(path.clone());
        l.save_every = Duration::ZERO;
        assert!(l.observe("h|/srv/app/a.log", out(10, 0, &refs, false), &ctx(), &no_head).is_some());
        l.observe("h|/srv/app/a.log", out(40, 37, &[], true), &ctx(), &no_head);
        // A window where most lines no longer fit: learned again from the next lines.
        let other = vec!["something else"; 200];
        l.observe("h|/srv/app/a.log", out(WINDOW, 50, &other, true), &ctx(), &no_head);
        assert!(l.observe("h|/srv/app/a.log", out(10, 0, &refs, true), &ctx(), &no_head).is_some());
        l.observe("h|/srv/app/a.log", out(5, 5, &[], true), &ctx(), &no_head);

        let files: loglynx_config::FilesConfig =
            toml::from_str("timezone = \"UTC\"\n[[zones]]\npaths = [\"/srv/app/*.log\"]\ntimezone = \"Europe/Paris\"\n").unwrap();
        let listed = learned_sources_with(&path, &files);
        assert_eq!(listed.len(), 1);
        let s = &listed[0];
        assert_eq!((s.kind, s.host.as_str(), s.source.as_str()), ("file", "h", "/srv/app/a.log"));
        assert_eq!(s.fields, ["time", "level", "thread", "logger", "message"]);
        assert_eq!((s.zone.as_str(), s.zone_from), ("Europe/Paris", "files.zones"));
        assert_eq!((s.seen.matched, s.seen.relearned), (5, 1), "counts since the last learning, one re-learning");
        let sample = s.seen.sample.clone().expect("a sample line");
        assert!(pipe.contains(&sample), "{sample}");
        // The pieces are the line, each field where it is in it.
        let joined: String = s.segments.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(joined, sample);
        let fields: Vec<(&str, &str)> =
            s.segments.iter().filter_map(|g| Some((g.field?, g.text.as_str()))).collect();
        assert_eq!(
            fields,
            [
                ("time", "2024-05-31 10:00:09.250"),
                ("level", "WARN"),
                ("thread", "worker-9"),
                ("logger", "billing.Invoice"),
                ("message", "total 9 due"),
            ]
        );
        // Without a zone entry for it, the file's zone is files.timezone.
        let plain: loglynx_config::FilesConfig = toml::from_str("timezone = \"+02:00\"\n").unwrap();
        let listed = learned_sources_with(&path, &plain);
        assert_eq!((listed[0].zone.as_str(), listed[0].zone_from), ("+02:00", "files.timezone"));
    }

    #[test]
    fn a_sample_is_cut_into_the_fields_of_any_structure() {
        let c = ctx();
        let learn = |lines: &[String]| {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            infer(&refs, &c, None).expect("learned")
        };
        let cut = |s: &Structure, line: &str| -> Vec<(Option<&'static str>, String)> {
            s.segments(line, &c).unwrap().into_iter().map(|(f, t)| (f, t.to_string())).collect()
        };
        let levels = ["INFO", "WARN", "ERROR", "DEBUG"];
        let lines: Vec<String> = (0..10)
            .map(|i| format!("{} [worker-{i}] 2024-05-31 10:00:0{i},678 Task.java:25 - done {i}", levels[i % 4]))
            .collect();
        let s = learn(&lines);
        let got = cut(&s, &lines[2]);
        let pieces: String = got.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(pieces, lines[2]);
        let named: Vec<(&str, &str)> = got.iter().filter_map(|(f, t)| Some(((*f)?, t.as_str()))).collect();
        assert_eq!(named[0], ("level", "ERROR"));
        assert_eq!(named[1], ("thread", "[worker-2]"));
        assert_eq!(named[2], ("time", "2024-05-31 10:00:02,678"));
        assert_eq!(named.last(), Some(&("message", "done 2")));
        // A line the structure does not read is not cut.
        assert!(s.segments("no header here", &c).is_none());
    }

    #[test]
    fn learned_structures_survive_a_restart_through_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parse/learned.json");
        let pipe: Vec<String> =
            (0..10).map(|i| format!("2024-05-31 10:00:0{i}|INFO|pool-1-thread-{i}|com.acme.Db|query {i}")).collect();
        let refs: Vec<&str> = pipe.iter().map(String::as_str).collect();
        let l = Learner::with_state_file(path.clone());
        assert!(l.observe("h|/srv/a.log", out(10, 0, &refs, false), &ctx(), &no_head).is_some());
        let again = Learner::with_state_file(path.clone());
        let s = again.layout("h|/srv/a.log").and_then(|l| l.structure().cloned()).unwrap();
        assert_eq!(s.describe(), "time|level|thread|logger|message");
        // The order of use survives too: the least recently used is forgotten first after a
        // restart as before it.
        for f in ["h|/1.log", "h|/2.log", "h|/3.log"] {
            assert!(again.observe(f, out(10, 0, &refs, false), &ctx(), &no_head).is_some());
        }
        assert!(again.layout("h|/1.log").is_some(), "used last: /1.log");
        assert!(again.observe("h|/4.log", out(10, 0, &refs, false), &ctx(), &no_head).is_some());
        let restarted = Learner::with_state_file(path.clone());
        restarted.set_capacity(2);
        let kept: Vec<bool> = ["h|/1.log", "h|/2.log", "h|/3.log", "h|/4.log", "h|/srv/a.log"]
            .iter()
            .map(|k| restarted.layout(k).is_some())
            .collect();
        assert_eq!(kept, [true, false, false, true, false]);
        // The earlier form of the file (an object from key to structure) is still read.
        let keyed = serde_json::json!({ "h|/old.log": s });
        std::fs::write(&path, keyed.to_string()).unwrap();
        assert!(Learner::with_state_file(path.clone()).layout("h|/old.log").is_some());
        // A file that is not JSON is an empty start, never a failure.
        std::fs::write(&path, "{not json").unwrap();
        assert!(Learner::with_state_file(path).layout("h|/srv/a.log").is_none());
    }
}

//! Structure inference per file: when format detection does not explain most of a file's lines
//! (they are `unparsed`, or their time was refused: `bad_timestamp`), the timestamp format their
//! headers start with is learned from a sample of them and applied to the file's next lines as a
//! layout tried before detection (`event.dataset` `timestamped`, label `log.timestamp_format`),
//! the rest of the header read as usual (level, thread, logger).
//!
//! - Learning needs [`MIN_SAMPLE`] unexplained lines, at least half of the lines seen since the
//!   file started learning; the format is the candidate of [`CANDIDATES`] that reads a plausible
//!   time (1970 .. now + 1 day) at the start of the most sampled lines (maybe in `[...]`), and at
//!   least 3 in 4 of them. The batch that completes the sample is parsed again with it.
//! - Re-learning: over every [`WINDOW`] lines read with a learned format, when more than half are
//!   still unexplained (the file changed structure), the format is dropped and learning starts
//!   again. A file whose lines detection explains keeps no state beyond its counters and never
//!   pays for a learned layout: the fast paths (syslog, JSON, logfmt, access, header) stay first.
//! - Files only, keyed by host and path; a configured `[[files.layouts]]` entry wins (no
//!   learning).
//!   State is in memory (at most [`MAX_FILES`] files): after a restart the file learns again
//!   from the lines it reads.
//!
//! The candidates are the common formats the generic header reader does not take: day-first
//! dates (`31/05/2024`, `31.05.2024`, `31-05-2024`, `31-May-2024`), `Jun 01, 2024 10:00:00 AM`
//! (java.util.logging), `Jun 01 2024 10:00:00`, DB2's `2024-05-31-10.00.00`, compact digits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use loglynx_core::Event;

use crate::parse::{Layout, ParseContext};

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

/// Unexplained lines needed to learn.
pub const MIN_SAMPLE: usize = 8;
/// Most sample lines kept per file (each cut to 256 bytes).
const SAMPLE: usize = 32;
/// Files with learning state at most (about 8 KiB each while learning): beyond, new files are
/// not learned (memory stays bounded in a worker that sees the files of many agents).
pub const MAX_FILES: usize = 10_000;
/// Lines over which a learned format is checked, and after which a file that did not learn
/// starts counting again.
pub const WINDOW: u32 = 256;

/// The line does not have its structure read: no format matched or its time was refused.
pub(crate) fn unexplained(ev: &Event) -> bool {
    ev.flags.unparsed || ev.flags.bad_timestamp
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

#[derive(Debug, Default)]
struct FileState {
    /// Lines seen in the current window.
    seen: u32,
    /// Unexplained lines in the current window.
    misses: u32,
    /// While learning: the first lines of the first unexplained lines of the window.
    samples: Vec<String>,
    learned: Option<Arc<Layout>>,
}

/// Per file: what was learned and the counts that decide learning again.
#[derive(Debug, Default)]
pub(crate) struct Learner {
    files: Mutex<HashMap<String, FileState>>,
}

/// What one batch said about one file.
pub(crate) struct Outcome<'a> {
    pub(crate) lines: u32,
    /// First lines of the unexplained events.
    pub(crate) unexplained: Vec<&'a str>,
}

impl Learner {
    /// The layout learned for the file `key`.
    pub(crate) fn layout(&self, key: &str) -> Option<Arc<Layout>> {
        let files = self.files.lock().ok()?;
        files.get(key).and_then(|f| f.learned.clone())
    }

    /// Takes a batch's outcome for the file `key`; returns a layout when one was just learned (the batch
    /// should be parsed again with it).
    pub(crate) fn observe(&self, key: &str, out: Outcome<'_>, ctx: &ParseContext) -> Option<Arc<Layout>> {
        let mut files = self.files.lock().ok()?;
        if !files.contains_key(key) {
            if out.unexplained.is_empty() {
                // Detection explains this file: no state at all.
                return None;
            }
            if files.len() >= MAX_FILES {
                return None;
            }
        }
        let st = files.entry(key.to_string()).or_default();
        st.seen = st.seen.saturating_add(out.lines);
        let missed = u32::try_from(out.unexplained.len()).unwrap_or(u32::MAX);
        if st.learned.is_some() {
            st.misses = st.misses.saturating_add(missed);
            if st.seen < WINDOW {
                return None;
            }
            let changed = st.misses.saturating_mul(2) > st.seen;
            (st.seen, st.misses) = (0, 0);
            if !changed {
                return None;
            }
            tracing::info!(file = key, "lines no longer fit the learned timestamp format, learning again");
            st.learned = None;
            (st.seen, st.misses) = (out.lines, missed);
        } else {
            st.misses = st.misses.saturating_add(missed);
        }
        for l in out.unexplained.iter().take(SAMPLE.saturating_sub(st.samples.len())) {
            let cut = l.char_indices().nth(256).map_or(*l, |(i, _)| &l[..i]);
            st.samples.push(cut.to_string());
        }
        let n = st.samples.len();
        if n >= MIN_SAMPLE && st.misses.saturating_mul(2) >= st.seen {
            let lines: Vec<&str> = st.samples.iter().map(String::as_str).collect();
            if let Some(fmt) = infer_format(&lines, ctx) {
                tracing::info!(file = key, format = fmt, "learned the timestamp format of the file's lines");
                let layout = Arc::new(Layout::learned(fmt));
                *st = FileState { learned: Some(Arc::clone(&layout)), ..FileState::default() };
                return Some(layout);
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

    #[test]
    fn learns_after_enough_unexplained_lines_and_forgets_when_they_change() {
        let l = Learner::default();
        let line = "31/05/2024 10:00:00 INFO x";
        let seven = vec![line; MIN_SAMPLE - 1];
        assert!(l.observe("/a.log", Outcome { lines: 7, unexplained: seven }, &ctx()).is_none());
        let got = l.observe("/a.log", Outcome { lines: 1, unexplained: vec![line] }, &ctx());
        assert_eq!(got.unwrap().timestamp_format(), Some("%d/%m/%Y %H:%M:%S%.f"));
        assert!(l.layout("/a.log").is_some());
        // Mostly explained with it: kept after a window.
        l.observe("/a.log", Outcome { lines: WINDOW, unexplained: vec![] }, &ctx());
        assert!(l.layout("/a.log").is_some());
        // A window where most lines no longer fit: dropped.
        let other = vec!["something else"; 200];
        l.observe("/a.log", Outcome { lines: WINDOW, unexplained: other }, &ctx());
        assert!(l.layout("/a.log").is_none());
        // Past MAX_FILES files with state, a new one is not learned.
        {
            let mut files = l.files.lock().unwrap();
            for i in files.len()..MAX_FILES {
                files.insert(format!("|/full/{i}"), FileState::default());
            }
        }
        let eight = vec![line; MIN_SAMPLE];
        assert!(l.observe("|/new.log", Outcome { lines: 8, unexplained: eight }, &ctx()).is_none());
        assert!(l.files.lock().unwrap().get("|/new.log").is_none());
        l.files.lock().unwrap().retain(|k, _| !k.starts_with("|/full/"));
        // A file detection explains keeps no state.
        l.observe("/b.log", Outcome { lines: 1000, unexplained: vec![] }, &ctx());
        assert!(l.files.lock().unwrap().get("/b.log").is_none());
        // Mostly explained with a few odd lines: nothing learned.
        for _ in 0..20 {
            l.observe("/c.log", Outcome { lines: 100, unexplained: vec![line] }, &ctx());
        }
        assert!(l.layout("/c.log").is_none());
    }
}

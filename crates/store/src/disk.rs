//! The disk watermark: the writer stops taking batches before the data directory's file
//! system is full, and takes them again once space returns (like Elasticsearch's flood-stage
//! watermark). A full disk in the middle of a commit would fail it; pausing first keeps every
//! acknowledged event stored and the sources waiting at their positions.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::stats::Counters;

/// How often the free space is read (statvfs) while taking batches, and while paused.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The free space ingestion resumes at: a quarter above the watermark, so it does not flap.
pub(crate) fn resume_at(watermark: u64) -> u64 {
    watermark.saturating_add(watermark / 4)
}

/// The writer's view of the free space of its directory.
pub(crate) struct DiskWatch {
    dir: PathBuf,
    watermark: u64,
    paused: bool,
    checked: Option<Instant>,
}

impl DiskWatch {
    /// Watches the file system of `dir`; a `watermark` of 0 never pauses.
    pub fn new(dir: PathBuf, watermark: u64) -> DiskWatch {
        DiskWatch { dir, watermark, paused: false, checked: None }
    }

    /// False when the watermark is 0 (never pauses).
    pub fn enabled(&self) -> bool {
        self.watermark > 0
    }

    /// Whether ingestion must pause now, reading the free space at most every
    /// [`CHECK_EVERY`]. Logs and counts the changes; publishes the state in `counters`.
    pub fn paused(&mut self, counters: &Counters) -> bool {
        if self.watermark == 0 || self.checked.is_some_and(|t| t.elapsed() < CHECK_EVERY) {
            return self.paused;
        }
        self.checked = Some(Instant::now());
        let free = match fs4::available_space(&self.dir) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot read the free disk space ({e}): not checked");
                return self.paused;
            }
        };
        counters.disk_free.store(free, Ordering::Relaxed);
        let was = self.paused;
        self.paused = if was { free < resume_at(self.watermark) } else { free < self.watermark };
        if self.paused != was {
            counters.disk_paused.store(self.paused, Ordering::Relaxed);
            if self.paused {
                counters.disk_pauses.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    dir = %self.dir.display(),
                    free,
                    watermark = self.watermark,
                    "disk nearly full: ingestion paused (sources wait, HTTP ingest answers 503) until {} bytes are free; free space or lower store.retention_size",
                    resume_at(self.watermark)
                );
            } else {
                tracing::warn!(dir = %self.dir.display(), free, "disk space is back: ingestion resumes");
            }
        }
        self.paused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_below_the_watermark_and_resumes_a_quarter_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let free = fs4::available_space(dir.path()).unwrap();
        let counters = Counters::default();
        let mut off = DiskWatch::new(dir.path().into(), 0);
        assert!(!off.paused(&counters));
        // A watermark above what is free pauses at once; one far below never does.
        let mut w = DiskWatch::new(dir.path().into(), free.saturating_mul(2));
        assert!(w.paused(&counters));
        assert!(counters.disk_paused.load(Ordering::Relaxed));
        assert_eq!(counters.disk_pauses.load(Ordering::Relaxed), 1);
        assert!(counters.disk_free.load(Ordering::Relaxed) > 0);
        // Free space between the watermark and the resume level: still paused.
        w.watermark = free * 9 / 10;
        w.checked = None;
        assert!(w.paused(&counters), "resumes only at a quarter above the watermark");
        w.watermark = free / 2;
        w.checked = None;
        assert!(!w.paused(&counters));
        assert!(!counters.disk_paused.load(Ordering::Relaxed));
        assert_eq!(resume_at(400), 500);
    }
}

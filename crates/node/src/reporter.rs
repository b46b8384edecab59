//! [`HealthReporter`]: writes a process's health report to `<data>/health/` every
//! [`health::REPORT_EVERY`], on a thread of its own (building a report may wait on a lock a
//! busy consumer holds; writing it is file I/O), and removes it when stopped.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use loglynx_telemetry::health::{self, HealthReport};

use crate::error::{NodeError, Result};

/// The running reporter of one process.
pub struct HealthReporter {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Option<HealthReport>>,
    dir: PathBuf,
}

impl HealthReporter {
    /// Starts writing `report()` into `dir` now and then every [`health::REPORT_EVERY`]. A write
    /// that fails is logged once until one succeeds again.
    pub fn start(
        dir: PathBuf,
        mut report: impl FnMut() -> HealthReport + Send + 'static,
    ) -> Result<HealthReporter> {
        let (stop, stopped) = mpsc::channel::<()>();
        let d = dir.clone();
        let thread = std::thread::Builder::new()
            .name("loglynx-health".into())
            .spawn(move || {
                let mut warned = false;
                loop {
                    let r = report();
                    match r.write(&d) {
                        Ok(()) => warned = false,
                        Err(e) if !warned => {
                            warned = true;
                            tracing::warn!(dir = %d.display(), "health report not written: {e}; check the directory's permissions");
                        }
                        Err(_) => {}
                    }
                    match stopped.recv_timeout(health::REPORT_EVERY) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return Some(r),
                    }
                }
            })
            .map_err(|source| NodeError::Thread { what: "cannot start the health reporter thread", source })?;
        Ok(HealthReporter { stop, thread, dir })
    }

    /// Stops the thread and removes the report (the process is going: `serve` stops listing it).
    /// Blocks until the thread has ended (at most one report write).
    pub fn stop(self) {
        if let Some(last) = self.stop_keeping() {
            last.remove();
        }
    }

    /// Stops the thread but leaves the last report in place until [`LastReport::remove`] (a
    /// worker keeps being listed while its shards make their last commits).
    pub fn stop_keeping(self) -> Option<LastReport> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(Some(report)) => Some(LastReport {
                report,
                dir: self.dir,
            }),
            _ => None,
        }
    }
}

/// The last report a stopped [`HealthReporter`] wrote, still on disk.
pub struct LastReport {
    report: HealthReport,
    dir: PathBuf,
}

impl LastReport {
    /// Removes the report file.
    pub fn remove(self) {
        self.report.remove(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use health::Role;

    fn report(id: &str) -> HealthReport {
        HealthReport {
            role: Role::Worker,
            id: id.into(),
            host: "box".into(),
            pid: 1,
            topic: "t".into(),
            brokers: "b".into(),
            started_ms: 0,
            updated_ms: health::now_ms(),
            producer: None,
            consumer: None,
        }
    }

    #[test]
    fn the_report_is_written_at_start_and_removed_at_stop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("health");
        let r = HealthReporter::start(dir.clone(), || report("box-1")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while health::read_reports(&dir).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no report written in {}",
                dir.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(health::read_reports(&dir)[0].id, "box-1");
        r.stop();
        assert!(
            health::read_reports(&dir).is_empty(),
            "the report is removed at stop"
        );
    }
}

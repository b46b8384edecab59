//! The report files under `<data_dir>/health/`: written atomically by their process, read by
//! `loglynx serve`.

use std::path::{Path, PathBuf};

use super::report::HealthReport;
use crate::TelemetryError;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `<data_dir>/health`.
pub fn health_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("health")
}

impl HealthReport {
    /// The file of this report in `dir` (`<role>-<id>.json`).
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}-{}.json", self.role.as_str(), self.id))
    }

    /// Writes the report into `dir` atomically (write a temporary file, rename). No fsync: a
    /// report lost in a crash is rewritten a second later.
    pub fn write(&self, dir: &Path) -> Result<(), TelemetryError> {
        let failed = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TelemetryError::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(failed(dir))?;
        let path = self.path_in(dir);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self)?;
        std::fs::write(&tmp, body).map_err(failed(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(failed(&path))
    }

    /// Removes the report's file (clean exit).
    pub fn remove(&self, dir: &Path) {
        let _ = std::fs::remove_file(self.path_in(dir));
    }
}

/// Reads every report in `dir`, sorted by role then id. Unreadable or half-written files are
/// skipped (they are rewritten within [`super::REPORT_EVERY`]); an absent directory is no
/// reports.
pub fn read_reports(dir: &Path) -> Vec<HealthReport> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<HealthReport> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a, b| (a.role as u8, &a.id).cmp(&(b.role as u8, &b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::super::report::{ConsumerHealth, PartitionHealth, Role};
    use super::super::STALE_AFTER;
    use super::*;

    fn report(role: Role, id: &str) -> HealthReport {
        HealthReport {
            role,
            id: id.into(),
            host: "h".into(),
            pid: 1,
            topic: "t".into(),
            brokers: "b:9092".into(),
            started_ms: 1,
            updated_ms: 1_000,
            producer: None,
            consumer: Some(ConsumerHealth {
                group: "g".into(),
                partitions: vec![PartitionHealth {
                    partition: 1,
                    committed: Some(5),
                    high_watermark: Some(9),
                    lag: Some(4),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn reports_round_trip_through_the_directory_and_go_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = health_dir(tmp.path());
        let w = report(Role::Worker, "h-2");
        let a = report(Role::Agent, "h-1");
        w.write(&dir).unwrap();
        a.write(&dir).unwrap();
        std::fs::write(dir.join("worker-broken.json"), b"{half").unwrap();
        assert_eq!(read_reports(&dir), vec![a.clone(), w.clone()]);
        assert!(!w.is_stale(1_000 + STALE_AFTER.as_millis() as u64));
        assert!(w.is_stale(1_001 + STALE_AFTER.as_millis() as u64));
        w.remove(&dir);
        assert_eq!(read_reports(&dir), vec![a]);
        assert!(read_reports(&tmp.path().join("absent")).is_empty());
    }
}

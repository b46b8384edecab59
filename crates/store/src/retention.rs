//! Retention: deleting whole windows by age and by total size.
//!
//! Never deleted: the newest window (the active one, or the next to be resumed), the newest
//! window holding a commit (it holds the authoritative checkpoint, which matters when the
//! newest window was created but never committed), and windows whose merges are still running.
//!
//! A window is taken out of the shared list before its directory is removed, so new snapshots
//! never see it; readers that still hold an older snapshot keep working, because their
//! memory-mapped files stay readable until unmapped (POSIX unlink semantics).

use std::sync::Arc;
use std::time::Duration;

use crate::store::Shared;
use crate::window::{Window, WindowId};

/// What retention needs to know about a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowInfo {
    pub id: WindowId,
    /// Unix milliseconds of the window's last commit (or creation).
    pub last_write_ms: u64,
    pub size: u64,
    /// Must be kept whatever its age or size.
    pub protected: bool,
}

/// Chooses the windows to delete. `windows` is oldest first; `max_age` zero and `max_size`
/// zero mean no limit.
pub(crate) fn plan(
    windows: &[WindowInfo],
    now_ms: u64,
    max_age: Duration,
    max_size: u64,
) -> Vec<WindowId> {
    let mut doomed = vec![false; windows.len()];
    if !max_age.is_zero() {
        let age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
        for (i, w) in windows.iter().enumerate() {
            if !w.protected && w.last_write_ms.saturating_add(age_ms) < now_ms {
                doomed[i] = true;
            }
        }
    }
    if max_size > 0 {
        let mut total: u64 = windows
            .iter()
            .zip(&doomed)
            .filter(|(_, d)| !**d)
            .map(|(w, _)| w.size)
            .sum();
        for (i, w) in windows.iter().enumerate() {
            if total <= max_size {
                break;
            }
            if !doomed[i] && !w.protected {
                doomed[i] = true;
                total = total.saturating_sub(w.size);
            }
        }
    }
    windows
        .iter()
        .zip(doomed)
        .filter(|(_, d)| *d)
        .map(|(w, _)| w.id)
        .collect()
}

/// Describes the shared windows for [`plan`], marking the protected ones.
fn describe(windows: &[Arc<Window>]) -> Vec<WindowInfo> {
    let newest = windows.last().map(|w| w.id);
    let checkpoint_holder = windows.iter().rev().find(|w| w.has_payload()).map(|w| w.id);
    windows
        .iter()
        .map(|w| {
            w.update_size();
            WindowInfo {
                id: w.id,
                last_write_ms: w.last_write_ms(),
                size: w.size(),
                protected: Some(w.id) == newest
                    || Some(w.id) == checkpoint_holder
                    || w.is_merging(),
            }
        })
        .collect()
}

/// Applies the retention limits of the store config now; returns the ids deleted.
pub(crate) fn enforce(shared: &Shared, now_ms: u64) -> Vec<WindowId> {
    let cfg = &shared.cfg;
    if cfg.retention_age.is_zero() && cfg.retention_size.0 == 0 {
        return Vec::new();
    }
    let removed: Vec<Arc<Window>> = {
        let mut windows = shared.windows_mut();
        let doomed = plan(
            &describe(&windows),
            now_ms,
            cfg.retention_age,
            cfg.retention_size.0,
        );
        if doomed.is_empty() {
            return Vec::new();
        }
        let (gone, kept): (Vec<_>, Vec<_>) =
            windows.drain(..).partition(|w| doomed.contains(&w.id));
        *windows = kept;
        gone
    };
    let mut ids = Vec::with_capacity(removed.len());
    for w in removed {
        let dir = w.dir.clone();
        let (id, size) = (w.id, w.size());
        drop(w);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(window = %id, bytes = size, "retention deleted a window"),
            Err(e) => tracing::error!(
                window = %id,
                dir = %dir.display(),
                "retention could not delete a window ({e}): delete the directory by hand"
            ),
        }
        shared
            .counters
            .windows_deleted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ids.push(id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: u64, last_write_ms: u64, size: u64, protected: bool) -> WindowInfo {
        WindowInfo {
            id: WindowId(id),
            last_write_ms,
            size,
            protected,
        }
    }

    #[test]
    fn age_deletes_old_unprotected_windows() {
        let ws = [
            w(1, 100, 10, false),
            w(2, 700, 10, false),
            w(3, 900, 10, false),
            w(4, 50, 10, true),
        ];
        let ids = plan(&ws, 1000, Duration::from_millis(400), 0);
        assert_eq!(ids, vec![WindowId(1)]);
        assert!(plan(&ws, 1000, Duration::ZERO, 0).is_empty());
    }

    #[test]
    fn size_deletes_oldest_first_until_under_the_limit() {
        let ws = [
            w(1, 0, 30, false),
            w(2, 0, 30, false),
            w(3, 0, 30, false),
            w(4, 0, 30, true),
        ];
        assert_eq!(
            plan(&ws, 0, Duration::ZERO, 70),
            vec![WindowId(1), WindowId(2)]
        );
        assert_eq!(plan(&ws, 0, Duration::ZERO, 120), Vec::<WindowId>::new());
        // Only the protected window left over the limit: it stays.
        assert_eq!(plan(&ws, 0, Duration::ZERO, 1).len(), 3);
    }

    #[test]
    fn age_and_size_combine() {
        let ws = [
            w(1, 0, 50, false),
            w(2, 900, 50, false),
            w(3, 900, 50, false),
            w(4, 900, 50, true),
        ];
        // Age removes 1; size 120 then needs 2 gone as well (150 -> 100).
        assert_eq!(
            plan(&ws, 1000, Duration::from_millis(500), 120),
            vec![WindowId(1), WindowId(2)]
        );
    }
}

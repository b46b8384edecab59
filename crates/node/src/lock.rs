//! [`DirLock`]: one writer per directory, across processes.
//!
//! An advisory lock (`flock`) on a file in the directory, held for as long as the value lives;
//! the kernel releases it when the process dies, so a crash never leaves a stale lock. Used for
//! the store of `run` (`loglynx.lock`), the agent's directory (`agent.lock`) and each shard of a
//! worker (`shard.lock`).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{NodeError, Result};

/// How often a waiting lock tries again.
const RETRY: Duration = Duration::from_millis(50);
/// How often a waiting lock says it is still waiting.
const TELL_EVERY: Duration = Duration::from_secs(5);

/// A held lock on a directory; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and locks `dir/name`, failing at once with `busy` (a message that
    /// says what to do) when another process holds it.
    pub fn try_lock(dir: &Path, name: &str, busy: impl FnOnce() -> String) -> Result<DirLock> {
        let (file, path) = open(dir, name)?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(NodeError::InUse {
                dir: dir.to_path_buf(),
                message: busy(),
            }),
            Err(TryLockError::Error(source)) => Err(NodeError::Lock { path, source }),
        }
    }

    /// Creates `dir` if needed and locks `dir/name`, waiting while another process holds it;
    /// `waiting(elapsed)` is called every few seconds of waiting, and once more with the total
    /// when the lock is taken after a wait of more than 100 ms (to log it).
    pub fn wait(
        dir: &Path,
        name: &str,
        waiting: impl FnMut(Duration, bool),
    ) -> Result<DirLock> {
        Self::wait_unless(dir, name, waiting, || false)
    }

    /// [`DirLock::wait`] that gives up with [`NodeError::Stopping`] once `cancelled` says so
    /// (checked between tries), so a process asked to stop does not wait for another one.
    pub fn wait_unless(
        dir: &Path,
        name: &str,
        mut waiting: impl FnMut(Duration, bool),
        cancelled: impl Fn() -> bool,
    ) -> Result<DirLock> {
        let (file, path) = open(dir, name)?;
        let started = Instant::now();
        let mut told = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    if started.elapsed() > Duration::from_millis(100) {
                        waiting(started.elapsed(), true);
                    }
                    return Ok(DirLock { _file: file, path });
                }
                Err(TryLockError::WouldBlock) => {
                    if cancelled() {
                        return Err(NodeError::Stopping { what: "waiting for a lock", path });
                    }
                    if told.elapsed() > TELL_EVERY {
                        waiting(started.elapsed(), false);
                        told = Instant::now();
                    }
                    std::thread::sleep(RETRY);
                }
                Err(TryLockError::Error(source)) => return Err(NodeError::Lock { path, source }),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(dir: &Path, name: &str) -> Result<(File, PathBuf)> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| NodeError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    // A directory made before (or by hand) may be open to other users: say so, do not change it.
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{mode:o}"),
                "the data directory is open to other users: `chmod 700` it (logs are sensitive)"
            );
        }
    }
    let path = dir.join(name);
    match File::create(&path) {
        Ok(f) => Ok((f, path)),
        Err(source) => Err(NodeError::Lock { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_message_then_gets_it_once_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let held = DirLock::try_lock(&dir, "x.lock", || "busy".into()).unwrap();
        assert!(held.path().ends_with("a/b/x.lock"));
        let e = DirLock::try_lock(&dir, "x.lock", || "in use: stop it".into()).unwrap_err();
        assert_eq!(e.to_string(), "in use: stop it");
        drop(held);
        DirLock::try_lock(&dir, "x.lock", || "busy".into()).unwrap();
    }

    #[test]
    fn a_waiting_lock_is_taken_when_the_holder_lets_go() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let held = DirLock::try_lock(&dir, "shard.lock", || "busy".into()).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let mut told_taken = false;
        let got = DirLock::wait(&dir, "shard.lock", |_, taken| told_taken |= taken).unwrap();
        releaser.join().unwrap();
        assert!(
            told_taken,
            "a wait over 100 ms is reported when the lock is taken"
        );
        drop(got);
    }

    #[test]
    fn a_wait_gives_up_when_the_process_stops() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let _held = DirLock::try_lock(&dir, "shard.lock", || "busy".into()).unwrap();
        let started = Instant::now();
        let e = DirLock::wait_unless(&dir, "shard.lock", |_, _| {}, || started.elapsed() > Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(e, NodeError::Stopping { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

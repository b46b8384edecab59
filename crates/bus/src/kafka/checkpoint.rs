//! [`AgentCheckpoint`]: the agent's delivered source positions, in
//! `<data_dir>/agent/checkpoint.json`.
//!
//! A position is written only once every record before it was acknowledged by the brokers
//! (delivery report) or fsynced in the agent's on-disk buffer (`spool/`, sent first at the
//! next start), so on restart the file source resumes at a position whose lines are all in
//! Kafka or on their way from the buffer: none is lost. Lines delivered after the last write are sent again after a crash
//! (at-least-once into Kafka). The file is replaced atomically (write, fsync, rename).

use std::io::Write;
use std::path::{Path, PathBuf};

use loglynx_core::Checkpoint;

use crate::BusError;

/// The agent's checkpoint file.
#[derive(Debug)]
pub struct AgentCheckpoint {
    path: PathBuf,
    current: Checkpoint,
    dirty: bool,
}

impl AgentCheckpoint {
    /// Opens `<data_dir>/agent/checkpoint.json` (an absent file is an empty checkpoint).
    pub fn open(data_dir: &Path) -> Result<AgentCheckpoint, BusError> {
        let dir = data_dir.join("agent");
        let path = dir.join("checkpoint.json");
        let io = |source| BusError::CheckpointIo {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => {
                Checkpoint::from_json(&text).map_err(|source| BusError::CheckpointContent {
                    path: path.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(io(e)),
        };
        Ok(AgentCheckpoint {
            path,
            current,
            dirty: false,
        })
    }

    /// The positions delivered or safe in the on-disk buffer.
    pub fn get(&self) -> &Checkpoint {
        &self.current
    }

    /// Records positions delivered or spooled (kept in memory until [`AgentCheckpoint::save`]).
    pub fn advance(&mut self, positions: &[(String, u64)]) {
        if !positions.is_empty() {
            self.current.merge(positions);
            self.dirty = true;
        }
    }

    /// Writes the file atomically when something changed (blocking: fsync).
    pub fn save(&mut self) -> Result<(), BusError> {
        if !self.dirty {
            return Ok(());
        }
        write_atomically(&self.path, &self.current)?;
        self.dirty = false;
        Ok(())
    }

    /// [`AgentCheckpoint::save`] on the blocking pool, so its fsync never holds an async
    /// worker thread.
    pub async fn save_async(&mut self) -> Result<(), BusError> {
        if !self.dirty {
            return Ok(());
        }
        let (path, current) = (self.path.clone(), self.current.clone());
        tokio::task::spawn_blocking(move || write_atomically(&path, &current))
            .await
            .map_err(|source| BusError::Task {
                what: "checkpoint write",
                source,
            })??;
        self.dirty = false;
        Ok(())
    }
}

/// Replaces the file at `path` by `current` (write, fsync, rename, fsync of the directory).
fn write_atomically(path: &Path, current: &Checkpoint) -> Result<(), BusError> {
    let err = |source| BusError::CheckpointIo {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(current.to_json().as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_a_reopen_and_never_go_back() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = AgentCheckpoint::open(tmp.path()).unwrap();
        assert_eq!(c.get().positions.len(), 0);
        c.advance(&[("file:1:2:ab".into(), 100)]);
        c.advance(&[("file:1:2:ab".into(), 40)]);
        c.save().unwrap();
        let c = AgentCheckpoint::open(tmp.path()).unwrap();
        assert_eq!(c.get().get("file:1:2:ab"), Some(100));
        assert!(!tmp.path().join("agent/checkpoint.json.tmp").exists());
    }

    #[tokio::test]
    async fn an_async_save_writes_what_a_reopen_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = AgentCheckpoint::open(tmp.path()).unwrap();
        c.advance(&[("file:1:2:ab".into(), 7)]);
        c.save_async().await.unwrap();
        let c = AgentCheckpoint::open(tmp.path()).unwrap();
        assert_eq!(c.get().get("file:1:2:ab"), Some(7));
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("agent")).unwrap();
        std::fs::write(tmp.path().join("agent/checkpoint.json"), b"{oops").unwrap();
        let e = AgentCheckpoint::open(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains("checkpoint.json") && e.contains("move it away"),
            "{e}"
        );
    }
}

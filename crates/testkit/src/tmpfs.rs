//! A small file system for tests of a full disk: a tmpfs on a fresh directory (needs root),
//! its free space, and a ballast file that fills it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size_mib` MiB mounted on a fresh directory, unmounted on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size_mib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", dir.path().display());
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Bytes free on the file system of `dir` (`df`).
pub fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(dir).output().unwrap();
    String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap().trim().parse().unwrap()
}

/// Fills the file system of `dir` with a ballast file until `free_mib` MiB are left; its path.
pub fn fill(dir: &Path, free_mib: u64) -> PathBuf {
    let path = dir.join("ballast");
    let n = free_bytes(dir).saturating_sub(free_mib << 20);
    std::fs::write(&path, vec![0x5au8; n as usize]).unwrap();
    path
}

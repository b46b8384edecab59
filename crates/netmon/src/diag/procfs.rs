//! Socket owners from /proc: which process holds a file descriptor `socket:[inode]`.
//!
//! Without privilege only the caller's own processes can be read; the others' sockets stay
//! without owner.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Process {
    /// Process id (thread group id).
    pub pid: u32,
    /// Command name (`/proc/<pid>/comm`, at most 15 bytes).
    pub comm: String,
}

/// Socket inode -> the process with the lowest pid holding it (a socket shared after `fork`
/// is counted once, for its oldest holder).
#[derive(Debug, Default)]
pub struct Owners {
    /// Owner of each socket inode found.
    pub by_inode: HashMap<u32, Process>,
}

/// Reads the inode out of a `socket:[12345]` link target.
pub(crate) fn socket_inode(link: &str) -> Option<u32> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Scans `<proc>/*/fd` for the inodes in `wanted` (others are not recorded, to stay small).
pub fn scan(proc_root: &Path, wanted: &HashSet<u32>) -> Owners {
    let mut owners = Owners::default();
    if wanted.is_empty() {
        return owners;
    }
    let Ok(dir) = fs::read_dir(proc_root) else {
        return owners;
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let base = proc_root.join(pid.to_string());
        // A process whose fd table cannot be read (permission, or exited meanwhile) is skipped.
        let Ok(fds) = fs::read_dir(base.join("fd")) else {
            continue;
        };
        let mut comm: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target.to_str().and_then(socket_inode) else {
                continue;
            };
            if !wanted.contains(&inode) || owners.by_inode.contains_key(&inode) {
                continue;
            }
            let comm = comm.get_or_insert_with(|| {
                fs::read_to_string(base.join("comm"))
                    .map(|s| s.trim_end().to_string())
                    .unwrap_or_default()
            });
            owners.by_inode.insert(
                inode,
                Process {
                    pid,
                    comm: comm.clone(),
                },
            );
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn reads_socket_links() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn finds_this_process_as_owner_of_its_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let link = fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
        let inode = socket_inode(link.to_str().unwrap()).unwrap();
        let owners = scan(Path::new("/proc"), &HashSet::from([inode]));
        let p = &owners.by_inode[&inode];
        assert_eq!(p.pid, std::process::id());
        assert!(!p.comm.is_empty());
        assert_eq!(scan(Path::new("/proc"), &HashSet::new()).by_inode.len(), 0);
    }
}

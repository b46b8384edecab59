//! Service attribution: a socket's cgroup v2 id (from sock_diag, or read in the kernel) ->
//! the cgroup's path -> the systemd unit or container it stands for.
//!
//! A cgroup v2 id is the inode number of the cgroup's directory in the cgroup2 file system, so
//! ids are resolved by walking that tree once and again only when an id is not found (a cgroup
//! created since). Ids of cgroups removed since are answered `None` (the socket outlived its
//! cgroup or the id was never valid). On hosts where services are named only in cgroup v1
//! (hybrid or legacy layouts), [`proc_cgroup`] reads `/proc/<pid>/cgroup` instead.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Directories visited at most per walk of the cgroup tree (bounds the work on hosts with
/// very many cgroups; ids beyond it stay unresolved).
const MAX_CGROUPS: usize = 100_000;
/// Shortest time between two walks of the tree for unknown ids (ids of cgroups that vanished
/// would otherwise cost a walk each).
const WALK_EVERY: Duration = Duration::from_secs(1);

/// Where the cgroup2 file system is mounted (`/sys/fs/cgroup` on unified hosts,
/// `/sys/fs/cgroup/unified` on hybrid ones), from /proc/self/mountinfo.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_of(&info)
}

fn mount_of(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        pre.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// cgroup id -> path (relative to the cgroup2 root, starting with `/`), cached.
#[derive(Debug, Default)]
pub struct CgroupNames {
    root: Option<PathBuf>,
    by_id: HashMap<u64, String>,
    walked: Option<Instant>,
}

impl CgroupNames {
    /// Resolves ids under the host's cgroup2 mount (none found: every id resolves to `None`).
    pub fn new() -> Self {
        Self::with_root(cgroup2_mount())
    }

    /// Resolves ids under `root` (tests).
    pub fn with_root(root: Option<PathBuf>) -> Self {
        CgroupNames {
            root,
            by_id: HashMap::new(),
            walked: None,
        }
    }

    /// The cgroup2 mount point used.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The path of cgroup `id`, e.g. `/system.slice/nginx.service`; walks the tree again
    /// when `id` is unknown (at most once a second). `None` for ids of cgroups gone.
    pub fn path(&mut self, id: u64) -> Option<String> {
        if let Some(p) = self.by_id.get(&id) {
            return Some(p.clone());
        }
        if self.walked.is_some_and(|t| t.elapsed() < WALK_EVERY) {
            return None;
        }
        self.walk();
        self.by_id.get(&id).cloned()
    }

    fn walk(&mut self) {
        self.walked = Some(Instant::now());
        let Some(root) = self.root.clone() else {
            return;
        };
        self.by_id.clear();
        let mut stack = vec![(root.clone(), String::from("/"))];
        let mut seen = 0usize;
        while let Some((dir, rel)) = stack.pop() {
            seen += 1;
            if seen > MAX_CGROUPS {
                break;
            }
            if let Ok(m) = fs::metadata(&dir) {
                self.by_id.insert(m.ino(), rel.clone());
            }
            let Ok(rd) = fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let child = if rel == "/" {
                        format!("/{name}")
                    } else {
                        format!("{rel}/{name}")
                    };
                    stack.push((e.path(), child));
                }
            }
        }
    }
}

/// Whether cgroup `path` is `prefix` or below it (whole components: `/a` is not under `/ab`).
pub fn cgroup_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// What a cgroup path stands for: the systemd unit (`nginx.service`, `session-3.scope`) or the
/// container (`docker:0123abcd...`, from `docker-<id>.scope` or `/docker/<id>`), the innermost
/// one found; `None` for plain paths.
pub fn service_of(path: &str) -> Option<String> {
    for part in path.rsplit('/') {
        let hex = |s: &str| s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit());
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "crio"),
            ("libpod-", "podman"),
        ] {
            if let Some(id) = part
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".scope"))
            {
                if hex(id) {
                    return Some(format!("{runtime}:{id}"));
                }
            }
        }
        if hex(part) && path.contains("/docker/") {
            return Some(format!("docker:{part}"));
        }
        if part.ends_with(".service") || part.ends_with(".scope") {
            return Some(part.to_string());
        }
    }
    None
}

/// The cgroup path of process `pid` from `/proc/<pid>/cgroup`: the cgroup v2 line (`0::`),
/// else the v1 `name=systemd` hierarchy (hybrid / legacy hosts, where services are named
/// there).
pub fn proc_cgroup(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroup_line(&text)
}

fn cgroup_line(text: &str) -> Option<String> {
    let v2 = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .filter(|p| *p != "/");
    let v1 = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
        (ctrl == "name=systemd").then_some(path)
    });
    v2.or(v1)
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("0::")))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cgroup2_mount() {
        let hybrid = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
                      42 31 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            mount_of(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            mount_of("42 31 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw\n"),
            None
        );
    }

    #[test]
    fn names_services_and_containers() {
        assert_eq!(
            service_of("/system.slice/nginx.service").as_deref(),
            Some("nginx.service")
        );
        assert_eq!(
            service_of("/user.slice/user-1000.slice/session-3.scope").as_deref(),
            Some("session-3.scope")
        );
        let id = "0123456789abcdef0123";
        assert_eq!(
            service_of(&format!("/system.slice/docker-{id}.scope")),
            Some(format!("docker:{id}"))
        );
        assert_eq!(
            service_of(&format!("/docker/{id}")),
            Some(format!("docker:{id}"))
        );
        assert_eq!(service_of("/"), None);
        assert_eq!(service_of("/llx-test"), None);
    }

    #[test]
    fn reads_proc_cgroup_v2_then_v1_systemd() {
        assert_eq!(
            cgroup_line("0::/system.slice/a.service\n").as_deref(),
            Some("/system.slice/a.service")
        );
        let hybrid = "9:name=systemd:/system.slice/b.service\n4:memory:/x\n0::/\n";
        assert_eq!(
            cgroup_line(hybrid).as_deref(),
            Some("/system.slice/b.service")
        );
        assert_eq!(cgroup_line("0::/\n").as_deref(), Some("/"));
        assert_eq!(cgroup_line(""), None);
    }

    #[test]
    fn resolves_ids_of_a_tree_and_vanished_ids_to_none() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("system.slice/x.service")).unwrap();
        let id = fs::metadata(dir.path().join("system.slice/x.service"))
            .unwrap()
            .ino();
        let mut names = CgroupNames::with_root(Some(dir.path().to_path_buf()));
        assert_eq!(names.path(id).as_deref(), Some("/system.slice/x.service"));
        fs::create_dir(dir.path().join("late")).unwrap();
        let late = fs::metadata(dir.path().join("late")).unwrap().ino();
        names.walked = None; // as if a second had passed
        assert_eq!(names.path(late).as_deref(), Some("/late"), "walked again");
        assert_eq!(names.path(u64::MAX), None);
        assert_eq!(CgroupNames::with_root(None).path(id), None);
    }
}

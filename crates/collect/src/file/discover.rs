//! Finding the files to follow: include globs minus exclude globs, one entry per file.
//!
//! A matched path that resolves through a symlink to a file the include globs do not match
//! (a link planted in a log directory pointing at `/etc/shadow`) is refused, with a warning
//! once per path, unless `files.follow_symlinks` is on. The globs' own directories may be
//! symlinks (`/var/log` -> `/data/log`): a file is in bounds when its real path matches a
//! glob as written or with its leading directories resolved.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use glob::Pattern;

use super::identity::FileId;
use crate::error::CollectError;

/// The compiled include and exclude patterns of a file source.
#[derive(Debug, Clone)]
pub struct Discovery {
    include: Vec<String>,
    exclude: Vec<Pattern>,
    follow_symlinks: bool,
    /// Paths refused for leaving the globs, warned about once (bounded).
    warned: Arc<Mutex<HashSet<PathBuf>>>,
}

/// Refused paths remembered for their one warning at most.
const MAX_WARNED: usize = 1024;

impl Discovery {
    /// Checks every pattern once, so a scan cannot fail on a bad one.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Discovery, CollectError> {
        for g in include {
            Pattern::new(g).map_err(|e| {
                CollectError::Config(format!("invalid glob {g:?} in files.include: {e}"))
            })?;
        }
        let exclude = exclude
            .iter()
            .map(|g| {
                Pattern::new(g).map_err(|e| {
                    CollectError::Config(format!("invalid glob {g:?} in files.exclude: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Discovery {
            include: include.to_vec(),
            exclude,
            follow_symlinks: false,
            warned: Arc::default(),
        })
    }

    /// Follow symlinks to files outside the globs too (`files.follow_symlinks`).
    pub fn follow_symlinks(mut self, on: bool) -> Discovery {
        self.follow_symlinks = on;
        self
    }

    /// Whether `real` (a canonical path) is matched by an include glob as written or with its
    /// literal leading directories resolved, and not excluded.
    fn in_bounds(&self, real: &Path) -> bool {
        if self.is_excluded(real) {
            return false;
        }
        self.include.iter().any(|g| {
            let matches = |pat: &str| Pattern::new(pat).is_ok_and(|p| p.matches_path(real));
            if matches(g) {
                return true;
            }
            let (prefix, rest) = literal_prefix(g);
            match std::fs::canonicalize(prefix) {
                Ok(dir) => {
                    let resolved = format!("{}/{rest}", Pattern::escape(&dir.to_string_lossy()));
                    matches(&resolved)
                }
                Err(_) => false,
            }
        })
    }

    /// Whether `p` may be read: always when it resolves to itself, else when its real path is
    /// in bounds (or following is allowed).
    fn allowed(&self, p: &Path) -> bool {
        if self.follow_symlinks {
            return true;
        }
        let Ok(real) = std::fs::canonicalize(p) else {
            return false;
        };
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
        };
        if real == abs || self.in_bounds(&real) {
            return true;
        }
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.len() < MAX_WARNED && warned.insert(p.to_path_buf()) {
            tracing::warn!(
                path = %p.display(),
                target = %real.display(),
                "not following a symlink out of files.include: set files.follow_symlinks = true to read it"
            );
        }
        false
    }

    /// Whether an exclude pattern matches the full path or the file name.
    pub fn is_excluded(&self, path: &std::path::Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy());
        self.exclude
            .iter()
            .any(|p| p.matches_path(path) || name.as_deref().is_some_and(|n| p.matches(n)))
    }

    /// Regular files matching now, sorted by path, one per device and inode (the first path
    /// wins when hard links or symlinks show a file twice). Blocking: reads directories.
    pub fn scan(&self) -> Vec<(PathBuf, FileId)> {
        let mut paths = Vec::new();
        for g in &self.include {
            let Ok(entries) = glob::glob(g) else { continue };
            for entry in entries {
                match entry {
                    Ok(p) => paths.push(p),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read a path while matching files")
                    }
                }
            }
        }
        paths.sort();
        paths.dedup();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for p in paths {
            if self.is_excluded(&p) {
                continue;
            }
            // Follows symlinks: a link to a log file is followed as that file.
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if !meta.is_file() || !self.allowed(&p) {
                continue;
            }
            let id = FileId::of(&meta);
            if seen.insert(id) {
                found.push((p, id));
            }
        }
        found
    }
}

/// The directory part of a glob before its first wildcard component, and the rest.
fn literal_prefix(glob: &str) -> (&str, &str) {
    let mut end = 0;
    for (i, c) in glob.char_indices() {
        if matches!(c, '*' | '?' | '[') {
            break;
        }
        if c == '/' {
            end = i;
        }
    }
    if end == 0 {
        return ("/", glob.trim_start_matches('/'));
    }
    (&glob[..end], &glob[end + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_minus_exclude_one_entry_per_inode() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.log"), "x\n").unwrap();
        std::fs::write(d.join("b.log"), "y\n").unwrap();
        std::fs::write(d.join("old.log.gz"), "z").unwrap();
        std::fs::write(d.join("c.txt"), "w\n").unwrap();
        std::fs::create_dir(d.join("dir.log")).unwrap();
        std::fs::hard_link(d.join("a.log"), d.join("z.log")).unwrap();
        let inc = vec![
            format!("{}/*.log", d.display()),
            format!("{}/*.gz", d.display()),
        ];
        let disc = Discovery::new(&inc, &["*.gz".to_string()]).unwrap();
        let names: Vec<String> = disc
            .scan()
            .into_iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.log", "b.log"]);
    }

    #[test]
    fn symlinks_out_of_the_globs_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let logs = d.join("logs");
        let secret = d.join("secret");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(logs.join("app.log"), "x\n").unwrap();
        std::fs::write(logs.join("real.log"), "y\n").unwrap();
        std::fs::write(secret.join("shadow"), "root:x\n").unwrap();
        std::os::unix::fs::symlink(secret.join("shadow"), logs.join("evil.log")).unwrap();
        // A link to a file the globs match is fine.
        std::os::unix::fs::symlink(logs.join("real.log"), logs.join("alias.log")).unwrap();
        // The glob's directory itself may be a link.
        std::os::unix::fs::symlink(&logs, d.join("varlog")).unwrap();
        let names = |disc: &Discovery| -> Vec<String> {
            disc.scan()
                .into_iter()
                .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let inc = vec![format!("{}/*.log", logs.display())];
        let disc = Discovery::new(&inc, &[]).unwrap();
        assert_eq!(names(&disc), vec!["alias.log", "app.log"]);
        let via_link = vec![format!("{}/varlog/*.log", d.display())];
        assert_eq!(names(&Discovery::new(&via_link, &[]).unwrap()), vec!["alias.log", "app.log"]);
        let open = Discovery::new(&inc, &[]).unwrap().follow_symlinks(true);
        assert_eq!(names(&open), vec!["alias.log", "app.log", "evil.log"]);
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("/var/log/*.log"), ("/var/log", "*.log"));
        assert_eq!(literal_prefix("/srv/app/**/x.log"), ("/srv/app", "**/x.log"));
        assert_eq!(literal_prefix("/var/log/syslog"), ("/var/log", "syslog"));
        assert_eq!(literal_prefix("*.log"), ("/", "*.log"));
    }

    #[test]
    fn bad_patterns_are_refused_with_their_text() {
        let e = Discovery::new(&["/var/log/[.log".to_string()], &[]).unwrap_err();
        assert!(e.to_string().contains("[.log"), "{e}");
    }
}

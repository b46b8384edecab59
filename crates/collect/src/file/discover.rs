//! Finding the files to follow: include globs minus exclude globs, one entry per file.

use std::collections::HashSet;
use std::path::PathBuf;

use glob::Pattern;

use super::identity::FileId;
use crate::error::CollectError;

/// The compiled include and exclude patterns of a file source.
#[derive(Debug, Clone)]
pub struct Discovery {
    include: Vec<String>,
    exclude: Vec<Pattern>,
}

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
        })
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
            if !meta.is_file() {
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
    fn bad_patterns_are_refused_with_their_text() {
        let e = Discovery::new(&["/var/log/[.log".to_string()], &[]).unwrap_err();
        assert!(e.to_string().contains("[.log"), "{e}");
    }
}

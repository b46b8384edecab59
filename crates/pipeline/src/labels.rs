//! Field explosion: caps on the `labels.*` keys of one event (`pipeline.max_labels`) and on
//! the distinct keys indexed overall (`pipeline.max_label_keys`).
//!
//! Every distinct label key becomes a column of the store, so a sender that makes up keys
//! (`labels.req_8f3a...`) would grow the index's schema and memory without bound. Labels over
//! either cap are dropped from the event's indexed labels; the raw line is kept in
//! `event.original` (so nothing sent is lost), the event is flagged `labels_capped` and the
//! dropped labels are counted. The first keys in key order are kept, so the same event keeps
//! the same labels whatever else was ingested before it under `max_labels`; under
//! `max_label_keys`, keys seen first win.
//!
//! The admitted keys are kept in `<data_dir>/parse/label_keys.jsonl` (one JSON string a line,
//! appended and synced before the event that brought a key goes on to the store), loaded at
//! start, so a restart does not admit `max_label_keys` more. Workers sharing a data directory
//! share the file: an admission takes an exclusive `flock` on it and reads what the others
//! appended first, so the cap holds across them too. A key is written at most once, so the
//! file stays as small as the key set.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use loglynx_core::{Event, RawRecord};

use crate::error::PipelineError;

/// The caps, the keys indexed so far and what was dropped.
#[derive(Debug)]
pub struct LabelGuard {
    max_labels: usize,
    max_keys: usize,
    keys: RwLock<HashSet<String>>,
    /// Where admitted keys are kept, when persisted.
    file: Option<Mutex<KeyFile>>,
    /// Labels dropped over a cap, since start (`loglynx_pipeline_labels_dropped_total`).
    pub dropped: AtomicU64,
    /// Events that lost labels (flagged `labels_capped`).
    pub capped_events: AtomicU64,
}

/// The file of admitted keys and how far this process has read it.
#[derive(Debug)]
struct KeyFile {
    file: File,
    path: PathBuf,
    /// Bytes read so far (up to the last complete line).
    read_to: u64,
    /// The file ends inside a line (a write cut short by a crash): the next append starts with
    /// a newline so that line stays apart.
    torn: bool,
}

impl KeyFile {
    fn open(path: &Path) -> std::io::Result<KeyFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)?;
        Ok(KeyFile {
            file,
            path: path.to_path_buf(),
            read_to: 0,
            torn: false,
        })
    }

    /// Adds to `keys` the keys appended since the last read (by this process or another).
    fn refresh(&mut self, keys: &mut HashSet<String>) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(self.read_to))?;
        let mut buf = Vec::new();
        self.file.read_to_end(&mut buf)?;
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in buf[..complete].split(|&b| b == b'\n') {
            // a line torn by a crash (or garbled) is skipped: its key is admitted again if it
            // comes back, which the cap counts as any new key
            if let Ok(k) = serde_json::from_slice::<String>(line) {
                keys.insert(k);
            }
        }
        self.read_to += complete as u64;
        self.torn = complete < buf.len();
        Ok(())
    }

    /// Appends `fresh` and syncs it to disk.
    fn append(&mut self, fresh: &[&String]) -> std::io::Result<()> {
        let mut out = Vec::new();
        if self.torn {
            out.push(b'\n');
        }
        for k in fresh {
            serde_json::to_writer(&mut out, k).map_err(std::io::Error::other)?;
            out.push(b'\n');
        }
        self.file.write_all(&out)?;
        self.file.sync_data()?;
        // this process's own lines are read back at the next refresh: harmless, they are in
        // the set already
        self.torn = false;
        Ok(())
    }
}

impl Default for LabelGuard {
    /// The default caps of `[pipeline]`.
    fn default() -> Self {
        let c = loglynx_config::PipelineConfig::default();
        LabelGuard::new(c.max_labels, c.max_label_keys)
    }
}

impl LabelGuard {
    /// Caps of `max_labels` per event and `max_keys` distinct keys (each at least 1), the key
    /// set in memory only (it starts empty at every start).
    pub fn new(max_labels: usize, max_keys: usize) -> LabelGuard {
        LabelGuard {
            max_labels: max_labels.max(1),
            max_keys: max_keys.max(1),
            keys: RwLock::new(HashSet::new()),
            file: None,
            dropped: AtomicU64::new(0),
            capped_events: AtomicU64::new(0),
        }
    }

    /// [`LabelGuard::new`] with the key set kept in `path` (created if missing; the keys it
    /// holds are admitted already).
    pub fn persisted(
        max_labels: usize,
        max_keys: usize,
        path: &Path,
    ) -> Result<LabelGuard, PipelineError> {
        let io = |source| PipelineError::LabelKeys {
            path: path.to_path_buf(),
            source,
        };
        let mut file = KeyFile::open(path).map_err(io)?;
        let mut keys = HashSet::new();
        file.file.lock_shared().map_err(io)?;
        let read = file.refresh(&mut keys);
        let _ = file.file.unlock();
        read.map_err(io)?;
        Ok(LabelGuard {
            keys: RwLock::new(keys),
            file: Some(Mutex::new(file)),
            ..LabelGuard::new(max_labels, max_keys)
        })
    }

    /// Distinct keys admitted so far (by this process or, persisted, before it).
    pub fn known_keys(&self) -> usize {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Holds `e` (parsed from `raw`) to the caps; see the module.
    pub fn apply(&self, e: &mut Event, raw: &RawRecord) {
        if e.labels.is_empty() {
            return;
        }
        // The common case: few labels, all of known keys, under a read lock.
        if e.labels.len() <= self.max_labels {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if e.labels.keys().all(|k| keys.contains(k)) {
                return;
            }
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let mut file = self
            .file
            .as_ref()
            .map(|f| f.lock().unwrap_or_else(|p| p.into_inner()));
        // What other processes sharing the file admitted meanwhile counts too; while the set
        // is full nothing new can be admitted, so the file is not read.
        let mut file_ok = true;
        if let Some(f) = file.as_mut().filter(|_| keys.len() < self.max_keys) {
            let locked = f.file.lock().and_then(|()| f.refresh(&mut keys));
            if let Err(err) = locked {
                tracing::error!(path = %f.path.display(), error = %err, "cannot read the label key file: no new label key is admitted");
                file_ok = false;
            }
        }
        let mut kept = 0usize;
        let mut fresh: Vec<&String> = Vec::new();
        let admitted: Vec<bool> = e
            .labels
            .keys()
            .map(|k| {
                let known = keys.contains(k);
                let ok = kept < self.max_labels
                    && (known || (file_ok && keys.len() + fresh.len() < self.max_keys));
                if ok {
                    kept += 1;
                    if !known {
                        fresh.push(k);
                    }
                }
                ok
            })
            .collect();
        let mut refused_fresh = false;
        if let Some(f) = file.as_mut() {
            if !fresh.is_empty() {
                if let Err(err) = f.append(&fresh) {
                    tracing::error!(path = %f.path.display(), error = %err, "cannot write the label key file: the new label keys are not admitted");
                    refused_fresh = true;
                }
            }
            let _ = f.file.unlock();
        }
        let fresh: HashSet<String> = fresh.into_iter().cloned().collect();
        if !refused_fresh {
            keys.extend(fresh.iter().cloned());
        }
        drop(file);
        drop(keys);
        let mut dropped = 0u64;
        let mut admitted = admitted.into_iter();
        e.labels.retain(|k, _| {
            let ok = admitted.next().unwrap_or(false) && !(refused_fresh && fresh.contains(k));
            if !ok {
                dropped += 1;
            }
            ok
        });
        if dropped > 0 {
            e.flags.labels_capped = true;
            if e.original.is_none() {
                e.original = Some(String::from_utf8_lossy(&raw.body).into_owned());
            }
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            self.capped_events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use loglynx_core::Timestamp;

    use super::*;

    fn event(labels: &[(&str, &str)]) -> Event {
        let mut e = Event::new("m", Timestamp(0), Timestamp(0), "id".into());
        for (k, v) in labels {
            e.labels.insert((*k).into(), (*v).into());
        }
        e
    }

    fn raw() -> RawRecord {
        RawRecord {
            body: b"{\"labels.a\":\"1\"}".to_vec(),
            truncated: false,
            hint: loglynx_core::FormatHint::Auto,
            source: std::sync::Arc::new(loglynx_core::SourceKind::Other { name: "t".into() }),
            host: None,
            received: Timestamp(0),
            id: "x".into(),
        }
    }

    #[test]
    fn per_event_cap_keeps_the_first_keys_and_the_raw_line() {
        let g = LabelGuard::new(2, 100);
        let mut e = event(&[("c", "3"), ("a", "1"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert_eq!(e.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(e.flags.labels_capped);
        assert_eq!(e.original.as_deref(), Some("{\"labels.a\":\"1\"}"));
        assert_eq!(g.dropped.load(Ordering::Relaxed), 1);
        let mut ok = event(&[("a", "1")]);
        g.apply(&mut ok, &raw());
        assert!(!ok.flags.labels_capped && ok.original.is_none());
    }

    #[test]
    fn distinct_key_cap_admits_known_keys_only_once_full() {
        let g = LabelGuard::new(100, 2);
        let mut e = event(&[("a", "1"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped);
        let mut e = event(&[("a", "1"), ("new", "x"), ("b", "2")]);
        g.apply(&mut e, &raw());
        assert_eq!(e.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(e.flags.labels_capped);
        for i in 0..1000 {
            let mut e = event(&[(&format!("k{i}"), "v")]);
            g.apply(&mut e, &raw());
            assert!(e.labels.is_empty());
        }
        assert_eq!(g.keys.read().unwrap().len(), 2, "the key set stays bounded");
        assert_eq!(g.dropped.load(Ordering::Relaxed), 1001);
        assert_eq!(g.capped_events.load(Ordering::Relaxed), 1001);
    }

    #[test]
    fn regression_issue_11_a_restart_keeps_the_distinct_key_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parse/label_keys.jsonl");
        let g = LabelGuard::persisted(100, 3, &path).unwrap();
        // odd keys survive the file too
        let mut e = event(&[("a", "1"), ("b\n\"x", "2"), ("c", "3")]);
        g.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped && e.labels.len() == 3);
        drop(g);

        // the next process: the three keys are known, a fourth is not admitted
        let g = LabelGuard::persisted(100, 3, &path).unwrap();
        assert_eq!(g.known_keys(), 3);
        let mut e = event(&[("a", "1"), ("d", "4")]);
        g.apply(&mut e, &raw());
        assert_eq!(e.labels.keys().collect::<Vec<_>>(), ["a"]);
        assert!(e.flags.labels_capped);
        assert_eq!(e.original.as_deref(), Some("{\"labels.a\":\"1\"}"));
        assert_eq!(g.dropped.load(Ordering::Relaxed), 1);
        let mut e = event(&[("b\n\"x", "2")]);
        g.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped && e.labels.len() == 1);
    }

    #[test]
    fn processes_sharing_the_key_file_share_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("label_keys.jsonl");
        let one = LabelGuard::persisted(100, 2, &path).unwrap();
        let two = LabelGuard::persisted(100, 2, &path).unwrap();
        let mut e = event(&[("a", "1")]);
        one.apply(&mut e, &raw());
        let mut e = event(&[("b", "1")]);
        two.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped);
        // both slots are taken: `one` learns `b` from the file and refuses `c`
        let mut e = event(&[("c", "1")]);
        one.apply(&mut e, &raw());
        assert!(e.labels.is_empty() && e.flags.labels_capped);
        assert_eq!(one.known_keys(), 2);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("label_keys.jsonl");
        std::fs::write(&path, "\"a\"\n\"b").unwrap();
        let g = LabelGuard::persisted(100, 3, &path).unwrap();
        assert_eq!(g.known_keys(), 1);
        let mut e = event(&[("z", "1")]);
        g.apply(&mut e, &raw());
        assert!(!e.flags.labels_capped);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\"a\"\n\"b\n\"z\"\n"
        );
        drop(g);
        assert_eq!(
            LabelGuard::persisted(100, 3, &path).unwrap().known_keys(),
            2
        );
    }

    #[test]
    fn an_unreadable_key_file_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        // a directory where the file should be
        let path = dir.path().join("label_keys.jsonl");
        std::fs::create_dir(&path).unwrap();
        let err = LabelGuard::persisted(100, 3, &path).unwrap_err();
        assert!(err.to_string().contains("label_keys.jsonl"), "{err}");
    }
}

//! The learned structures on disk: `<data_dir>/parse/learned.json`, a JSON array of
//! `{"key": .., "structure": ..}` (the learner's key: `host|path` for a file), the source used
//! least recently first, rewritten whole (temporary file, then rename) when what was learned
//! changes. Loaded in that order, the learner forgets the same sources first after a restart
//! as before it. A file of the earlier form (one object from key to structure, no order) is
//! still read. Losing it costs a source its learning again, nothing else: a file that cannot be
//! read or written is logged and otherwise ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::parse::Structure;

/// One learned source on disk.
#[derive(Serialize, Deserialize)]
pub(super) struct Entry<S> {
    pub(super) key: String,
    pub(super) structure: S,
    /// What the structure read: lines, re-learnings, a sample line (absent in older files).
    #[serde(default)]
    pub(super) seen: Seen,
}

/// What a learned structure did, kept beside it (written with the structure, and at most every
/// few seconds while only these counts change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Lines the structure read since it was learned (the batch it was learned from is not
    /// counted).
    #[serde(default)]
    pub matched: u64,
    /// Times the source's lines stopped fitting and its structure was learned again.
    #[serde(default)]
    pub relearned: u32,
    /// A line of the sample it was learned from, that it reads (cut to 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
}

/// What the file may hold.
#[derive(Deserialize)]
#[serde(untagged)]
enum OnDisk {
    /// Least recently used first.
    Ordered(Vec<Entry<Structure>>),
    /// The earlier form, without an order.
    Keyed(BTreeMap<String, Structure>),
}

/// What `path` holds, least recently used first; empty when it is missing or unreadable
/// (logged).
pub(super) fn load(path: &Path) -> Vec<(String, Structure, Seen)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the learned log structures: sources learn them again");
            return Vec::new();
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(OnDisk::Ordered(v)) => v.into_iter().map(|e| (e.key, e.structure, e.seen)).collect(),
        Ok(OnDisk::Keyed(m)) => m.into_iter().map(|(k, s)| (k, s, Seen::default())).collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the learned log structures are not readable JSON: sources learn them again (the file is rewritten at the next change)");
            Vec::new()
        }
    }
}

/// Writes `learned` (least recently used first) to `path`, creating its directory.
pub(super) fn save(path: &Path, list: &[Entry<&Structure>]) {
    let res = (|| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(list).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the learned log structures: they hold until the next restart");
    }
}

//! The learned structures on disk: `<data_dir>/parse/learned.json`, one JSON object from the
//! learner's key (`host|path`) to the structure, rewritten whole (temporary file, then rename)
//! when what was learned changes. Losing it costs a file its learning again, nothing else: a
//! file that cannot be read or written is logged and otherwise ignored.

use std::collections::BTreeMap;
use std::path::Path;

use crate::parse::Structure;

/// What `path` holds; empty when it is missing or unreadable (logged).
pub(super) fn load(path: &Path) -> BTreeMap<String, Structure> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the learned log structures: files learn them again");
            return BTreeMap::new();
        }
    };
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        tracing::warn!(path = %path.display(), error = %e, "the learned log structures are not readable JSON: files learn them again (the file is rewritten at the next change)");
        BTreeMap::new()
    })
}

/// Writes `learned` to `path` (creating its directory).
pub(super) fn save(path: &Path, learned: &[(&str, &Structure)]) {
    let map: BTreeMap<&str, &Structure> = learned.iter().copied().collect();
    let res = (|| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&map).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        tracing::warn!(path = %path.display(), error = %e, "cannot save the learned log structures: they hold until the next restart");
    }
}

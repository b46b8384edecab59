//! Windows written by an earlier version: their schema is upgraded in place when the store
//! opens.
//!
//! A tantivy segment refers to a field by its position in the schema (postings, positions and
//! stored values) or by its name (fast columns). A version that adds fields keeps the fields a
//! window was written with at their positions and appends the new ones
//! ([`StoreSchema::upgraded_from`]); an old segment simply has no postings and no column for
//! them, which tantivy reads as a field without values. So upgrading a window is rewriting the
//! schema in its `meta.json` (one atomic write: the file is replaced by a rename), with no
//! re-indexing: old events stay searchable on their fields, a query on a new field matches
//! none of them, and the window that was being written goes on being written with the new
//! field. The store's schema is the upgrade of the window with the most fields, so a start
//! interrupted half-way through the upgrades finishes them the next time.
//!
//! A window whose fields this version does not define (removed, or written by a newer version)
//! or defines with another type or indexing is refused, naming the field
//! ([`StoreError::SchemaChanged`]).

use std::path::{Path, PathBuf};

use tantivy::directory::{Directory, MmapDirectory};
use tantivy::schema::Schema;

use crate::error::StoreError;
use crate::schema::StoreSchema;
use crate::window::WindowId;

/// The file where tantivy keeps a window's schema, segment list and last commit payload.
const META: &str = "meta.json";

/// The schema in a window's `meta.json`; None when it cannot be read (opening the window then
/// reports what is wrong with it).
fn window_schema(dir: &Path) -> Option<Schema> {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(META)).ok()?).ok()?;
    serde_json::from_value(meta.get("schema")?.clone()).ok()
}

/// The schema of the store under `root` with windows `ids`, for this version's schema `code`,
/// after upgrading every window written with fewer fields.
pub(crate) fn upgrade_store(
    root: &Path,
    ids: &[WindowId],
    code: &StoreSchema,
) -> Result<StoreSchema, StoreError> {
    let on_disk: Vec<(WindowId, PathBuf, Schema)> = ids
        .iter()
        .filter_map(|id| {
            let dir = root.join(id.to_string());
            window_schema(&dir).map(|s| (*id, dir, s))
        })
        .collect();
    let refused = |id: WindowId, dir: &Path, reason: String| StoreError::SchemaChanged {
        window: id.to_string(),
        path: dir.to_path_buf(),
        reason,
    };
    // Every window must be readable by this version on its own...
    for (id, dir, s) in &on_disk {
        code.upgraded_from(s).map_err(|r| refused(*id, dir, r))?;
    }
    // ... and the one with the most fields gives the layout of all.
    let Some((id, dir, widest)) = on_disk.iter().max_by_key(|(_, _, s)| s.num_fields()) else {
        return Ok(code.clone());
    };
    let schema = code
        .upgraded_from(widest)
        .map_err(|r| refused(*id, dir, r))?;
    for (id, dir, s) in &on_disk {
        if *s == schema.schema {
            continue;
        }
        let prefix = s.num_fields() <= schema.schema.num_fields()
            && s.fields().zip(schema.schema.fields()).all(|((_, a), (_, b))| a == b);
        if !prefix {
            return Err(refused(
                *id,
                dir,
                "its fields are in another order than those of the other windows (windows of \
                 two different loglynx versions that added fields differently)"
                    .into(),
            ));
        }
        let added = schema.added_to(s);
        rewrite_schema(dir, &schema.schema).map_err(|r| refused(*id, dir, r))?;
        tracing::info!(window = %id, added = %added.join(","), "window schema upgraded: fields added");
    }
    Ok(schema)
}

/// The schema of a read-only view over the shard stores under `shards_dir`: this version's
/// schema upgraded from the shard window with the most fields that it can read (the shards'
/// writers upgrade their windows to that layout), or `code` when there is none. Nothing is
/// written.
pub(crate) fn view_schema(shards_dir: &Path, code: &StoreSchema) -> StoreSchema {
    let windows = std::fs::read_dir(shards_dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|shard| std::fs::read_dir(shard.path().join("store")).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|w| WindowId::parse(&w.file_name().to_string_lossy()).is_some());
    windows
        .filter_map(|w| window_schema(&w.path()))
        .filter_map(|s| code.upgraded_from(&s).ok())
        .max_by_key(|s| s.schema.num_fields())
        .unwrap_or_else(|| code.clone())
}

/// Replaces the schema in the `meta.json` of the window in `dir`, atomically.
fn rewrite_schema(dir: &Path, schema: &Schema) -> Result<(), String> {
    let path = dir.join(META);
    let mut meta: serde_json::Value = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot read {} to upgrade it ({e})", path.display()))?;
    meta["schema"] = serde_json::to_value(schema).map_err(|e| e.to_string())?;
    let mut bytes = serde_json::to_vec_pretty(&meta).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let mmap = MmapDirectory::open(dir).map_err(|e| e.to_string())?;
    mmap.atomic_write(Path::new(META), &bytes)
        .map_err(|e| format!("cannot rewrite {} to upgrade it ({e}): check free disk space", path.display()))
}

//! The spool's cursor file: `"<segment> <offset>"`, the first frame not yet delivered. It is
//! replaced atomically (write, fsync, rename, fsync of the directory).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::frame::HEADER;
use super::segments::{io_err, sync_dir, DISK};
use crate::{BusError, SpoolDamage};

const CURSOR: &str = "cursor";
const CURSOR_TMP: &str = "cursor.tmp";

/// Reads the cursor of the spool in `dir`: `None` when there is none (a new spool).
pub(super) fn read_cursor(dir: &Path) -> Result<Option<(u64, u64)>, BusError> {
    let path = dir.join(CURSOR);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path, "read", "")(e)),
    };
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(seq)), Some(Ok(off)), None) => Ok(Some((seq, off.max(HEADER)))),
        _ => Err(BusError::SpoolDamaged {
            path,
            problem: SpoolDamage::BadCursor,
        }),
    }
}

/// Writes the cursor `(segment, offset)` of the spool in `dir` atomically.
pub(super) fn write_cursor(dir: &Path, (seq, off): (u64, u64)) -> Result<(), BusError> {
    let tmp = dir.join(CURSOR_TMP);
    let path = dir.join(CURSOR);
    let text = format!("{seq} {off}\n");
    File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(io_err(&path, "write", DISK))?;
    sync_dir(dir);
    Ok(())
}

/// Deletes a temporary cursor file left by a crash during [`write_cursor`].
pub(super) fn remove_tmp(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(CURSOR_TMP));
}
